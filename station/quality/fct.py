"""Functional test: every attempt kept, failed boards repaired and retested, scrap by QA."""

import csv
import hashlib
import io
import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlmodel import Session, func, select

from station import events, people
from station.errors import (
    N_,
    InvalidInput,
    NeedsRepair,
    NeedsTest,
    OnHold,
    OutOfSequence,
    StationError,
    Text,
    UnknownBoard,
    UnknownStation,
    WrongStation,
)
from station.models import (
    Board,
    BoardStep,
    BoxBoard,
    Product,
    Repair,
    Scrap,
    Station,
    TestAttempt,
    User,
    WorkOrder,
)
from station.quality.holds import active_hold

OUTCOMES = ("pass", "fail", "error")
DEFECTS = {"SHORT": "solder short / bridge", "OPEN": "open joint", "MISSING": "missing part",
           "WRONG_PART": "wrong part", "POLARITY": "reversed polarity", "TOMBSTONE": "tombstone",
           "INSUFFICIENT": "insufficient solder", "DAMAGED": "damaged part",
           "FIRMWARE": "firmware / programming", "OTHER": "other"}


class BoardScrapped(StationError):
    code = "BOARD_SCRAPPED"
    message = N_("Board {serial} was scrapped: {reason}.")
    todo = N_("Take it off the line; it must not be built on.")


class RetestLimit(NeedsRepair):
    message = N_("Board {serial} failed {fails} times without repair: repair is forced.")


@dataclass
class FctRules:
    """Retest limit and defect codes (config/station.toml [fct])."""

    retest_limit: int = 2
    defect_codes: dict[str, str] = field(default_factory=lambda: dict(DEFECTS))


def find_board(session: Session, serial) -> Board:
    """The board with this serial, or UNKNOWN_BOARD."""
    board = session.exec(select(Board).where(Board.serial == serial)).first() \
        if isinstance(serial, str) else None
    if board is None:
        raise UnknownBoard(serial=serial)
    return board


def attempts(session: Session, board: Board) -> list[TestAttempt]:
    """Every test attempt of the board, oldest first."""
    return list(session.exec(select(TestAttempt).where(TestAttempt.board_id == board.id)
                             .order_by(TestAttempt.id)))


def repairs(session: Session, board: Board) -> list[Repair]:
    """Every repair of the board, oldest first."""
    return list(session.exec(select(Repair).where(Repair.board_id == board.id)
                             .order_by(Repair.id)))


def test_state(session: Session, board: Board) -> dict:
    """Where the board stands: untested, passed, needs_repair, repaired (to retest) or scrapped."""
    scrap = session.get(Scrap, board.id)
    tries = attempts(session, board)
    last_repair = session.exec(select(Repair).where(Repair.board_id == board.id)
                               .order_by(Repair.id.desc())).first()
    since = [a for a in tries if last_repair is None or a.at >= last_repair.at]
    fails = 0
    for a in reversed(since):
        if a.outcome == "pass":
            break
        fails += 1
    if scrap is not None:
        state = "scrapped"
    elif not tries:
        state = "untested"
    elif tries[-1].outcome == "pass":
        state = "passed"
    elif last_repair is not None and last_repair.at >= tries[-1].at:
        state = "repaired"
    else:
        state = "needs_repair"
    return {"state": state, "attempts": len(tries), "fails_since_repair": fails,
            "last": tries[-1] if tries else None, "scrap": scrap}


def ever_tested(board_id):
    """True for a board with a test attempt or a scrap (a value or a column, so the scan's
    query can ask it of every board it reads)."""
    return (select(TestAttempt.id).where(TestAttempt.board_id == board_id).exists()
            | select(Scrap.board_id).where(Scrap.board_id == board_id).exists())


