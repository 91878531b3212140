"""MQTT: the relay that publishes the event log (the outbox), and the feed dashboards read.

The events table is the system of record and the outbox (notes/mqtt.md, DESIGN.md). One relay
per station process reads the events after its cursor in id order, publishes each at QoS 1 as a
CFX-shaped envelope, and moves its cursor (a row of relay_cursor, never the events: they are
append-only) when the broker acknowledges. Web requests only commit; a hook wakes the relay after
each commit that added events, and the relay also polls, so events written by other processes
on the same database go out too. A broker that is down, goes away or comes back loses nothing:
the unacknowledged rest is still after the cursor.

Topics, under {enterprise}/{site}/{area}/{line}/:
  {station}/status        retained; {"online": true, "session": N, ...}, the last will says false
  {station}/state         retained flat snapshot (line_state.snapshot), rebuilt at send time
  {station}/cfx/{Short}   one CFX envelope per event, QoS 1, not retained
  {station}/event/{kind}  events CFX has no message for, same envelope
  cfx/{Short}, event/{kind} (right under the line) for events without a station
  status                  the status of a line node (one process serving a whole line)

Event kinds and their CFX messages (field names as the IPC-CFX SDK writes them):
  board.step_passed                 WorkCompleted (Result Completed; a scan records a finished step,
                                    so UnitsArrived and WorkStarted are not sent)
  test.recorded, step_passed at FCT UnitsTested (OverallResult Passed/Failed/Error, defect codes)
  stencil.mounted                   ToolChanged (SMTStencil old and new)
  hold.placed / hold.released       WorkOrderStatusUpdated (OnHold / InProcess) for an order's
                                    hold; a single board's hold goes to event/hold-placed
  board.scrapped                    UnitsDisqualified (DefectiveRepairNotPossible, the reason)
  station.state_set                 StationStateChanged (SEMI E10 codes as strings, "5000")
  anything else                     event/{kind}: the same envelope, MessageName
                                    "SMTStation.Event", the payload without PINs, passwords,
                                    tokens or badges (user.*, badge.*, token.* included)
Each envelope carries UniqueID (the event's uid, for dropping duplicates: delivery is at least
once) and Sequence (the event's id, for spotting gaps), plus Kind, Station and Details (the
event's payload, cleaned).
"""

import atexit
import contextlib
import functools
import json
import logging
import os
import queue
import re
import socket
import threading
import time
import uuid
import weakref
import zlib
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import unquote, urlsplit

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from sqlalchemy import event as sa_event
from sqlalchemy import or_, text
from sqlalchemy.orm import Session as OrmSession
from sqlmodel import Session, func, select

from station import db, events
from station.db import reader
from station.line import state as line_state
from station.line.state import slug
from station.models import Board, Event, Line, RelayCursor, Station, utcnow

log = logging.getLogger(__name__)

CFX_VERSION = "2.1"
SECRET_KEYS = re.compile(r"pin|password|secret|token|badge|pepper", re.IGNORECASE)
STENCIL = "CFX.Structures.SolderPastePrinting.SMTStencil, CFX"
RESULTS = {"pass": "Passed", "fail": "Failed", "error": "Error"}
TXN = uuid.UUID("6f1d5c52-7a0e-4c43-9a43-5e2b8c1d0a6e")  # namespace of derived transaction ids


# --- configuration -------------------------------------------------------------------------

@dataclass
class MqttConfig:
    """The [mqtt] section of config/station.toml, with MQTT_URL / MQTT_PASSWORD applied."""

    host: str = ""
    port: int = 1883
    tls: bool = False
    username: str = ""
    password: str = ""
    client_id: str = ""
    station: str = ""  # the station this process speaks for; empty: all (a line node)
    line: str = ""  # the line of events without a station, and of a line node's status
    line_events: bool = True  # publish events without a station
    tls_ca: str = ""
    tls_cert: str = ""
    tls_key: str = ""
    keepalive_s: int = 30
    max_inflight: int = 20
    window: int = 1000  # events handed to paho and not yet acknowledged, at most
    reconnect_max_s: int = 5
    session_expiry_s: int = 3600
    poll_s: float = 1.0  # also look for events committed by other processes this often
    state_refresh_s: float = 10.0  # recompute every served station's state (time-driven idle)
    gap_grace_s: float = 3.0  # PostgreSQL: wait this long for a missing id to commit
    dashboard_streams: int = 2
    prefix: str = "acme/plant1/smt"

    @property
    def configured(self) -> bool:
        """True when a broker is configured."""
        return bool(self.host)


