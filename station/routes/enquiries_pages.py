"""Enquiries, quotations drafted from the data package, and the customer's audits: the pages."""

from flask import Blueprint, current_app, g, redirect, render_template, request, url_for
from flask_babel import gettext
from sqlmodel import select

from station.db import get_session
from station.errors import N_, InvalidInput, StationError
from station.masterdata import find_customer
from station.models import Customer, Enquiry, Product, WorkOrder, utcnow
from station.routes.web import login_required, settings, translate_error
from station.shipping import audits, enquiries, quoting

bp = Blueprint("enquiry_pages", __name__)

FILES = ("gerber", "bom", "centroid")


def _rates() -> quoting.Rates:
    """The quoting rates config/quoting.toml gave at start."""
    return current_app.extensions["quoting"]


def _quantities(text: str) -> list[int]:
    """'100, 500 1000' as [100, 500, 1000]; anything else is INVALID_INPUT."""
    try:
        return [int(q) for q in text.replace(",", " ").split()]
    except ValueError:
        raise InvalidInput(N_("quantities are whole numbers such as 100, 500")) from None


def _whole(text, what: str) -> int:
    """A form's whole number, or INVALID_INPUT."""
    try:
        return int(text or "")
    except ValueError:
        raise InvalidInput(N_("{what} must be a whole number"), what=what) from None


def _files() -> dict | None:
    """The uploaded data package (Gerber zip, BOM, centroid), or None when none was chosen."""
    files = request.files
    if not any(n in files and files[n].filename for n in FILES):
        return None
    if not all(n in files and files[n].filename for n in FILES):
        raise InvalidInput(N_("choose the Gerber zip, the BOM and the centroid file"))
    return {"gerber": files["gerber"].read(), "bom": files["bom"].read(),
            "bom_name": files["bom"].filename, "centroid": files["centroid"].read(),
            "centroid_name": files["centroid"].filename}


@bp.route("/enquiries", methods=("GET", "POST"))
@login_required()
def list_enquiries():
    """The open enquiries with the hours since received against the 24 h promise; a new one."""
    session, error, status = get_session(), None, 200
    if request.method == "POST":
        f = request.form
        try:
            enquiries.create_enquiry(session, g.user, f.get("customer"), f.get("product"),
                                     f.get("revision"), _quantities(f.get("quantities", "")),
                                     f.get("due"), files=_files())
            return redirect(url_for("enquiry_pages.list_enquiries"))
        except StationError as err:
            session.rollback()
            error, status = translate_error(err), err.status
    return _enquiries_page(session, error, status)


def _enquiries_page(session, error=None, status=200):
    """The enquiries page, with an error of the last action if any."""
    customers = session.exec(select(Customer).order_by(Customer.code)).all()
    products = session.exec(select(Product).order_by(Product.code, Product.revision)).all()
    quoted = session.exec(select(Enquiry).where(Enquiry.quoted_at.is_not(None),
                                                Enquiry.order_id.is_(None))
                          .order_by(Enquiry.quoted_at.desc()).limit(50)).all()
    return render_template("enquiries.html", enquiries=enquiries.open_enquiries(session, utcnow()),
                           quoted=[enquiries.enquiry_view(session, e) for e in quoted],
                           customers=customers, products=products, error=error,
                           form=request.form), status


@bp.post("/enquiries/<int:enquiry_id>/quotation")
@login_required("quote")
def draft_quotation(enquiry_id):
    """Draft the enquiry's quotation from its product revision's data package."""
    session = get_session()
    try:
        row = enquiries.draft_quotation(session, g.user, enquiry_id, _rates())
    except StationError as err:
        session.rollback()
        return _enquiries_page(session, translate_error(err), err.status)
    return redirect(url_for("enquiry_pages.show_quotation", quotation_id=row.id))