def check_can_move(session: Session, board: Board, fct_done: bool) -> None:
    """Refuse to move a scrapped board, a failed one, or a repaired one not yet retested."""
    if not session.exec(select(ever_tested(board.id))).one():
        return  # the usual case, in one query: never tested, never scrapped
    state = test_state(session, board)
    if state["state"] == "scrapped":
        raise BoardScrapped(serial=board.serial, reason=state["scrap"].reason)
    if state["state"] == "needs_repair":
        raise NeedsRepair(serial=board.serial)
    if state["state"] == "repaired" and fct_done:
        raise NeedsTest(serial=board.serial)


def _when(value, what: str) -> datetime | None:
    if value is None:
        return None
    try:
        when = datetime.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        when = None
    if when is None:
        raise InvalidInput(N_("{what} must be an ISO 8601 time such as 2026-01-01T08:00:00Z"),
                           what=what)
    return when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)


def _text(value, what: str, limit: int) -> str:
    if value is None:
        return ""
    if not isinstance(value, str) or len(value) > limit:
        raise InvalidInput(N_("{what} must be a text of at most {limit} characters"), what=what,
                           limit=limit)
    return value


def _limit(value, what: str):
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidInput(N_("{what} must be a number"), what=what)
    return value


def clean_measurements(items) -> list[dict]:
    """Measurements as stored: name, value, unit, low, high and outcome of each."""
    if items is None:
        return []
    if not isinstance(items, list) or len(items) > 5000:
        raise InvalidInput(N_("measurements must be a list (at most 5000)"))
    out = []
    for m in items:
        if not isinstance(m, dict) or not isinstance(m.get("name"), str) or not m["name"]:
            raise InvalidInput(N_("each measurement needs a name"))
        value = m.get("value")
        if not (value is None or isinstance(value, bool | int | float) or
                (isinstance(value, str) and len(value) <= 200)):
            raise InvalidInput(N_("measurement {name}: value must be a number, a boolean or a "
                                  "short text"), name=m["name"][:40])
        outcome = m.get("outcome")
        if outcome is not None and outcome not in OUTCOMES:
            raise InvalidInput(N_("measurement {name}: outcome must be pass, fail or error"),
                               name=m["name"][:40])
        out.append({"name": m["name"][:100], "value": value, "unit": _text(m.get("unit"), "unit",
                                                                            32),
                    "low": _limit(m.get("low"), f"measurement {m['name'][:40]}: low"),
                    "high": _limit(m.get("high"), f"measurement {m['name'][:40]}: high"),
                    "outcome": outcome})
    return out


def record_result(session: Session, by: User, serial, station_id, outcome, *, program=None,
                  program_version=None, fixture=None, started_at=None, ended_at=None,
                  measurements=None, defect_code=None, source="api", file_sha256=None,
                  rules: FctRules | None = None, commit: bool = True) -> TestAttempt:
    """Keep one test attempt; a pass moves the board through FCT, a fail sends it to repair."""
    people.require(by, "floor")
    rules = rules or FctRules()
    if outcome not in OUTCOMES:
        raise InvalidInput(N_("outcome must be pass, fail or error"))
    if defect_code is not None and defect_code not in rules.defect_codes:
        raise InvalidInput(N_("unknown defect code {code}"), code=repr(str(defect_code)[:32]))
    fields = {"program": _text(program, "program", 64),
              "program_version": _text(program_version, "program_version", 32),
              "fixture": _text(fixture, "fixture", 64),
              "started_at": _when(started_at, "started_at"),
              "ended_at": _when(ended_at, "ended_at"),
              "measurements": clean_measurements(measurements)}
    if fields["started_at"] and fields["ended_at"] and fields["ended_at"] < fields["started_at"]:
        raise InvalidInput(N_("ended_at must not be before started_at"))
    station = session.get(Station, station_id) if isinstance(station_id, str) else None
    if station is None:
        raise UnknownStation(station=station_id)
    board = find_board(session, serial)
    order = session.get(WorkOrder, board.order_id)
    route = session.get(Product, order.product_id).route
    fct = route.index("FCT")
    if station.type != "FCT":
        raise WrongStation(serial=board.serial, step=station.type, route=" → ".join(route),
                           needed="FCT")
    hold = active_hold(session, board)
    if hold is not None:
        raise OnHold(serial=board.serial, reason=hold.reason)
    state = test_state(session, board)
    if state["state"] == "scrapped":  # before the route: a scrapped board goes nowhere
        raise BoardScrapped(serial=board.serial, reason=state["scrap"].reason)
    done = steps_done(session, board)
    if done < fct:
        raise OutOfSequence(serial=board.serial, step="FCT", needed=route[done])
    if state["state"] == "needs_repair" and state["fails_since_repair"] >= rules.retest_limit:
        raise RetestLimit(serial=board.serial, fails=state["fails_since_repair"])
    attempt = TestAttempt(board_id=board.id, station_id=station.id, outcome=outcome,
                          defect_code=defect_code, source=source, file_sha256=file_sha256,
                          user_id=by.id, **fields)
    session.add(attempt)
    if outcome == "pass" and done == fct:
        session.add(BoardStep(board_id=board.id, step_index=fct, step="FCT",
                              station_id=station.id, user_id=by.id))
    session.flush()
    events.record(session, "test.recorded", f"board:{board.serial}",
                  {"order": order.number, "attempt": attempt.id, "outcome": outcome,
                   "program": fields["program"], "program_version": fields["program_version"],
                   "fixture": fields["fixture"], "defect_code": defect_code, "source": source,
                   "sha256": file_sha256, "attempt_no": state["attempts"] + 1}, by, station.id)
    if commit:
        session.commit()
    return attempt


