"""The shipment gate and money through the JSON API and the HTML screens: shipments, payments,
reversals, invoices, quotations, terms; the shipment, finance and packing-list pages."""

import html as markup
import itertools
import re

import pytest
from conftest import ROUTE, Api, build_line, make_app, make_ready
from sqlmodel import Session, func, select

from station import masterdata
from station.models import Event, Invoice, Payment, Quotation, Shipment

FCT = ROUTE.index("FCT")
MEANING = "Approved: functional test results"
BADGE = {"operator": "10001", "qa": "10002", "supervisor": "10004"}
ISO_Z = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z"
_numbers = itertools.count(1)


# One app and one line for the module (users hash slowly); each test opens its own orders.
@pytest.fixture(scope="module")
def app(tmp_path_factory):
    app = make_app(tmp_path_factory.mktemp("shipping-api"))
    yield app
    app.extensions["engine"].dispose()


@pytest.fixture(scope="module")
def line(app):
    with Session(app.extensions["engine"], expire_on_commit=False) as s:
        return build_line(s, boards=1)


@pytest.fixture
def api(client, line):
    return Api(client, line)


@pytest.fixture
def new_order(app, line):
    """Open a fresh order with boards (readiness green unless asked otherwise)."""
    def make(boards=2, unit_price="2.50", customer="CUST", ready=True):
        number = f"A{next(_numbers)}"
        with Session(app.extensions["engine"], expire_on_commit=False) as s:
            admin = line.users["admin"]
            masterdata.create_order(s, admin, number, customer, "PCB", "A", boards, unit_price)
            serials = masterdata.add_boards(s, admin, number, count=boards)
            if ready:
                make_ready(s, line, number)
        return number, serials
    return make


def ok(response, status=201) -> dict:
    assert response.status_code == status, response.get_data(as_text=True)
    return response.get_json()


def error(response, status, code) -> dict:
    assert response.status_code == status, response.get_data(as_text=True)
    err = response.get_json()["error"]
    assert err["code"] == code and err["message"], err
    return err


def stored(app) -> dict:
    with Session(app.extensions["engine"]) as s:
        return {m.__name__: s.exec(select(func.count()).select_from(m)).one()
                for m in (Shipment, Event, Payment, Invoice, Quotation)}


def order(api, number, role="operator") -> dict:
    return ok(api.get(f"/api/v1/orders/{number}", role), 200)


def blocker_codes(api, number) -> list[str]:
    return [b["code"] for b in order(api, number)["shipment_blockers"]]


def finish(api, serials):
    """Every board through the route by the API: scans, FCT by a passing test result."""
    for serial in serials:
        for step in ROUTE:
            if step == "FCT":
                ok(api.post("/api/v1/tests", {"serial": serial, "station": "T-FCT",
                                              "outcome": "pass", "program": "fct",
                                              "program_version": "1"}))
            else:
                ok(api.scan(f"T-{step}", serial))


def sign(api, number):
    return ok(api.post(f"/api/v1/orders/{number}/signoff",
                       {"badge": "10002", "pin": "1234", "meaning": MEANING}, "qa"))


def pay(api, number, amount, reference="BANK-1", **extra):
    return api.post(f"/api/v1/orders/{number}/payments",
                    {"amount": amount, "reference": reference, **extra}, "finance")


def ship(api, number, role="operator", badge=None, pin="1234"):
    return api.post(f"/api/v1/orders/{number}/shipments",
                    {"badge": badge or BADGE[role], "pin": pin}, role)


def ready_to_ship(api, new_order, boards=2, customer="CUST"):
    number, serials = new_order(boards, customer=customer)
    finish(api, serials)
    sign(api, number)
    ok(pay(api, number, order(api, number)["balance_due"]))
    return number, serials


# --- shipments ---------------------------------------------------------------------------------


