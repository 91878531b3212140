"""The state publisher: each served station's retained flat snapshot, rebuilt at send time."""

import json
import threading
import time

from paho.mqtt.enums import MQTTErrorCode
from sqlmodel import Session, select

from station.db import reader
from station.line import state as line_state
from station.models import Station
from station.mqtt import topics
from station.mqtt.config import MqttConfig
from station.mqtt.connection import Connection


class StatePublisher:
    """Republishes a station's state when its events went out, and every station's when due."""

    def __init__(self, engine, cfg: MqttConfig, rules, conn: Connection,
                 committed: threading.Event):
        self.engine, self.cfg, self.rules, self.conn = engine, cfg, rules, conn
        self.committed = committed  # new events go first
        self.touched: set[str] = set()  # station ids; "" an event without one, "*" all
        self._sent: dict[str, str] = {}  # station -> last published snapshot (without ts)
        self._clock: dict[str, tuple[str, str]] = {}  # station -> (state, since)
        self._built_at: dict[str, float] = {}
        self._refresh_at = 0.0

    def touch(self, stations: set[str]) -> None:
        """These stations' events went out: their states are due."""
        self.touched |= stations

    def forget(self) -> None:
        """A new session: republish every state."""
        self._sent.clear()
        self._refresh_at = 0.0

    def publish(self) -> None:
        """Republish the state of stations whose events went out, and of all when due.

        New events go first: a state takes milliseconds to rebuild, so the loop gives way to
        them between stations rather than make them wait behind a whole line's refresh.
        """
        if not self.conn.connected or self.conn.client is None:
            return
        now = time.monotonic()
        if now >= self._refresh_at:
            self._refresh_at = now + self.cfg.state_refresh_s
            self.touched.add("*")  # every served station: running turns idle by time alone
        if not self.touched:
            return
        forced = "*" in self.touched
        everything = forced or "" in self.touched  # an event without a station: readiness
        later: set[str] = set()
        with Session(reader(self.engine), expire_on_commit=False) as s:
            due = [st for st in self._served(s) if everything or st.id in self.touched]
            for i, station in enumerate(due):
                if self.committed.is_set():
                    later.update(st.id for st in due[i:])
                    break
                if not forced and time.monotonic() - self._built_at.get(station.id, 0) < 0.2:
                    later.add(station.id)  # draining a backlog: at most five states a second
                    continue
                if not self._send(s, station):
                    later.add(station.id)  # paho's queue is full: again next round
        self.touched = later

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
        return list(s.exec(select(Station).order_by(Station.id)))
