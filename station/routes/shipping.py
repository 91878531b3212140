"""Shipment and money: the gate, release, packing list; payments, invoices, quotes, terms."""

from flask import Blueprint, current_app, g, jsonify, redirect, render_template, request, url_for
from sqlmodel import select

from station.db import get_session
from station.errors import StationError
from station.masterdata import find_order
from station.models import Customer, Shipment, WorkOrder, iso
from station.routes.api import endpoint
from station.routes.web import (
    json_body,
    login_required,
    readiness_rules,
    settings,
    translate_error,
)
from station.shipping import gate, money
from station.shipping.orders import money_text, order_view

bp = Blueprint("shipping", __name__)
api = Blueprint("shipping_api", __name__, url_prefix="/api/v1")


def _release(user, number, form) -> dict:
    shipment = gate.release(get_session(), user, number, form.get("badge"), form.get("pin"),
                                pepper=current_app.config["PIN_PEPPER"],
                                lock_after=settings().security.badge_lock_after,
                                rules=readiness_rules())
    return {"order": number, "shipped_at": iso(shipment.shipped_at), "boards": shipment.boards,
            "boxes": shipment.boxes}


@api.post("/orders/<number>/shipments")
@endpoint
def create_shipment(user, number):
    """Release the order for shipment (badge and PIN again): 201, or 409 with every blocker."""
    return jsonify(_release(user, number, json_body())), 201


@api.get("/orders/<number>/shipment")
@endpoint
def get_shipment(user, number):
    """May the order ship, its blockers, and its boxes with their serials."""
    session = get_session()
    order = find_order(session, number)
    found = gate.blockers(session, order, readiness_rules())
    return jsonify(order=order.number, may_ship=not found, blockers=found,
                   boxes=gate.packing_list(session, order))


def _balance(session, number) -> str:
    return money_text(money.balance_due(session, find_order(session, number)))


@api.post("/orders/<number>/payments")
@endpoint
def record_payment(user, number):
    """Finance records a payment: amount, reference, date (paid_on), currency."""
    d, session = json_body(), get_session()
    payment = money.record_payment(session, user, number, d.get("amount"), d.get("reference"),
                                   d.get("paid_on"), d.get("currency"))
    return jsonify(payment=payment.id, amount=money_text(payment.amount),
                   balance_due=_balance(session, number)), 201


@api.post("/orders/<number>/payments/<int:payment_id>/reversal")
@endpoint
def reverse_payment(user, number, payment_id):
    """Finance reverses a payment by a new record pointing at it, with a reason."""
    session = get_session()
    row = money.reverse_payment(session, user, number, payment_id, json_body().get("reason"))
    return jsonify(payment=row.id, reverses=payment_id, amount=money_text(row.amount),
                   balance_due=_balance(session, number)), 201


@api.post("/orders/<number>/invoices")
@endpoint
def issue_invoice(user, number):
    """Finance issues an invoice (for the balance due unless an amount is given)."""
    row = money.invoice(get_session(), user, number, json_body().get("amount"))
    return jsonify(number=row.number, amount=money_text(row.amount), currency=row.currency,
                   issued_at=iso(row.issued_at)), 201


@api.post("/orders/<number>/quotations")
@endpoint
def write_quotation(user, number):
    """A quotation: unit price, quantity, one-off charges [{name, amount}], currency."""
    d = json_body()
    row = money.quote(get_session(), user, number, d.get("unit_price"), d.get("quantity"),
                      d.get("charges"), d.get("currency"))
    return jsonify(id=row.id, total=money_text(row.total), currency=row.currency,
                   charges=row.charges), 201


@api.post("/orders/<number>/quotations/confirm")
@endpoint
def confirm_quotation(user, number):
    """Confirm the order's newest (or a given) quotation: its total becomes the order amount."""
    session = get_session()
    row = money.confirm(session, user, number, json_body().get("quotation"))
    return jsonify(id=row.id, total=money_text(row.total),
                   balance_due=_balance(session, number)), 200


@api.post("/customers/<code>/terms")
@endpoint
def set_terms(user, code):
    """Finance approves monthly terms or returns the customer to prepaid."""
    c = money.set_terms(get_session(), user, code, json_body().get("terms"))
    return jsonify(code=c.code, terms=c.terms, terms_approved_at=iso(c.terms_approved_at)), 200


@bp.route("/orders/<number>/shipment", methods=("GET", "POST"))
@login_required()
def show_shipment(number):
    """May ship or not, in large type, every blocker with what to do and who; the release."""
    session, error, shipped = get_session(), None, None
    if request.method == "POST":
        try:
            shipped = _release(g.user, number, request.form)
        except StationError as err:
            session.rollback()
            error = translate_error(err)
    order = find_order(session, number)
    return render_template("shipment.html", order=order_view(session, order, readiness_rules()),
                           boxes=gate.packing_list(session, order), error=error,
                           shipped=shipped)


@bp.get("/orders/<number>/packing-list")
@login_required()
def show_packing_list(number):
    """The printable packing list: order, customer, boxes and every serial."""
    session = get_session()
    order = find_order(session, number)
    shipment = session.exec(select(Shipment).where(Shipment.order_id == order.id)).first()
    return render_template("packing_list.html", order=order_view(session, order),
                           customer=session.get(Customer, order.customer_id), shipment=shipment,
                           boxes=gate.packing_list(session, order))


@bp.route("/finance", methods=("GET", "POST"))
@login_required()
def show_finance():
    """Finance: orders waiting for payment, customers on monthly terms and their open balance."""
    session, error = get_session(), None
    if request.method == "POST":
        f = request.form
        try:
            if f.get("terms"):
                money.set_terms(session, g.user, f.get("customer"), f["terms"])
            else:
                money.record_payment(session, g.user, f.get("order"), f.get("amount"),
                                     f.get("reference"), f.get("paid_on") or None)
            return redirect(url_for("shipping.show_finance"))
        except StationError as err:
            session.rollback()
            error = translate_error(err)
    waiting, monthly = [], {}
    for order in session.exec(select(WorkOrder).order_by(WorkOrder.id)):
        due = money.balance_due(session, order)
        customer = session.get(Customer, order.customer_id)
        if due > 0 and customer.terms == "monthly":
            monthly.setdefault(customer.code, [customer, 0])[1] += due
        elif due > 0:
            waiting.append({"order": order, "customer": customer, "due": money_text(due)})
    customers = session.exec(select(Customer).order_by(Customer.code)).all()
    return render_template("finance.html", waiting=waiting, customers=customers, error=error,
                           monthly={k: (c, money_text(v)) for k, (c, v) in monthly.items()})