@pytest.mark.parametrize("role", ["operator", "qa", "supervisor"])
def test_an_order_ships_201_once_its_blockers_are_gone(api, new_order, role):
    number, serials = new_order(2)
    assert blocker_codes(api, number) == ["NOT_ALL_PASSED", "NOT_SIGNED_OFF", "NOT_PAID"]
    finish(api, serials)
    assert blocker_codes(api, number) == ["NOT_SIGNED_OFF", "NOT_PAID"]
    sign(api, number)
    assert blocker_codes(api, number) == ["NOT_PAID"]
    assert ok(pay(api, number, "5.00"))["balance_due"] == "0.00"
    got = order(api, number)
    assert got["shipment_blockers"] == [] and got["may_ship"] is True

    shipped = ok(ship(api, number, role))

    assert set(shipped) >= {"shipped_at", "boards"}
    assert re.fullmatch(ISO_Z, shipped["shipped_at"]) and shipped["boards"] == 2
    got = order(api, number, "finance")
    assert got["status"] == "shipped" and got["shipped_at"] == shipped["shipped_at"]
    assert [b["code"] for b in got["shipment_blockers"]] == ["ALREADY_SHIPPED"]
    gate = ok(api.get(f"/api/v1/orders/{number}/shipment"), 200)
    assert gate["may_ship"] is False
    assert sorted(s for box in gate["boxes"] for s in box["serials"]) == sorted(serials)
    err = error(ship(api, number, role), 409, "SHIPMENT_BLOCKED")
    assert [b["code"] for b in err["blockers"]] == ["ALREADY_SHIPPED"]


def test_a_blocked_shipment_is_409_with_every_blocker_and_stores_nothing(api, app, new_order):
    number, _ = new_order(2, ready=False)
    ok(api.post(f"/api/v1/orders/{number}/holds", {"reason": "first article pending"}, "qa"))
    before = stored(app)

    r = ship(api, number)

    err = error(r, 409, "SHIPMENT_BLOCKED")
    assert set(r.get_json()) == {"error"}
    codes = ["NOT_ALL_PASSED", "NOT_SIGNED_OFF", "ON_HOLD", "NOT_READY", "NOT_PAID"]
    assert [b["code"] for b in err["blockers"]] == codes
    assert all({"code", "message"} <= set(b) and b["message"] for b in err["blockers"])
    assert number in err["message"] and all(c in err["message"] for c in codes)
    assert "first article pending" in err["blockers"][2]["message"]
    view = order(api, number)["shipment_blockers"]
    assert [(b["code"], b["message"]) for b in view] == \
        [(b["code"], b["message"]) for b in err["blockers"]]
    assert stored(app) == before


def test_a_shipment_needs_the_callers_own_badge_and_pin(api, app, new_order):
    number, _ = ready_to_ship(api, new_order)
    before = stored(app)
    error(ship(api, number, pin="9999"), 401, "BAD_CREDENTIALS")
    error(ship(api, number, badge="10002"), 401, "BAD_CREDENTIALS")  # the qa's badge and PIN
    error(ship(api, number, "supervisor", badge="10001"), 401, "BAD_CREDENTIALS")
    error(ship(api, number, badge="99999"), 401, "BAD_CREDENTIALS")
    error(api.post(f"/api/v1/orders/{number}/shipments", {"pin": "1234"}), 401,
          "BAD_CREDENTIALS")
    error(api.post(f"/api/v1/orders/{number}/shipments", {"badge": "10001", "pin": "1234"},
                   role=None), 401, "UNAUTHENTICATED")
    for role in ("admin", "finance"):
        error(api.post(f"/api/v1/orders/{number}/shipments",
                       {"badge": "10001", "pin": "1234"}, role), 403, "FORBIDDEN")
    error(api.client.post(f"/api/v1/orders/{number}/shipments", data="badge=10001",
                          headers=api._headers("operator")), 400, "INVALID_INPUT")
    error(ship(api, "NO-SUCH"), 404, "NOT_FOUND")
    assert stored(app) == before
    assert blocker_codes(api, number) == []
    assert ok(ship(api, number))["boards"] == 2


