"""The scan rule: a board enters a step only when every earlier step of its route has passed."""

import re
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import bindparam
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, func, or_, select

from station import events, people
from station.errors import (
    N_,
    AlreadyDone,
    InvalidCode,
    InvalidInput,
    NeedsTest,
    NotReady,
    OnHold,
    OutOfSequence,
    RouteComplete,
    StationError,
    UnknownBoard,
    UnknownStation,
    WrongStation,
)
from station.line.codes import DEFAULT_ALLOWED, BadCode, normalise
from station.material import feeders
from station.material.setups import is_placement
from station.models import (
    Board,
    BoardStep,
    Hold,
    ScanReceipt,
    Station,
    User,
    utcnow,
)
from station.quality import fct, holds
from station.readiness import interlock, stencils
from station.shipping import gate
from station.shipping.labels import SsccRule

SCAN_ID = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")
TESTED_STEPS = {"FCT"}  # passed by a test result, never by a scan


@dataclass
class ScanRules:
    """The station's settings for reading a scanned code."""

    max_length: int = 64
    allowed: re.Pattern = field(default=DEFAULT_ALLOWED)
    ready_rules: interlock.Rules = field(default_factory=interlock.Rules)
    box_capacity: int = 10
    sscc: SsccRule = field(default_factory=SsccRule)  # how a box opened at PACK is numbered


def scan(session: Session, station_id: str, raw, user: User, scan_id=None,
         rules: ScanRules | None = None) -> dict:
    """Pass the scanned board (or every board of a scanned panel) through the station's step;
    committed in `session`."""
    people.require(user, "floor")
    rules = rules or ScanRules()
    if scan_id is not None and (not isinstance(scan_id, str) or not SCAN_ID.match(scan_id)):
        raise InvalidInput(N_("scan_id must be 1 to 64 letters, digits, '_', '.', ':' or '-'"))
    try:
        code = normalise(raw, rules.max_length, rules.allowed)
    except BadCode as e:
        raise InvalidCode(reason=e.args[0]) from None
    if scan_id and (answer := _receipt(session, scan_id)):
        return answer
    boards = _boards_for(session, code, station_id)
    step = boards[0].station_type
    if step is None:
        raise UnknownStation(station=station_id)
    facts = interlock.facts(session, boards[0].order_id)
    order, route = facts.order, facts.order.route
    done = [_check_board(session, board, route) for board in boards]
    red = [item for item in interlock.judge(facts, rules.ready_rules) if not item["ready"]]
    if red:
        raise NotReady(order.number, red)
    index = _common_step(boards, done, route, step)
    if is_placement(step):
        feeders.check_verified(session, station_id, order, step)
    try:
        answer = _pass_step(session, boards, order, station_id, step, index, user, code,
                            scan_id, rules)
        session.commit()
    except StationError:
        session.rollback()  # a reel that would run empty refuses the whole scan
        raise
    except IntegrityError:
        # Another station (or a replay of this scan) won the same step at the same instant.
        session.rollback()
        if scan_id and (answer := _receipt(session, scan_id)):
            return answer
        raise AlreadyDone(serial=code, step=step, next_step=_next(route, index + 1)) from None
    return answer


def _boards_query():
    """Boards by serial or panel id, each with its hold, steps passed, test flag, and the
    station's type: everything a scan asks of a board, in one query."""
    b = Board.__table__
    hold = (select(Hold.reason).where(holds.stops(b.c.order_id, b.c.id))
            .order_by(Hold.id).limit(1).correlate(b).scalar_subquery())
    top = (select(func.max(BoardStep.step_index)).where(BoardStep.board_id == b.c.id)
           .correlate(b).scalar_subquery())
    tested = fct.ever_tested(b.c.id)
    station = select(Station.type).where(Station.id == bindparam("station")).scalar_subquery()
    code = bindparam("code")
    return (select(b.c.id, b.c.serial, b.c.order_id, b.c.panel_id, b.c.panel_position,
                   hold.label("hold"), top.label("top"), tested.label("tested"),
                   station.label("station_type"))
            .where(or_(b.c.serial == code, b.c.panel_id == code))
            .order_by(b.c.panel_position, b.c.id).with_for_update(of=b))


BOARDS = _boards_query()  # SQLAlchemy caches its compiled SQL


def _receipt(session: Session, scan_id: str) -> dict | None:
    """The answer already given to this scan_id, if any."""
    return session.scalar(select(ScanReceipt.answer).where(ScanReceipt.scan_id == scan_id))


