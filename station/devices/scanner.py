"""Barcode scanners on serial ports, and the scan path they share with the station's screen.

A scanner is a `ScannerPort`: a `PortReader` thread that owns the port (opened exclusively,
reopened with backoff after an unplug), a splitter on CR, LF, CRLF or TAB with a length cap, and
a filter for double reads. Each label it reads goes through `take_scan`, the very path of a scan
typed into the station's screen: `codes.understand`, then by kind a badge sign-in, a refusal of a
label that does not belong here, or `scanning.scan`. Its result is put on the station's
`ScanFeed`, which the screen polls, so it shows as if it had been typed.

Whose scan is it? `Operators` remembers, per station and in memory, who last opened or used the
station's screen; a serial scan is theirs while their session there is alive (the configured
idle time since their last action at the station, screen or scanner). A PIN cannot be typed on
a scanner, so a badge scanned on it switches the station to that badge's operator only if they
signed in with badge and PIN on this station's screen within the idle time; otherwise it is
refused. With nobody signed in, a serial scan is refused and nothing is stored.
"""

import contextlib
import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from sqlmodel import Session, select

from station import people
from station.devices.serial_lines import LineSplitter, Overlong, PortReader
from station.errors import N_, BadgeLocked, InvalidCode, StationError, UnknownBoard
from station.line import scanning
from station.line.codes import LabelRules, repairs, understand
from station.models import Board, PcbLot, ProfileBoard, Stencil, User

log = logging.getLogger(__name__)
TERMINATORS = {"any": True, "eol": False, "none": False}  # does TAB end a scan?


# --- what the floor is told ------------------------------------------------------------------


class NotSignedIn(StationError):
    code, status = "NOT_SIGNED_IN", 401
    message = N_("Sign in at the station first.")
    todo = N_("Sign in on the station's screen with your badge and PIN, then scan again.")


class BadgeNeedsPin(StationError):
    code, status = "BADGE_NEEDS_PIN", 401
    message = N_("Badge {badge} ({name}) has not signed in with badge and PIN at this station.")
    todo = N_("Sign in on the station's screen with badge and PIN first; after that a badge "
              "scan switches the station to you.")


class UnknownBadge(StationError):
    code, status = "UNKNOWN_BADGE", 404
    message = N_("No one has badge {badge}.")
    todo = N_("Check the badge; a new badge is registered by an admin.")


class WrongKind(StationError):
    code, status = "WRONG_KIND", 409
    message = N_("{code} is {what}, not a board or panel.")
    todo = N_("{todo}")


class ScanFailed(StationError):
    code, status = "SCAN_FAILED", 500
    message = N_("The station could not take this scan: {detail}.")
    todo = N_("Scan it again; if it keeps failing, call the line leader.")


class UnknownCode(UnknownBoard):
    message = N_("No board or panel is registered as {serial}: {hint}.")
    todo = N_("Scan the label again after fixing that; if it keeps failing, call the line "
              "leader.")


KINDS = {  # what a label is, and where it belongs instead
    "order": (N_("a work order"), N_("Scan the board's own label.")),
    "stencil": (N_("a stencil"), N_("Scan it on the order's readiness screen.")),
    "profile_board": (N_("a profile board"), N_("Scan it on the order's readiness screen.")),
    "pcb_lot": (N_("a PCB lot"), N_("Scan it on the order's readiness screen.")),
}


# --- who works at each station ---------------------------------------------------------------


@dataclass
class Presence:
    """The operator of a station: who, since when, last active when, signed in how."""

    user_id: int
    name: str
    epoch: int  # the user's session epoch: signing out everywhere ends this presence too
    since: float
    last_active: float
    via: str  # "screen" or "badge"
    pin_at: float | None = None  # when they signed in with badge and PIN, if they did