def config_from(settings) -> MqttConfig:
    """The MQTT settings of a station.toml (station.config.Settings); credentials in the URL or
    environment win."""
    m, site = settings.mqtt, settings.site
    cfg = MqttConfig(prefix="/".join(slug(part) for part in (site.enterprise, site.site,
                                                              site.area)),
                     **{name: getattr(m, name) for name in MqttConfig.__dataclass_fields__
                        if name not in ("host", "port", "tls", "prefix")})
    url = m.url
    if url:
        parts = urlsplit(url if "://" in url else f"mqtt://{url}")
        if parts.scheme not in ("mqtt", "mqtts", "tcp", "ssl"):
            raise ValueError(f"[mqtt] url must start with mqtt:// or mqtts://, not {url!r}")
        cfg.tls = parts.scheme in ("mqtts", "ssl") or bool(cfg.tls_ca)
        cfg.host, cfg.port = parts.hostname or "", parts.port or (8883 if cfg.tls else 1883)
        if parts.username:
            cfg.username, cfg.password = unquote(parts.username), unquote(parts.password or "")
    cfg.username = os.environ.get("MQTT_USERNAME", cfg.username)
    cfg.password = os.environ.get("MQTT_PASSWORD", cfg.password)
    if not cfg.line:
        configured = {s.id: s.line for s in settings.stations}
        lines = [ln.id for ln in settings.lines]
        cfg.line = configured.get(cfg.station) or (lines[0] if lines else "")
    if not cfg.client_id:
        base = slug(cfg.station) if cfg.station else slug(cfg.line or socket.gethostname())
        cfg.client_id = f"{base}-relay"
    return cfg


def node_path(cfg: MqttConfig, line: str) -> str:
    """The status topic's place for this process: its station's, or its line's."""
    return f"{slug(line)}/{slug(cfg.station)}" if cfg.station else slug(line)


# --- payloads --------------------------------------------------------------------------------

def timestamp(dt: datetime) -> str:
    """ISO 8601 UTC with milliseconds and a Z, as CFX's TimeStamp."""
    dt = dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt.astimezone(UTC)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"


def clean(value):
    """A payload without anything secret: keys naming PINs, passwords, tokens or badges go."""
    if isinstance(value, dict):
        return {k: clean(v) for k, v in value.items() if not SECRET_KEYS.search(str(k))}
    if isinstance(value, list):
        return [clean(v) for v in value]
    return value


def _hhmmss(seconds: float) -> str:
    seconds = max(0, int(seconds))
    return f"{seconds // 3600:02d}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"


def _operator(name: str) -> dict:
    return {"OperatorIdentifier": name, "ActorType": "Human", "LastName": None,
            "FirstName": None, "LoginName": name}


def _stencil(stencil_id: str | None) -> dict | None:
    return None if not stencil_id else {"$type": STENCIL, "UniqueIdentifier": stencil_id,
                                        "Name": stencil_id}


def cfx_body(ev: Event, position) -> tuple[str, dict] | None:
    """The CFX message name and body for an event, or None when CFX has no message for it.

    `position(serial)` answers a board's position on its panel. Field names are the SDK's
    (mind TransactionID in WorkCompleted, TransactionId in UnitsTested).
    """
    p, kind = ev.payload or {}, ev.kind
    serial = ev.subject.partition(":")[2] if ev.subject.startswith("board:") else None
    txn = str(uuid.uuid5(TXN, ev.uid))
    if kind == "board.step_passed" and p.get("step") != "FCT":
        return "CFX.Production.WorkCompleted", {
            "TransactionID": txn, "Result": "Completed", "PrimaryIdentifier": serial,
            "HermesIdentifier": None, "UnitCount": 1,
            "Units": [{"UnitIdentifier": serial, "PositionNumber": p.get("position") or 1,
                       "PositionName": None}]}
    if kind in ("board.step_passed", "test.recorded"):
        result = RESULTS.get(p.get("outcome", "pass"), "Error")
        tests = [] if not p.get("defect_code") else [{
            "TestName": p.get("program") or "FCT", "Result": result, "SymptomsFound": [],
            "DefectsFound": [{"DefectCode": p["defect_code"]}], "Measurements": []}]
        return "CFX.Production.TestAndInspection.UnitsTested", {
            "TransactionId": txn,
            "TestMethod": "Human" if p.get("source") == "manual" else "Automated",
            "Tester": _operator(ev.actor), "RecipeName": p.get("program") or None,
            "RecipeRevision": p.get("program_version") or None,
            "SamplingInformation": {"SamplingMethod": "NoSampling", "LotSize": None,
                                    "SampleSize": None},
            "TestedUnits": [{"UnitIdentifier": serial, "UnitPositionNumber": position(serial),
                             "OverallResult": result, "Tests": tests}]}
    if kind == "stencil.mounted":
        return "CFX.ResourcePerformance.ToolChanged", {
            "OldTool": _stencil(p.get("previous")), "ReturnedToHolder": None,
            "NewTool": _stencil(p.get("stencil")), "LoadedFromHolder": None}
    if kind in ("hold.placed", "hold.released") and not p.get("serial"):
        held = kind == "hold.placed"
        return "CFX.InformationSystem.WorkOrderManagement.WorkOrderStatusUpdated", {
            "WorkOrderIdentifier": {"WorkOrderId": p.get("order"), "Batch": None},
            "NewStatus": "OnHold" if held else "InProcess",
            "PreviousStatus": "InProcess" if held else "OnHold"}
    if kind == "board.scrapped":
        return "CFX.Production.UnitsDisqualified", {
            "Reason": "DefectiveRepairNotPossible", "Comments": p.get("reason"),
            "Units": [{"UnitIdentifier": serial, "PositionNumber": position(serial),
                       "PositionName": None}]}
    if kind == "station.state_set":
        since = p.get("old_since")
        try:
            held = (ev.at.replace(tzinfo=ev.at.tzinfo or UTC) -
                    datetime.fromisoformat(since.replace("Z", "+00:00"))).total_seconds()
        except (AttributeError, ValueError):
            held = 0
        return "CFX.ResourcePerformance.StationStateChanged", {
            "OldState": str(p.get("old_state_code", "")), "OldStateDuration": _hhmmss(held),
            "NewState": str(p.get("state_code", "")), "RelatedFault": None}
    return None