def _quotation(session, quotation_id: int) -> dict:
    """What the quotation pages show: the enquiry, customer, product, and lines per quantity."""
    row = enquiries.find_quotation(session, quotation_id)
    view = enquiries.quotation_view(session, row, _rates(), gettext)
    enquiry = session.get(Enquiry, row.enquiry_id)
    changed = []
    if "rates" in view["stale"]:
        changed.append(gettext("The rates changed since this was drafted (version %(then)s, "
                               "now %(now)s).", then=row.rates_version, now=_rates().version))
    if "data_package" in view["stale"]:
        changed.append(gettext("The product's data package changed since this was drafted."))
    order = session.get(WorkOrder, enquiry.order_id) if enquiry.order_id else None
    return {"row": row, "enquiry": enquiry, "customer": session.get(Customer, enquiry.customer_id),
            "product": session.get(Product, enquiry.product_id), "quantities": view["quantities"],
            "order": order, "sent": row.sent_at, "confirmed": row.confirmed_quantity,
            "changed": changed}


def _edit(session, quotation_id: int, f) -> None:
    """One line's count or rate changed, before the quotation is sent."""
    count = f.get("count") or None
    enquiries.edit_line(session, g.user, quotation_id, _whole(f.get("quantity"), "quantity"),
                        f.get("code"), count=None if count is None else _whole(count, "count"),
                        rate=f.get("rate") or None)


@bp.route("/quotations/<int:quotation_id>", methods=("GET", "POST"))
@login_required()
def show_quotation(quotation_id):
    """The drafted quotation: its lines per quantity, editable until sent; send; confirm."""
    session, error, status = get_session(), None, 200
    if request.method == "POST":
        f = request.form
        try:
            if f.get("action") == "send":
                enquiries.send_quotation(session, g.user, quotation_id)
            elif f.get("action") == "confirm":
                enquiries.confirm_quotation(session, g.user, quotation_id,
                                            _whole(f.get("quantity"), "quantity"))
            else:
                _edit(session, quotation_id, f)
            return redirect(url_for("enquiry_pages.show_quotation", quotation_id=quotation_id))
        except StationError as err:
            session.rollback()
            error, status = translate_error(err), err.status
    return render_template("quotation.html", q=_quotation(session, quotation_id),
                           error=error), status


@bp.get("/quotations/<int:quotation_id>/print")
@login_required()
def print_quotation(quotation_id):
    """The quotation on one printable page, with the factory's name."""
    return render_template("quotation_print.html", q=_quotation(get_session(), quotation_id),
                           factory=settings().site.name)


def _findings(text: str) -> list[dict]:
    """One finding a line, its due date after a bar: 'ESD straps untested | 2026-12-01'."""
    found = []
    for raw in text.splitlines():
        finding, _, due = raw.partition("|")
        if finding.strip():
            found.append({"text": finding.strip(), "due": due.strip() or None})
    return found


def _record_audit(session, code: str, f) -> None:
    """The customer's audit from the page's form, with its report file if one was chosen."""
    report = request.files.get("report")
    audits.record_audit(session, g.user, code, f.get("date"), f.get("auditor"),
                        f.get("company"), f.get("result"), _findings(f.get("findings", "")),
                        scope=f.get("scope") or None,
                        report=(report.filename, report.read()) if report and report.filename
                        else None)


@bp.route("/customers/<code>", methods=("GET", "POST"))
@login_required()
def show_customer(code):
    """The customer: terms, the latest audit of the factory, open findings; audit required."""
    session, error, status = get_session(), None, 200
    if request.method == "POST":
        f = request.form
        try:
            if f.get("action") == "close":
                audits.close_finding(session, g.user, _whole(f.get("finding"), "finding"))
            elif f.get("action") == "audit":
                _record_audit(session, code, f)
            else:
                audits.set_audit_required(session, g.user, code, f.get("required") == "1")
            return redirect(url_for("enquiry_pages.show_customer", code=code))
        except StationError as err:
            session.rollback()
            error, status = translate_error(err), err.status
    customer = find_customer(session, code)
    return render_template("customer.html", customer=customer,
                           audit=audits.latest_audit(session, customer), error=error), status
