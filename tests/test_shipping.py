"""The shipment gate in the domain: every blocker alone and all at once, the release with badge
and PIN again, roles, exact money (payments, reversals, quotations, invoices), packing, and a
release racing a payment reversal or a hold on SQLite and PostgreSQL."""

import itertools
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

import pytest
from conftest import PEPPER, ROUTE, build_line, make_app, make_ready
from sqlmodel import Session, func, select

from station import events, masterdata
from station.errors import BadCredentials, Forbidden, InvalidInput, NotFound, NotReady
from station.line import scanning
from station.models import (
    Box,
    Event,
    Invoice,
    Payment,
    Shipment,
    SsccCounter,
    User,
    WorkOrder,
)
from station.quality import fct, holds, qa
from station.readiness import stencils
from station.shipping import gate, labels, money

FCT = ROUTE.index("FCT")
CODES = ("ALREADY_SHIPPED", "NOT_ALL_PASSED", "NOT_SIGNED_OFF", "SIGNOFF_VOID", "ON_HOLD",
         "NOT_READY", "NOT_PAID")
BADGE = {"operator": "10001", "qa": "10002", "supervisor": "10004"}
_numbers = itertools.count(1)


# One database and one line for the module (users are slow to hash); each test opens orders.
@pytest.fixture(scope="module")
def app(tmp_path_factory):
    app = make_app(tmp_path_factory.mktemp("shipping"))
    yield app
    app.extensions["engine"].dispose()


@pytest.fixture(scope="module")
def line(app):
    with Session(app.extensions["engine"], expire_on_commit=False) as s:
        return build_line(s, boards=1, tokens=False)


# --- helpers: an order taken all the way -------------------------------------------------------


def open_order(session, line, boards=2, customer="CUST", unit_price="2.50", ready=True,
               panel_size=None):
    """A fresh order of the line's product with its boards, its readiness green when asked."""
    number = f"S{next(_numbers)}"
    admin = line.users["admin"]
    masterdata.create_order(session, admin, number, customer, "PCB", "A", boards, unit_price)
    serials = masterdata.add_boards(session, admin, number, count=boards, panel_size=panel_size)
    if ready:
        make_ready(session, line, number)
    return number, serials


def new_customer(session, line, terms="prepaid") -> str:
    code = f"C{next(_numbers)}"
    masterdata.create_customer(session, line.users["admin"], code, f"Customer {code}", terms)
    return code


def walk(session, line, serials, upto="PACK", rules=None):
    """Each board through the route up to a step: scans, FCT by a passing test result."""
    op = line.users["operator"]
    for serial in serials:
        for step in ROUTE[:ROUTE.index(upto) + 1]:
            if step == "FCT":
                fct.record_result(session, op, serial, "T-FCT", "pass", program="fct",
                                  program_version="1.0")
            else:
                scanning.scan(session, f"T-{step}", serial, op, rules=rules)


def sign(session, line, number):
    return qa.sign(session, line.users["qa"], number, "10002", "1234", qa.MEANINGS[0],
                   pepper=PEPPER)


def pay(session, line, number, amount=None) -> Payment:
    """Finance pays the balance due (or the amount given)."""
    if amount is None:
        amount = money.balance_due(session, masterdata.find_order(session, number))
    return money.record_payment(session, line.users["finance"], number, amount, f"BANK-{number}")


def ready_to_ship(session, line, boards=2, customer="CUST"):
    """An order with every board through the route, signed by QA and paid: it may ship."""
    number, serials = open_order(session, line, boards, customer)
    walk(session, line, serials)
    sign(session, line, number)
    payment = pay(session, line, number)
    return number, serials, payment


def codes(session, number, rules=None) -> list[str]:
    """The codes of the order's blockers, in the gate's order (the read transaction ended)."""
    found = gate.blockers(session, masterdata.find_order(session, number), rules)
    session.commit()  # ends the read: on SQLite an open transaction holds the write lock
    return [b["code"] for b in found]


def release(session, line, number, role="operator", badge=None, pin="1234"):
    return gate.release(session, line.users[role], number, badge or BADGE[role], pin,
                            pepper=PEPPER)


def stored(session) -> dict:
    """What a refused release must leave alone: shipments, events, payments, closed boxes."""
    out = {m.__name__: session.exec(select(func.count()).select_from(m)).one()
           for m in (Shipment, Event, Payment)}
    out["closed_boxes"] = session.exec(select(func.count()).select_from(Box)
                                       .where(Box.closed_at.is_not(None))).one()
    session.commit()
    return out


# --- the whole way, and each blocker alone -----------------------------------------------------


