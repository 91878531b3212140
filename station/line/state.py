"""A station's state for the line: derived from its scans and readiness, or set by its operator.

The same flat snapshot is published as the station's retained MQTT `state` and read back by the
line dashboard, which also builds tiles for stations it only knows from the broker.
"""

import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import and_, text
from sqlmodel import Session, func, select

from station import events, people
from station.errors import InvalidInput, UnknownStation
from station.line.shifts import shift_start
from station.models import (
    STATE_SET,
    Board,
    BoardStep,
    Event,
    Hold,
    Line,
    Product,
    Station,
    TestAttempt,
    User,
    WorkOrder,
    iso,
    utcnow,
)
from station.readiness import interlock

# SEMI E10 codes as IPC-CFX's ResourceState writes them (notes/mqtt.md).
CODES = {"running": 1100, "idle": 2202, "blocked": 2201, "setup": 4500, "down": 5000}
NO_TOOL = 2300  # blocked because the stencil (the printer's tool) is missing or unusable
SETTABLE = ("running", "idle", "blocked", "setup", "down", "auto")
FLOW = ("PRINT", "SPI", "PLACE", "REFLOW", "AOI", "DIP", "FCT", "QA", "PACK")
READY_KEYS = {"data_package": "data_package_ready", "stencil": "stencil_ready",
              "profile_board": "profile_board_ready", "blank_pcbs": "blank_pcbs_ready"}
TOP_DEFECTS = 3
SEGMENT = re.compile(r"[^a-z0-9_-]+")


@dataclass
class StateRules:
    """How a state is derived and counted ([station_state], [site], [shifts] of station.toml)."""

    running_minutes: float = 5.0
    timezone: str = "UTC"
    shift_starts: list[str] = field(default_factory=lambda: ["00:00"])
    ready: interlock.Rules = field(default_factory=interlock.Rules)


def slug(name: str) -> str:
    """A name as a topic segment: lower case, [a-z0-9_-] only (no dots, no wildcards)."""
    return SEGMENT.sub("-", str(name).lower()).strip("-") or "_"


def _aware(dt: datetime | None) -> datetime | None:
    """SQLite hands back naive UTC times; make them aware."""
    if dt is None:
        return None
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)


def _last_activity(session: Session, station: Station) -> tuple[int | None, datetime | None]:
    """The board and time of the station's latest pass or test attempt."""
    step = session.exec(select(BoardStep.board_id, BoardStep.at)
                        .where(BoardStep.station_id == station.id)
                        .order_by(BoardStep.at.desc(), BoardStep.id.desc()).limit(1)).first()
    test = session.exec(select(TestAttempt.board_id, TestAttempt.at)
                        .where(TestAttempt.station_id == station.id)
                        .order_by(TestAttempt.at.desc(), TestAttempt.id.desc())
                        .limit(1)).first()
    rows = [(board, _aware(at)) for board, at in (r for r in (step, test) if r is not None)]
    return max(rows, key=lambda r: r[1]) if rows else (None, None)


def _job(session: Session, station: Station, board_id: int | None) -> dict:
    """The station's current job: the order of the last board it handled, unless it is done."""
    none = {"order": None, "job": "", "recipe": "", "job_done": 0, "job_total": 0}
    if board_id is None:
        return none
    order, product = session.exec(select(WorkOrder, Product).join(Board)
                                  .join(Product, Product.id == WorkOrder.product_id)
                                  .where(Board.id == board_id)).one()
    # Steps by their place in the route (the unique key): the order's boards, not every step
    # of the station's type ever passed.
    places = [i for i, step in enumerate(product.route) if step == station.type]
    total, done = session.exec(
        select(func.count(func.distinct(Board.id)), func.count(BoardStep.id)).select_from(Board)
        .outerjoin(BoardStep, and_(BoardStep.board_id == Board.id,
                                   BoardStep.step_index.in_(places)))
        .where(Board.order_id == order.id)).one()
    job = {"order": order, "job": order.number, "recipe": f"{product.code}/{product.revision}",
           "job_done": done, "job_total": total}
    if total and done >= total:  # finished here: the next job is not known until it starts
        job["order"] = None
    return job


