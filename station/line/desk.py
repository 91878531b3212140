"""The station desk: one scan path for the screen and the serial scanners, and their wiring.

Each label, typed into the station's screen or read by one of its serial scanners, goes through
`take_scan`: `codes.understand` with the configured rules, then by kind a badge sign-in, a
refusal of a label that does not belong here, or `scanning.scan`. A serial scan's result is put
on the station's `ScanFeed`, which the screen polls, so it shows as if it had been typed. With
nobody signed in, a serial scan is refused and nothing is stored.
"""

import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from sqlmodel import Session, select

from station import people
from station.devices.scanner import ScannerPort, plain_detail
from station.devices.serial_lines import Overlong
from station.errors import N_, BadgeLocked, InvalidCode, StationError, UnknownBoard
from station.line import scanning
from station.line.codes import LabelRules, Scan, repairs, understand
from station.line.feed import ScanFeed
from station.line.feeding import is_placement, placement_scan
from station.line.loading import Loading
from station.line.operators import Operators
from station.models import Board, PcbLot, ProfileBoard, Station, Stencil, User

log = logging.getLogger(__name__)


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


# --- one scan, from the screen or a scanner --------------------------------------------------


@dataclass
class Taken:
    """A scan's result (language-neutral, translated where it is shown) and whom it signed in."""

    result: dict
    signed_in: User | None = None


def read_label(raw, labels: LabelRules) -> Scan:
    """A scan read as every screen and scanner of the station reads it, or INVALID_CODE."""
    return _readable(understand(raw, labels))


def _readable(scan: Scan) -> Scan:
    if not scan.ok:
        raise InvalidCode(reason=scan.reason())
    return scan


def take_scan(session: Session, station_id: str, raw, user: User | None, *,
              rules: scanning.ScanRules, labels: LabelRules, operators: Operators,
              scan_id: str | None = None, via: str = "screen",
              loading: Loading | None = None) -> Taken:
    """Understand a scan and act on it: a badge signs in, a board passes, the rest is refused;
    with `loading`, a placement station also takes work orders, slots and reels."""
    shown = raw.strip()[:64] if isinstance(raw, str) else ""
    scan = understand(raw, labels)
    try:
        _readable(scan)
        if scan.kind == "badge":
            who = badge_sign_in(session, station_id, scan.code, operators)
            return Taken({"outcome": "info", "via": via, "code_scanned": scan.code,
                          "notice": (N_("{name} is signed in at {station}."),
                                     {"name": who.full_name, "station": station_id})}, who)
        station = session.get(Station, station_id) if loading is not None else None
        if is_placement(station):
            if user is None:
                raise NotSignedIn()
            loaded = placement_scan(session, station, scan, user, loading, labels)
            if loaded is not None:
                return Taken({**loaded, "via": via})
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


# --- the station's scanners, operators and feed ----------------------------------------------


class ScanDesk:
    """The scanners, each station's operator and the feed of serial scans, for one app."""

    def __init__(self, app, rules: Callable[[], tuple], idle_s: float = 1800.0):
        self.app, self.rules = app, rules
        self.feed = ScanFeed()
        self.operators = Operators(idle_s)
        self.loading = Loading()
        self.scanners: dict[str, tuple[str, ScannerPort]] = {}  # name: (station, port)

    def states(self, station: str) -> list[dict]:
        """The station's scanners and whether each is connected."""
        return [{"name": name, "state": port.state, "detail": plain_detail(port.detail)}
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
                              operators=self.operators, via="scanner", loading=self.loading)
            if user is not None:
                self.operators.touch(station, user.id)
            return taken.result

    def scanner_state(self, station: str, scanner: str, state: str, detail: str) -> None:
        """A scanner connected or went away: its station's screen is told."""
        self.feed.publish(station, "status", {"scanner": scanner, "state": state,
                                              "detail": plain_detail(detail)})


def init_desk(app, rules: Callable[[], tuple]) -> ScanDesk:
    """Give the app its scan desk (once): rules() -> (ScanRules, LabelRules) in an app context."""
    desk = app.extensions.get("scan_desk")
    if desk is None:
        idle = app.config["SETTINGS"].security.idle_minutes * 60
        desk = app.extensions["scan_desk"] = ScanDesk(app, rules, idle)
    return desk


def desk_of(app) -> ScanDesk:
    """The app's scan desk, made with default rules if the station's routes did not make it."""
    rules = app.extensions["rules"]
    return app.extensions.get("scan_desk") or init_desk(app, lambda: (rules.scan, rules.labels))


def start_scanners(app) -> dict[str, ScannerPort]:
    """Start a reader for each [[scanners]] entry of config/station.toml, feeding its station."""
    stop_scanners(app)  # started again: the ports are handed over, not opened twice
    desk = desk_of(app)
    devices = {}
    for spec in app.config["SETTINGS"].scanners:
        name, station = spec.name or spec.url, spec.station
        port = ScannerPort(
            name, spec.url,
            lambda line, station=station, name=name: desk.serial_scan(station, name, line),
            lambda state, detail, station=station, name=name:
                desk.scanner_state(station, name, state, detail),
            baudrate=spec.baud, parity=spec.parity, terminator=spec.terminator,
            double_read_s=spec.double_read_s, max_bytes=spec.max_bytes, settle_s=spec.settle_s,
            backoff=tuple(spec.backoff_s))
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