@pytest.mark.parametrize("role", ["operator", "qa", "supervisor"])
def test_an_order_taken_all_the_way_ships_once(session, line, role):
    number, serials, _ = ready_to_ship(session, line, boards=3)
    assert codes(session, number) == []

    shipment = release(session, line, number, role)

    assert shipment.id is not None and shipment.boards == 3 and shipment.boxes == 1
    assert shipment.user_id == line.users[role].id
    order = masterdata.find_order(session, number)
    assert [b["closed"] for b in gate.packing_list(session, order)] == [True]
    shipped = session.exec(select(Event).where(Event.kind == "order.shipped",
                                               Event.subject == f"order:{number}")).one()
    assert shipped.payload == {"boxes": 1, "boards": 3, "released_by": line.users[role].full_name}
    assert codes(session, number) == ["ALREADY_SHIPPED"]


def test_a_board_not_packed_is_not_all_passed_alone(session, line):
    number, serials = open_order(session, line, boards=3)
    walk(session, line, serials[:2])
    walk(session, line, serials[2:], upto="QA")  # tested, signed, paid: only PACK is missing
    sign(session, line, number)
    pay(session, line, number)

    found = gate.blockers(session, masterdata.find_order(session, number))

    assert [b["code"] for b in found] == ["NOT_ALL_PASSED"]
    assert "1 board(s) have not completed their route up to PACK" in found[0]["message"]
    scanning.scan(session, "T-PACK", serials[2], line.users["operator"])
    assert codes(session, number) == []


def test_a_board_not_passed_is_not_all_passed_and_voids_the_signature(session, line):
    # A signature covers the test results, so a board losing its pass always voids it too.
    number, serials, _ = ready_to_ship(session, line, boards=2)
    fct.record_result(session, line.users["operator"], serials[1], "T-FCT", "fail",
                      defect_code="SHORT")

    found = gate.blockers(session, masterdata.find_order(session, number))

    assert [b["code"] for b in found] == ["NOT_ALL_PASSED", "SIGNOFF_VOID"]
    assert serials[1] in found[0]["message"] and "without a final pass" in found[0]["message"]


def test_a_packed_board_scrapped_does_not_stand_in_for_one_not_packed(session, line):
    # Three boards for two: one packed and then scrapped, one packed, the spare not packed.
    number = f"S{next(_numbers)}"
    admin = line.users["admin"]
    masterdata.create_order(session, admin, number, "CUST", "PCB", "A", 2, "2.50")
    scrapped, packed, spare = masterdata.add_boards(session, admin, number, count=3)
    make_ready(session, line, number)
    walk(session, line, [scrapped, packed])
    walk(session, line, [spare], upto="QA")
    fct.scrap(session, line.users["qa"], scrapped, "cracked when boxed")
    sign(session, line, number)
    pay(session, line, number)

    found = gate.blockers(session, masterdata.find_order(session, number))

    assert [b["code"] for b in found] == ["NOT_ALL_PASSED"]
    assert "1 board(s) have not completed their route up to PACK" in found[0]["message"]
    session.commit()
    scanning.scan(session, "T-PACK", spare, line.users["operator"])
    assert codes(session, number) == []


def test_not_signed_off_alone(session, line):
    number, serials = open_order(session, line)
    walk(session, line, serials)
    pay(session, line, number)

    found = gate.blockers(session, masterdata.find_order(session, number))

    assert [b["code"] for b in found] == ["NOT_SIGNED_OFF"]
    assert found[0]["who"] == "qa" and found[0]["todo"]
    session.commit()
    sign(session, line, number)
    assert codes(session, number) == []


def test_a_later_attempt_voids_the_signature_alone_until_qa_signs_again(session, line):
    number, serials, _ = ready_to_ship(session, line)
    signed = qa.signoff_view(session, masterdata.find_order(session, number))
    fct.record_result(session, line.users["operator"], serials[0], "T-FCT", "pass",
                      program="fct", program_version="1.1")  # a retest, passed again

    found = gate.blockers(session, masterdata.find_order(session, number))

    assert [b["code"] for b in found] == ["SIGNOFF_VOID"]
    assert "Qa One" in found[0]["message"] and signed["signed_at"] in found[0]["message"]
    session.commit()
    sign(session, line, number)
    assert codes(session, number) == []


def test_an_order_hold_blocks_alone_until_released(session, line):
    number, _, _ = ready_to_ship(session, line)
    holds.place_hold(session, line.users["qa"], number, "customer changed the BOM")

    found = gate.blockers(session, masterdata.find_order(session, number))

    assert [b["code"] for b in found] == ["ON_HOLD"]
    assert "customer changed the BOM" in found[0]["message"]
    session.commit()
    assert holds.release_holds(session, line.users["qa"], number) == 1
    assert codes(session, number) == []