# --- payments and reversals --------------------------------------------------------------------


def test_payments_are_finance_only_exact_and_answer_the_balance(api, app, new_order):
    number, _ = new_order(2, unit_price="2.50")
    before = stored(app)
    for role in ("operator", "qa", "supervisor", "admin"):
        error(api.post(f"/api/v1/orders/{number}/payments",
                       {"amount": "5.00", "reference": "BANK-1"}, role), 403, "FORBIDDEN")
    for amount in ("0", "0.00", 0, "-5.00", -1):
        err = error(pay(api, number, amount), 400, "PAYMENT_REFUSED")
        assert "above zero" in err["message"]
    err = error(pay(api, number, "5.00", currency="EUR"), 400, "PAYMENT_REFUSED")
    assert "USD" in err["message"] and "EUR" in err["message"]
    for bad in ({"amount": "abc"}, {"amount": None}, {"amount": True}, {"amount": "5.00001"},
                {"reference": ""}, {"reference": None}, {"paid_on": "yesterday"},
                {"paid_on": 20260101}, {"paid_on": ["2026-01-01"]}):
        error(api.post(f"/api/v1/orders/{number}/payments",
                       {"amount": "5.00", "reference": "BANK-1", **bad}, "finance"),
              400, "INVALID_INPUT")
    error(pay(api, "NO-SUCH", "5.00"), 404, "NOT_FOUND")
    error(api.post(f"/api/v1/orders/{number}/payments", {"amount": "5.00", "reference": "x"},
                   None), 401, "UNAUTHENTICATED")
    assert stored(app) == before
    assert order(api, number)["balance_due"] == "5.00"

    got = ok(pay(api, number, "2.50"))
    assert got["balance_due"] == "2.50" and isinstance(got["balance_due"], str)
    assert got["amount"] == "2.50"
    got = ok(pay(api, number, 1.25, "BANK-2", paid_on="2026-03-01", currency="USD"))
    assert got["balance_due"] == "1.25"  # a JSON number is accepted, exactly
    assert order(api, number)["paid"] == "3.75"


def test_point_one_plus_point_two_pays_point_three_exactly(api, new_order):
    number, _ = new_order(1, unit_price="0.30")
    assert ok(pay(api, number, 0.1))["balance_due"] == "0.20"
    assert ok(pay(api, number, "0.20", "BANK-2"))["balance_due"] == "0.00"
    got = order(api, number)
    assert (got["amount"], got["paid"], got["balance_due"]) == ("0.30", "0.30", "0.00")
    assert "NOT_PAID" not in blocker_codes(api, number)


def test_a_reversal_is_a_new_record_and_cannot_be_repeated(api, app, new_order):
    number, _ = ready_to_ship(api, new_order)
    payment = ok(pay(api, number, "0.01", "BANK-EXTRA"))["payment"]  # an overpayment, kept
    path = f"/api/v1/orders/{number}/payments/{payment}/reversal"
    for role in ("operator", "qa", "admin"):
        error(api.post(path, {"reason": "bounced"}, role), 403, "FORBIDDEN")
    error(api.post(path, {}, "finance"), 400, "INVALID_INPUT")
    error(api.post(f"/api/v1/orders/{number}/payments/999999/reversal", {"reason": "x"},
                   "finance"), 404, "NOT_FOUND")

    with Session(app.extensions["engine"]) as s:
        first = s.exec(select(Payment).where(
            Payment.order_id == masterdata.find_order(s, number).id).order_by(Payment.id)).first()
    got = ok(api.post(f"/api/v1/orders/{number}/payments/{first.id}/reversal",
                      {"reason": "transfer bounced"}, "finance"))

    assert got["reverses"] == first.id and got["payment"] not in (first.id, payment)
    assert got["amount"] == "-5.00" and got["balance_due"] == "4.99"
    assert blocker_codes(api, number) == ["NOT_PAID"]
    with Session(app.extensions["engine"]) as s:
        again = s.get(Payment, first.id)
        assert (again.amount, again.reference, again.reverses_id) == \
            (first.amount, first.reference, None)
        assert s.get(Payment, got["payment"]).reverses_id == first.id
    before = stored(app)
    err = error(api.post(f"/api/v1/orders/{number}/payments/{first.id}/reversal",
                         {"reason": "again"}, "finance"), 400, "INVALID_INPUT")
    assert "already reversed" in err["message"]
    error(api.post(f"/api/v1/orders/{number}/payments/{got['payment']}/reversal",
                   {"reason": "undo"}, "finance"), 404, "NOT_FOUND")
    assert stored(app) == before
    error(ship(api, number), 409, "SHIPMENT_BLOCKED")