def envelope(ev: Event, name: str, body: dict, source: str) -> dict:
    """The CFX envelope, plus Sequence (the event id), Kind, Station and the event's Details."""
    return {"MessageName": name, "Version": CFX_VERSION, "TimeStamp": timestamp(ev.at),
            "UniqueID": ev.uid, "Source": source, "Target": None, "RequestID": None,
            "Sequence": ev.id, "Kind": ev.kind, "Station": ev.station_id,
            "Details": clean(ev.payload or {}), "MessageBody": body}


class Messages:
    """Topic and payload of each event of a batch, with the lookups it needs cached."""

    def __init__(self, session: Session, cfg: MqttConfig, node_line: str):
        self.session, self.cfg, self.node_line = session, cfg, node_line
        self.enterprise = cfg.prefix.split("/")[0]
        self._lines: dict[str, str] = {}
        self._positions: dict[str, int] = {}

    def base(self, station_id: str | None) -> str:
        """The topic under which an event of this station (or of none) goes."""
        if station_id is None:
            return f"{self.cfg.prefix}/{slug(self.node_line)}"
        if station_id not in self._lines:
            station = self.session.get(Station, station_id)
            self._lines[station_id] = station.line if station else self.node_line
        return f"{self.cfg.prefix}/{slug(self._lines[station_id])}/{slug(station_id)}"

    def position(self, serial: str | None) -> int:
        """A board's position on its panel (1 for a single board)."""
        if serial and serial not in self._positions:
            board = self.session.exec(select(Board).where(Board.serial == serial)).first()
            self._positions[serial] = (board.panel_position if board else None) or 1
        return self._positions.get(serial, 1)

    def build(self, ev: Event) -> tuple[str, bytes]:
        """The topic and JSON payload of one event."""
        source = f"{self.enterprise}.smtstation.{slug(ev.station_id or self.node_line)}"
        found = cfx_body(ev, self.position)
        if found is not None:
            name, body = found
            topic = f"{self.base(ev.station_id)}/cfx/{name.rsplit('.', 1)[1]}"
        else:
            name = "SMTStation.Event"
            body = {"Kind": ev.kind, "Subject": ev.subject, "Actor": ev.actor,
                    "Payload": clean(ev.payload or {})}
            topic = f"{self.base(ev.station_id)}/event/{slug(ev.kind)}"
        payload = envelope(ev, name, body, source)
        return topic, json.dumps(payload, separators=(",", ":"), default=str).encode()


# --- wake-ups after commits ------------------------------------------------------------------

_listeners: "weakref.WeakSet" = weakref.WeakSet()  # relays and feeds of this process
_listeners_lock = threading.Lock()
_hooked = False


def _listen(obj) -> None:
    with _listeners_lock:
        _listeners.add(obj)


def _unlisten(obj) -> None:
    with _listeners_lock:
        _listeners.discard(obj)


def _after_flush(session, _context):
    if any(isinstance(o, Event) for o in session.new):
        session.info[events.ADDED] = True


def _after_commit(session):
    """After an ORM session's or a WriteTx's commit: wake the relays and feeds of its database."""
    if not session.info.pop(events.ADDED, False) or not _listeners:  # len() is cheap, list() not
        return
    with _listeners_lock:
        listeners = list(_listeners)
    bind = session.engine if isinstance(session, db.WriteTx) else session.get_bind()
    url = _url_text(bind.url) if bind is not None else ""
    for listener in listeners:
        if listener.engine_url == url:
            listener.notify()


@functools.lru_cache(maxsize=8)
def _url_text(url) -> str:
    return str(url)  # rendering a URL costs more than a scan's event insert


def _after_rollback(session):
    session.info.pop(events.ADDED, None)


def install_commit_hook() -> None:
    """Wake relays and dashboards of this process after every commit that added events."""
    global _hooked
    if not _hooked:
        sa_event.listen(OrmSession, "after_flush", _after_flush)
        sa_event.listen(OrmSession, "after_commit", _after_commit)
        sa_event.listen(OrmSession, "after_soft_rollback",
                        lambda session, _tx: _after_rollback(session))
        db.AFTER_COMMIT.append(_after_commit)
        _hooked = True


# --- exactly one relay -----------------------------------------------------------------------