def _manual(session: Session, station: Station) -> Event | None:
    """The operator's latest state for the station, if any."""
    return session.exec(select(Event).where(Event.station_id == station.id, text(STATE_SET))
                        .order_by(Event.id.desc()).limit(1)).first()


def _tests(session: Session, station: Station, since: datetime) -> tuple[Counter, list]:
    """The station's test attempts since `since`: per outcome, and its most frequent defect
    codes."""
    outcomes, defects = Counter(), Counter()
    for outcome, code, n in session.exec(
            select(TestAttempt.outcome, TestAttempt.defect_code, func.count())
            .where(TestAttempt.station_id == station.id, TestAttempt.at >= since)
            .group_by(TestAttempt.outcome, TestAttempt.defect_code)):
        outcomes[outcome] += n
        if code is not None:
            defects[code] += n
    return outcomes, sorted(defects.items(), key=lambda r: (-r[1], r[0]))[:TOP_DEFECTS]


def _passed(session: Session, station: Station, shift: datetime, hour: datetime) -> tuple:
    """How many boards passed the station this shift and this hour."""
    return session.exec(select(func.count().filter(BoardStep.at >= shift),
                               func.count().filter(BoardStep.at >= hour))
                        .where(BoardStep.station_id == station.id,
                               BoardStep.at >= min(shift, hour))).one()


def snapshot(session: Session, station: Station, rules: StateRules | None = None,
             now: datetime | None = None, node: str = "",
             previous: tuple[str, str] | None = None, ignore_operator: bool = False) -> dict:
    """The station's flat state: scalars only (never null or NaN), as MQTT `state` carries it.

    `previous` is the (state, state_since) last published, so `state_since` holds while the
    state does; without it the start of the state is estimated from the database.
    """
    rules, now = rules or StateRules(), now or utcnow()
    tz = ZoneInfo(rules.timezone)
    shift = shift_start(now, rules.timezone, rules.shift_starts)
    hour = now.astimezone(tz).replace(minute=0, second=0, microsecond=0).astimezone(UTC)
    board_id, last_at = _last_activity(session, station)
    job = _job(session, station, board_id)
    order = job.pop("order")
    items = interlock.assess(session, order, rules.ready, now) if order else []
    red = next((i for i in items if not i["ready"]), None)
    hold = session.exec(select(Hold).where(Hold.order_id == order.id, Hold.board_id.is_(None),
                                           Hold.released_at.is_(None))
                        .order_by(Hold.id)).first() if order else None
    manual = None if ignore_operator else _manual(session, station)
    window = timedelta(minutes=rules.running_minutes)
    reason, source = "", "derived"
    if manual and manual.payload.get("state") != "auto" and \
            (last_at is None or last_at <= _aware(manual.at)):
        state, since, source = manual.payload["state"], _aware(manual.at), "operator"
        reason = manual.payload.get("reason", "")
    elif hold is not None or red is not None:
        state = "blocked"
        since = _aware(hold.placed_at) if hold is not None else (last_at or now)
        reason = f"Hold: {hold.reason}" if hold is not None else red["message"]
    elif last_at is not None and now - last_at <= window:
        state, since = "running", last_at
    else:
        state, since = "idle", (last_at + window) if last_at else now
    code = CODES[state]
    if state == "blocked" and source == "derived" and hold is None and red["item"] == "stencil":
        code = NO_TOOL
    since_iso = iso(since)
    if previous is not None and previous[0] == state:
        since_iso = previous[1]
    tested, defects = _tests(session, station, shift)
    scanned, this_hour = _passed(session, station, shift, hour)
    line = session.get(Line, station.line)
    last_seq = session.exec(select(func.max(Event.id))
                            .where(Event.station_id == station.id)).one()
    snap = {
        "station": station.id, "line": station.line, "type": station.type, "node": node,
        "state": state, "state_code": code, "state_since": since_iso, "state_reason": reason,
        "state_source": source, **job,
        "boards_scanned": scanned, "passed_this_hour": this_hour,
        "tests_passed": tested.get("pass", 0), "tests_failed": tested.get("fail", 0),
        "ready": red is None, "red_item": red["item"] if red else "",
        "red_message": red["message"] if red else "",
        "hold": hold is not None, "hold_reason": hold.reason if hold else "",
        "last_activity": iso(last_at) or "", "last_seq": last_seq or 0,
        "hourly_target": line.hourly_target if line else 0, "ts": iso(now),
    }
    for item, key in READY_KEYS.items():
        snap[key] = next((i["ready"] for i in items if i["item"] == item), True)
    for n in range(1, TOP_DEFECTS + 1):
        code_, count = defects[n - 1] if n <= len(defects) else ("", 0)
        snap[f"defect_{n}"], snap[f"defect_{n}_count"] = code_, count
    return snap