# --- invoices, quotations, terms ---------------------------------------------------------------


def test_invoices(api, new_order):
    number, _ = new_order(2)
    error(api.post(f"/api/v1/orders/{number}/invoices", {}, "operator"), 403, "FORBIDDEN")
    got = ok(api.post(f"/api/v1/orders/{number}/invoices", {}, "finance"))
    assert (got["number"], got["amount"], got["currency"]) == (f"INV-{number}-1", "5.00", "USD")
    assert re.fullmatch(ISO_Z, got["issued_at"])
    got = ok(api.post(f"/api/v1/orders/{number}/invoices", {"amount": "1.50"}, "finance"))
    assert (got["number"], got["amount"]) == (f"INV-{number}-2", "1.50")
    error(api.post(f"/api/v1/orders/{number}/invoices", {"amount": "0"}, "finance"), 400,
          "INVALID_INPUT")
    ok(pay(api, number, "5.00"))
    error(api.post(f"/api/v1/orders/{number}/invoices", {}, "finance"), 400, "INVALID_INPUT")


def test_a_confirmed_quotation_sets_the_orders_amount(api, app, new_order):
    number, serials = new_order(2, unit_price="2.50")
    path = f"/api/v1/orders/{number}/quotations"
    charges = [{"name": "stencil", "amount": "120.00"}, {"name": "setup", "amount": 35}]
    error(api.post(path, {"unit_price": "2.00", "charges": charges}, "operator"), 403,
          "FORBIDDEN")
    error(api.post(path, {"unit_price": "2.00", "charges": [{"name": "x", "amount": "-1"}]},
                   "finance"), 400, "INVALID_INPUT")
    error(api.post(f"{path}/confirm", {}, "finance"), 404, "NOT_FOUND")

    quote = ok(api.post(path, {"unit_price": "2.00", "charges": charges}, "finance"))
    assert quote["total"] == "159.00" and quote["currency"] == "USD"
    assert quote["charges"] == [{"name": "stencil", "amount": "120.00"},
                                {"name": "setup", "amount": "35"}]
    assert order(api, number)["amount"] == "5.00"  # only once it is confirmed
    error(api.post(f"{path}/confirm", {}, "qa"), 403, "FORBIDDEN")
    for bad in ("abc", "1", 1.5):  # was a database error (500) on PostgreSQL
        error(api.post(f"{path}/confirm", {"quotation": bad}, "finance"), 400, "INVALID_INPUT")
    error(api.post(f"{path}/confirm", {"quotation": quote["id"] + 1000}, "finance"), 404,
          "NOT_FOUND")

    got = ok(api.post(f"{path}/confirm", {"quotation": quote["id"]}, "admin"), 200)

    assert got == {"id": quote["id"], "total": "159.00", "balance_due": "159.00"}
    view = order(api, number)
    assert (view["amount"], view["balance_due"]) == ("159.00", "159.00")
    finish(api, serials)
    sign(api, number)
    assert ok(pay(api, number, "100.00"))["balance_due"] == "59.00"
    assert blocker_codes(api, number) == ["NOT_PAID"]
    assert ok(pay(api, number, "59"))["balance_due"] == "0.00"
    assert blocker_codes(api, number) == []