class Operators:
    """Who works at each station, in memory: the last to open or use its screen, or to badge."""

    def __init__(self, idle_s: float = 1800.0, clock: Callable[[], float] = time.time):
        self.idle_s, self.clock = idle_s, clock
        self._lock = threading.Lock()
        self._present: dict[str, Presence] = {}
        self._pins: dict[str, dict[int, tuple[float, float]]] = {}  # station: uid: (pin, last)

    def opened(self, station: str, user: User, pin_at: float | None = None,
               at: float | None = None) -> Presence:
        """The user opened or used the station's screen: they are its operator now."""
        now = self.clock() if at is None else at
        with self._lock:
            self._note_pin(station, user.id, pin_at, now)
            p = self._present.get(station)
            if p is not None and p.user_id == user.id and p.epoch == user.session_epoch:
                p.last_active, p.pin_at = max(p.last_active, now), pin_at or p.pin_at
                return p
            p = Presence(user.id, user.full_name, user.session_epoch, now, now, "screen", pin_at)
            self._present[station] = p
            return p

    def seen(self, station: str, user: User, pin_at: float | None, at: float) -> None:
        """The user's live session shows the screen: keep them, or make them, its operator."""
        with self._lock:
            p = self._present.get(station)
            if p is not None and p.user_id != user.id and self._fresh(p):
                return
        self.opened(station, user, pin_at, at)

    def badge_in(self, station: str, user: User) -> bool:
        """A badge scanned here: its user takes over if they signed in here with a PIN lately."""
        now = self.clock()
        with self._lock:
            pin, last = self._pins.get(station, {}).get(user.id, (None, 0.0))
            if pin is None or now - last > self.idle_s:
                return False
            self._pins[station][user.id] = (pin, now)
            self._present[station] = Presence(user.id, user.full_name, user.session_epoch, now,
                                              now, "badge", pin)
            return True

    def current(self, station: str) -> Presence | None:
        """The station's operator while their session there is alive, else None."""
        with self._lock:
            p = self._present.get(station)
            if p is None or self._fresh(p):
                return p
            del self._present[station]
            return None

    def touch(self, station: str, user_id: int) -> None:
        """The operator acted at the station (a scan): their session there goes on."""
        now = self.clock()
        with self._lock:
            p = self._present.get(station)
            if p is not None and p.user_id == user_id:
                p.last_active = now
            pins = self._pins.get(station, {})
            if user_id in pins:
                pins[user_id] = (pins[user_id][0], now)

    def last_active(self, station: str, user_id: int | None) -> float | None:
        """When the user last acted at the station as its operator, if they are it."""
        with self._lock:
            p = self._present.get(station)
            return p.last_active if p is not None and p.user_id == user_id else None

    def leave(self, user_id: int) -> None:
        """The user signed out: they are nobody's operator and their PIN sign-ins are over."""
        with self._lock:
            for station in [s for s, p in self._present.items() if p.user_id == user_id]:
                del self._present[station]
            for pins in self._pins.values():
                pins.pop(user_id, None)

    def _note_pin(self, station: str, user_id: int, pin_at: float | None, now: float) -> None:
        if pin_at:
            self._pins.setdefault(station, {})[user_id] = (pin_at, now)

    def _fresh(self, p: Presence) -> bool:
        return self.clock() - p.last_active <= self.idle_s


# --- the feed the station's screen polls -----------------------------------------------------


@dataclass
class FeedEntry:
    """One thing that happened at a station: a serial scan's result, or a scanner's state."""

    seq: int
    station: str
    kind: str  # "result" or "status"
    data: dict
    at: float = field(default_factory=time.monotonic)


class ScanFeed:
    """Each station's latest serial-scan results and scanner events, numbered in order."""

    def __init__(self, keep: int = 50):
        self._lock = threading.Condition()
        # Numbers start from the time in ms, so a screen left open across a restart of the
        # station, still asking "after N", sees the new process's results as newer.
        self._seq = int(time.time() * 1000)
        self._keep = keep
        self._entries: dict[str, deque[FeedEntry]] = {}

    def publish(self, station: str, kind: str, data: dict) -> int:
        """Add an entry for the station; its sequence number."""
        with self._lock:
            self._seq += 1
            entry = FeedEntry(self._seq, station, kind, data)
            self._entries.setdefault(station, deque(maxlen=self._keep)).append(entry)
            self._lock.notify_all()
            return entry.seq

    def since(self, station: str, after: int) -> list[FeedEntry]:
        """The station's entries after sequence number `after`, oldest first."""
        with self._lock:
            return [e for e in self._entries.get(station, ()) if e.seq > after]

    def wait(self, station: str, after: int, timeout: float) -> bool:
        """Wait up to `timeout` s for a station entry after `after`; True when one is there."""
        end = time.monotonic() + timeout
        with self._lock:
            while not any(e.seq > after for e in self._entries.get(station, ())):
                left = end - time.monotonic()
                if left <= 0:
                    return False
                self._lock.wait(left)
            return True

    def last_seq(self) -> int:
        """The newest sequence number given out (a new page starts after it)."""
        with self._lock:
            return self._seq


