"""Enquiries: a customer's request, its quotation drafted from the data package, sent, confirmed.

Confirming one quantity writes that price as the order's quotation and confirms it through
money.confirm, creating the order (or updating the enquiry's order) with that quantity.
"""

from datetime import UTC, date, datetime
from decimal import Decimal

from sqlmodel import Session, select

from station import events, people
from station.errors import N_, InvalidInput, NotFound, StationError, Text
from station.masterdata import find_customer, find_product, valid_code
from station.models import (
    Customer,
    Enquiry,
    Product,
    Quotation,
    QuotationDraft,
    User,
    WorkOrder,
    iso,
    utcnow,
)
from station.readiness import packages
from station.shipping import audits, money, quoting

PROMISE_H, WARN_H = 24.0, 16.0  # "a complete quotation within 24 h"; yellow past 16 h
MAX_QUANTITIES, MAX_QUANTITY = 10, 10**6
FILES = ("gerber", "bom", "centroid")


class NoDataPackage(StationError):
    code, status = "NO_DATA_PACKAGE", 409
    message = N_("{product} rev {revision} has no data package to draft a quotation from.")
    todo = N_("Upload the customer's Gerber files, BOM and placement file with the enquiry.")


class QuotationSent(StationError):
    code, status = "QUOTATION_SENT", 409
    message = N_("Quotation {quotation} was sent on {sent_at}: its lines can no longer change.")
    todo = N_("Draft a new quotation from the enquiry.")


class QuotationNotSent(StationError):
    code, status = "QUOTATION_NOT_SENT", 409
    message = N_("Quotation {quotation} has not been sent: the customer has not seen its price.")
    todo = N_("Send the quotation first.")


def _quantities(value) -> list[int]:
    if (not isinstance(value, list) or not 0 < len(value) <= MAX_QUANTITIES or not all(
            isinstance(q, int) and not isinstance(q, bool) and 0 < q <= MAX_QUANTITY
            for q in value)):
        raise InvalidInput(N_("quantities are 1 to {most} whole numbers from 1 to {largest}"),
                           most=MAX_QUANTITIES, largest=MAX_QUANTITY)
    return sorted(set(value))


def _due(value) -> date | None:
    if value in (None, ""):
        return None
    try:
        if not isinstance(value, str):
            raise ValueError(value)
        return date.fromisoformat(value)
    except ValueError:
        raise InvalidInput(N_("due must be a date such as 2026-11-27")) from None


def create_enquiry(session: Session, by: User, customer, product, revision, quantities, due,
                   files: dict | None = None, received_at: datetime | None = None) -> Enquiry:
    """Record a customer's enquiry; `files` (gerber, bom, centroid bytes, bom_name,
    centroid_name) is the data package, checked and stored for the product revision."""
    people.require(by, "quote")
    cust = find_customer(session, customer)
    prod = find_product(session, product, revision)
    wanted, day = _quantities(quantities), _due(due)
    pkg = None
    if files:
        missing = [n for n in FILES if not files.get(n)]
        if missing:
            raise InvalidInput(N_("missing file(s): {files}"), files=", ".join(missing))
        pkg = packages.store(session, by, prod, files["gerber"], files["bom"],
                             files.get("bom_name") or "bom", files["centroid"],
                             files.get("centroid_name") or "centroid", commit=False)
    row = Enquiry(customer_id=cust.id, product_id=prod.id, quantities=wanted, due=day,
                  received_at=received_at or utcnow(), user_id=by.id)
    session.add(row)
    session.flush()
    events.record(session, "enquiry.received", f"enquiry:{row.id}",
                  {"customer": cust.code, "product": prod.code, "revision": prod.revision,
                   "quantities": wanted, "due": day.isoformat() if day else None,
                   "package": pkg.id if pkg else None}, by)
    session.commit()
    return row