def test_monthly_terms_need_finance_and_can_be_revoked(api, new_order):
    code = f"MC{next(_numbers)}"
    ok(api.post("/api/v1/customers", {"code": code, "name": "Monthly Co", "terms": "monthly"},
                "admin"))
    number, serials = new_order(2, customer=code)
    finish(api, serials)
    sign(api, number)
    view = order(api, number)
    assert view["terms"] == "prepaid" and blocker_codes(api, number) == ["NOT_PAID"]
    path = f"/api/v1/customers/{code}/terms"
    for role in ("operator", "qa", "supervisor", "admin"):
        error(api.post(path, {"terms": "monthly"}, role), 403, "FORBIDDEN")
    error(api.post(path, {"terms": "weekly"}, "finance"), 400, "INVALID_INPUT")
    error(api.post("/api/v1/customers/NO-SUCH/terms", {"terms": "monthly"}, "finance"), 404,
          "NOT_FOUND")
    assert blocker_codes(api, number) == ["NOT_PAID"]

    got = ok(api.post(path, {"terms": "monthly"}, "finance"), 200)

    assert got["code"] == code and got["terms"] == "monthly"
    assert re.fullmatch(ISO_Z, got["terms_approved_at"])
    view = order(api, number)
    assert view["terms"] == "monthly" and view["balance_due"] == "5.00"
    assert view["shipment_blockers"] == []
    got = ok(api.post(path, {"terms": "prepaid"}, "finance"), 200)
    assert got["terms"] == "prepaid" and got["terms_approved_at"] is None
    assert blocker_codes(api, number) == ["NOT_PAID"]


# --- the screens -------------------------------------------------------------------------------


def signed_in(app, badge=None, name=None, password=None):
    """A test client with its own cookie, signed in by badge and PIN or name and password."""
    client = app.test_client()
    form = {"badge": badge, "pin": "1234"} if badge else {"name": name, "password": password}
    r = client.post("/login", data=form)
    assert r.status_code == 302, r.get_data(as_text=True)
    return client


def verdict(html: str) -> tuple[str, str]:
    match = re.search(r'<div id="verdict"[^>]*data-may-ship="(true|false)"[^>]*>\s*(.*?)\s*</div>',
                      html, re.S)
    assert match, html
    return match.group(1), match.group(2)


def page_codes(html: str) -> list[str]:
    return re.findall(r'<li class="blocker" data-code="([A-Z_]+)"', html)


def test_the_shipment_page_says_may_not_ship_with_every_blocker(api, app, new_order):
    number, _ = new_order(2, ready=False)
    ok(api.post(f"/api/v1/orders/{number}/holds", {"reason": "wrong revision"}, "qa"))
    client = signed_in(app, "10001")

    html = client.get(f"/orders/{number}/shipment").get_data(as_text=True)

    assert verdict(html) == ("false", "✖ MAY NOT SHIP")
    assert page_codes(html) == blocker_codes(api, number) == [
        "NOT_ALL_PASSED", "NOT_SIGNED_OFF", "ON_HOLD", "NOT_READY", "NOT_PAID"]
    for b in order(api, number)["shipment_blockers"]:  # what to do, and who
        assert b["todo"] in markup.unescape(html) and f"who: {b['who']}" in html
    assert "wrong revision" in html
    assert 'id="ship-badge"' not in html  # nothing to release