def test_a_single_board_hold_blocks_the_order_alone(session, line):
    number, serials, _ = ready_to_ship(session, line)
    holds.place_hold(session, line.users["qa"], number, "X-ray voids on U5", serial=serials[1])

    assert codes(session, number) == ["ON_HOLD"]
    assert holds.release_holds(session, line.users["qa"], number) == 0  # the order's: none
    assert codes(session, number) == ["ON_HOLD"]
    assert holds.release_holds(session, line.users["qa"], number, serial=serials[1]) == 1
    assert codes(session, number) == []


def test_a_prepaid_customer_with_a_balance_is_not_paid_alone(session, line):
    number, serials = open_order(session, line, boards=2, unit_price="2.50")
    walk(session, line, serials)
    sign(session, line, number)
    pay(session, line, number, "3.00")

    found = gate.blockers(session, masterdata.find_order(session, number))

    assert [b["code"] for b in found] == ["NOT_PAID"]
    assert "2.00 USD is due" in found[0]["message"] and "prepaid" in found[0]["message"]
    assert found[0]["who"] == "finance"
    session.commit()
    pay(session, line, number, "2.00")
    assert codes(session, number) == []


def test_monthly_terms_asked_at_creation_count_only_once_finance_approves(session, line):
    code = new_customer(session, line, terms="monthly")
    customer = masterdata.find_customer(session, code)
    assert (customer.terms, customer.requested_terms) == ("prepaid", "monthly")
    number, serials = open_order(session, line, customer=code)
    walk(session, line, serials)
    sign(session, line, number)
    assert codes(session, number) == ["NOT_PAID"]  # asked for, not approved

    for role in ("operator", "qa", "admin", "supervisor"):
        with pytest.raises(Forbidden):
            money.set_terms(session, line.users[role], code, "monthly")
    approved = money.set_terms(session, line.users["finance"], code, "monthly")
    assert approved.terms == "monthly"
    assert approved.terms_approved_by_id == line.users["finance"].id
    assert approved.terms_approved_at is not None
    assert codes(session, number) == []  # owes 5.00 and may ship: approved monthly terms

    revoked = money.set_terms(session, line.users["finance"], code, "prepaid")
    assert (revoked.terms, revoked.terms_approved_by_id, revoked.terms_approved_at) \
        == ("prepaid", None, None)
    assert codes(session, number) == ["NOT_PAID"]
    kinds = [e.payload for e in session.exec(select(Event).where(
        Event.subject == f"customer:{code}", Event.kind == "customer.terms_set")
        .order_by(Event.id))]
    assert kinds == [{"terms": "monthly", "previous": "prepaid"},
                     {"terms": "prepaid", "previous": "monthly"}]


def test_red_readiness_blocks_only_while_boards_are_unfinished(session, line):
    number, serials = open_order(session, line, boards=2)
    walk(session, line, serials[:1])
    walk(session, line, serials[1:], upto="QA")
    sign(session, line, number)
    pay(session, line, number)
    stencils.record_inspection(session, line.users["operator"], f"ST-PCB-A-{number}", True,
                               "dented")

    found = gate.blockers(session, masterdata.find_order(session, number))

    assert [b["code"] for b in found] == ["NOT_ALL_PASSED", "NOT_READY"]
    assert "damaged" in found[1]["message"]
    session.commit()
    with pytest.raises(NotReady):  # why it blocks: the last board cannot be packed
        scanning.scan(session, "T-PACK", serials[1], line.users["operator"])
    session.rollback()

    done, _, _ = ready_to_ship(session, line)
    stencils.record_inspection(session, line.users["operator"], f"ST-PCB-A-{done}", True,
                               "dented after the job")
    assert codes(session, done) == []  # its boards are finished: readiness is history


def test_already_shipped_after_a_release(session, line):
    number, _, _ = ready_to_ship(session, line)
    release(session, line, number)
    before = stored(session)

    with pytest.raises(gate.ShipmentBlocked) as err:
        release(session, line, number, "supervisor")
    session.rollback()

    assert [b["code"] for b in err.value.params["blockers"]] == ["ALREADY_SHIPPED"]
    assert stored(session) == before
    assert session.exec(select(func.count()).select_from(Shipment).join(
        WorkOrder).where(WorkOrder.number == number)).one() == 1


# --- every blocker at once ---------------------------------------------------------------------


def test_a_fresh_order_lists_every_blocker_at_once_and_release_stores_nothing(session, line):
    number, serials = open_order(session, line, boards=3, ready=False)
    holds.place_hold(session, line.users["qa"], number, "first article pending")
    before = stored(session)

    with pytest.raises(gate.ShipmentBlocked) as err:
        release(session, line, number)
    session.rollback()

    found = err.value.params["blockers"]
    assert [b["code"] for b in found] == ["NOT_ALL_PASSED", "NOT_SIGNED_OFF", "ON_HOLD",
                                          "NOT_READY", "NOT_PAID"]
    assert all(b["message"] and b["todo"] and b["who"] for b in found)
    assert err.value.code == "SHIPMENT_BLOCKED"
    assert err.value.body()["error"]["blockers"] == found
    assert all(code in str(err.value) for code in (b["code"] for b in found))
    assert "7.50 USD is due" in found[-1]["message"]
    assert "No stencil" in found[3]["message"]
    assert stored(session) == before
    assert codes(session, number) == [b["code"] for b in found]