def find_enquiry(session: Session, enquiry_id) -> Enquiry:
    """The enquiry, or NOT_FOUND."""
    row = session.get(Enquiry, enquiry_id) if _whole(enquiry_id) else None
    if row is None:
        raise NotFound(what=Text(N_("enquiry")), key=enquiry_id)
    return row


def find_quotation(session: Session, quotation_id) -> QuotationDraft:
    """The drafted quotation, or NOT_FOUND."""
    row = session.get(QuotationDraft, quotation_id) if _whole(quotation_id) else None
    if row is None:
        raise NotFound(what=Text(N_("quotation")), key=quotation_id)
    return row


def _whole(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _aware(dt: datetime) -> datetime:
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)


def hours_between(start: datetime, end: datetime) -> float:
    """Hours from one time to another, to the hundredth."""
    return round((_aware(end) - _aware(start)).total_seconds() / 3600, 2)


def colour(hours: float) -> str:
    """Green within 16 h, yellow past 16 h, red past the 24 h promise."""
    return "red" if hours > PROMISE_H else "yellow" if hours > WARN_H else "green"


def enquiry_view(session: Session, row: Enquiry, now: datetime | None = None) -> dict:
    """An enquiry as the API and the pages show it, with its hours against the promise."""
    cust, prod = session.get(Customer, row.customer_id), session.get(Product, row.product_id)
    hours = row.hours_to_quote if row.quoted_at else hours_between(row.received_at,
                                                                   now or utcnow())
    drafts = session.exec(select(QuotationDraft.id).where(QuotationDraft.enquiry_id == row.id)
                          .order_by(QuotationDraft.id)).all()
    order = session.get(WorkOrder, row.order_id) if row.order_id else None
    return {"id": row.id, "customer": cust.code, "customer_name": cust.name,
            "product": prod.code, "revision": prod.revision, "quantities": row.quantities,
            "due": row.due.isoformat() if row.due else None, "received_at": iso(row.received_at),
            "quoted_at": iso(row.quoted_at), "hours": hours, "colour": colour(hours),
            "hours_to_quote": row.hours_to_quote, "quotations": list(drafts),
            "order": order.number if order else None}


def open_enquiries(session: Session, now: datetime | None = None) -> list[dict]:
    """The enquiries whose quotation has not gone out, oldest first, with hours and colour."""
    rows = session.exec(select(Enquiry).where(Enquiry.quoted_at.is_(None))
                        .order_by(Enquiry.received_at, Enquiry.id)).all()
    return [enquiry_view(session, r, now) for r in rows]


def draft_quotation(session: Session, by: User, enquiry_id, rates: quoting.Rates
                    ) -> QuotationDraft:
    """Draft the enquiry's quotation from its product revision's newest data package."""
    people.require(by, "quote")
    enquiry = find_enquiry(session, enquiry_id)
    prod = session.get(Product, enquiry.product_id)
    pkg = packages.latest(session, prod)
    if pkg is None:
        raise NoDataPackage(product=prod.code, revision=prod.revision)
    drafted = quoting.draft(pkg.report, enquiry.quantities, rates)
    row = QuotationDraft(enquiry_id=enquiry.id, rates_version=rates.version,
                         currency=rates.currency, package_id=pkg.id,
                         package_sha256=dict(pkg.files), lines=quoting.as_json(drafted),
                         user_id=by.id)
    session.add(row)
    session.flush()
    events.record(session, "quotation.drafted", f"enquiry:{enquiry.id}",
                  {"quotation": row.id, "rates_version": rates.version, "package": pkg.id,
                   "package_sha256": row.package_sha256, "currency": row.currency,
                   "totals": {str(q["quantity"]): str(q["total"]) for q in drafted}}, by)
    session.commit()
    return row


def _of_quantity(row: QuotationDraft, quantity) -> int:
    for i, q in enumerate(row.lines):
        if q["quantity"] == quantity:
            return i
    raise NotFound(what=Text(N_("quantity in quotation {quotation}"), quotation=row.id),
                   key=quantity)