# --- one scan, from the screen or a scanner --------------------------------------------------


@dataclass
class Taken:
    """A scan's result (language-neutral, translated where it is shown) and whom it signed in."""

    result: dict
    signed_in: User | None = None


def take_scan(session: Session, station_id: str, raw, user: User | None, *,
              rules: scanning.ScanRules, labels: LabelRules, operators: Operators,
              scan_id: str | None = None, via: str = "screen") -> Taken:
    """Understand a scan and act on it: a badge signs in, a board passes, the rest is refused."""
    shown = raw.strip()[:64] if isinstance(raw, str) else ""
    scan = understand(raw, labels)
    try:
        if not scan.ok:
            raise InvalidCode(reason=scan.reason())
        if scan.kind == "badge":
            who = badge_sign_in(session, station_id, scan.code, operators)
            return Taken({"outcome": "info", "via": via, "code_scanned": scan.code,
                          "notice": (N_("{name} is signed in at {station}."),
                                     {"name": who.full_name, "station": station_id})}, who)
        if scan.kind in KINDS:
            what, todo = KINDS[scan.kind]
            raise WrongKind(code=scan.code, what=what, todo=todo)
        if user is None:
            raise NotSignedIn()
        answer = scanning.scan(session, station_id, scan.code, user, scan_id, rules)
        warnings = [*answer.get("warnings", []), *scan.warnings]
        return Taken({**answer, "outcome": "accepted", "warnings": warnings, "via": via})
    except UnknownBoard as err:
        session.rollback()
        return Taken(_refusal(_explained(session, err, scan), shown, via))
    except StationError as err:
        session.rollback()
        return Taken(_refusal(err, shown, via))


def _refusal(err: StationError, shown: str, via: str) -> dict:
    return {"outcome": "warning" if err.code == "ALREADY_DONE" else "refused", "error": err,
            "code_scanned": shown, "via": via}


def _explained(session: Session, err: UnknownBoard, scan) -> StationError:
    """An unknown code, with what probably mangled it: Caps Lock or the keyboard layout."""
    found = list(scan.hints)
    for hint, candidate in repairs(scan.code or ""):
        if _known(session, candidate):
            found = [h for h in found if h != hint] + [f"{hint}; {candidate} is known here"]
            break
    if not found:
        return err
    return UnknownCode(serial=err.params.get("serial", scan.code), hint="; ".join(found))


def _known(session: Session, code: str) -> bool:
    """True when the code names a board, panel, stencil, PCB lot or profile board."""
    if session.exec(select(Board.id).where((Board.serial == code) | (Board.panel_id == code))
                    .limit(1)).first() is not None:
        return True
    return any(session.get(model, code) is not None for model in (Stencil, PcbLot, ProfileBoard))


def badge_sign_in(session: Session, station_id: str, badge: str, operators: Operators) -> User:
    """The badge's user, now the station's operator, if they signed in here with a PIN lately."""
    user = session.exec(select(User).where(User.badge == badge)).first()
    if user is None:
        raise UnknownBadge(badge=badge)
    if user.locked:
        raise BadgeLocked(badge=badge)
    people.require(user, "floor")
    if not operators.badge_in(station_id, user):
        raise BadgeNeedsPin(badge=badge, name=user.full_name)
    return user


# --- the serial port -------------------------------------------------------------------------


class ScanSplitter(LineSplitter):
    """A LineSplitter that also knows when its last byte came and whether a line is pending."""

    def __init__(self, max_length: int, tab: bool, clock: Callable[[], float]):
        super().__init__(max_length, tab)
        self.clock, self.last_byte, self.pending = clock, 0.0, False
        self._ends = b"\r\n\t" if tab else b"\r\n"

    def feed(self, data: bytes) -> list:
        """The complete lines in `data`, noting whether a partial one is left."""
        if data:
            self.last_byte = self.clock()
            self.pending = data[-1] not in self._ends
        return super().feed(data)

    def flush(self) -> list:
        """The partial line as a whole one."""
        self.pending = False
        return super().flush()

    def reset(self) -> None:
        """Forget the partial line."""
        self.pending = False
        super().reset()


