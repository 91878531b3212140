"""Enquiries, the quotations drafted from their data package, and the customers' audits."""

import json

from flask import Blueprint, current_app, jsonify, request
from flask_babel import gettext

from station.db import get_session
from station.errors import N_, InvalidInput
from station.models import iso
from station.routes.api import endpoint
from station.routes.web import json_body
from station.shipping import audits, enquiries, money
from station.shipping.orders import money_text

api = Blueprint("enquiries_api", __name__, url_prefix="/api/v1")


def rates():
    """The quoting rates of config/quoting.toml, read once at start."""
    return current_app.extensions["quoting"]


def _form_body() -> dict:
    """A multipart form as the JSON body would say it (quantities "100, 500" or a JSON list)."""
    d = dict(request.form)
    raw = d.get("quantities")
    if isinstance(raw, str):
        try:
            d["quantities"] = (json.loads(raw) if raw.strip().startswith("[") else
                               [int(q) for q in raw.replace(";", ",").split(",") if q.strip()])
        except ValueError:
            raise InvalidInput(N_("quantities are whole numbers such as 100, 500")) from None
    return d


def _files() -> dict | None:
    """The data package's files of a multipart request (none: no package with the enquiry)."""
    files = request.files
    if not any(n in files for n in enquiries.FILES):
        return None
    got = {n: files[n].read() if n in files else None for n in enquiries.FILES}
    got["bom_name"] = files["bom"].filename if "bom" in files else None
    got["centroid_name"] = files["centroid"].filename if "centroid" in files else None
    return got


@api.post("/enquiries")
@endpoint
def create_enquiry(user):
    """A customer's enquiry, JSON or multipart with its data package (gerber, bom, centroid)."""
    multipart = request.mimetype == "multipart/form-data"
    d = _form_body() if multipart else json_body()
    row = enquiries.create_enquiry(get_session(), user, d.get("customer"), d.get("product"),
                                   d.get("revision"), d.get("quantities"), d.get("due"),
                                   _files() if multipart else None)
    return jsonify(id=row.id, received_at=iso(row.received_at)), 201


@api.get("/enquiries")
@endpoint
def list_enquiries(user):
    """The open enquiries, oldest first, with the hours since received and their colour."""
    return jsonify(enquiries=enquiries.open_enquiries(get_session()))


@api.get("/enquiries/<int:enquiry_id>")
@endpoint
def get_enquiry(user, enquiry_id):
    """One enquiry, its quotations and its order."""
    session = get_session()
    return jsonify(enquiries.enquiry_view(session, enquiries.find_enquiry(session, enquiry_id)))


def _quotation(row) -> dict:
    return enquiries.quotation_view(get_session(), row, rates(), gettext)


@api.post("/enquiries/<int:enquiry_id>/quotation")
@endpoint
def draft_quotation(user, enquiry_id):
    """Draft the enquiry's quotation from its product revision's data package."""
    return jsonify(_quotation(enquiries.draft_quotation(get_session(), user, enquiry_id,
                                                        rates()))), 201


@api.get("/quotations/<int:quotation_id>")
@endpoint
def get_quotation(user, quotation_id):
    """A drafted quotation: its lines per quantity and what changed since it was drafted."""
    return jsonify(_quotation(enquiries.find_quotation(get_session(), quotation_id)))


@api.post("/quotations/<int:quotation_id>/lines")
@endpoint
def edit_line(user, quotation_id):
    """Change a line's count or rate for one quantity before the quotation is sent."""
    d = json_body()
    row = enquiries.edit_line(get_session(), user, quotation_id, d.get("quantity"),
                              d.get("code"), d.get("count"), d.get("rate"))
    return jsonify(_quotation(row))


@api.post("/quotations/<int:quotation_id>/send")
@endpoint
def send_quotation(user, quotation_id):
    """The quotation goes out: its lines freeze; the enquiry keeps its hours to quote."""
    return jsonify(_quotation(enquiries.send_quotation(get_session(), user, quotation_id)))


@api.post("/quotations/<int:quotation_id>/confirm")
@endpoint
def confirm_quotation(user, quotation_id):
    """Confirm one quantity: the order gets that quantity and amount (money.confirm's path)."""
    d, session = json_body(), get_session()
    order = enquiries.confirm_quotation(session, user, quotation_id, d.get("quantity"),
                                        d.get("number"))
    return jsonify(order=order.number, quantity=order.quantity,
                   unit_price=money_text(order.unit_price), currency=order.currency,
                   total=money_text(money.order_amount(session, order)),
                   balance_due=money_text(money.balance_due(session, order)))


@api.post("/customers/<code>/audits")
@endpoint
def record_audit(user, code):
    """Record the customer's audit of the factory (JSON, or multipart with its `report`)."""
    report = None
    if request.mimetype == "multipart/form-data":
        d = dict(request.form)
        if isinstance(d.get("findings"), str):
            try:
                d["findings"] = json.loads(d["findings"]) if d["findings"].strip() else []
            except ValueError:
                d["findings"] = [line for line in d["findings"].splitlines() if line.strip()]
        if "report" in request.files:
            f = request.files["report"]
            report = (f.filename, f.read())
    else:
        d = json_body()
    session = get_session()
    row = audits.record_audit(session, user, code, d.get("date"), d.get("auditor"),
                              d.get("company"), d.get("result"), d.get("findings"),
                              d.get("scope"), report)
    return jsonify(audits.audit_view(session, row)), 201


@api.get("/customers/<code>/audits")
@endpoint
def get_audits(user, code):
    """The customer's latest audit, its open findings, and whether one is required."""
    return jsonify(audits.latest_audit(get_session(), code))


@api.post("/audit-findings/<int:finding_id>/close")
@endpoint
def close_finding(user, finding_id):
    """Close an audit finding, with how it was closed (note)."""
    body = request.get_json(silent=True) or {}
    row = audits.close_finding(get_session(), user, finding_id, body.get("note"))
    return jsonify(audits.finding_view(row))


@api.post("/customers/<code>/audit-required")
@endpoint
def set_audit_required(user, code):
    """Whether the customer needs a passed audit before its first order is confirmed."""
    c = audits.set_audit_required(get_session(), user, code, json_body().get("audit_required"))
    return jsonify(code=c.code, audit_required=c.audit_required)