def test_a_shipped_order_disturbed_afterwards_lists_the_other_codes_at_once(session, line):
    # NOT_SIGNED_OFF and SIGNOFF_VOID exclude each other; with the test above: every code.
    number, serials, payment = ready_to_ship(session, line)
    release(session, line, number)
    masterdata.add_boards(session, line.users["admin"], number, count=1)  # an extra board
    holds.place_hold(session, line.users["qa"], number, "returned by the customer")
    money.reverse_payment(session, line.users["finance"], number, payment.id, "bounced")
    stencils.record_inspection(session, line.users["operator"], f"ST-PCB-A-{number}", True)

    found = codes(session, number)

    assert found == ["ALREADY_SHIPPED", "NOT_ALL_PASSED", "SIGNOFF_VOID", "ON_HOLD",
                     "NOT_READY", "NOT_PAID"]
    assert set(found) | {"NOT_SIGNED_OFF"} == set(CODES)
    assert set(gate.ADVICE) == set(CODES)


# --- the release: badge and PIN of the caller, roles -------------------------------------------


def test_release_needs_the_callers_own_badge_and_pin(session, line):
    number, _, _ = ready_to_ship(session, line)
    operator = line.users["operator"]
    before = stored(session)
    for badge, pin in (("10001", "9999"), ("10001", ""), ("10001", None),  # wrong PINs
                       ("10002", "1234"), ("10004", "1234"),  # another person's badge
                       ("99999", "1234"), (None, "1234"), (10001, "1234")):
        with pytest.raises(BadCredentials):
            gate.release(session, operator, number, badge, pin, pepper=PEPPER)
        session.rollback()
    assert stored(session) == before
    session.expire_all()
    assert session.get(User, operator.id).failed_pins == 3  # the wrong PINs counted
    assert not session.get(User, operator.id).locked
    session.commit()

    assert release(session, line, number).boards == 2
    session.expire_all()
    assert session.get(User, operator.id).failed_pins == 0


@pytest.mark.parametrize("role", ["admin", "finance"])
def test_admin_and_finance_cannot_ship(session, line, role):
    number, _, _ = ready_to_ship(session, line)
    before = stored(session)
    with pytest.raises(Forbidden):
        gate.release(session, line.users[role], number, "10001", "1234", pepper=PEPPER)
    session.rollback()
    assert stored(session) == before
    assert codes(session, number) == []


def test_each_role_does_only_its_own_money_and_signature(session, line):
    number, serials = open_order(session, line)
    walk(session, line, serials)
    before = stored(session)
    for role in ("operator", "qa", "supervisor", "admin"):
        with pytest.raises(Forbidden):
            money.record_payment(session, line.users[role], number, "5.00", "BANK-1")
        with pytest.raises(Forbidden):
            money.invoice(session, line.users[role], number)
    for role in ("finance", "operator", "supervisor", "admin"):
        with pytest.raises(Forbidden):
            qa.sign(session, line.users[role], number, "10002", "1234", qa.MEANINGS[0],
                    pepper=PEPPER)
    for role in ("operator", "qa", "supervisor"):
        with pytest.raises(Forbidden):
            money.quote(session, line.users[role], number, "1.00")
    session.rollback()
    assert stored(session) == before
    assert codes(session, number) == ["NOT_SIGNED_OFF", "NOT_PAID"]


# --- money -------------------------------------------------------------------------------------


def test_bad_payments_are_refused_with_the_reason_and_store_nothing(session, line):
    number, _ = open_order(session, line, boards=2)
    fin = line.users["finance"]
    before = stored(session)
    refused = {"0": "above zero", "0.00": "above zero", "-5.00": "above zero",
               -1: "above zero", "0.001": "two decimals"}
    for amount, reason in refused.items():
        with pytest.raises(money.PaymentRefused, match=reason) as err:
            money.record_payment(session, fin, number, amount, "BANK-1")
        assert err.value.status == 400 and err.value.code == "PAYMENT_REFUSED"
        session.rollback()
    with pytest.raises(money.PaymentRefused, match="the order is in USD, not EUR"):
        money.record_payment(session, fin, number, "5.00", "BANK-1", currency="EUR")
    session.rollback()
    for amount in ("abc", "", None, True, "NaN", "Infinity", [5], "1e20", "5.00001"):
        with pytest.raises(InvalidInput):
            money.record_payment(session, fin, number, amount, "BANK-1")
        session.rollback()
    for reference in (None, "", "   ", "x" * 65, 42):
        with pytest.raises(InvalidInput):
            money.record_payment(session, fin, number, "5.00", reference)
        session.rollback()
    for paid_on in ("yesterday", "2026-13-01", 20260101, ["2026-01-01"]):
        with pytest.raises(InvalidInput, match="paid_on"):
            money.record_payment(session, fin, number, "5.00", "BANK-1", paid_on=paid_on)
        session.rollback()
    with pytest.raises(NotFound):
        money.record_payment(session, fin, "NO-SUCH", "5.00", "BANK-1")
    session.rollback()
    assert stored(session) == before
    assert money.balance_due(session, masterdata.find_order(session, number)) == Decimal("5.00")