def test_the_shipment_page_releases_with_badge_and_pin(api, app, new_order):
    number, _ = ready_to_ship(api, new_order, boards=3)
    office = signed_in(app, name="finance", password="finance-pw")
    html = office.get(f"/orders/{number}/shipment").get_data(as_text=True)
    assert verdict(html) == ("true", "✔ MAY SHIP") and page_codes(html) == []
    assert 'id="ship-badge"' not in html  # finance may see, not ship
    client = signed_in(app, "10004")
    html = client.get(f"/orders/{number}/shipment").get_data(as_text=True)
    assert verdict(html) == ("true", "✔ MAY SHIP")
    assert 'id="ship-badge"' in html and 'id="ship-pin"' in html

    r = client.post(f"/orders/{number}/shipment", data={"badge": "10004", "pin": "0000"})
    html = r.get_data(as_text=True)
    assert r.status_code == 200 and "BAD_CREDENTIALS" in html
    assert verdict(html) == ("true", "✔ MAY SHIP")
    assert order(api, number)["status"] != "shipped"

    r = client.post(f"/orders/{number}/shipment", data={"badge": "10004", "pin": "1234"})
    html = r.get_data(as_text=True)

    assert r.status_code == 200
    assert verdict(html) == ("false", "SHIPPED")
    assert re.search(r"Shipped: 3 boards, 1 boxes", html)
    assert page_codes(html) == ["ALREADY_SHIPPED"]
    assert order(api, number)["status"] == "shipped"


def test_the_finance_page_lists_orders_waiting_and_monthly_balances(api, app, new_order):
    code = f"MF{next(_numbers)}"
    ok(api.post("/api/v1/customers", {"code": code, "name": "Monthly Fin", "terms": "monthly"},
                "admin"))
    ok(api.post(f"/api/v1/customers/{code}/terms", {"terms": "monthly"}, "finance"), 200)
    new_order(2, customer=code)  # 5.00
    new_order(1, unit_price="2.25", customer=code)  # 2.25
    waiting, _ = new_order(3, unit_price="1.10")  # 3.30, prepaid
    paid, _ = new_order(1)
    ok(pay(api, paid, "2.50"))
    client = signed_in(app, name="finance", password="finance-pw")

    html = client.get("/finance").get_data(as_text=True)

    waiting_part, monthly_part = html.split("Customers on monthly terms")[0], \
        html.split("Customers on monthly terms")[1].split("Payment terms")[0]
    assert re.search(rf">{waiting}</a></td><td>CUST</td><td>3.30 USD<", waiting_part)
    assert f">{paid}</a>" not in waiting_part  # paid in full
    assert code not in waiting_part  # on approved monthly terms: not waiting
    assert re.search(rf"{code} · Monthly Fin</td><td>7.25<", monthly_part)

    r = client.post("/finance", data={"order": waiting, "amount": "3.30",
                                      "reference": "BANK-FORM"})
    assert r.status_code == 302
    html = client.get("/finance").get_data(as_text=True)
    assert f">{waiting}</a>" not in html.split("Customers on monthly terms")[0]
    assert order(api, waiting)["balance_due"] == "0.00"

    floor = signed_in(app, "10001")
    r = floor.post("/finance", data={"order": paid, "amount": "1", "reference": "X"})
    assert "FORBIDDEN" in r.get_data(as_text=True)
    assert order(api, paid)["paid"] == "2.50"


def test_the_packing_list_page_lists_every_serial(api, app, new_order):
    number, serials = ready_to_ship(api, new_order, boards=11)  # boxes of 10: two boxes
    client = signed_in(app, "10001")
    html = client.get(f"/orders/{number}/packing-list").get_data(as_text=True)
    listed = re.findall(r"<li>([^<]+)</li>", html)
    assert sorted(listed) == sorted(serials)
    assert "Box 1 · 10 boards" in html and "Box 2 · 1 boards" in html
    assert "not yet" in html
    ok(ship(api, number))
    html = client.get(f"/orders/{number}/packing-list").get_data(as_text=True)
    assert "not yet" not in html and re.search(r"\d{4}-\d\d-\d\d \d\d:\d\d UTC", html)
