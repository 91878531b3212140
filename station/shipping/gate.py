"""The shipment gate: every board passed and packed, QA signed, nothing held, paid or on terms."""

from sqlmodel import Session, func, select

from station import events, people
from station.errors import N_, BadCredentials, StationError, Text
from station.models import (
    Board,
    BoardStep,
    Box,
    BoxBoard,
    Customer,
    Product,
    Scrap,
    Shipment,
    User,
    WorkOrder,
    utcnow,
)
from station.quality import qa
from station.quality.holds import order_holds
from station.readiness import interlock
from station.shipping import labels, money

# What to do about each blocker, and who can do it.
ADVICE = {
    "NOT_ALL_PASSED": (N_("Test, repair and retest the boards, then pack them at PACK."),
                       "operator, qa"),
    "NOT_SIGNED_OFF": (N_("QA reviews the results and signs them off."), "qa"),
    "SIGNOFF_VOID": (N_("The results changed after signing: QA reviews and signs again."), "qa"),
    "ON_HOLD": (N_("QA releases the hold once the cause is dealt with."), "qa"),
    "NOT_PAID": (N_("Finance records the payment, or approves monthly terms for the customer."),
                 "finance"),
    "NOT_READY": (N_("Make the order's readiness green so its boards can be finished."),
                  "operator"),
    "ALREADY_SHIPPED": (N_("Nothing: the order has left."), "-"),
}


class ShipmentBlocked(StationError):
    code = "SHIPMENT_BLOCKED"
    message = N_("Order {order} may not ship: {codes}.")
    todo = N_("Deal with every blocker listed.")

    def extra(self):
        return {"blockers": self.params.get("blockers", [])}


def _blocker(code: str, message: Text, reasons: list | None = None) -> dict:
    """A blocker with what to do and who; `reasons` are its lines for a screen (NOT_READY's
    red items), which the API's `message` holds joined."""
    todo, who = ADVICE[code]
    found = {"code": code, "message": message, "todo": Text(todo), "who": who}
    if reasons:
        found["reasons"] = reasons
    return found


def blockers(session: Session, order: WorkOrder, rules: interlock.Rules | None = None) -> list:
    """Every reason the order may not ship, all at once (empty: it may ship)."""
    out = []
    if session.exec(select(Shipment).where(Shipment.order_id == order.id)).first():
        out.append(_blocker("ALREADY_SHIPPED", Text(N_("Order {order} has already shipped."),
                                                    order=order.number)))
    results = qa.board_results(session, order)
    why = qa.passed_check(order, results)
    product = session.get(Product, order.product_id)
    unfinished = _unfinished(session, order, product)
    if why or unfinished:
        parts = [why] if why else []
        if unfinished:
            parts.append(Text(N_("{count} board(s) have not completed their route up to "
                                 "{step}."), count=unfinished, step=product.route[-1]))
        out.append(_blocker("NOT_ALL_PASSED", Text(N_("{reasons}"), reasons=parts)))
    signoff = qa.signoff_view(session, order, results)
    if signoff is None:
        out.append(_blocker("NOT_SIGNED_OFF", Text(N_("QA has not signed the results off."))))
    elif not signoff["valid"]:
        out.append(_blocker("SIGNOFF_VOID", Text(N_("The results changed after {who} signed at "
                                                    "{at}."), who=signoff["signed_by"],
                                                 at=signoff["signed_at"])))
    holds = order_holds(session, order)
    if holds:
        out.append(_blocker("ON_HOLD", Text(N_("On hold: {reasons}."),
                                            reasons="; ".join(h.reason for h in holds))))
    # Every scan needs readiness, so finished boards met it; it blocks only unfinished work.
    red = interlock.red_items(session, order, rules) if unfinished else []
    if red:
        reasons = [i["message"] for i in red]
        out.append(_blocker("NOT_READY", Text(N_("Not ready: {items}"), items=reasons), reasons))
    customer = session.get(Customer, order.customer_id)
    due = money.balance_due(session, order)
    if due > 0 and customer.terms != "monthly":
        out.append(_blocker("NOT_PAID", Text(N_("{due} {currency} is due and {customer} pays "
                                                "before shipping (prepaid)."), due=due,
                                             currency=order.currency, customer=customer.code)))
    return out