def test_amounts_are_exact_decimals(session, line):
    number, serials = open_order(session, line, boards=1, unit_price="0.30")
    walk(session, line, serials)
    sign(session, line, number)
    order = masterdata.find_order(session, number)
    assert money.balance_due(session, order) == Decimal("0.30")

    money.record_payment(session, line.users["finance"], number, "0.10", "BANK-A")
    money.record_payment(session, line.users["finance"], number, 0.2, "BANK-B",
                         paid_on="2026-03-01", currency="USD")  # a JSON number

    due = money.balance_due(session, order)
    assert due == Decimal("0.00") and str(due) == "0.00"
    assert money.paid(session, order) == Decimal("0.30")
    assert [p.amount for p in money.payments(session, order)] == [Decimal("0.10"),
                                                                   Decimal("0.20")]
    assert [p.paid_on.isoformat() for p in money.payments(session, order)][1] == "2026-03-01"
    assert codes(session, number) == []


def test_a_reversal_is_a_new_negative_record_pointing_at_the_payment(session, line):
    number, _, payment = ready_to_ship(session, line)  # 2 x 2.50
    other, _, foreign = ready_to_ship(session, line)
    fields = ("amount", "currency", "reference", "paid_on", "reverses_id", "user_id", "at")
    session.expire_all()
    original = {k: getattr(session.get(Payment, payment.id), k) for k in fields}
    fin = line.users["finance"]
    for role in ("operator", "qa", "admin"):
        with pytest.raises(Forbidden):
            money.reverse_payment(session, line.users[role], number, payment.id, "bounced")
    with pytest.raises(InvalidInput, match="reason"):
        money.reverse_payment(session, fin, number, payment.id, "  ")
    session.rollback()
    with pytest.raises(NotFound):  # a payment of another order
        money.reverse_payment(session, fin, number, foreign.id, "bounced")
    session.rollback()

    reversal = money.reverse_payment(session, fin, number, payment.id, "transfer bounced")

    assert reversal.id != payment.id and reversal.reverses_id == payment.id
    assert reversal.amount == Decimal("-5.00") and reversal.currency == "USD"
    assert reversal.reference == f"reversal of {payment.id}: transfer bounced"
    session.expire_all()
    row = session.get(Payment, payment.id)
    assert {k: getattr(row, k) for k in fields} == original  # the original is unchanged
    order = masterdata.find_order(session, number)
    assert money.balance_due(session, order) == Decimal("5.00")
    assert [p.id for p in money.payments(session, order)] == [payment.id, reversal.id]
    assert codes(session, number) == ["NOT_PAID"]
    event = session.exec(select(Event).where(Event.kind == "payment.reversed",
                                             Event.subject == f"order:{number}")).one()
    assert event.payload["reverses"] == payment.id and event.payload["amount"] == "-5.00"

    before = stored(session)
    with pytest.raises(InvalidInput, match="already reversed"):
        money.reverse_payment(session, fin, number, payment.id, "again")
    session.rollback()
    with pytest.raises(NotFound):  # a reversal is not a payment to reverse
        money.reverse_payment(session, fin, number, reversal.id, "undo")
    session.rollback()
    assert stored(session) == before
    pay(session, line, number)  # paid again: it may ship
    assert codes(session, number) == [] and codes(session, other) == []