class RelayLock:
    """An OS lock on a file: one holder across threads and processes (msvcrt or fcntl)."""

    def __init__(self, path: Path):
        self.path, self._file = Path(path), None

    @property
    def held(self) -> bool:
        """True while this object holds the lock."""
        return self._file is not None

    def acquire(self) -> bool:
        """Take the lock if nobody has it; never waits."""
        if self._file is not None:
            return True
        self.path.parent.mkdir(parents=True, exist_ok=True)
        f = open(self.path, "a+b")  # noqa: SIM115 (held open as long as the lock)
        try:
            if os.name == "nt":
                import msvcrt

                f.seek(0)
                msvcrt.locking(f.fileno(), msvcrt.LK_NBLCK, 1)
            else:
                import fcntl

                fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            f.close()
            return False
        self._file = f
        return True

    def release(self) -> None:
        """Give the lock back (closing the file releases it on every OS)."""
        f, self._file = self._file, None
        if f is None:
            return
        try:
            if os.name == "nt":
                import msvcrt

                f.seek(0)
                msvcrt.locking(f.fileno(), msvcrt.LK_UNLCK, 1)
        except OSError:
            pass
        f.close()


# --- the relay -------------------------------------------------------------------------------

def make_client(cfg: MqttConfig, client_id: str) -> mqtt.Client:
    """A paho 2.x client with the station's credentials and TLS settings."""
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id,
                         protocol=mqtt.MQTTv5)
    if cfg.username:
        client.username_pw_set(cfg.username, cfg.password or None)
    if cfg.tls:
        client.tls_set(ca_certs=cfg.tls_ca or None, certfile=cfg.tls_cert or None,
                       keyfile=cfg.tls_key or None)
    client.reconnect_delay_set(1, max(1, cfg.reconnect_max_s))
    return client


def connect(client: mqtt.Client, cfg: MqttConfig, clean_start=mqtt.MQTT_CLEAN_START_FIRST_ONLY,
            expiry_s: int = 0) -> None:
    """Connect in the background; paho retries until the broker answers (loop_start)."""
    props = Properties(PacketTypes.CONNECT)
    if expiry_s:
        props.SessionExpiryInterval = expiry_s
    client.connect_async(cfg.host, cfg.port, keepalive=cfg.keepalive_s, clean_start=clean_start,
                         properties=props)
    client.loop_start()