def find_station(session: Session, station_id) -> Station:
    """The station, or UNKNOWN_STATION."""
    station = session.get(Station, station_id) if isinstance(station_id, str) else None
    if station is None:
        raise UnknownStation(station=station_id)
    return station


def set_state(session: Session, by: User, station_id, state, reason="",
              rules: StateRules | None = None) -> Event:
    """The operator says what the station is doing (down, in setup...), with a reason.

    It holds until the operator sets another state ("auto" hands back to the derived one) or a
    board passes the station afterwards.
    """
    people.require(by, "floor")
    station = find_station(session, station_id)
    if state not in SETTABLE:
        raise InvalidInput(detail=f"state must be one of {', '.join(SETTABLE)}")
    reason = reason.strip() if isinstance(reason, str) else None
    if reason is None or len(reason) > 200 or (state != "auto" and not reason):
        raise InvalidInput(detail="say why, in 1 to 200 characters")
    old = snapshot(session, station, rules)
    new, code = state, CODES.get(state, 0)
    if state == "auto":
        derived = snapshot(session, station, rules, ignore_operator=True)
        new, code = derived["state"], derived["state_code"]
    payload = {"state": state, "new_state": new, "state_code": code, "reason": reason,
               "old_state": old["state"], "old_state_code": old["state_code"],
               "old_since": old["state_since"]}
    ev = events.record(session, "station.state_set", f"station:{station.id}", payload, by,
                       station.id)
    session.commit()
    return ev


def flow_index(station_type: str) -> int:
    """Where a station type sits in the line's flow (unknown types last)."""
    return FLOW.index(station_type) if station_type in FLOW else len(FLOW)


def tile(snap: dict, online: bool | None, source: str) -> dict:
    """A dashboard tile: the snapshot, whether its station is online, and where it came from."""
    return {**snap, "online": online, "source": source,
            "tile_class": f"state-{snap.get('state', 'idle')}"}


def summary(tiles: list[dict], hourly_target: int, now: datetime, timezone: str) -> dict:
    """Target against actual this hour (at the line's last station), and the top defects."""
    ordered = sorted(tiles, key=lambda t: (flow_index(t.get("type", "")), t.get("station", "")))
    actual = ordered[-1].get("passed_this_hour", 0) if ordered else 0
    if not hourly_target:
        hourly_target = max((t.get("hourly_target", 0) for t in tiles), default=0)
    local = now.astimezone(ZoneInfo(timezone))
    expected = round(hourly_target * local.minute / 60)
    defects = Counter()
    for t in tiles:
        for n in range(1, TOP_DEFECTS + 1):
            if t.get(f"defect_{n}"):
                defects[t[f"defect_{n}"]] += t.get(f"defect_{n}_count", 0)
    return {"target": hourly_target, "actual": actual, "expected_by_now": expected,
            "behind": max(0, expected - actual), "last_station": ordered[-1]["station"]
            if ordered else "", "defects": defects.most_common(TOP_DEFECTS),
            "hour": local.strftime("%H:00")}