def steps_done(session: Session, board: Board) -> int:
    """How many steps of its route the board has passed (always a prefix of the route)."""
    top = session.exec(select(func.max(BoardStep.step_index))
                       .where(BoardStep.board_id == board.id)).one()
    return 0 if top is None else top + 1


def record_repair(session: Session, by: User, serial, defect_code, action, location="",
                  rules: FctRules | None = None) -> Repair:
    """A technician's repair of a failed board; it goes back to FCT for a retest."""
    people.require(by, "floor")
    rules = rules or FctRules()
    board = find_board(session, serial)
    if defect_code not in rules.defect_codes:
        raise InvalidInput(N_("defect code must be one of {codes}"),
                           codes=", ".join(rules.defect_codes))
    action, location = _text(action, "action", 200).strip(), _text(location, "location", 64)
    if not action:
        raise InvalidInput(N_("say what was done to repair the board"))
    state = test_state(session, board)
    if state["state"] not in ("needs_repair",):
        raise InvalidInput(N_("board {serial} is {state}, not waiting for repair"),
                           serial=board.serial, state=state["state"])
    repair = Repair(board_id=board.id, attempt_id=state["last"].id, defect_code=defect_code,
                    location=location.strip(), action=action, user_id=by.id)
    session.add(repair)
    session.flush()
    events.record(session, "board.repaired", f"board:{board.serial}",
                  {"repair": repair.id, "defect_code": defect_code, "location": location,
                   "action": action, "attempt": state["last"].id}, by)
    session.commit()
    return repair