def test_a_confirmed_quotation_with_one_off_charges_becomes_the_orders_amount(session, line):
    number, serials = open_order(session, line, boards=2, unit_price="2.50")
    order = masterdata.find_order(session, number)
    assert money.order_amount(session, order) == Decimal("5.00")
    fin = line.users["finance"]
    for charges in ([{"name": "stencil", "amount": "-1"}], [{"amount": "1"}], ["stencil"],
                    [{"name": "stencil", "amount": "x"}]):
        with pytest.raises(InvalidInput):
            money.quote(session, fin, number, "2.00", charges=charges)
    for bad in ({"unit_price": "-1"}, {"quantity": 0}, {"quantity": "10"},
                {"currency": "DOLLARS"}):
        with pytest.raises(InvalidInput):
            money.quote(session, fin, number, **{"unit_price": "2.00", **bad})
    with pytest.raises(NotFound):
        money.confirm(session, fin, number)
    session.rollback()

    first = money.quote(session, line.users["admin"], number, "3.00")
    quote = money.quote(session, fin, number, "1.95", None, [
        {"name": "stencil", "amount": "120.00"}, {"name": "setup", "amount": 45.5}])
    assert quote.total == Decimal("169.40") and quote.currency == "USD"  # 2 x 1.95 + 165.50
    assert quote.quantity == 2
    assert quote.charges == [{"name": "stencil", "amount": "120.00"},
                             {"name": "setup", "amount": "45.5"}]
    assert money.order_amount(session, order) == Decimal("5.00")  # not before it is confirmed

    confirmed = money.confirm(session, fin, number)

    assert confirmed.id == quote.id and confirmed.confirmed_by_id == fin.id
    assert money.order_amount(session, order) == Decimal("169.40")
    assert money.balance_due(session, order) == Decimal("169.40")
    assert first.confirmed_at is None
    walk(session, line, serials)
    sign(session, line, number)
    pay(session, line, number, "100")
    assert codes(session, number) == ["NOT_PAID"]
    assert money.balance_due(session, order) == Decimal("69.40")
    pay(session, line, number, "69.40")
    assert codes(session, number) == []


def test_a_quotation_in_another_currency_cannot_price_an_order_already_paid(session, line):
    number, _ = open_order(session, line, boards=2)
    fin = line.users["finance"]
    payment = pay(session, line, number, "1.00")
    quote = money.quote(session, fin, number, "2.00", currency="eur")
    assert quote.currency == "EUR"
    for bad in ("abc", "1", True, 1.0):
        with pytest.raises(InvalidInput, match="whole number"):
            money.confirm(session, fin, number, bad)
        session.rollback()
    with pytest.raises(InvalidInput, match="payments in USD: a quotation in EUR"):
        money.confirm(session, fin, number, quote.id)  # 1.00 USD would count against EUR
    session.rollback()
    order = masterdata.find_order(session, number)
    assert order.currency == "USD" and quote.confirmed_at is None

    money.reverse_payment(session, fin, number, payment.id, "refunded: price in EUR")
    money.confirm(session, fin, number, quote.id)

    assert order.currency == "EUR" and money.balance_due(session, order) == Decimal("4.00")
    with pytest.raises(money.PaymentRefused, match="the order is in EUR, not USD"):
        money.record_payment(session, fin, number, "4.00", "BANK-2", currency="USD")
    session.rollback()
    money.record_payment(session, fin, number, "4.00", "BANK-2", currency="EUR")
    assert money.balance_due(session, order) == Decimal("0.00")


def test_invoices_are_numbered_for_the_balance_due(session, line):
    number, _ = open_order(session, line, boards=2)
    fin = line.users["finance"]
    with pytest.raises(Forbidden):
        money.invoice(session, line.users["operator"], number)
    first = money.invoice(session, fin, number)
    assert (first.number, first.amount, first.currency) == (f"INV-{number}-1",
                                                            Decimal("5.00"), "USD")
    pay(session, line, number, "2.00")
    second = money.invoice(session, fin, number)
    assert (second.number, second.amount) == (f"INV-{number}-2", Decimal("3.00"))
    pay(session, line, number, "3.00")
    with pytest.raises(InvalidInput, match="nothing to invoice"):
        money.invoice(session, fin, number)
    session.rollback()
    assert session.exec(select(func.count()).select_from(Invoice).where(
        Invoice.order_id == masterdata.find_order(session, number).id)).one() == 2


# --- packing -----------------------------------------------------------------------------------


def test_boxes_fill_to_capacity_and_a_new_one_opens(session, line):
    number, serials = open_order(session, line, boards=7)
    rules = scanning.ScanRules(box_capacity=3)
    boxes_of = []
    for serial in serials:
        walk(session, line, [serial], upto="QA")
        answer = scanning.scan(session, "T-PACK", serial, line.users["operator"], rules=rules)
        boxes_of.append(answer["box"])
    assert boxes_of == [1, 1, 1, 2, 2, 2, 3]
    order = masterdata.find_order(session, number)
    listing = gate.packing_list(session, order)
    assert [(b["number"], len(b["serials"]), b["closed"]) for b in listing] == [
        (1, 3, True), (2, 3, True), (3, 1, False)]
    assert sorted(s for b in listing for s in b["serials"]) == sorted(serials)
    assert listing[0]["serials"] == serials[:3] and listing[2]["serials"] == serials[6:]

    sign(session, line, number)
    pay(session, line, number)
    shipment = release(session, line, number)
    assert (shipment.boxes, shipment.boards) == (3, 7)
    assert all(b["closed"] for b in gate.packing_list(session, order))