class DoubleReads:
    """The same label read again within `window_s` of its last read counts once (Zebra's
    "timeout between decodes, same symbol"); a rescan after a quiet window is a new scan."""

    def __init__(self, window_s: float = 1.0, clock: Callable[[], float] = time.monotonic):
        self.window_s, self.clock = window_s, clock
        self._last: tuple[str, float] | None = None

    def fresh(self, code: str) -> bool:
        """True when this read is a scan; a double read of the last label is not."""
        now = self.clock()
        last, self._last = self._last, (code, now)
        return last is None or last[0] != code or now - last[1] > self.window_s


class ScannerPort:
    """One serial scanner: owns its port through a reader thread, hands each new label on."""

    def __init__(self, name: str, url: str, on_scan: Callable[[object], None],
                 on_state: Callable[[str, str], None] | None = None, *, baudrate: int = 9600,
                 parity: str = "N", terminator: str = "any", double_read_s: float = 1.0,
                 max_bytes: int = 1024, settle_s: float = 0.3, quiet_s: float = 0.5,
                 backoff: tuple[float, float] = (0.5, 5.0),
                 clock: Callable[[], float] = time.monotonic):
        if terminator not in TERMINATORS:
            raise ValueError(f"terminator must be one of {', '.join(TERMINATORS)}")
        self.name, self.url, self.terminator = name, url, terminator
        self.on_scan, self.on_state, self.clock = on_scan, on_state, clock
        # Bytes a device sends while being plugged in (or a probe's echo) are no scan.
        self.settle_s, self.quiet_s = settle_s, quiet_s
        self.state, self.detail, self.connected_at = "starting", "", 0.0
        self.double_reads = DoubleReads(double_read_s, clock)
        self.reader = PortReader(url, self._line, self._status, baudrate=baudrate, parity=parity,
                                 max_length=max_bytes, tab=TERMINATORS[terminator],
                                 on_idle=self._idle, backoff=backoff, name=name)
        self.reader.splitter = self.splitter = ScanSplitter(max_bytes, TERMINATORS[terminator],
                                                            clock)

    def start(self) -> "ScannerPort":
        """Start reading the port in the background."""
        self.reader.start()
        return self

    def stop(self) -> None:
        """Stop reading and release the port."""
        self.reader.stop()

    def _status(self, state: str, detail: str) -> None:
        if state == "connected":
            self.connected_at = self.clock()
            self.double_reads = DoubleReads(self.double_reads.window_s, self.clock)
        self.state, self.detail = state, detail
        log.info("scanner %s %s %s", self.name, state, detail)
        if self.on_state is not None:
            self.on_state(state, detail)

    def _line(self, line) -> None:
        """One line off the port: dropped if it is noise or a double read, else a scan."""
        if self.clock() - self.connected_at < self.settle_s:
            log.warning("scanner %s: %r arrived while it was being plugged in; dropped",
                        self.name, line)
            return
        if isinstance(line, str):
            text = line.strip(" \t")
            if not any(ch.isprintable() and ch not in " \ufffd" for ch in text):
                if text:
                    log.warning("scanner %s: noise %r dropped", self.name, line)
                return  # an empty line, or nothing legible: nothing was scanned
            if not self.double_reads.fresh(text):
                log.info("scanner %s: double read of %r dropped", self.name, text)
                return
        self.on_scan(line)

    def _idle(self) -> None:
        """Nothing came for a while: a partial line is whole (no terminator) or a leftover."""
        if not self.splitter.pending or self.clock() - self.splitter.last_byte < self.quiet_s:
            return
        if self.terminator == "none":
            for line in self.splitter.flush():
                self._line(line)
        else:
            log.warning("scanner %s: a partial line without its terminator was dropped",
                        self.name)
            self.splitter.reset()


# --- the station's scanners, operators and feed ----------------------------------------------


