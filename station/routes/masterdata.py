"""Master data: the API and plain admin pages for customers, products, stations and people."""

from flask import Blueprint, g, jsonify, redirect, render_template, request, url_for
from sqlmodel import select

from station import masterdata, people
from station.db import get_session
from station.models import Customer, Line, Product, Station, User, iso
from station.routes.api import endpoint
from station.routes.web import json_body, login_required

bp = Blueprint("masterdata", __name__, url_prefix="/admin")
api = Blueprint("masterdata_api", __name__, url_prefix="/api/v1")


def customer_view(c: Customer) -> dict:
    """A customer as the API shows it."""
    return {"code": c.code, "name": c.name, "terms": c.terms,
            "requested_terms": c.requested_terms, "terms_approved_at": iso(c.terms_approved_at)}


def product_view(p: Product) -> dict:
    """A product revision as the API shows it."""
    return {"code": p.code, "revision": p.revision, "route": p.route}


def station_view(s: Station) -> dict:
    """A station as the API shows it."""
    return {"id": s.id, "type": s.type, "line": s.line}


@api.post("/customers")
@endpoint
def create_customer(user):
    """Register a customer (admin)."""
    d = json_body()
    customer = masterdata.create_customer(get_session(), user, d.get("code"), d.get("name"),
                                          d.get("terms", "prepaid"))
    return jsonify(customer_view(customer)), 201


@api.get("/customers/<code>")
@endpoint
def get_customer(user, code):
    """One customer."""
    return jsonify(customer_view(masterdata.find_customer(get_session(), code)))


@api.post("/products")
@endpoint
def create_product(user):
    """Register a product revision and its route (admin)."""
    d = json_body()
    product = masterdata.create_product(get_session(), user, d.get("code"), d.get("revision"),
                                        d.get("route"))
    return jsonify(product_view(product)), 201


@api.get("/products/<code>/<revision>")
@endpoint
def get_product(user, code, revision):
    """One product revision and its route."""
    return jsonify(product_view(masterdata.find_product(get_session(), code, revision)))


@api.post("/stations")
@endpoint
def create_station(user):
    """Register a station on a line (admin)."""
    d = json_body()
    station = masterdata.create_station(get_session(), user, d.get("id"), d.get("type"),
                                        d.get("line"))
    return jsonify(station_view(station)), 201


@api.get("/stations")
@endpoint
def list_stations(user):
    """Every station."""
    return jsonify(stations=[station_view(s) for s in get_session().exec(select(Station))])


@bp.route("/", methods=("GET", "POST"))
@login_required("master_data")
def edit_masterdata():
    """One plain page to list and add customers, products and stations."""
    session, f = get_session(), request.form
    if request.method == "POST":
        kind = f.get("kind")
        if kind == "customer":
            masterdata.create_customer(session, g.user, f.get("code"), f.get("name"),
                                       f.get("terms", "prepaid"))
        elif kind == "product":
            route = [s.strip().upper() for s in f.get("route", "").replace(",", " ").split()]
            masterdata.create_product(session, g.user, f.get("code"), f.get("revision"), route)
        elif kind == "station":
            masterdata.create_station(session, g.user, f.get("id"), f.get("type", "").upper(),
                                      f.get("line"))
        return redirect(url_for("masterdata.edit_masterdata"))
    return render_template("admin.html", customers=session.exec(select(Customer)).all(),
                           products=session.exec(select(Product)).all(),
                           stations=session.exec(select(Station).order_by(Station.id)).all(),
                           lines=session.exec(select(Line)).all())


@bp.route("/people", methods=("GET", "POST"))
@login_required("unlock_badge")
def unlock_badges():
    """A supervisor sees who is locked out and unlocks badges."""
    session = get_session()
    if request.method == "POST":
        people.unlock_badge(session, request.form.get("name"), g.user)
        return redirect(url_for("masterdata.unlock_badges"))
    return render_template("people.html", users=session.exec(select(User).order_by(User.name)))