def test_a_panel_packed_at_once_spills_into_a_new_box(session, line):
    number, serials = open_order(session, line, boards=4, panel_size=4)
    panel = f"{number}-P0001"
    op = line.users["operator"]
    rules = scanning.ScanRules(box_capacity=3)
    for step in ROUTE[:FCT]:
        scanning.scan(session, f"T-{step}", panel, op)
    for serial in serials:
        fct.record_result(session, op, serial, "T-FCT", "pass")
    scanning.scan(session, "T-QA", panel, op)

    answer = scanning.scan(session, "T-PACK", panel, op, rules=rules)

    assert answer["box"] == 2 and answer["serials"] == serials
    listing = gate.packing_list(session, masterdata.find_order(session, number))
    assert [b["serials"] for b in listing] == [serials[:3], serials[3:]]
    session.commit()
    assert codes(session, number) == ["NOT_SIGNED_OFF", "NOT_PAID"]


def test_the_sscc_counter_is_a_database_row_per_prefix_from_the_first_reference(app):
    rule = labels.SsccRule(0, "7700001", first_reference=500)  # a prefix of this test alone
    with Session(app.extensions["engine"]) as s:
        assert [labels.take_sscc(s, rule)[-10:-1] for _ in range(2)] == ["000000500",
                                                                         "000000501"]
        s.commit()
    with Session(app.extensions["engine"]) as s:  # a restart: the row carries on
        assert labels.take_sscc(s, rule)[-10:-1] == "000000502"
        other = labels.take_sscc(s, labels.SsccRule(1, "7700001"))  # its own extension digit
        assert other.startswith("17700001") and other[-10:-1] == "000000001"
        s.rollback()  # a box that did not open gives its reference back
    with Session(app.extensions["engine"]) as s:
        assert labels.take_sscc(s, rule)[-10:-1] == "000000502"
        raised = labels.SsccRule(0, "7700001", first_reference=9000)  # after a reinstall
        assert labels.take_sscc(s, raised)[-10:-1] == "000009000"
        assert labels.take_sscc(s, rule)[-10:-1] == "000009001"  # never back down
        with pytest.raises(InvalidInput, match="gs1_company_prefix"):
            labels.take_sscc(s, labels.SsccRule(0, "12AB"))


def test_a_box_opened_at_pack_keeps_its_sscc_and_its_event_records_it(session, line):
    number, serials = open_order(session, line, boards=3)
    rules = scanning.ScanRules(box_capacity=2, sscc=labels.SsccRule(0, "7700002", 41))
    for serial in serials:
        walk(session, line, [serial], upto="QA")
        scanning.scan(session, "T-PACK", serial, line.users["operator"], rules=rules)
    order = masterdata.find_order(session, number)
    boxes = session.exec(select(Box).where(Box.order_id == order.id).order_by(Box.number)).all()
    assert [b.sscc for b in boxes] == [labels.sscc(rules.sscc, 41), labels.sscc(rules.sscc, 42)]
    opened = [e for e in events.history(session, f"order:{number}") if e.kind == "box.opened"]
    assert [e.payload for e in opened] == [
        {"order": number, "box": i, "capacity": 2, "sscc": b.sscc} for i, b in
        enumerate(boxes, 1)]
    assert {(e.actor, e.station_id) for e in opened} == {("operator", "T-PACK")}


def test_a_wrong_company_prefix_refuses_the_pack_scan_and_stores_nothing(session, line):
    number, serials = open_order(session, line, boards=1)
    walk(session, line, serials, upto="QA")
    session.commit()
    counters = session.exec(select(func.count()).select_from(SsccCounter)).one()
    rules = scanning.ScanRules(sscc=labels.SsccRule(0, "12AB"))
    with pytest.raises(InvalidInput, match="gs1_company_prefix"):
        scanning.scan(session, "T-PACK", serials[0], line.users["operator"], rules=rules)
    session.rollback()
    order = masterdata.find_order(session, number)
    assert session.exec(select(func.count()).select_from(Box)
                        .where(Box.order_id == order.id)).one() == 0
    assert session.exec(select(func.count()).select_from(SsccCounter)).one() == counters


# --- a release racing a payment reversal or a hold ---------------------------------------------

ROUNDS = 16


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def race_line(request, tmp_path):
    """A line on a fresh SQLite file or PostgreSQL schema, for threads with their own sessions."""
    url = request.getfixturevalue("pg_url") if request.param == "postgresql" else None
    app = make_app(tmp_path, database_url=url)
    engine = app.extensions["engine"]
    with Session(engine, expire_on_commit=False) as s:
        line = build_line(s, boards=1, tokens=False)
    yield request.param, engine, line
    engine.dispose()


def reverse(engine, line, number, payment_id):
    with Session(engine) as s:
        fin = s.get(User, line.users["finance"].id)
        return money.reverse_payment(s, fin, number, payment_id, "bounced").id


