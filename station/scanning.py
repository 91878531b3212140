"""The scan rule: a board enters a step only when every earlier step of its route has passed."""

import re
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, func, or_, select

from station import events, fct, people, readiness, shipping, stencils
from station.codes import DEFAULT_ALLOWED, BadCode, normalise
from station.errors import (
    AlreadyDone,
    InvalidCode,
    InvalidInput,
    NeedsTest,
    NotReady,
    OnHold,
    OutOfSequence,
    RouteComplete,
    UnknownBoard,
    UnknownStation,
    WrongStation,
)
from station.models import (
    Board,
    BoardStep,
    Hold,
    Product,
    ScanReceipt,
    Scrap,
    Station,
    TestAttempt,
    User,
    WorkOrder,
)

SCAN_ID = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")
TESTED_STEPS = {"FCT"}  # passed by a test result, never by a scan


@dataclass
class ScanRules:
    """The station's settings for reading a scanned code."""

    max_length: int = 64
    allowed: re.Pattern = field(default=DEFAULT_ALLOWED)
    ready_rules: readiness.Rules = field(default_factory=readiness.Rules)
    box_capacity: int = 10


def scan(session: Session, station_id: str, raw, user: User, scan_id=None,
         rules: ScanRules | None = None) -> dict:
    """Pass the scanned board (or every board of a scanned panel) through the station's step."""
    people.require(user, "floor")
    rules = rules or ScanRules()
    if scan_id is not None and (not isinstance(scan_id, str) or not SCAN_ID.match(scan_id)):
        raise InvalidInput(detail="scan_id must be 1 to 64 letters, digits, '_', '.', ':' or '-'")
    try:
        code = normalise(raw, rules.max_length, rules.allowed)
    except BadCode as e:
        raise InvalidCode(reason=str(e)) from None
    if scan_id and (receipt := session.get(ScanReceipt, scan_id)):
        return receipt.answer
    station = session.get(Station, station_id)
    if station is None:
        raise UnknownStation(station=station_id)
    boards = _boards_for(session, code)
    order, product = session.exec(select(WorkOrder, Product).join(Product)
                                  .where(WorkOrder.id == boards[0].order_id)).one()
    done = {board.id: _check_board(session, board, product.route) for board in boards}
    red = readiness.red_items(session, order, rules.ready_rules)
    if red:
        raise NotReady(order=order.number, items=", ".join(i["message"] for i in red),
                       item_codes=[i["item"] for i in red], codes=[i["code"] for i in red])
    index = _common_step(boards, done, product.route, station.type)
    answer = _pass_step(session, boards, order, product, station, index, user, code, scan_id,
                        rules)
    try:
        session.commit()
    except IntegrityError:
        # Another station (or a replay of this scan) won the same step at the same instant.
        session.rollback()
        if scan_id and (receipt := session.get(ScanReceipt, scan_id)):
            return receipt.answer
        raise AlreadyDone(serial=code, step=station.type, next_step=_next(product.route,
                                                                           index + 1)) from None
    return answer


def _boards_for(session: Session, code: str) -> list[Board]:
    """The board with this serial, or every board of the panel with this id, locked."""
    board = session.exec(select(Board).where(Board.serial == code).with_for_update()).first()
    if board is not None:
        return [board]
    boards = list(session.exec(select(Board).where(Board.panel_id == code)
                               .order_by(Board.panel_position, Board.id).with_for_update()))
    if not boards:
        raise UnknownBoard(serial=code)
    return boards


def _check_board(session: Session, board: Board, route: list[str]) -> int:
    """Refuse a board that is held, scrapped, failed, or repaired and not yet retested;
    return how many steps it has passed."""
    # One query for what every scan asks of a board: its hold, its steps, any test or scrap.
    hold = (select(Hold.reason).where(Hold.order_id == board.order_id,
                                      Hold.released_at.is_(None),
                                      or_(Hold.board_id.is_(None), Hold.board_id == board.id))
            .order_by(Hold.id).limit(1).scalar_subquery())
    top = (select(func.max(BoardStep.step_index)).where(BoardStep.board_id == board.id)
           .scalar_subquery())
    tested = (select(TestAttempt.id).where(TestAttempt.board_id == board.id).exists()
              | select(Scrap.board_id).where(Scrap.board_id == board.id).exists())
    reason, top, tested = session.exec(select(hold, top, tested)).one()
    if reason is not None:
        raise OnHold(serial=board.serial, reason=reason)
    done = 0 if top is None else top + 1
    if tested:
        fct.check_can_move(session, board, done > route.index("FCT"))
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


def _common_step(boards: list[Board], done: dict[int, int], route: list[str], step: str) -> int:
    """The step index every board of a scan may pass; a panel moves only all together."""
    indexes = {check_step(route, done[b.id], step, b.serial) for b in boards}
    if len(indexes) > 1:
        raise OutOfSequence(serial=boards[0].panel_id, step=step, needed="the same step for "
                            "every board of the panel; scan its boards one by one")
    return indexes.pop()


def _pass_step(session: Session, boards: list[Board], order: WorkOrder, product: Product,
               station: Station, index: int, user: User, code: str, scan_id,
               rules: ScanRules) -> dict:
    """Record the step for each board with its event, and the answer for replays."""
    for board in boards:
        session.add(BoardStep(board_id=board.id, step_index=index, step=station.type,
                              station_id=station.id, user_id=user.id))
        events.record(session, "board.step_passed", f"board:{board.serial}",
                      {"order": order.number, "step": station.type, "step_index": index,
                       "panel": board.panel_id, "position": board.panel_position,
                       "scan_id": scan_id}, user, station.id)
    warnings = []
    if station.type == "PRINT":  # a panel is printed once
        warning = stencils.count_print(session, order, rules.ready_rules.life_warning_pct)
        warnings += [warning] if warning else []
    box = shipping.pack(session, order, boards, rules.box_capacity) \
        if station.type == "PACK" else None
    answer = {"accepted": True, "warnings": warnings,
              "serial": boards[0].serial if len(boards) == 1 else code,
              "order": order.number, "step": station.type,
              "next_step": _next(product.route, index + 1),
              "serials": [b.serial for b in boards], "station": station.id}
    if boards[0].panel_id and len(boards) > 1:
        answer["panel"] = boards[0].panel_id
    if box is not None:
        answer["box"] = box.number
    if scan_id:
        session.add(ScanReceipt(scan_id=scan_id, station_id=station.id, answer=answer))
    return answer


def shift_count(session: Session, station_id: str, since: datetime) -> int:
    """How many boards passed this station since the shift began."""
    return session.exec(select(func.count()).select_from(BoardStep).where(
        BoardStep.station_id == station_id, BoardStep.at >= since)).one()


def last_scans(session: Session, station_id: str, limit: int = 3) -> list[tuple[BoardStep, str]]:
    """The station's latest accepted scans with their serials, newest first."""
    rows = session.exec(select(BoardStep, Board.serial).join(Board)
                        .where(BoardStep.station_id == station_id)
                        .order_by(BoardStep.id.desc()).limit(limit))
    return list(rows)
