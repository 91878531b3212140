"""Orders: the API for orders, their boards and holds; the order page and list."""

from flask import Blueprint, g, jsonify, redirect, render_template, request, url_for
from sqlmodel import select

from station import masterdata
from station.db import get_session
from station.models import Customer, Product, WorkOrder
from station.quality import holds
from station.routes.api import endpoint
from station.routes.web import json_body, login_required
from station.shipping import orders

bp = Blueprint("orders", __name__)
api = Blueprint("orders_api", __name__, url_prefix="/api/v1")


@api.post("/orders")
@endpoint
def create_order(user):
    """Open a work order (admin)."""
    d = json_body()
    order = masterdata.create_order(get_session(), user, d.get("number"), d.get("customer"),
                                    d.get("product"), d.get("revision"), d.get("quantity"),
                                    d.get("unit_price"), d.get("paste") or "SAC305",
                                    d.get("currency") or "USD")
    return jsonify(orders.order_view(get_session(), order)), 201


@api.get("/orders/<number>")
@endpoint
def get_order(user, number):
    """The order with its status, counts, readiness, sign-off and shipment blockers."""
    session = get_session()
    return jsonify(orders.order_view(session, masterdata.find_order(session, number)))


@api.post("/orders/<number>/boards")
@endpoint
def add_boards(user, number):
    """Generate board serials for the order, or register the customer's own (admin)."""
    d = json_body()
    serials = masterdata.add_boards(get_session(), user, number, d.get("count"), d.get("serials"),
                                    d.get("panel_size"))
    return jsonify(serials=serials), 201


@api.post("/orders/<number>/holds")
@endpoint
def hold_order(user, number):
    """QA holds the order, or one of its boards (`serial`), with a reason."""
    d = json_body()
    hold = holds.place_hold(get_session(), user, number, d.get("reason"), d.get("serial"))
    return jsonify(order=number, serial=d.get("serial"), reason=hold.reason, on_hold=True), 201


@api.delete("/orders/<number>/holds")
@endpoint
def release_order(user, number):
    """QA releases the order's holds (or one board's, with ?serial=)."""
    released = holds.release_holds(get_session(), user, number, request.args.get("serial"))
    return jsonify(order=number, released=released, on_hold=False), 200


@bp.get("/orders")
@login_required()
def list_orders():
    """Every order, newest first, with a form for admins to open one."""
    session = get_session()
    rows = session.exec(select(WorkOrder).order_by(WorkOrder.id.desc()).limit(200)).all()
    return render_template("orders.html", orders=[orders.order_view(session, o) for o in rows],
                           customers=session.exec(select(Customer)).all(),
                           products=session.exec(select(Product)).all())


@bp.post("/orders")
@login_required("master_data")
def open_order():
    """An admin opens an order from the form, with generated serials."""
    f, session = request.form, get_session()
    product, _, revision = f.get("product", "").partition("/")
    order = masterdata.create_order(session, g.user, f.get("number"), f.get("customer"), product,
                                    revision, _int(f.get("quantity")), f.get("unit_price"),
                                    f.get("paste") or "SAC305")
    if _int(f.get("boards")):
        masterdata.add_boards(session, g.user, order.number, count=_int(f.get("boards")))
    return redirect(url_for("orders.show_order", number=order.number))


@bp.get("/orders/<number>")
@login_required()
def show_order(number):
    """The order page: how many boards have passed each step, holds and blockers."""
    session = get_session()
    order = masterdata.find_order(session, number)
    return render_template("order.html", order=orders.order_view(session, order),
                           boards=orders.board_rows(session, order))


@bp.post("/orders/<number>/holds")
@login_required("hold")
def hold_from_page(number):
    """QA holds (or releases) the order from its page."""
    session = get_session()
    if request.form.get("release"):
        holds.release_holds(session, g.user, number)
    else:
        holds.place_hold(session, g.user, number, request.form.get("reason"))
    return redirect(url_for("orders.show_order", number=number))


def _int(value):
    try:
        return int(value)
    except (TypeError, ValueError):
        return value