def _boards_for(session: Session, code: str, station_id: str) -> list:
    """The board with this serial, or every board of the panel with this id, locked."""
    rows = session.execute(BOARDS, {"code": code, "station": station_id}).all()
    if rows:
        return [row for row in rows if row.serial == code] or rows  # a serial before a panel
    if session.get(Station, station_id) is None:
        raise UnknownStation(station=station_id)
    raise UnknownBoard(serial=code)


def _check_board(session: Session, board, route: list[str]) -> int:
    """Refuse a board that is held, scrapped, failed, or repaired and not yet retested;
    return how many steps it has passed."""
    if board.hold is not None:
        raise OnHold(serial=board.serial, reason=board.hold)
    done = 0 if board.top is None else board.top + 1
    if board.tested:
        fct.check_can_move(session, session.get(Board, board.id),
                           done > route.index("FCT"))
    return done


def _next(route: list[str], index: int) -> str | None:
    return route[index] if index < len(route) else None


def check_step(route: list[str], done: int, step: str, serial: str) -> int:
    """The route index the board may pass at a station of type `step`, or the floor's refusal."""
    needed = _next(route, done)
    if step not in route:
        raise WrongStation(serial=serial, step=step, route=" → ".join(route), needed=needed or "-")
    index = route.index(step)
    if index < done:
        if needed is None:
            raise RouteComplete(serial=serial, step=step)
        raise AlreadyDone(serial=serial, step=step, next_step=needed)
    if index > done:
        raise OutOfSequence(serial=serial, step=step, needed=needed)
    if step in TESTED_STEPS:
        raise NeedsTest(serial=serial)
    return index


def _common_step(boards: list, done: list[int], route: list[str], step: str) -> int:
    """The step index every board of a scan may pass; a panel moves only all together."""
    indexes = {check_step(route, d, step, b.serial) for b, d in zip(boards, done, strict=True)}
    if len(indexes) > 1:
        raise OutOfSequence(serial=boards[0].panel_id, step=step, needed="the same step for "
                            "every board of the panel; scan its boards one by one")
    return indexes.pop()


def _pass_step(session: Session, boards: list, order, station_id: str, step: str, index: int,
               user: User, code: str, scan_id, rules: ScanRules) -> dict:
    """Record the step for each board with its event, and the answer for replays."""
    now = utcnow()
    for b in boards:
        session.add(BoardStep(board_id=b.id, step_index=index, step=step, at=now,
                              station_id=station_id, user_id=user.id))
        events.record(session, "board.step_passed", f"board:{b.serial}",
                      {"order": order.number, "step": step, "step_index": index,
                       "panel": b.panel_id, "position": b.panel_position, "scan_id": scan_id},
                      user, station_id)
    warnings = []
    if step == "PRINT":  # a panel is printed once
        warning = stencils.count_print(session, order.stencil_id,
                                       rules.ready_rules.life_warning_pct)
        warnings += [warning] if warning else []
    if is_placement(step):
        warnings += feeders.consume(session, station_id, order, step, [b.id for b in boards],
                                    user)
    box = gate.pack(session, order.id, [b.id for b in boards], rules.box_capacity,
                    rules.sscc, user, station_id) if step == "PACK" else None
    answer = {"accepted": True, "warnings": warnings,
              "serial": boards[0].serial if len(boards) == 1 else code,
              "order": order.number, "step": step, "next_step": _next(order.route, index + 1),
              "serials": [b.serial for b in boards], "station": station_id}
    if boards[0].panel_id and len(boards) > 1:
        answer["panel"] = boards[0].panel_id
    if box is not None:
        answer["box"] = box.number
    if scan_id:
        session.add(ScanReceipt(scan_id=scan_id, station_id=station_id, answer=answer, at=now))
    return answer


def shift_count(session: Session, station_id: str, since: datetime) -> int:
    """How many boards passed this station since the shift began."""
    return session.exec(select(func.count()).select_from(BoardStep).where(
        BoardStep.station_id == station_id, BoardStep.at >= since)).one()


def last_scans(session: Session, station_id: str, limit: int = 3) -> list[tuple[BoardStep, str]]:
    """The station's latest accepted scans with their serials, newest first."""
    rows = session.exec(select(BoardStep, Board.serial).join(Board)
                        .where(BoardStep.station_id == station_id)
                        .order_by(BoardStep.at.desc(), BoardStep.id.desc()).limit(limit))
    return list(rows)
