"""Money: quotations, invoices, payments and their reversals, customer terms, balance due."""

from datetime import date
from decimal import Decimal

from sqlmodel import Session, func, select

from station import events, people
from station.errors import N_, InvalidInput, NotFound, StationError, Text
from station.masterdata import find_customer, find_order, money
from station.models import Customer, Invoice, Payment, Quotation, User, WorkOrder, utcnow

CENT = Decimal("0.01")


class PaymentRefused(StationError):
    code, status = "PAYMENT_REFUSED", 400
    message = N_("{detail}")
    todo = N_("Record the amount actually received, in the order's currency.")


def lock_order(session: Session, number) -> WorkOrder:
    """The order, locked for this transaction (PostgreSQL row lock; SQLite locks at BEGIN)."""
    return find_order(session, number, lock=True)


def _confirmed(session: Session, order: WorkOrder) -> Quotation | None:
    return session.exec(select(Quotation).where(Quotation.order_id == order.id,
                                                Quotation.confirmed_at.is_not(None))
                        .order_by(Quotation.id.desc())).first()


def order_amount(session: Session, order: WorkOrder) -> Decimal:
    """What the order costs: its confirmed quotation's total, else unit price times quantity."""
    quotation = _confirmed(session, order)
    if quotation is not None:
        return quotation.total
    return (order.unit_price * order.quantity).quantize(CENT)


def paid(session: Session, order: WorkOrder) -> Decimal:
    """The sum of the order's payments, reversals subtracted."""
    total = session.exec(select(func.coalesce(func.sum(Payment.amount), 0))
                         .where(Payment.order_id == order.id)).one()
    return Decimal(total).quantize(CENT)


def balance_due(session: Session, order: WorkOrder) -> Decimal:
    """What the customer still owes for the order."""
    return order_amount(session, order) - paid(session, order)


def quote(session: Session, by: User, number, unit_price, quantity=None, charges=None,
          currency=None) -> Quotation:
    """Write a quotation for an order: unit price, quantity, one-off charges, currency."""
    people.require(by, "quote")
    order = find_order(session, number)
    price = money(unit_price, "unit_price")
    quantity = order.quantity if quantity is None else quantity
    if isinstance(quantity, bool) or not isinstance(quantity, int) or quantity < 1:
        raise InvalidInput(N_("quantity must be a whole number of at least 1"))
    items = []
    for c in charges or []:
        if not isinstance(c, dict) or not isinstance(c.get("name"), str) or not c["name"]:
            raise InvalidInput(N_("each charge needs a name and an amount"))
        amount = money(c.get("amount"), f"charge {c['name'][:32]}")
        if amount < 0:
            raise InvalidInput(N_("a charge cannot be negative"))
        items.append({"name": c["name"][:64], "amount": str(amount)})
    currency = currency or order.currency
    if not isinstance(currency, str) or len(currency) != 3 or not currency.isalpha():
        raise InvalidInput(N_("currency is a three-letter ISO code such as USD"))
    total = (price * quantity + sum(Decimal(c["amount"]) for c in items)).quantize(CENT)
    if price < 0:
        raise InvalidInput(N_("unit_price cannot be negative"))
    row = Quotation(order_id=order.id, unit_price=price, quantity=quantity, charges=items,
                    currency=currency.upper(), total=total, user_id=by.id)
    session.add(row)
    session.flush()
    events.record(session, "quotation.written", f"order:{order.number}",
                  {"quotation": row.id, "total": str(total), "currency": row.currency}, by)
    session.commit()
    return row


def confirm(session: Session, by: User, number, quotation_id=None) -> Quotation:
    """Confirm the order's (newest) quotation: its total becomes the order's amount."""
    people.require(by, "quote")
    order = lock_order(session, number)
    query = select(Quotation).where(Quotation.order_id == order.id)
    if quotation_id is not None:
        if isinstance(quotation_id, bool) or not isinstance(quotation_id, int):
            raise InvalidInput(N_("quotation is a quotation's id, a whole number"))
        query = query.where(Quotation.id == quotation_id)
    row = session.exec(query.order_by(Quotation.id.desc())).first()
    if row is None:
        raise NotFound(what=Text(N_("quotation for order")), key=order.number)
    if row.currency != order.currency and paid(session, order) != 0:
        # The payments are in the order's currency; another would mix them in one balance.
        raise InvalidInput(N_("the order has payments in {paid_in}: a quotation in {currency} "
                              "cannot set its price"), paid_in=order.currency,
                           currency=row.currency)
    row.confirmed_by_id, row.confirmed_at = by.id, utcnow()
    order.currency = row.currency
    session.add(row)
    session.add(order)
    events.record(session, "quotation.confirmed", f"order:{order.number}",
                  {"quotation": row.id, "total": str(row.total), "currency": row.currency}, by)
    session.commit()
    return row


