"""The state publisher: each served station's retained flat snapshot, rebuilt at send time.

A station's state is republished when events of it are committed (by any process on the
database), not when they are sent: the snapshot is built from the database, so the present goes
out first, even while a backlog of older events is still draining behind it.
"""

import json
import threading
import time
from collections import deque

from paho.mqtt.enums import MQTTErrorCode
from sqlalchemy import or_
from sqlmodel import Session, func, select

from station.db import reader
from station.line import state as line_state
from station.models import Event, Station
from station.mqtt import topics
from station.mqtt.config import MqttConfig
from station.mqtt.connection import Connection
from station.mqtt.cursor import served

LOOK_S = 0.1  # look for newly committed events this often (a live state goes out within 1 s)


class StatePublisher:
    """Republishes a station's state when its events are committed, and every station's when due."""

    def __init__(self, engine, cfg: MqttConfig, rules, conn: Connection,
                 committed: threading.Event):
        self.engine, self.cfg, self.rules, self.conn = engine, cfg, rules, conn
        self.committed = committed  # new events go first
        self.touched: set[str] = set()  # station ids; "" an event without one, "*" all
        self._sent: dict[str, str] = {}  # station -> last published snapshot (without ts)
        self._clock: dict[str, tuple[str, str]] = {}  # station -> (state, since)
        self._built_at: dict[str, float] = {}
        self._refresh_at = 0.0
        self._seen: deque[tuple[float, int]] = deque()  # (when, the highest event id seen)
        self._reacted: dict[str, int] = {}  # station ("" none) -> its newest event looked at
        self._looked_at = 0.0
        self.pending = False  # a commit of this process added events since the last look

    def forget(self) -> None:
        """A new session: republish every state."""
        self._sent.clear()
        self._refresh_at = 0.0
        self._seen.clear()

    def publish(self) -> None:
        """Republish the state of stations with newly committed events, and of all when due.

        New events go first: a state takes milliseconds to rebuild, so the loop gives way to
        them between stations rather than make them wait behind a whole line's refresh.
        """
        if not self.conn.connected or self.conn.client is None:
            return
        now = time.monotonic()
        if now >= self._refresh_at:
            self._refresh_at = now + self.cfg.state_refresh_s
            self.touched.add("*")  # every served station: running turns idle by time alone
        look = now - self._looked_at >= LOOK_S
        if not look and not self.touched:
            return  # the relay comes back within LOOK_S while `pending`
        later: set[str] = set()
        with Session(reader(self.engine), expire_on_commit=False) as s:
            if look:
                self._looked_at, self.pending = now, False
                self._look(s)
            if not self.touched:
                return
            forced = "*" in self.touched
            everything = forced or "" in self.touched  # an event without a station: readiness
            due = [st for st in self._served(s) if everything or st.id in self.touched]
            for i, station in enumerate(due):
                if self.committed.is_set():
                    later.update(st.id for st in due[i:])
                    break
                if not forced and time.monotonic() - self._built_at.get(station.id, 0) < 0.2:
                    later.add(station.id)  # a busy station: at most five states a second
                    continue
                if not self._send(s, station):
                    later.add(station.id)  # paho's queue is full: again next round
        self.touched = later

    def _look(self, s: Session) -> None:
        """Touch the stations of events committed since the last look (any process's).

        On PostgreSQL an event may commit after one with a higher id was seen: the look goes
        back to the highest id seen `gap_grace_s` ago, and touches a station whose newest event
        there is newer than the one it last reacted to.
        """
        now = time.monotonic()
        if not self._seen:  # a new session republishes everything: start from the present
            self._seen.append((now, s.exec(select(func.max(Event.id))).one() or 0))
            self.touched.add("*")
            return
        while len(self._seen) > 1 and now - self._seen[1][0] >= self.cfg.gap_grace_s:
            self._seen.popleft()
        highest = self._seen[-1][1]
        for station_id, last in s.exec(select(Event.station_id, func.max(Event.id))
                                       .where(Event.id > self._seen[0][1],
                                              or_(served(self.cfg), Event.station_id.is_(None)))
                                       .group_by(Event.station_id)):
            key = station_id or ""
            if last > self._reacted.get(key, 0):
                self.touched.add(key)
                self._reacted[key] = last
            highest = max(highest, last)
        self._seen.append((now, highest))

    def _send(self, s: Session, station: Station) -> bool:
        """Publish a station's state if it changed; False when paho took nothing."""
        self._built_at[station.id] = time.monotonic()
        snap = line_state.snapshot(s, station, self.rules, node=self.conn.node,
                                   previous=self._clock.get(station.id))
        key = json.dumps({k: v for k, v in snap.items() if k != "ts"}, sort_keys=True)
        if self._sent.get(station.id) == key:
            return True
        info = self.conn.publish(topics.state_topic(self.cfg, station.line, station.id),
                                 json.dumps(snap).encode(), retain=True)
        if info.rc not in (MQTTErrorCode.MQTT_ERR_SUCCESS, MQTTErrorCode.MQTT_ERR_NO_CONN):
            return False
        self._sent[station.id] = key
        self._clock[station.id] = (snap["state"], snap["state_since"])
        return True

    def _served(self, s: Session) -> list[Station]:
        if self.cfg.station:
            station = s.get(Station, self.cfg.station)
            return [station] if station else []
        query = select(Station).order_by(Station.id)
        if self.cfg.serve_line:
            query = query.where(Station.line == self.cfg.serve_line)
        return list(s.exec(query))