class Relay:
    """Publishes the event log after its cursor, in order, at QoS 1; one per station process."""

    def __init__(self, engine, rules: line_state.StateRules, lock_path: Path, cfg: MqttConfig):
        self.engine = engine
        self.engine_url = str(engine.url)
        self.cfg = cfg
        self.name = self.cfg.client_id
        self.rules = rules
        self.lock = RelayLock(lock_path)
        self.sqlite = engine.dialect.name == "sqlite"
        self.client: mqtt.Client | None = None
        self.connected, self.last_error, self.refused = False, "", None
        self.cursor = self._position = 0
        self.published = self.acknowledged = 0
        self._acks: queue.SimpleQueue = queue.SimpleQueue()
        self._wake, self._stop = threading.Event(), threading.Event()
        self._committed = threading.Event()  # a commit added events since the last look
        self._mids: dict[int, int] = {}  # paho message id -> event id, until acknowledged
        self._outstanding: deque[int] = deque()  # event ids handed over, in order
        self._done: set[int] = set()
        self._resync = self._new_session = False
        self._stalled_until = 0.0
        self._saved, self._saved_at = 0, 0.0
        self._touched: set[str] = set()
        self._states: dict[str, str] = {}  # station -> last published snapshot (without ts)
        self._clock: dict[str, tuple[str, str]] = {}  # station -> (state, since)
        self._state_at: dict[str, float] = {}
        self._refresh_at = 0.0
        self._gaps: dict[int, float] = {}
        self._pg_lock = None
        self._thread: threading.Thread | None = None
        self.node_line = self.cfg.line
        self.node = ""
        self.status_topic = ""

    # the web side: cheap, never waits for the broker

    def notify(self) -> None:
        """Something was committed: look for new events now."""
        self._committed.set()
        self._wake.set()

    def start(self) -> "Relay":
        """Start the relay thread; it waits for the lock if another relay holds it."""
        install_commit_hook()
        _listen(self)
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

    def status(self) -> dict:
        """What the relay is doing, for the banner and the API."""
        return {"name": self.name, "active": self.active, "connected": self.connected,
                "cursor": self.cursor, "in_flight": len(self._outstanding),
                "published": self.published, "acknowledged": self.acknowledged,
                "last_error": self.last_error,
                "refused": None if self.refused is None else
                {"event": self.refused[0], "reason": self.refused[1]}}

    # the relay thread

    def _run(self) -> None:
        try:
            while not self._stop.is_set():
                try:
                    if not self.lock.held and not self._take_lock():
                        self._stop.wait(1.0)  # another process relays: take over if it stops
                        continue
                    self._round()
                except Exception:  # the database may be busy or gone for a moment
                    log.exception("MQTT relay %s: round failed; retrying", self.name)
                    self._stop.wait(1.0)
                self._wake.wait(0.25 if self._touched else self.cfg.poll_s)
                self._wake.clear()
        finally:
            self._shutdown()

    def _take_lock(self) -> bool:
        if not self.lock.acquire():
            return False
        try:
            if not self.sqlite and not self._take_pg_lock():
                self.lock.release()
                return False
            self._load_cursor()
        except Exception:
            self._release_locks()
            raise
        self.node = node_path(self.cfg, self.node_line)
        self.status_topic = f"{self.cfg.prefix}/{self.node}/status"
        self._open_client()
        log.info("MQTT relay %s: publishing events after #%d to %s:%d", self.name, self.cursor,
                 self.cfg.host, self.cfg.port)
        return True

    def _release_locks(self) -> None:
        if self._pg_lock is not None:
            conn, self._pg_lock = self._pg_lock, None
            try:  # the connection goes back to the pool, still holding it: unlock first
                conn.execute(text("SELECT pg_advisory_unlock_all()"))
            except Exception:
                conn.invalidate()  # then the session ends, and its locks with it
            conn.close()
        self.lock.release()

    def _load_cursor(self) -> None:
        """Where this relay got to (a new name starts before the first event)."""
        with Session(self.engine) as s:
            row = s.get(RelayCursor, self.name)
            if row is None:
                row = RelayCursor(name=self.name)
                s.add(row)
                s.commit()
            self.cursor = self._position = self._saved = row.last_event_id
            if not self.node_line:
                first = s.exec(select(Line.id).order_by(Line.id)).first()
                self.node_line = first or "line"
            if self.cfg.station:
                station = s.get(Station, self.cfg.station)
                self.node_line = station.line if station else self.node_line

    def _take_pg_lock(self) -> bool:
        """On a shared PostgreSQL: one relay per name across every PC, by an advisory lock.

        Held by this connection for as long as it is open (a dead PC's lock goes with its
        connection); keyed by schema and relay name, as advisory locks span the database.
        """
        conn = self.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
        key = zlib.crc32(self.name.encode()) & 0x7FFFFFFF
        if conn.execute(text("SELECT pg_try_advisory_lock(hashtext(current_schema()), :k)"),
                        {"k": key}).scalar():
            self._pg_lock = conn
            return True
        conn.close()
        return False

    def _open_client(self) -> None:
        client = make_client(self.cfg, self.name)
        client.max_inflight_messages_set(max(1, self.cfg.max_inflight))
        client.max_queued_messages_set(self.cfg.window + 100)  # the database holds the rest
        client.will_set(self.status_topic, self._status(False, will=True), qos=1, retain=True)
        client.on_connect = self._on_connect
        client.on_connect_fail = self._on_connect_fail
        client.on_disconnect = self._on_disconnect
        client.on_publish = self._on_publish
        self.client = client
        connect(client, self.cfg, expiry_s=self.cfg.session_expiry_s)

    def _status(self, online: bool, session: int = 0, will: bool = False) -> bytes:
        body = {"online": online, "ts": timestamp(utcnow()), "node": self.node,
                "client_id": self.name}
        if online:
            body["session"] = session
        if will:
            body["will"] = True
        return json.dumps(body).encode()

    # paho's callbacks run on its network thread: they only hand over and wake

    def _on_connect(self, _client, _userdata, _flags, reason_code, _props) -> None:
        if reason_code.is_failure:
            self.last_error = f"broker refused the connection: {reason_code}"
            log.warning("MQTT relay %s: %s", self.name, self.last_error)
            return
        self.connected, self.last_error = True, ""
        self._resync = self._new_session = True
        self._wake.set()

    def _on_connect_fail(self, _client, _userdata) -> None:
        self.last_error = f"cannot reach the broker at {self.cfg.host}:{self.cfg.port}"

    def _on_disconnect(self, _client, _userdata, _flags, reason_code, _props) -> None:
        self.connected = False
        if reason_code.is_failure:
            self.last_error = f"connection lost: {reason_code}"
        self._wake.set()

    def _on_publish(self, _client, _userdata, mid, reason_code, _props) -> None:
        self._acks.put((mid, reason_code))
        self._wake.set()

    # one round: acknowledgements, a new session, events, states, the cursor

    def _round(self) -> None:
        self._take_acks()
        if self._new_session and self.connected:
            self._new_session = False
            self._start_session()
        if self.connected and self._resync and not self._mids:
            # After a reconnect paho resends what was in flight; new events wait until those
            # are acknowledged, or they could overtake them (notes/mqtt.md pitfall 10).
            self._resync = False
        if self.connected and not self._resync:
            self._publish_events()
        self._publish_states()
        self._save_cursor()

    def _take_acks(self) -> None:
        while True:
            try:
                mid, reason = self._acks.get_nowait()
            except queue.Empty:
                break
            event_id = self._mids.pop(mid, None)
            if event_id is None:
                continue  # a status or state message
            if reason.is_failure:  # e.g. "Not authorized": the ACL does not allow the topic
                self.refused = (event_id, str(reason))
                self.last_error = f"broker refused event #{event_id}: {reason}"
                self._stalled_until = time.monotonic() + 30
                log.error("MQTT relay %s: %s; retrying in 30 s", self.name, self.last_error)
                continue
            self.acknowledged += 1
            self._done.add(event_id)
        while self._outstanding and self._outstanding[0] in self._done:
            self.cursor = self._outstanding.popleft()
            self._done.discard(self.cursor)
        if self.refused and not self._mids and time.monotonic() >= self._stalled_until:
            # Start again from the cursor: the refused event first (at-least-once).
            self._position, self.refused = self.cursor, None
            self._outstanding.clear()
            self._done.clear()

    def _start_session(self) -> None:
        with Session(self.engine) as s:
            row = s.get(RelayCursor, self.name)
            row.connects += 1
            row.updated_at = utcnow()
            s.add(row)
            s.commit()
            connects = row.connects
        self.client.publish(self.status_topic, self._status(True, connects), qos=1, retain=True)
        self._states.clear()  # republish every state on every new session
        self._refresh_at = 0.0

    def _publish_events(self) -> None:
        room = self.cfg.window - len(self._outstanding)
        if room <= 0 or self.refused:
            return
        self._committed.clear()
        with Session(reader(self.engine), expire_on_commit=False) as s:
            rows = s.exec(select(Event).where(Event.id > self._position).order_by(Event.id)
                          .limit(min(room, 500))).all()
            messages = Messages(s, self.cfg, self.node_line)
            for ev in self._in_order(rows):
                if not self.connected:
                    break
                if not self._wanted(ev):
                    self._outstanding.append(ev.id)  # not ours: passed as if acknowledged
                    self._done.add(ev.id)
                    self._position = ev.id
                    continue
                topic, payload = messages.build(ev)
                info = self.client.publish(topic, payload, qos=1)
                if info.rc == MQTTErrorCode.MQTT_ERR_QUEUE_SIZE:
                    break  # paho's queue is full: wait for acknowledgements
                if info.rc not in (MQTTErrorCode.MQTT_ERR_SUCCESS,
                                   MQTTErrorCode.MQTT_ERR_NO_CONN):
                    self.last_error = f"publish failed: {mqtt.error_string(info.rc)}"
                    break
                # NO_CONN: paho keeps the message and sends it after reconnecting (pitfall 1).
                self._mids[info.mid] = ev.id
                self._outstanding.append(ev.id)
                self._position = ev.id
                self.published += 1
                self._touched.add(ev.station_id or "")
        self._take_acks()

    def _in_order(self, rows: list[Event]) -> list[Event]:
        """The rows up to the first id still missing (PostgreSQL may commit ids out of order)."""
        if self.sqlite:
            return rows  # writers take turns: ids commit in order and are never skipped
        out, expected = [], self._position + 1
        for ev in rows:
            if ev.id != expected and expected > 1:
                first_seen = self._gaps.setdefault(expected, time.monotonic())
                if time.monotonic() - first_seen < self.cfg.gap_grace_s:
                    break  # a transaction holding this id may still commit
                self._gaps.pop(expected, None)
            out.append(ev)
            expected = ev.id + 1
        return out

    def _wanted(self, ev: Event) -> bool:
        if ev.station_id is None:
            return self.cfg.line_events
        return not self.cfg.station or ev.station_id == self.cfg.station

    def _served(self, s: Session) -> list[Station]:
        if self.cfg.station:
            station = s.get(Station, self.cfg.station)
            return [station] if station else []
        return list(s.exec(select(Station).order_by(Station.id)))

    def _publish_states(self) -> None:
        """Republish the state of stations whose events went out, and of all when due.

        New events go first: a state takes milliseconds to rebuild, so the loop gives way to
        them between stations rather than make them wait behind a whole line's refresh.
        """
        if not self.connected or self.client is None:
            return
        now = time.monotonic()
        if now >= self._refresh_at:
            self._refresh_at = now + self.cfg.state_refresh_s
            self._touched.add("*")  # every served station: running turns idle by time alone
        if not self._touched:
            return
        forced = "*" in self._touched
        everything = forced or "" in self._touched  # an event without a station: readiness
        later: set[str] = set()
        with Session(reader(self.engine), expire_on_commit=False) as s:
            due = [st for st in self._served(s) if everything or st.id in self._touched]
            for i, station in enumerate(due):
                if self._committed.is_set():
                    later.update(st.id for st in due[i:])
                    break
                if not forced and time.monotonic() - self._state_at.get(station.id, 0) < 0.2:
                    later.add(station.id)  # draining a backlog: at most five states a second
                    continue
                self._state_at[station.id] = time.monotonic()
                snap = line_state.snapshot(s, station, self.rules, node=self.node,
                                           previous=self._clock.get(station.id))
                key = json.dumps({k: v for k, v in snap.items() if k != "ts"}, sort_keys=True)
                if self._states.get(station.id) == key:
                    continue
                topic = f"{self.cfg.prefix}/{slug(station.line)}/{slug(station.id)}/state"
                info = self.client.publish(topic, json.dumps(snap).encode(), qos=1, retain=True)
                if info.rc not in (MQTTErrorCode.MQTT_ERR_SUCCESS,
                                   MQTTErrorCode.MQTT_ERR_NO_CONN):
                    later.add(station.id)  # paho's queue is full: again next round
                    continue
                self._states[station.id] = key
                self._clock[station.id] = (snap["state"], snap["state_since"])
        self._touched = later

    def _save_cursor(self, force: bool = False) -> None:
        """Store the cursor, at most five times a second while busy (a crash only repeats)."""
        if self.cursor == self._saved:
            return
        if not force and self._outstanding and time.monotonic() - self._saved_at < 0.2:
            return
        with Session(self.engine) as s:
            row = s.get(RelayCursor, self.name)
            row.last_event_id, row.updated_at = max(row.last_event_id, self.cursor), utcnow()
            s.add(row)
            s.commit()
        self._saved, self._saved_at = self.cursor, time.monotonic()

    def _shutdown(self) -> None:
        _unlisten(self)
        client = self.client
        if client is not None:
            if self.connected:
                # The will is not sent on a clean disconnect: say offline ourselves.
                with contextlib.suppress(RuntimeError, ValueError):
                    client.publish(self.status_topic, self._status(False), qos=1,
                                   retain=True).wait_for_publish(2)
                deadline = time.monotonic() + 2
                while self._mids and self.connected and time.monotonic() < deadline:
                    time.sleep(0.02)
                    self._take_acks()
            self._take_acks()
            client.disconnect()
            client.loop_stop()
        try:
            self._save_cursor(force=True)
        except Exception:
            log.exception("MQTT relay %s: could not save the cursor", self.name)
        self.connected = False
        self._release_locks()


