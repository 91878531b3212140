"""QA holds on orders and single boards: a held board moves nowhere until released."""

from sqlmodel import Session, and_, or_, select

from station import events, people
from station.errors import N_, InvalidInput, NotFound, Text
from station.masterdata import find_order
from station.models import Board, Hold, User, WorkOrder, utcnow


def stops(order_id, board_id):
    """The condition of a hold that stops a board: open, on its order or on the board itself
    (values or columns, so the scan's query can ask it of every board it reads)."""
    return and_(Hold.order_id == order_id, Hold.released_at.is_(None),
                or_(Hold.board_id.is_(None), Hold.board_id == board_id))


def active_hold(session: Session, board: Board) -> Hold | None:
    """The open hold on the board or on its order, if any."""
    return session.exec(select(Hold).where(stops(board.order_id, board.id))
                        .order_by(Hold.id)).first()


def order_holds(session: Session, order: WorkOrder) -> list[Hold]:
    """The open holds on an order and its boards."""
    return list(session.exec(select(Hold).where(Hold.order_id == order.id,
                                                Hold.released_at.is_(None))))


def place_hold(session: Session, by: User, number: str, reason, serial: str | None = None) -> Hold:
    """QA holds an order, or one board of it, with a reason."""
    people.require(by, "hold")
    if not isinstance(reason, str) or not reason.strip() or len(reason) > 500:
        raise InvalidInput(N_("a hold needs a reason of 1 to 500 characters"))
    order = find_order(session, number, lock=True)  # a release checking the order waits
    board = _board_of(session, order, serial) if serial else None
    hold = Hold(order_id=order.id, board_id=board.id if board else None,
                reason=reason.strip(), placed_by_id=by.id)
    session.add(hold)
    subject = f"board:{board.serial}" if board else f"order:{order.number}"
    events.record(session, "hold.placed", subject,
                  {"order": order.number, "serial": serial, "reason": hold.reason}, by)
    session.commit()
    return hold


def release_holds(session: Session, by: User, number: str, serial: str | None = None) -> int:
    """QA releases the open holds of an order (or of one board); returns how many."""
    people.require(by, "hold")
    order = find_order(session, number)
    query = select(Hold).where(Hold.order_id == order.id, Hold.released_at.is_(None))
    if serial:
        query = query.where(Hold.board_id == _board_of(session, order, serial).id)
    else:
        query = query.where(Hold.board_id.is_(None))
    holds = list(session.exec(query))
    for hold in holds:
        hold.released_by_id, hold.released_at = by.id, utcnow()
        session.add(hold)
    if holds:
        events.record(session, "hold.released", f"board:{serial}" if serial else
                      f"order:{order.number}", {"order": order.number, "serial": serial,
                                                "released": len(holds)}, by)
    session.commit()
    return len(holds)


def _board_of(session: Session, order: WorkOrder, serial: str) -> Board:
    board = session.exec(select(Board).where(Board.serial == serial,
                                             Board.order_id == order.id)).first()
    if board is None:
        raise NotFound(what=Text(N_("board")), key=Text(N_("{serial} in order {order}"),
                                                      serial=serial, order=order.number))
    return board
