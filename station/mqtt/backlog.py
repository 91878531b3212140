"""The backlog sender: events after the cursor handed to paho in id order, acknowledged in order."""

import logging
import queue
import threading
import time
from collections import deque
from dataclasses import dataclass
from datetime import datetime

import paho.mqtt.client as mqtt
from paho.mqtt.enums import MQTTErrorCode
from sqlalchemy import text
from sqlmodel import Session, select

from station.db import reader
from station.models import Event, utcnow
from station.mqtt.cfx import Messages, timestamp
from station.mqtt.config import MqttConfig
from station.mqtt.connection import Connection

log = logging.getLogger(__name__)

GAP_LOOK_S = 0.05  # a missing id is looked at again this soon
# The oldest transaction id still running and the next one to be assigned (PostgreSQL 13+).
SNAPSHOT = text("SELECT pg_snapshot_xmin(s)::text::bigint, pg_snapshot_xmax(s)::text::bigint "
                "FROM pg_current_snapshot() AS s")


@dataclass
class Gap:
    """A missing event id: since when, and the transaction horizon that settles it."""

    missing: int
    since: datetime
    seen: float  # time.monotonic() when first seen
    horizon: int | None = None


class Backlog:
    """The events after the cursor: sent in id order, the cursor moved as the broker acknowledges.

    `position` is the last event handed to paho, `cursor` the last one whose every predecessor
    was acknowledged: what may be stored as sent.
    """

    def __init__(self, engine, cfg: MqttConfig, conn: Connection, committed: threading.Event):
        self.engine, self.cfg, self.conn, self.committed = engine, cfg, conn, committed
        self.sqlite = engine.dialect.name == "sqlite"
        self.cursor = self.position = 0
        self.published = self.acknowledged = 0
        self.refused: tuple[int, str] | None = None  # the event the broker refused, and why
        self.mids: dict[int, int] = {}  # paho message id -> event id, until acknowledged
        self.outstanding: deque[int] = deque()  # event ids handed over, in order
        self._done: set[int] = set()
        self._stalled_until = 0.0
        self._gap: Gap | None = None  # PostgreSQL: the missing id the backlog waits for
        self._behind = True  # events may be waiting after `position`: read before waiting
        self._lines: dict[str, str] = {}  # station -> line, for the relay's life

    def start_at(self, cursor: int) -> None:
        """Begin after the stored cursor."""
        self.cursor = self.position = cursor
        self._behind = True

    def send(self, node_line: str, poll: bool) -> None:
        """Hand the next events to paho, in id order, once half the window is free.

        Refilling at half rather than after every acknowledgement reads the database in
        batches while a backlog drains, and at once for a live event (the window is empty).
        The database is read only when there may be something new: this process committed
        events, the last read left some behind, or `poll` (other processes' commits).
        """
        committed = self.committed.is_set()
        self.committed.clear()  # states wait for new events only when these can go now
        room = self.cfg.window - len(self.outstanding)
        if room < max(1, self.cfg.window // 2) or self.refused:
            return
        if not (committed or poll or self._behind):
            return
        with Session(reader(self.engine), expire_on_commit=False) as s:
            # Plain rows, not ORM objects: read once, never changed (a third of the cost).
            limit = min(room, 1000)
            rows = s.exec(select(*Event.__table__.columns).where(Event.id > self.position)
                          .order_by(Event.id).limit(limit)).all()
            messages = Messages(s, self.cfg, node_line, self._lines)
            for ev in self._in_order(s, rows):
                if not self.conn.connected:
                    break
                if not self._wanted(ev, messages):
                    self.outstanding.append(ev.id)  # not ours: passed as if acknowledged
                    self._done.add(ev.id)
                    self.position = ev.id
                    continue
                topic, payload = messages.build(ev)
                info = self.conn.publish(topic, payload)
                if info.rc == MQTTErrorCode.MQTT_ERR_QUEUE_SIZE:
                    break  # paho's queue is full: wait for acknowledgements
                if info.rc not in (MQTTErrorCode.MQTT_ERR_SUCCESS,
                                   MQTTErrorCode.MQTT_ERR_NO_CONN):
                    self.conn.last_error = f"publish failed: {mqtt.error_string(info.rc)}"
                    break
                # NO_CONN: paho keeps the message and sends it after reconnecting (pitfall 1).
                self.mids[info.mid] = ev.id
                self.outstanding.append(ev.id)
                self.position = ev.id
                self.published += 1
        self._behind = len(rows) == limit or bool(rows) and self.position < rows[-1].id
        self.take_acks()

    def take_acks(self) -> None:
        """Take the broker's acknowledgements and move the cursor over the unbroken start."""
        while True:
            try:
                mid, reason = self.conn.acks.get_nowait()
            except queue.Empty:
                break
            event_id = self.mids.pop(mid, None)
            if event_id is None:
                continue  # a status or state message
            if reason.is_failure:  # e.g. "Not authorized": the ACL does not allow the topic
                self.refused = (event_id, str(reason))
                self.conn.last_error = f"broker refused event #{event_id}: {reason}"
                self._stalled_until = time.monotonic() + 30
                log.error("MQTT relay %s: %s; retrying in 30 s", self.conn.name,
                          self.conn.last_error)
                continue
            self.acknowledged += 1
            self._done.add(event_id)
        while self.outstanding and self.outstanding[0] in self._done:
            self.cursor = self.outstanding.popleft()
            self._done.discard(self.cursor)
        # Woken by the acknowledgement that frees half the window, not by every one (a draining
        # backlog would cost a round per event).
        keep = self.cfg.window - max(1, self.cfg.window // 2)
        self.conn.wake_after = max(1, min(len(self.mids), len(self.outstanding) - keep))
        if self.conn.acks.qsize() >= self.conn.wake_after:
            self.conn.wake.set()  # they came while we counted
        if self.refused and not self.mids and time.monotonic() >= self._stalled_until:
            # Start again from the cursor: the refused event first (at-least-once).
            self.position, self.refused = self.cursor, None
            self.outstanding.clear()
            self._done.clear()
            self._behind = True

    def drain(self, limit_s: float = 2.0) -> None:
        """Wait a little for the acknowledgements of what is in flight (stopping)."""
        deadline = time.monotonic() + limit_s
        while self.mids and self.conn.connected and time.monotonic() < deadline:
            time.sleep(0.02)
            self.take_acks()

    @property
    def waiting_for(self) -> dict | None:
        """The missing event id the backlog waits for, since when and how many seconds; None
        if it waits for none."""
        gap = self._gap
        return None if gap is None else {"event": gap.missing, "since": timestamp(gap.since),
                                         "for_s": round(time.monotonic() - gap.seen, 1)}

    def _in_order(self, s: Session, rows: list[Event]) -> list[Event]:
        """The rows up to the first id still missing (PostgreSQL may commit ids out of order)."""
        if self.sqlite:
            return rows  # writers take turns: ids commit in order and are never skipped
        out, expected = [], self.position + 1
        for ev in rows:
            if ev.id != expected and expected > 1 and not self._gap_settled(s, expected):
                break
            out.append(ev)
            expected = ev.id + 1
        if self._gap is not None and self._gap.missing < expected:
            self._gap = None  # its transaction committed it after all
        return out

    def _gap_settled(self, s: Session, missing: int) -> bool:
        """True once no transaction that could still commit the missing id is open.

        Its transaction took the id before the newer event was read, and has a transaction id
        of its own a moment later. So the newest id PostgreSQL had assigned when the gap was
        seen again, a look later, is the horizon: once the oldest transaction still running
        is past it, the id was rolled back for good, unless it is there now: its transaction
        committed after the rows were read. Time alone never settles it: a transaction may
        hold its event for seconds and commit it yet.
        """
        if self._gap is None or self._gap.missing != missing:
            self._gap = Gap(missing, utcnow(), time.monotonic())
            return False
        if time.monotonic() - self._gap.seen < GAP_LOOK_S:
            return False  # woken at once by another commit: the horizon is taken a look later
        oldest, newest = s.execute(SNAPSHOT).one()
        if self._gap.horizon is None:
            self._gap.horizon = newest
            return False
        if oldest < self._gap.horizon:
            return False
        if s.exec(select(Event.id).where(Event.id == missing)).first() is not None:
            return False  # committed after the rows were read: the next read (a look on) has it
        log.info("MQTT relay %s: event #%d was rolled back; going on", self.conn.name, missing)
        self._gap = None
        return True

    def _wanted(self, ev: Event, messages: Messages) -> bool:
        """This process's to publish: its station's, its line's, or (a plant node) every one."""
        if ev.station_id is None:
            return self.cfg.line_events
        if self.cfg.station:
            return ev.station_id == self.cfg.station
        return not self.cfg.serve_line or messages.line_of(ev.station_id) == self.cfg.serve_line