def waiting(session: Session, cfg: MqttConfig) -> int:
    """How many events the relay has still to publish (its cursor is in the database)."""
    row = session.get(RelayCursor, cfg.client_id)
    query = select(func.count()).select_from(Event).where(
        Event.id > (row.last_event_id if row else 0))
    if cfg.station:
        mine = Event.station_id == cfg.station
        query = query.where(or_(mine, Event.station_id.is_(None)) if cfg.line_events else mine)
    elif not cfg.line_events:
        query = query.where(Event.station_id.is_not(None))
    return session.exec(query).one()


# --- the feed: what dashboards show ----------------------------------------------------------

class Listener:
    """One dashboard stream's mailbox: which lines changed, coalesced."""

    def __init__(self, line: str | None):
        self.line, self.queue = line, queue.Queue(maxsize=256)

    def put(self, item) -> None:
        """Hand a change over without ever blocking the network thread."""
        with contextlib.suppress(queue.Full):  # the stream rebuilds it all on its next change
            self.queue.put_nowait(item)


@dataclass
class Retained:
    """A retained message as last received."""

    payload: dict
    at: float = field(default_factory=time.time)


class LineFeed:
    """Subscribes to every station's retained state and status; fans changes out to streams."""

    def __init__(self, cfg: MqttConfig, engine_url: str = ""):
        self.cfg, self.engine_url = cfg, engine_url
        self.states: dict[tuple[str, str], Retained] = {}
        self.statuses: dict[str, Retained] = {}  # node path -> status
        self.connected, self.last_error = False, ""
        self.ready = threading.Event()  # the retained messages of the first subscription came
        self.started = time.monotonic()
        self._listeners: set[Listener] = set()
        self._lock = threading.Lock()
        self.client: mqtt.Client | None = None

    def start(self) -> "LineFeed":
        """Connect in the background (a clean session: retained messages give the present)."""
        install_commit_hook()
        _listen(self)
        client_id = f"{self.cfg.client_id}-dash-{socket.gethostname()}-{os.getpid()}-" \
            f"{uuid.uuid4().hex[:6]}"[-64:]
        client = make_client(self.cfg, client_id)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        client.on_subscribe = lambda *_a: threading.Timer(0.2, self.ready.set).start()
        self.client = client
        connect(client, self.cfg, clean_start=True)
        return self

    def wait_ready(self, limit: float = 1.0) -> None:
        """Just after start, wait (up to `limit` from the start) for the retained states."""
        self.ready.wait(max(0.0, self.started + limit - time.monotonic()))

    def stop(self) -> None:
        """Disconnect."""
        _unlisten(self)
        if self.client is not None:
            self.client.disconnect()
            self.client.loop_stop()
        self.connected = False

    def notify(self) -> None:
        """A local commit added events: offline dashboards of this process refresh."""
        self._fan_out(None)

    def listen(self, line: str | None) -> Listener:
        """A mailbox for changes of one line (by topic segment), or of all."""
        listener = Listener(line)
        with self._lock:
            self._listeners.add(listener)
        return listener

    def unlisten(self, listener: Listener) -> None:
        """Forget a mailbox."""
        with self._lock:
            self._listeners.discard(listener)

    def line(self, line_segment: str) -> dict[str, Retained]:
        """The retained states of a line's stations, by station topic segment."""
        with self._lock:
            return {st: r for (ln, st), r in self.states.items() if ln == line_segment}

    def online(self, node: str) -> bool | None:
        """Whether the node (a station's or a line's status path) says it is online."""
        status = self.statuses.get(node)
        return None if status is None else bool(status.payload.get("online"))

    def _on_connect(self, client, _userdata, _flags, reason_code, _props) -> None:
        if reason_code.is_failure:
            self.last_error = f"broker refused the dashboard: {reason_code}"
            return
        self.connected, self.last_error = True, ""
        p = self.cfg.prefix
        client.subscribe([(f"{p}/+/+/state", 1), (f"{p}/+/+/status", 1), (f"{p}/+/status", 1)])
        self._fan_out(None)

    def _on_disconnect(self, _client, _userdata, _flags, reason_code, _props) -> None:
        self.connected = False
        self.last_error = str(reason_code) if reason_code.is_failure else ""
        self._fan_out(None)

    def _on_message(self, _client, _userdata, msg) -> None:
        parts = msg.topic[len(self.cfg.prefix) + 1:].split("/")
        try:
            payload = json.loads(msg.payload) if msg.payload else None
        except ValueError:
            return
        if payload is not None and not isinstance(payload, dict):
            return
        with self._lock:
            if len(parts) == 3 and parts[2] == "state":
                key = (parts[0], parts[1])
                if payload is None:
                    self.states.pop(key, None)
                else:
                    self.states[key] = Retained(payload)
            elif parts[-1] == "status" and len(parts) in (2, 3):
                node = "/".join(parts[:-1])
                if payload is None:
                    self.statuses.pop(node, None)
                else:
                    self.statuses[node] = Retained(payload)
            else:
                return
        self._fan_out(parts[0])

    def _fan_out(self, line: str | None) -> None:
        with self._lock:
            listeners = list(self._listeners)
        for listener in listeners:
            if line is None or listener.line in (None, line):
                listener.put(line)