def edit_line(session: Session, by: User, quotation_id, quantity, code, count=None,
              rate=None) -> QuotationDraft:
    """Change a line's count or rate (a new line by its code) before the quotation is sent."""
    people.require(by, "quote")
    row = find_quotation(session, quotation_id)
    if row.sent_at is not None:
        raise QuotationSent(quotation=row.id, sent_at=iso(row.sent_at))
    if count is None and rate is None:
        raise InvalidInput(N_("say the line's new count, rate or both"))
    if count is not None and (not _whole(count) or not 0 <= count <= 10**9):
        raise InvalidInput(N_("count must be a whole number of at least 0"))
    if rate is not None:
        rate = money.money(rate, "rate")
        if rate < 0:
            raise InvalidInput(N_("a rate cannot be negative"))
    if not isinstance(code, str) or not code:
        raise InvalidInput(N_("code is a quotation line's code, such as SETUP"))
    quantities = quoting.from_json(row.lines)
    index = _of_quantity(row, quantity)
    lines = quantities[index]["lines"]
    old = next((line for line in lines if line["code"] == code), None)
    if old is None:
        if count is None or rate is None:
            raise NotFound(what=Text(N_("quotation line")), key=code)
        valid_code(code, "code")
        lines.append(quoting.line(code, count, rate, text=code))
    else:
        lines[lines.index(old)] = quoting.line(
            code, old["count"] if count is None else count, old["rate"] if rate is None else rate,
            old.get("params"), text=old["text"])
    quantities[index] = quoting.priced(quantities[index]["quantity"], lines)
    row.lines = quoting.as_json(quantities)
    session.add(row)
    events.record(session, "quotation.line_edited", f"enquiry:{row.enquiry_id}",
                  {"quotation": row.id, "quantity": quantity, "code": code,
                   "count": count, "rate": None if rate is None else str(rate),
                   "before": None if old is None else {"count": old["count"],
                                                       "rate": str(old["rate"])},
                   "total": str(quantities[index]["total"])}, by)
    session.commit()
    return row


def send_quotation(session: Session, by: User, quotation_id, now: datetime | None = None
                   ) -> QuotationDraft:
    """The quotation goes out: its lines freeze and the enquiry keeps its hours to quote."""
    people.require(by, "quote")
    row = find_quotation(session, quotation_id)
    if row.sent_at is not None:
        raise QuotationSent(quotation=row.id, sent_at=iso(row.sent_at))
    enquiry = session.get(Enquiry, row.enquiry_id)
    row.sent_at = now or utcnow()
    if enquiry.quoted_at is None:  # the first quotation out answers the 24 h promise
        enquiry.quoted_at = row.sent_at
        enquiry.hours_to_quote = hours_between(enquiry.received_at, row.sent_at)
    session.add(row)
    session.add(enquiry)
    events.record(session, "quotation.sent", f"enquiry:{enquiry.id}",
                  {"quotation": row.id, "hours_to_quote": enquiry.hours_to_quote}, by)
    session.commit()
    return row


def _first_order(session: Session, cust: Customer) -> bool:
    """Whether no order of the customer has a confirmed price yet."""
    query = (select(Quotation.id).join(WorkOrder, WorkOrder.id == Quotation.order_id)
             .where(WorkOrder.customer_id == cust.id, Quotation.confirmed_at.is_not(None)))
    return session.exec(query).first() is None