def _unfinished(session: Session, order: WorkOrder, product: Product) -> int:
    """Boards of the order (not scrapped) that have not passed the last step of the route."""
    last = len(product.route) - 1
    live = Board.id.not_in(select(Scrap.board_id))
    boards = session.exec(select(func.count()).select_from(Board).where(
        Board.order_id == order.id, live)).one()
    # A scrapped board that was packed must not count for a live one that was not.
    done = session.exec(select(func.count()).select_from(BoardStep).join(Board).where(
        Board.order_id == order.id, BoardStep.step_index == last, live)).one()
    return max(boards - done, 0) if boards else order.quantity


def pack(session: Session, order_id: int, board_ids: list[int], capacity: int,
         rule: labels.SsccRule | None = None, by: User | None = None,
         station_id: str | None = None) -> Box:
    """Put boards scanned at PACK into the order's open box, opening a new one when full: a new
    box takes its SSCC in this transaction, and its event records it."""
    box = session.exec(select(Box).where(Box.order_id == order_id, Box.closed_at.is_(None))
                       .order_by(Box.number.desc())).first()
    for board_id in board_ids:
        if box is None or _count(session, box) >= box.capacity:
            if box is not None:
                box.closed_at = utcnow()
                session.add(box)
            box = _open_box(session, order_id, capacity, rule or labels.SsccRule(), by,
                            station_id)
        session.add(BoxBoard(board_id=board_id, box_id=box.id))
        session.flush()
    return box


def _open_box(session: Session, order_id: int, capacity: int, rule: labels.SsccRule,
              by: User | None, station_id: str | None) -> Box:
    """The order's next box with its SSCC, and the event that says so."""
    number = session.exec(select(func.count()).select_from(Box)
                          .where(Box.order_id == order_id)).one() + 1
    box = Box(order_id=order_id, number=number, capacity=capacity,
              sscc=labels.take_sscc(session, rule))
    session.add(box)
    session.flush()
    order = session.get(WorkOrder, order_id)
    events.record(session, "box.opened", f"order:{order.number}",
                  {"order": order.number, "box": number, "capacity": capacity,
                   "sscc": box.sscc}, by, station_id)
    return box


def _count(session: Session, box: Box) -> int:
    return session.exec(select(func.count()).select_from(BoxBoard)
                        .where(BoxBoard.box_id == box.id)).one()


def release(session: Session, by: User, number, badge, pin, *, pepper: str,
            lock_after: int = 5, rules: interlock.Rules | None = None) -> Shipment:
    """Ship the order: badge and PIN again, the gate checked and the shipment stored at once."""
    people.require(by, "ship")
    signer = people.check_badge(session, badge, pin, pepper=pepper, lock_after=lock_after)
    if signer.id != by.id:
        raise BadCredentials(limit=lock_after)
    # Lock the order first: a payment reversal or a hold waits for us, or we wait for it.
    order = money.lock_order(session, number)
    found = blockers(session, order, rules)
    if found:
        raise ShipmentBlocked(order=order.number, codes=", ".join(b["code"] for b in found),
                              blockers=found)
    boxes = list(session.exec(select(Box).where(Box.order_id == order.id)))
    boards = session.exec(select(func.count()).select_from(BoxBoard).join(Box)
                          .where(Box.order_id == order.id)).one()
    now = utcnow()
    for box in boxes:
        box.closed_at = box.closed_at or now
        session.add(box)
    shipment = Shipment(order_id=order.id, user_id=by.id, boxes=len(boxes), boards=boards,
                        shipped_at=now)
    session.add(shipment)
    events.record(session, "order.shipped", f"order:{order.number}",
                  {"boxes": len(boxes), "boards": boards, "released_by": by.full_name}, by)
    session.commit()
    return shipment


def packing_list(session: Session, order: WorkOrder) -> list[dict]:
    """The order's boxes with every serial in each."""
    out = []
    for box in session.exec(select(Box).where(Box.order_id == order.id).order_by(Box.number)):
        serials = session.exec(select(Board.serial).join(BoxBoard).where(
            BoxBoard.box_id == box.id).order_by(Board.serial)).all()
        out.append({"number": box.number, "capacity": box.capacity, "serials": list(serials),
                    "closed": box.closed_at is not None})
    return out