def scrap(session: Session, by: User, serial, reason) -> Scrap:
    """QA scraps a board with a reason: it leaves the order and the line for good."""
    people.require(by, "scrap")
    board = find_board(session, serial)
    if not isinstance(reason, str) or not reason.strip() or len(reason) > 500:
        raise InvalidInput(N_("scrapping a board needs a reason of 1 to 500 characters"))
    if session.get(Scrap, board.id) is not None:
        raise InvalidInput(N_("board {serial} is already scrapped"), serial=board.serial)
    row = Scrap(board_id=board.id, reason=reason.strip(), user_id=by.id)
    session.add(row)
    packed = session.get(BoxBoard, board.id)
    if packed is not None:  # a scrapped board leaves its box: it is not shipped
        session.delete(packed)
    order = session.get(WorkOrder, board.order_id)
    events.record(session, "board.scrapped", f"board:{board.serial}",
                  {"order": order.number, "reason": row.reason}, by)
    session.commit()
    return row


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def import_openhtf(session: Session, by: User, data: bytes, station_id,
                   rules: FctRules | None = None) -> TestAttempt:
    """Keep an OpenHTF JSON test record as one attempt, with the file's SHA-256."""
    try:
        record = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise InvalidInput(N_("not an OpenHTF JSON test record: the file is not JSON")) \
            from None
    if not isinstance(record, dict) or not isinstance(record.get("dut_id"), str):
        raise InvalidInput(N_("not an OpenHTF JSON test record: no dut_id"))
    outcome = {"PASS": "pass", "FAIL": "fail"}.get(record.get("outcome"), "error")
    meta = record.get("metadata") or {}
    return record_result(
        session, by, record["dut_id"], station_id, outcome,
        program=str(meta.get("test_name") or "")[:64],
        program_version=str(meta.get("test_version") or "")[:32],
        fixture=str(meta.get("fixture_id") or (meta.get("config") or {}).get("station_id")
                    or "")[:64],
        started_at=_millis(record.get("start_time_millis")),
        ended_at=_millis(record.get("end_time_millis")),
        measurements=openhtf_measurements(record), source="openhtf", file_sha256=_sha(data),
        rules=rules)


def _millis(value) -> str | None:
    if isinstance(value, int | float) and not isinstance(value, bool) and value > 0:
        return datetime.fromtimestamp(value / 1000, UTC).isoformat()
    return None


RANGE = re.compile(r"^\s*(?:(-?[\d.eE+-]+)\s*<=\s*)?x(?:\s*<=\s*(-?[\d.eE+-]+))?\s*$")


def openhtf_measurements(record: dict) -> list[dict]:
    """The measurements of every phase of an OpenHTF record, with limits read from validators."""
    out = []
    for phase in record.get("phases") or []:
        for m in (phase.get("measurements") or {}).values():
            low = high = None
            for v in m.get("validators") or []:
                match = RANGE.match(str(v))
                if match and (match.group(1) or match.group(2)):
                    low = float(match.group(1)) if match.group(1) else None
                    high = float(match.group(2)) if match.group(2) else None
            value = m.get("measured_value")
            if not isinstance(value, bool | int | float | str | type(None)):
                value = json.dumps(value)[:200]
            out.append({"name": f"{phase.get('name', '')}.{m.get('name', '')}"[:100],
                        "value": value, "unit": ((m.get("units") or {}).get("suffix") or "")[:32],
                        "low": low, "high": high,
                        "outcome": {"PASS": "pass", "FAIL": "fail"}.get(m.get("outcome"),
                                                                       "error")})
    return out


CSV_COLUMNS = ("serial", "outcome")


def import_csv(session: Session, by: User, data: bytes, station_id,
               rules: FctRules | None = None) -> list[TestAttempt]:
    """Keep a CSV of results: serial, outcome[, program, program_version, fixture, started_at,
    ended_at, defect_code]; one attempt per row, all or none."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InvalidInput(N_("the CSV is not UTF-8 text")) from None
    rows = list(csv.DictReader(io.StringIO(text)))
    if not rows or not all(c in rows[0] for c in CSV_COLUMNS):
        raise InvalidInput(N_("the CSV needs a header with at least serial and outcome"))
    sha, out = _sha(data), []
    for n, row in enumerate(rows, 2):
        try:
            out.append(record_result(
                session, by, (row.get("serial") or "").strip(), station_id,
                (row.get("outcome") or "").strip().lower(), program=row.get("program") or None,
                program_version=row.get("program_version") or None,
                fixture=row.get("fixture") or None, started_at=row.get("started_at") or None,
                ended_at=row.get("ended_at") or None,
                defect_code=row.get("defect_code") or None, source="csv", file_sha256=sha,
                rules=rules, commit=False))
        except StationError as err:
            session.rollback()
            raise InvalidInput(N_("row {row}: {error}"), row=n,
                               error=Text(err.message, **err.params)) from None
    session.commit()
    return out