def hold(engine, line, number, serial):
    with Session(engine) as s:
        qa_user = s.get(User, line.users["qa"].id)
        return holds.place_hold(s, qa_user, number, "a late complaint", serial=serial).id


def race(engine, line, number, disturb, delays):
    """A release and a disturbance let go at the same instant; what each of them answered."""
    barrier = threading.Barrier(2)

    def ship():
        with Session(engine, expire_on_commit=False) as s:
            op = s.get(User, line.users["operator"].id)
            s.commit()  # on SQLite even a read holds the write lock until it ends
            barrier.wait(timeout=10)
            time.sleep(delays[0])
            try:
                gate.release(s, op, number, "10001", "1234", pepper=PEPPER)
                return "shipped"
            except gate.ShipmentBlocked as err:
                return [b["code"] for b in err.params["blockers"]]

    def other():
        barrier.wait(timeout=10)
        time.sleep(delays[1])
        return disturb()

    with ThreadPoolExecutor(max_workers=2) as pool:
        a, b = pool.submit(ship), pool.submit(other)
        return a.result(timeout=60), b.result(timeout=60)


def check_rounds(kind, engine, line, disturb_for, refusal, blocker_after):
    """Many rounds; each one consistent by the event log, and both outcomes seen."""
    with Session(engine, expire_on_commit=False) as s:
        orders = [ready_to_ship(s, line, boards=1) for _ in range(ROUNDS)]
    outcomes = Counter()
    for i, (number, serials, payment) in enumerate(orders):
        delays = [(0, 0), (0.03, 0), (0, 0.03)][i % 3]  # a true race, then each one first
        with Session(engine) as s:
            start = s.exec(select(func.max(Event.id))).one()
        shipped, _ = race(engine, line, number, disturb_for(number, serials, payment, i),
                          delays)
        with Session(engine) as s:
            events = s.exec(select(Event.kind, Event.id).where(Event.id > start)
                            .order_by(Event.id)).all()
            shipments = s.exec(select(func.count()).select_from(Shipment).join(
                WorkOrder).where(WorkOrder.number == number)).one()
            now = codes(s, number)
        kinds = [k for k, _ in events]
        disturbed = [eid for k, eid in events if k == kind]
        assert len(disturbed) == 1, events
        if shipped == "shipped":
            shipped_at = [eid for k, eid in events if k == "order.shipped"]
            assert len(shipped_at) == 1 and shipments == 1
            # Never shipped over a blocker: the disturbance committed after the shipment.
            assert disturbed[0] > shipped_at[0], events
            assert now == ["ALREADY_SHIPPED", blocker_after]
            outcomes["shipped, then " + kind] += 1
        else:
            assert shipped == [refusal], shipped  # refused for exactly that reason
            assert "order.shipped" not in kinds and shipments == 0
            assert now == [blocker_after]
            outcomes[kind + ", then refused " + refusal] += 1
    assert sum(outcomes.values()) == ROUNDS
    assert len(outcomes) == 2, outcomes  # both orders of events happened
    return outcomes


def test_a_release_racing_a_payment_reversal_is_always_consistent(race_line):
    backend, engine, line = race_line

    def disturb_for(number, serials, payment, i):
        return lambda: reverse(engine, line, number, payment.id)

    outcomes = check_rounds("payment.reversed", engine, line, disturb_for, "NOT_PAID",
                            "NOT_PAID")
    print(f"\n{backend} release vs reversal, {ROUNDS} rounds: {dict(outcomes)}")


def test_a_release_racing_a_hold_is_always_consistent(race_line):
    backend, engine, line = race_line

    def disturb_for(number, serials, payment, i):
        serial = serials[0] if i % 2 else None  # the order's hold, or its one board's
        return lambda: hold(engine, line, number, serial)

    outcomes = check_rounds("hold.placed", engine, line, disturb_for, "ON_HOLD", "ON_HOLD")
    print(f"\n{backend} release vs hold, {ROUNDS} rounds: {dict(outcomes)}")


def test_boxes_opened_at_the_same_instant_get_different_ssccs(race_line):
    backend, engine, line = race_line
    rule = labels.SsccRule(0, "7700003")  # the prefix's first boxes: its row is made by a race
    for round_ in range(4):
        barrier = threading.Barrier(4)

        def take(rule=rule, barrier=barrier):
            with Session(engine) as s:
                barrier.wait()
                code = labels.take_sscc(s, rule)
                s.commit()
                return code

        with ThreadPoolExecutor(4) as pool:
            codes_ = [f.result() for f in [pool.submit(take) for _ in range(4)]]
        references = sorted(int(c[-10:-1]) for c in codes_)
        assert references == list(range(4 * round_ + 1, 4 * round_ + 5)), (backend, codes_)
