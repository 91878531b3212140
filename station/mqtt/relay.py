"""The relay that publishes the event log (the outbox), one per station process.

The events table is the system of record and the outbox (notes/mqtt.md, DESIGN.md). One relay
per station process reads the events after its cursor in id order, publishes each at QoS 1 as a
CFX-shaped envelope, and moves its cursor (a row of relay_cursor, never the events: they are
append-only) when the broker acknowledges. Web requests only commit; a hook wakes the relay after
each commit that added events, and the relay also polls, so events written by other processes
on the same database go out too. A broker that is down, goes away or comes back loses nothing:
the unacknowledged rest is still after the cursor.
"""

import logging
import threading
import time
from pathlib import Path

from sqlmodel import Session

from station.line import state as line_state
from station.mqtt import topics, wake
from station.mqtt.backlog import GAP_LOOK_S, Backlog
from station.mqtt.config import MqttConfig
from station.mqtt.connection import Connection
from station.mqtt.cursor import SAVE_EVERY_S, CursorStore
from station.mqtt.lock import AdvisoryLock, RelayLock
from station.mqtt.states import LOOK_S, StatePublisher

log = logging.getLogger(__name__)


class Relay:
    """Publishes the event log after its cursor, in order, at QoS 1; one per station process."""

    def __init__(self, engine, rules: line_state.StateRules, lock_path: Path, cfg: MqttConfig):
        self.engine, self.engine_url = engine, str(engine.url)
        self.cfg = cfg
        self.name = self.cfg.client_id
        self.lock = RelayLock(lock_path)
        self.advisory = None if engine.dialect.name == "sqlite" else AdvisoryLock(engine,
                                                                                 self.name)
        self.node_line = self.cfg.line
        self._wake, self._stop = threading.Event(), threading.Event()
        self._committed = threading.Event()  # a commit added events since the last look
        self.conn = Connection(self.cfg, self._wake)
        self.backlog = Backlog(engine, self.cfg, self.conn, self._committed)
        self.states = StatePublisher(engine, self.cfg, rules,
                                     self.conn, self._committed)
        self.store = CursorStore(engine, self.name)
        self._poll_at = 0.0
        self._thread: threading.Thread | None = None

    # the web side: cheap, never waits for the broker

    def notify(self) -> None:
        """Something was committed: look for new events now."""
        self._committed.set()
        self.states.pending = True
        self._wake.set()

    def start(self) -> "Relay":
        """Start the relay thread; it waits for the lock if another relay holds it."""
        wake.install_commit_hook()
        wake.listen(self)
        self._thread = threading.Thread(target=self._run, name=f"mqtt-relay-{self.name}",
                                        daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        """Say offline, save the cursor, disconnect and give the lock back."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout)

    @property
    def active(self) -> bool:
        """True while this process holds the relay lock."""
        return self.lock.held

    @property
    def connected(self) -> bool:
        """True while the broker has this relay's connection."""
        return self.conn.connected

    @property
    def last_error(self) -> str:
        """What went wrong last, for the banner; empty once connected again."""
        return self.conn.last_error

    @property
    def cursor(self) -> int:
        """The last event id whose every predecessor the broker acknowledged."""
        return self.backlog.cursor

    @property
    def refused(self) -> tuple[int, str] | None:
        """The event the broker refused, and why, until it is tried again."""
        return self.backlog.refused

    def status(self) -> dict:
        """What the relay is doing, for the banner and the API."""
        b = self.backlog
        return {"name": self.name, "active": self.active, "connected": self.connected,
                "cursor": b.cursor, "in_flight": len(b.outstanding),
                "published": b.published, "acknowledged": b.acknowledged,
                "last_error": self.last_error, "waiting_for": b.waiting_for,
                "refused": None if b.refused is None else
                {"event": b.refused[0], "reason": b.refused[1]}}

    # the relay thread

    def _run(self) -> None:
        try:
            while not self._stop.is_set():
                try:
                    if not self.lock.held and not self._take_lock():
                        self._stop.wait(1.0)  # another process relays: take over if it stops
                        continue
                    self._wake.clear()  # before the round: a wake during it is not lost
                    self._round()
                except Exception:  # the database may be busy or gone for a moment
                    log.exception("MQTT relay %s: round failed; retrying", self.name)
                    self._stop.wait(1.0)
                self._wake.wait(GAP_LOOK_S if self.backlog.waiting_for else
                                LOOK_S if self.states.pending else
                                SAVE_EVERY_S if self.store.saved != self.backlog.cursor else
                                0.25 if self.states.touched else self.cfg.poll_s)
        finally:
            self._shutdown()

    def _take_lock(self) -> bool:
        if not self.lock.acquire():
            return False
        try:
            if self.advisory is not None and not self.advisory.acquire():
                self.lock.release()
                return False
            self.backlog.start_at(self.store.load())
            with Session(self.engine) as s:
                self.node_line = topics.node_line(s, self.cfg)
        except Exception:
            self._release_locks()
            raise
        self.conn.open(topics.node_path(self.cfg, self.node_line))
        log.info("MQTT relay %s: publishing events after #%d to %s:%d", self.name, self.cursor,
                 self.cfg.host, self.cfg.port)
        return True

    def _release_locks(self) -> None:
        if self.advisory is not None:
            self.advisory.release()
        self.lock.release()

    def _round(self) -> None:
        """Acknowledgements, a new session, events, states, the cursor."""
        self.backlog.take_acks()
        if self.conn.new_session and self.conn.connected:
            self.conn.new_session = False
            self.conn.say_online(self.store.count_session())
            self.states.forget()
        if self.conn.may_send(in_flight=bool(self.backlog.mids)):
            poll = time.monotonic() >= self._poll_at  # other processes' events, if any
            if poll:
                self._poll_at = time.monotonic() + self.cfg.poll_s
            self.backlog.send(self.node_line, poll)
        self.states.publish()
        self.store.save(self.backlog.cursor)

    def _shutdown(self) -> None:
        wake.unlisten(self)
        if self.conn.client is not None:
            if self.conn.connected:
                self.conn.say_offline()
                self.backlog.drain()
            self.backlog.take_acks()
            self.conn.close()
        try:
            self.store.save(self.backlog.cursor, force=True)
        except Exception:
            log.exception("MQTT relay %s: could not save the cursor", self.name)
        self.conn.connected = False
        self._release_locks()
