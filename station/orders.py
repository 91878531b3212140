"""An order's state on the floor: boards per step, holds, what it owes, why it cannot ship."""

from decimal import Decimal

from sqlmodel import Session, func, select

from station import qa, readiness
from station.holds import order_holds
from station.models import Board, BoardStep, Customer, Product, WorkOrder, iso


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


def order_view(session: Session, order: WorkOrder) -> dict:
    """The order as the API shows it."""
    customer = session.get(Customer, order.customer_id)
    product = session.get(Product, order.product_id)
    counts = step_counts(session, order)
    holds = order_holds(session, order)
    red = readiness.red_items(session, order)
    amount = (order.unit_price * order.quantity).quantize(Decimal("0.01"))
    results = qa.board_results(session, order)
    passed = sum(1 for b in results if b["state"] == "passed")
    signoff = qa.signoff_view(session, order, results)
    route_done = counts.get(product.route[-1], 0)
    blockers = []
    why = qa.passed_check(order, results)
    if why:
        blockers.append({"code": "NOT_ALL_PASSED", "message": why})
    if holds:
        blockers.append({"code": "ON_HOLD", "message": "; ".join(h.reason for h in holds)})
    if red:
        blockers.append({"code": "NOT_READY", "message": ", ".join(i["message"] for i in red)})
    if signoff is None:
        blockers.append({"code": "NOT_SIGNED_OFF",
                         "message": "QA has not signed the results off"})
    elif not signoff["valid"]:
        blockers.append({"code": "SIGNOFF_VOID", "message": "The results changed after QA "
                                                            "signed: QA must sign again"})
    if customer.terms != "monthly" and amount > 0:
        blockers.append({"code": "NOT_PAID", "message": f"{amount} {order.currency} is due"})
    status = ("on_hold" if holds else "complete" if route_done >= order.quantity
              else "in_production" if any(counts.values()) else "open")
    return {
        "number": order.number, "customer": customer.code, "product": product.code,
        "revision": product.revision, "route": product.route, "quantity": order.quantity,
        "unit_price": money_text(order.unit_price),
        "currency": order.currency, "paste": order.paste, "status": status,
        "boards": board_count(session, order), "boards_passed": passed, "steps": counts,
        "amount": money_text(amount), "balance_due": money_text(amount),
        "holds": [{"reason": h.reason, "serial": None if h.board_id is None else
                   session.get(Board, h.board_id).serial, "placed_at": iso(h.placed_at)}
                  for h in holds],
        "readiness": {"ready": not red, "items": red},
        "signoff": signoff, "shipment_blockers": blockers,
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