def invoice(session: Session, by: User, number, amount=None) -> Invoice:
    """Issue an invoice for the order (its balance due unless an amount is given)."""
    people.require(by, "payment")
    order = lock_order(session, number)
    value = balance_due(session, order) if amount is None else money(amount, "amount")
    if value <= 0:
        raise InvalidInput(N_("nothing to invoice: the amount must be above zero"))
    count = session.exec(select(func.count()).select_from(Invoice)
                         .where(Invoice.order_id == order.id)).one()
    row = Invoice(number=f"INV-{order.number}-{count + 1}", order_id=order.id,
                  amount=value.quantize(CENT), currency=order.currency, user_id=by.id)
    session.add(row)
    events.record(session, "invoice.issued", f"order:{order.number}",
                  {"invoice": row.number, "amount": str(row.amount), "currency": row.currency},
                  by)
    session.commit()
    return row


def record_payment(session: Session, by: User, number, amount, reference, paid_on=None,
                   currency=None) -> Payment:
    """Finance records money received for an order; zero, negative or foreign money is refused."""
    people.require(by, "payment")
    order = lock_order(session, number)
    value = money(amount, "amount")
    if value <= 0:
        raise PaymentRefused(N_("a payment must be above zero, not {value}"), value=value)
    if value != value.quantize(CENT):
        raise PaymentRefused(N_("a payment has at most two decimals"))
    if currency is not None and (not isinstance(currency, str) or
                                 currency.upper() != order.currency):
        raise PaymentRefused(N_("the order is in {currency}, not {other}"),
                             currency=order.currency, other=currency)
    if not isinstance(reference, str) or not reference.strip() or len(reference) > 64:
        raise InvalidInput(N_("a payment needs its bank or cash reference (1 to 64 chars)"))
    day = _day(paid_on)
    row = Payment(order_id=order.id, amount=value, currency=order.currency,
                  reference=reference.strip(), paid_on=day, user_id=by.id)
    session.add(row)
    session.flush()
    events.record(session, "payment.recorded", f"order:{order.number}",
                  {"payment": row.id, "amount": str(value), "currency": row.currency,
                   "reference": row.reference, "paid_on": day.isoformat()}, by)
    session.commit()
    return row


def reverse_payment(session: Session, by: User, number, payment_id, reason) -> Payment:
    """Reverse a payment by a new record pointing at it (a bounced transfer, a refund)."""
    people.require(by, "payment")
    order = lock_order(session, number)
    original = session.get(Payment, payment_id) if isinstance(payment_id, int) else None
    if original is None or original.order_id != order.id or original.amount <= 0:
        raise NotFound(what=Text(N_("payment")), key=payment_id)
    if session.exec(select(Payment).where(Payment.reverses_id == original.id)).first():
        raise InvalidInput(N_("payment {payment} is already reversed"), payment=original.id)
    if not isinstance(reason, str) or not reason.strip():
        raise InvalidInput(N_("a reversal needs a reason"))
    row = Payment(order_id=order.id, amount=-original.amount, currency=original.currency,
                  reference=f"reversal of {original.id}: {reason.strip()}"[:64],
                  paid_on=date.today(), reverses_id=original.id, user_id=by.id)
    session.add(row)
    session.flush()
    events.record(session, "payment.reversed", f"order:{order.number}",
                  {"payment": row.id, "reverses": original.id, "amount": str(row.amount),
                   "reason": reason.strip()}, by)
    session.commit()
    return row


def _day(value) -> date:
    if value is None:
        return date.today()
    try:
        if not isinstance(value, str):  # a number or a list is no date (None was a 500)
            raise ValueError(value)
        return date.fromisoformat(value)
    except ValueError:
        raise InvalidInput(N_("paid_on must be a date such as 2026-11-27")) from None


def set_terms(session: Session, by: User, code, terms) -> Customer:
    """Finance approves monthly terms (who, when) or puts the customer back on prepaid."""
    people.require(by, "terms")
    if terms not in ("prepaid", "monthly"):
        raise InvalidInput(N_("terms must be 'prepaid' or 'monthly'"))
    customer = find_customer(session, code)
    old = customer.terms
    customer.terms = customer.requested_terms = terms
    customer.terms_approved_by_id = by.id if terms == "monthly" else None
    customer.terms_approved_at = utcnow() if terms == "monthly" else None
    session.add(customer)
    events.record(session, "customer.terms_set", f"customer:{customer.code}",
                  {"terms": terms, "previous": old}, by)
    session.commit()
    return customer


def payments(session: Session, order: WorkOrder) -> list[Payment]:
    """The order's payments and reversals, oldest first."""
    return list(session.exec(select(Payment).where(Payment.order_id == order.id)
                             .order_by(Payment.id)))