def confirm_quotation(session: Session, by: User, quotation_id, quantity, number=None
                      ) -> WorkOrder:
    """Confirm one quantity of a sent quotation: the enquiry's order gets that quantity and
    amount (created as `number`, default ENQ-<enquiry>), by money.confirm's path."""
    people.require(by, "quote")
    row = find_quotation(session, quotation_id)
    if row.sent_at is None:
        raise QuotationNotSent(quotation=row.id)
    priced = quoting.from_json(row.lines)[_of_quantity(row, quantity)]
    enquiry = session.get(Enquiry, row.enquiry_id)
    cust = session.get(Customer, enquiry.customer_id)
    prod = session.get(Product, enquiry.product_id)
    order = session.get(WorkOrder, enquiry.order_id) if enquiry.order_id else None
    if _first_order(session, cust):
        audits.require_passed(session, cust)
    if order is None:
        number = valid_code(number or f"ENQ-{enquiry.id}", "number")
        if session.exec(select(WorkOrder).where(WorkOrder.number == number)).first():
            raise InvalidInput(N_("order {number} exists already: give another number"),
                               number=number)
        order = WorkOrder(number=number, customer_id=cust.id, product_id=prod.id,
                          quantity=quantity, unit_price=priced["per_board"],
                          currency=row.currency,
                          due_date=datetime.combine(enquiry.due, datetime.min.time(), UTC)
                          if enquiry.due else None)
        session.add(order)
        session.flush()
        events.record(session, "order.created", f"order:{order.number}",
                      {"customer": cust.code, "product": prod.code, "revision": prod.revision,
                       "quantity": quantity, "unit_price": str(order.unit_price),
                       "enquiry": enquiry.id}, by)
    else:
        order.quantity, order.unit_price = quantity, priced["per_board"]
        session.add(order)
        events.record(session, "order.requoted", f"order:{order.number}",
                      {"quantity": quantity, "unit_price": str(order.unit_price),
                       "enquiry": enquiry.id}, by)
    charges = [{"name": f"{line['code']}"[:64], "amount": str(line["amount"])}
               for line in priced["lines"]]
    written = Quotation(order_id=order.id, unit_price=priced["per_board"], quantity=quantity,
                        charges=charges, currency=row.currency, total=priced["total"],
                        user_id=by.id)
    session.add(written)
    session.flush()
    events.record(session, "quotation.written", f"order:{order.number}",
                  {"quotation": written.id, "total": str(written.total),
                   "currency": written.currency, "drafted": row.id}, by)
    row.confirmed_quantity, row.quotation_id = quantity, written.id
    enquiry.order_id = order.id
    session.add(row)
    session.add(enquiry)
    money.confirm(session, by, order.number, written.id)  # commits the whole change
    return order


def quotation_view(session: Session, row: QuotationDraft, rates: quoting.Rates | None = None,
                   translate=lambda s: s) -> dict:
    """A drafted quotation as the API shows it; `stale` says what changed since drafting."""
    enquiry = session.get(Enquiry, row.enquiry_id)
    prod = session.get(Product, enquiry.product_id)
    pkg = packages.latest(session, prod)
    stale = []
    if rates is not None and rates.version != row.rates_version:
        stale.append("rates")
    if pkg is None or dict(pkg.files) != dict(row.package_sha256):
        stale.append("data_package")
    quantities = [{**q, "lines": [{**line, "text": _said(line, translate)}
                                  for line in q["lines"]]} for q in row.lines]
    order = session.get(WorkOrder, enquiry.order_id) if enquiry.order_id else None
    return {"id": row.id, "enquiry": enquiry.id, "rates_version": row.rates_version,
            "currency": row.currency, "package": row.package_id,
            "package_sha256": row.package_sha256, "quantities": quantities,
            "created_at": iso(row.created_at), "sent_at": iso(row.sent_at),
            "confirmed_quantity": row.confirmed_quantity, "stale": stale,
            "order": order.number if order else None}


def _said(line: dict, translate) -> str:
    """A line's text in the reader's language (a line added by hand keeps its own)."""
    try:
        return quoting.line_text(line["code"], line.get("params")).say(translate)
    except (KeyError, ValueError):
        return line.get("text") or line["code"]


def total_of(row: QuotationDraft, quantity) -> Decimal:
    """The drafted total of one quantity."""
    return Decimal(row.lines[_of_quantity(row, quantity)]["total"])
