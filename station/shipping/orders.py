"""An order's state on the floor: boards per step, holds, what it owes, why it cannot ship."""

from decimal import Decimal

from sqlmodel import Session, func, select

from station.models import Board, BoardStep, Customer, Product, Shipment, WorkOrder, iso
from station.quality import qa
from station.quality.holds import order_holds
from station.readiness import interlock
from station.shipping import gate, money


def money_text(amount: Decimal) -> str:
    """An amount as the API writes it: at least two decimals, never a float."""
    return str(amount.quantize(Decimal("0.01")) if amount == amount.quantize(Decimal("0.01"))
               else amount.normalize())


def step_counts(session: Session, order: WorkOrder) -> dict[str, int]:
    """How many boards of the order have passed each step of its route."""
    product = session.get(Product, order.product_id)
    rows = session.exec(select(BoardStep.step, func.count()).join(Board)
                        .where(Board.order_id == order.id).group_by(BoardStep.step))
    counts = dict(rows.all())
    return {step: counts.get(step, 0) for step in product.route}


def board_count(session: Session, order: WorkOrder) -> int:
    """How many boards are registered to the order."""
    return session.exec(select(func.count()).select_from(Board)
                        .where(Board.order_id == order.id)).one()


def order_view(session: Session, order: WorkOrder, rules: interlock.Rules | None = None) -> dict:
    """The order as the API shows it, with readiness, sign-off and every shipment blocker."""
    customer = session.get(Customer, order.customer_id)
    product = session.get(Product, order.product_id)
    counts = step_counts(session, order)
    holds = order_holds(session, order)
    items = interlock.assess(session, order, rules)
    results = qa.board_results(session, order)
    blockers = gate.blockers(session, order, rules)
    shipment = session.exec(select(Shipment).where(Shipment.order_id == order.id)).first()
    status = ("shipped" if shipment else "on_hold" if holds
              else "complete" if counts.get(product.route[-1], 0) >= order.quantity
              else "in_production" if any(counts.values()) else "open")
    return {
        "number": order.number, "customer": customer.code, "product": product.code,
        "revision": product.revision, "route": product.route, "quantity": order.quantity,
        "unit_price": money_text(order.unit_price), "currency": order.currency,
        "paste": order.paste, "side": order.side, "status": status,
        "boards": board_count(session, order),
        "boards_passed": sum(1 for b in results if b["state"] == "passed"), "steps": counts,
        "amount": money_text(money.order_amount(session, order)),
        "paid": money_text(money.paid(session, order)),
        "balance_due": money_text(money.balance_due(session, order)),
        "terms": customer.terms,
        "holds": [{"reason": h.reason, "serial": None if h.board_id is None else
                   session.get(Board, h.board_id).serial, "placed_at": iso(h.placed_at)}
                  for h in holds],
        "readiness": {"ready": all(i["ready"] for i in items), "items": items},
        "signoff": qa.signoff_view(session, order, results),
        "shipment_blockers": [{"code": b["code"], "message": b["message"], "todo": b["todo"],
                               "who": b["who"], **({"reasons": b["reasons"]} if "reasons" in b
                                                   else {})} for b in blockers],
        "may_ship": not blockers,
        "shipped_at": iso(shipment.shipped_at) if shipment else None,
        "created_at": iso(order.created_at),
    }


def board_rows(session: Session, order: WorkOrder) -> list[dict]:
    """Each board of the order with the steps it has passed and the one it needs next."""
    route = session.get(Product, order.product_id).route
    done = dict(session.exec(select(BoardStep.board_id, func.max(BoardStep.step_index))
                             .join(Board).where(Board.order_id == order.id)
                             .group_by(BoardStep.board_id)).all())
    held = {h.board_id for h in order_holds(session, order)}
    rows = []
    for board in session.exec(select(Board).where(Board.order_id == order.id).order_by(Board.id)):
        n = done.get(board.id, -1) + 1
        rows.append({"serial": board.serial, "panel": board.panel_id,
                     "position": board.panel_position, "done": n,
                     "next_step": route[n] if n < len(route) else None,
                     "held": board.id in held or None in held})
    return rows