class ScanDesk:
    """The scanners, each station's operator and the feed of serial scans, for one app."""

    def __init__(self, app, rules: Callable[[], tuple], idle_s: float = 1800.0):
        self.app, self.rules = app, rules
        self.feed = ScanFeed()
        self.operators = Operators(idle_s)
        self.scanners: dict[str, tuple[str, ScannerPort]] = {}  # name: (station, port)

    def states(self, station: str) -> list[dict]:
        """The station's scanners and whether each is connected."""
        return [{"name": name, "state": port.state, "detail": _plain_detail(port.detail)}
                for name, (st, port) in self.scanners.items() if st == station]

    def serial_scan(self, station: str, scanner: str, line) -> dict:
        """A scanner's label, taken at its station by its operator; the result goes on the feed."""
        started = time.perf_counter()
        try:
            with self.app.app_context():
                rules, labels = self.rules()
                if isinstance(line, Overlong):
                    result = _refusal(InvalidCode(reason=f"it is {line.length} bytes long; a "
                                                         f"label has at most {labels.max_length}"),
                                      "", "scanner")
                else:
                    result = self._take(station, line, rules, labels)
        except Exception as err:  # the screen must hear of a scan that went nowhere
            log.exception("scanner %s: scan %r at %s failed", scanner, line, station)
            result = _refusal(ScanFailed(detail=type(err).__name__), "", "scanner")
        result["scanner"] = scanner
        result["took_ms"] = round((time.perf_counter() - started) * 1000, 2)
        self.feed.publish(station, "result", result)
        return result

    def _take(self, station: str, line: str, rules, labels) -> dict:
        presence = self.operators.current(station)
        with Session(self.app.extensions["engine"], expire_on_commit=False) as session:
            user = session.get(User, presence.user_id) if presence else None
            if user is not None and (user.session_epoch != presence.epoch or user.locked):
                self.operators.leave(user.id)
                user = None
            taken = take_scan(session, station, line, user, rules=rules, labels=labels,
                              operators=self.operators, via="scanner")
            if user is not None:
                self.operators.touch(station, user.id)
            return taken.result

    def scanner_state(self, station: str, scanner: str, state: str, detail: str) -> None:
        """A scanner connected or went away: its station's screen is told."""
        self.feed.publish(station, "status", {"scanner": scanner, "state": state,
                                              "detail": _plain_detail(detail)})


def _plain_detail(detail: str) -> str:
    """A port error as the floor understands it."""
    if "exclusively lock" in detail or "Resource busy" in detail or "Access is denied" in detail:
        return "the port is in use by another program"
    if "No such file" in detail or "could not open port" in detail.lower():
        return "the port is not there (unplugged?)"
    return detail


def init_desk(app, rules: Callable[[], tuple]) -> ScanDesk:
    """Give the app its scan desk (once): rules() -> (ScanRules, LabelRules) in an app context."""
    desk = app.extensions.get("scan_desk")
    if desk is None:
        idle = app.config["SETTINGS"].get("security", {}).get("idle_minutes", 30) * 60
        desk = app.extensions["scan_desk"] = ScanDesk(app, rules, idle)
    return desk


def desk_of(app) -> ScanDesk:
    """The app's scan desk, made with default rules if the station's routes did not make it."""
    return app.extensions.get("scan_desk") or init_desk(
        app, lambda: (scanning.ScanRules(), LabelRules()))


def start_scanners(app) -> dict[str, ScannerPort]:
    """Start a reader for each [[scanners]] entry of config/station.toml, feeding its station."""
    stop_scanners(app)  # started again: the ports are handed over, not opened twice
    desk = desk_of(app)
    devices = {}
    for spec in app.config["SETTINGS"].get("scanners", []):
        if not spec.get("url") or not spec.get("station"):
            continue
        name, station = spec.get("name") or spec["url"], spec["station"]
        port = ScannerPort(
            name, spec["url"],
            lambda line, station=station, name=name: desk.serial_scan(station, name, line),
            lambda state, detail, station=station, name=name:
                desk.scanner_state(station, name, state, detail),
            baudrate=spec.get("baud", 9600), parity=spec.get("parity", "N"),
            terminator=spec.get("terminator", "any"),
            double_read_s=spec.get("double_read_s", 1.0), max_bytes=spec.get("max_bytes", 1024),
            settle_s=spec.get("settle_s", 0.3), backoff=tuple(spec.get("backoff_s", (0.5, 5.0))))
        desk.scanners[name] = (station, port)
        devices[name] = port.start()
    app.extensions["scanners"] = devices
    return devices


def stop_scanners(app) -> None:
    """Stop every scanner of the app and release its port."""
    for port in app.extensions.pop("scanners", {}).values():
        with contextlib.suppress(Exception):
            port.stop()
    if "scan_desk" in app.extensions:
        app.extensions["scan_desk"].scanners.clear()