# --- the app's side --------------------------------------------------------------------------

class Hub:
    """The app's MQTT parts: its relay (run.py starts it) and its dashboard feed (on demand)."""

    def __init__(self, app):
        self.app = app
        settings = app.config["SETTINGS"]
        # create_app puts [mqtt] url (or MQTT_URL) in MQTT_URL; app.config["MQTT"] may add keys.
        extra = app.config.get("MQTT", {})
        section = type(settings.mqtt).model_validate(
            {**dict(settings.mqtt), **extra, "url": extra.get("url", app.config.get("MQTT_URL"))})
        self.cfg = config_from(settings.model_copy(update={"mqtt": section}))
        self.rules = app.extensions["rules"].state
        self.relay: Relay | None = None
        self._feed: LineFeed | None = None
        self._lock = threading.Lock()
        self._streams = 0

    def streams_free(self) -> int:
        """How many more dashboards may stream now."""
        return max(0, self.cfg.dashboard_streams - self._streams)

    def take_stream(self) -> bool:
        """Reserve a stream slot (each open stream holds a waitress thread)."""
        with self._lock:
            if self._streams >= self.cfg.dashboard_streams:
                return False
            self._streams += 1
            return True

    def give_stream(self) -> None:
        """Free a stream slot."""
        with self._lock:
            self._streams = max(0, self._streams - 1)

    def feed(self) -> LineFeed | None:
        """The dashboard feed, started on first use; None without a broker."""
        if not self.cfg.configured:
            return None
        with self._lock:
            if self._feed is None:
                self._feed = LineFeed(self.cfg, str(self.app.extensions["engine"].url)).start()
        return self._feed

    def status(self, session: Session) -> dict:
        """Broker connected or not, and how many events wait: the banner's words."""
        if not self.cfg.configured:
            return {"configured": False, "connected": False, "waiting": 0, "last_error": ""}
        relay = self.relay if self.relay is not None and self.relay.active else None
        feed = None if relay else self.feed()
        connected = relay.connected if relay else bool(feed and feed.connected)
        error = (relay or feed).last_error if (relay or feed) else ""
        return {"configured": True, "connected": connected, "waiting": waiting(session, self.cfg),
                "last_error": error, "relay": relay.status() if relay else None}

    def close(self) -> None:
        """Stop the relay and the feed (tests; the process's exit does it otherwise)."""
        if self.relay is not None:
            self.relay.stop()
        if self._feed is not None:
            self._feed.stop()


def init_app(app) -> None:
    """Give the app its hub (the line blueprint calls this when it is registered)."""
    if "mqtt" not in app.extensions:
        app.extensions["mqtt"] = Hub(app)
        install_commit_hook()


def start_relay(app) -> Relay | None:
    """Start the app's relay (run.py does, beside the serial devices); None without a broker.

    Every process may call it: an OS lock on instance/relay-<name>.lock lets exactly one relay
    per name run; the others wait and take over if it stops.
    """
    init_app(app)
    hub = app.extensions["mqtt"]
    if not hub.cfg.configured:
        return None
    if hub.relay is None:
        lock = Path(app.instance_path) / f"relay-{slug(hub.cfg.client_id)}.lock"
        hub.relay = Relay(app.extensions["engine"], hub.rules, lock, hub.cfg).start()
        atexit.register(hub.relay.stop)
    return hub.relay
