"""The JSON API through the Flask test client with bearer tokens: access, master data, scans."""

import itertools
import re
import threading

import pytest
from conftest import Api, build_line, make_app, make_ready
from sqlmodel import Session, func, select

from station import masterdata
from station.models import Board, BoardStep, Event, ScanReceipt

SHORT_ROUTE = ["AOI", "FCT", "PACK"]
_numbers = itertools.count(1)


# One app and one line per module: users' PINs and passwords are hashed slowly on purpose, so
# building the line for every test would cost a second each. Each test opens its own order.
@pytest.fixture(scope="module")
def app(tmp_path_factory):
    return make_app(tmp_path_factory.mktemp("api"))


@pytest.fixture(scope="module")
def line(app):
    with Session(app.extensions["engine"], expire_on_commit=False) as s:
        built = build_line(s, boards=4)
        masterdata.create_station(s, None, "T-DIP", "DIP", "T")  # a type no test route has
        return built


@pytest.fixture
def new_order(app, line):
    """Open a fresh order (optionally of a new product with its own route) with boards."""
    def make(boards=3, route=None, panel_size=None, unit_price="2.50"):
        n = next(_numbers)
        number, product = f"O{n}", "PCB"
        with Session(app.extensions["engine"], expire_on_commit=False) as s:
            admin = line.users["admin"]
            if route is not None:
                product = f"R{n}"
                masterdata.create_product(s, admin, product, "A", route)
            masterdata.create_order(s, admin, number, "CUST", product, "A", boards, unit_price)
            serials = masterdata.add_boards(s, admin, number, count=boards,
                                            panel_size=panel_size)
            make_ready(s, line, number)
        return number, serials
    return make


def stored(app) -> dict:
    """How many events, passed steps and scan receipts the database holds."""
    with Session(app.extensions["engine"]) as s:
        return {m.__name__: s.exec(select(func.count()).select_from(m)).one()
                for m in (Event, BoardStep, ScanReceipt)}


def assert_error(response, status, code):
    """The response is the API's error body with this status and code; returns the error."""
    assert response.status_code == status, response.get_data(as_text=True)
    body = response.get_json()
    assert set(body) == {"error"}
    err = body["error"]
    assert err["code"] == code
    assert isinstance(err["message"], str) and err["message"]
    return err


def order(api, number) -> dict:
    r = api.get(f"/api/v1/orders/{number}")
    assert r.status_code == 200
    return r.get_json()


# --- authentication and roles ------------------------------------------------------------


@pytest.mark.parametrize("method,path", [
    ("get", "/api/v1/stations"), ("get", "/api/v1/orders/WO-1"), ("post", "/api/v1/scans"),
    ("post", "/api/v1/customers"), ("delete", "/api/v1/orders/WO-1/holds"),
])
def test_no_token_is_401(client, line, method, path):
    r = getattr(client, method)(path, json={"station": "T-PRINT", "code": line.serials[0]})
    assert_error(r, 401, "UNAUTHENTICATED")


@pytest.mark.parametrize("header", [
    "Bearer not-a-token", "Bearer ", "Bearer", "Basic {token}", "Bearer {token}x", "{token}",
])
def test_bad_token_is_401(app, client, line, header):
    before = stored(app)
    r = client.post("/api/v1/scans", json={"station": "T-PRINT", "code": line.serials[0]},
                    headers={"Authorization": header.format(token=line.tokens["operator"])})
    assert_error(r, 401, "UNAUTHENTICATED")
    assert stored(app) == before


@pytest.mark.parametrize("role,method,path,body", [
    ("admin", "post", "/api/v1/scans", {"station": "T-PRINT", "code": "{serial}"}),
    ("finance", "post", "/api/v1/scans", {"station": "T-PRINT", "code": "{serial}"}),
    ("operator", "post", "/api/v1/customers", {"code": "NOPE", "name": "Nope Ltd"}),
    ("qa", "post", "/api/v1/products", {"code": "NOPE", "revision": "A", "route": ["FCT"]}),
    ("supervisor", "post", "/api/v1/stations", {"id": "NOPE-1", "type": "AOI", "line": "T"}),
    ("operator", "post", "/api/v1/orders", {"number": "NOPE", "customer": "CUST",
                                            "product": "PCB", "revision": "A", "quantity": 1,
                                            "unit_price": "1.00"}),
    ("operator", "post", "/api/v1/orders/{order}/boards", {"count": 1}),
    ("finance", "post", "/api/v1/orders/{order}/holds", {"reason": "looks wrong"}),
    ("admin", "post", "/api/v1/orders/{order}/holds", {"reason": "looks wrong"}),
    ("operator", "post", "/api/v1/orders/{order}/holds", {"reason": "looks wrong"}),
    ("supervisor", "post", "/api/v1/orders/{order}/holds", {"reason": "looks wrong"}),
    ("admin", "delete", "/api/v1/orders/{order}/holds", None),
    ("operator", "delete", "/api/v1/orders/{order}/holds", None),
])
def test_a_role_that_may_not_gets_403(app, api, new_order, role, method, path, body):
    number, serials = new_order(1)
    if body:
        body = {k: v.format(serial=serials[0]) if isinstance(v, str) else v
                for k, v in body.items()}
    before = stored(app)
    path = path.format(order=number)
    r = api.delete(path, role) if method == "delete" else api.post(path, body, role)
    err = assert_error(r, 403, "FORBIDDEN")
    assert role in err["message"]
    assert stored(app) == before
    assert order(api, number)["holds"] == [] and order(api, number)["boards"] == 1


@pytest.mark.parametrize("path", ["/api/v1/scans", "/api/v1/tests/csv",
                                  "/api/v1/tests/openhtf", "/api/v1/tests"])
def test_a_role_that_may_not_hears_403_before_its_input_is_read(app, api, path):
    before = stored(app)
    r = api.client.post(path, headers=api._headers("finance"))  # no body at all
    assert_error(r, 403, "FORBIDDEN")
    r = api.client.post(path, data="not json", content_type="application/json",
                        headers=api._headers("admin"))
    assert_error(r, 403, "FORBIDDEN")
    assert stored(app) == before
    r = api.client.post(path, headers=api._headers("operator"))  # a floor role: its input
    assert_error(r, 400, "INVALID_INPUT")


def test_every_role_the_api_table_denies_gets_403_on_an_empty_body(app, api):
    from station import people

    endpoints = {rule.endpoint: rule for rule in app.url_map.iter_rules()}
    assert set(people.API_ACTIONS) <= set(endpoints)  # the table names real endpoints
    for endpoint, action in people.API_ACTIONS.items():
        rule = endpoints[endpoint]
        path = re.sub(r"<[^<>:]+>", "X", re.sub(r"<int:[^<>]+>", "1", rule.rule))
        method = "delete" if "DELETE" in rule.methods else "post"
        for role in people.ROLES:
            if role in people.PERMISSIONS[action]:
                continue
            r = getattr(api.client, method)(path, headers=api._headers(role))
            assert r.status_code == 403, (endpoint, role, r.get_json())


@pytest.mark.parametrize("role", ["operator", "qa", "finance", "supervisor", "admin"])
def test_everyone_signed_in_may_read(api, role):
    assert api.get("/api/v1/orders/WO-1", role).get_json()["number"] == "WO-1"
    assert api.get("/api/v1/customers/CUST", role).get_json()["code"] == "CUST"
    assert api.get("/api/v1/products/PCB/A", role).status_code == 200
    assert "T-PRINT" in {s["id"] for s in api.get("/api/v1/stations", role).get_json()["stations"]}


# --- malformed requests ------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/api/v1/scans", "/api/v1/customers", "/api/v1/orders",
                                  "/api/v1/products", "/api/v1/orders/WO-1/holds"])
@pytest.mark.parametrize("data,content_type", [
    ('{"station": "T-PRINT", "code": ', "application/json"),
    ("not json at all", "application/json"),
    ("[1, 2]", "application/json"),
    ('"a string"', "application/json"),
    ("null", "application/json"),
    ('{"station": "T-PRINT"}', "text/plain"),
    ("\xff\xfe", "application/json"),
])
def test_malformed_json_is_400_with_the_error_shape(app, client, line, path, data,
                                                    content_type):
    role = {"/api/v1/scans": "operator", "/api/v1/orders/WO-1/holds": "qa"}.get(path, "admin")
    before = stored(app)
    r = client.post(path, data=data, content_type=content_type,
                    headers={"Authorization": f"Bearer {line.tokens[role]}"})
    assert_error(r, 400, "INVALID_INPUT")
    assert stored(app) == before


def test_unknown_api_path_and_method_answer_json(api):
    assert_error(api.get("/api/v1/no-such-thing"), 404, "NOT_FOUND")
    r = api.client.put("/api/v1/scans", json={})
    assert_error(r, 405, "METHOD_NOT_ALLOWED")


# --- master data -------------------------------------------------------------------------


def test_customers_are_created_read_and_unique(app, api):
    r = api.post("/api/v1/customers", {"code": "ACME", "name": "Acme Ltd", "terms": "monthly"},
                 "admin")
    assert r.status_code == 201
    body = r.get_json()
    # Monthly terms wait for finance: the customer stays prepaid until then.
    assert body["code"] == "ACME" and body["name"] == "Acme Ltd"
    assert body["terms"] == "prepaid" and body["requested_terms"] == "monthly"
    assert api.get("/api/v1/customers/ACME").get_json() == body
    before = stored(app)
    assert_error(api.post("/api/v1/customers", {"code": "ACME", "name": "Again"}, "admin"),
                 409, "ALREADY_EXISTS")
    assert api.get("/api/v1/customers/ACME").get_json()["name"] == "Acme Ltd"
    for bad in ({"code": "B1"}, {"code": "B1", "name": "B", "terms": "weekly"},
                {"code": "bad code", "name": "B"}, {"code": 7, "name": "B"}):
        assert_error(api.post("/api/v1/customers", bad, "admin"), 400, "INVALID_INPUT")
    assert stored(app) == before
    assert_error(api.get("/api/v1/customers/B1"), 404, "NOT_FOUND")


def test_products_need_a_route_with_fct(app, api):
    r = api.post("/api/v1/products", {"code": "MB", "revision": "B", "route": ROUTE_WITH_DIP},
                 "admin")
    assert r.status_code == 201
    assert r.get_json() == {"code": "MB", "revision": "B", "route": ROUTE_WITH_DIP}
    assert api.get("/api/v1/products/MB/B").get_json()["route"] == ROUTE_WITH_DIP
    before = stored(app)
    err = assert_error(api.post("/api/v1/products", {
        "code": "NOFCT", "revision": "A", "route": ["PRINT", "AOI", "PACK"]}, "admin"),
        400, "INVALID_INPUT")
    assert "FCT" in err["message"]
    assert_error(api.get("/api/v1/products/NOFCT/A"), 404, "NOT_FOUND")
    for route in ([], "PRINT FCT", ["FCT", "FCT"], ["fct"], ["FCT", 3], None):
        assert_error(api.post("/api/v1/products", {"code": "X", "revision": "A", "route": route},
                              "admin"), 400, "INVALID_INPUT")
    assert_error(api.post("/api/v1/products", {"code": "MB", "revision": "B", "route": ["FCT"]},
                          "admin"), 409, "ALREADY_EXISTS")
    assert stored(app) == before


ROUTE_WITH_DIP = ["PRINT", "SPI", "PLACE", "REFLOW", "AOI", "DIP", "FCT", "QA", "PACK"]


def test_stations_are_created_listed_and_unique(app, api):
    r = api.post("/api/v1/stations", {"id": "L9-AOI-1", "type": "AOI", "line": "L9"}, "admin")
    assert r.status_code == 201
    assert r.get_json() == {"id": "L9-AOI-1", "type": "AOI", "line": "L9"}
    assert {"id": "L9-AOI-1", "type": "AOI", "line": "L9"} in \
        api.get("/api/v1/stations").get_json()["stations"]
    before = stored(app)
    assert_error(api.post("/api/v1/stations", {"id": "L9-AOI-1", "type": "SPI", "line": "L9"},
                          "admin"), 409, "ALREADY_EXISTS")
    assert_error(api.post("/api/v1/stations", {"id": "L9-X", "type": "aoi", "line": "L9"},
                          "admin"), 400, "INVALID_INPUT")
    assert stored(app) == before


def order_body(**changes) -> dict:
    body = {"number": f"API-{next(_numbers)}", "customer": "CUST", "product": "PCB",
            "revision": "A", "quantity": 3, "unit_price": "7.50", "paste": "SAC305"}
    body.update(changes)
    return body


def test_orders_are_created_and_unique(app, api):
    body = order_body()
    r = api.post("/api/v1/orders", body, "admin")
    assert r.status_code == 201
    got = r.get_json()
    assert {k: got[k] for k in ("number", "customer", "product", "revision", "quantity",
                                "unit_price", "paste")} == body
    assert got["status"] == "open" and got["boards"] == 0
    before = stored(app)
    assert_error(api.post("/api/v1/orders", body, "admin"), 409, "ALREADY_EXISTS")
    assert_error(api.post("/api/v1/orders", order_body(customer="NOBODY"), "admin"),
                 404, "NOT_FOUND")
    assert_error(api.post("/api/v1/orders", order_body(product="NOPCB"), "admin"),
                 404, "NOT_FOUND")
    assert_error(api.post("/api/v1/orders", order_body(revision="Z"), "admin"), 404, "NOT_FOUND")
    for bad in (order_body(quantity=0), order_body(quantity="3"), order_body(quantity=True),
                order_body(number="bad number")):
        assert_error(api.post("/api/v1/orders", bad, "admin"), 400, "INVALID_INPUT")
    assert stored(app) == before


@pytest.mark.parametrize("price,text,due", [
    ("7.50", "7.50", "22.50"), (7.5, "7.50", "22.50"), (7, "7.00", "21.00"),
    (19.99, "19.99", "59.97"), ("0.1", "0.10", "0.30"), ("1e3", "1000.00", "3000.00"),
])
def test_unit_price_is_a_decimal_string(api, price, text, due):
    body = order_body(unit_price=price)
    created = api.post("/api/v1/orders", body, "admin").get_json()
    assert created["unit_price"] == text and created["balance_due"] == due
    read = order(api, body["number"])
    assert read["unit_price"] == text and read["balance_due"] == due
    assert isinstance(read["unit_price"], str) and isinstance(read["balance_due"], str)


@pytest.mark.parametrize("price", ["abc", "", True, None, [], {"v": 1}, "NaN", "Infinity",
                                   "-1.00", "0.00001", 1e-7])
def test_unit_price_refuses_what_is_not_an_amount(app, api, price):
    before = stored(app)
    body = order_body(unit_price=price)
    assert_error(api.post("/api/v1/orders", body, "admin"), 400, "INVALID_INPUT")
    assert_error(api.get(f"/api/v1/orders/{body['number']}"), 404, "NOT_FOUND")
    assert stored(app) == before


def test_boards_by_count(api, new_order):
    number, _ = new_order(1)
    r = api.post(f"/api/v1/orders/{number}/boards", {"count": 3}, "admin")
    assert r.status_code == 201
    serials = r.get_json()["serials"]
    assert serials == [f"{number}-00002", f"{number}-00003", f"{number}-00004"]
    assert order(api, number)["boards"] == 4
    assert api.scan("T-PRINT", serials[-1]).status_code == 201


def test_boards_by_serials(app, api, new_order):
    number, _ = new_order(1)
    own = [f"CUS-{number}-A", f"CUS-{number}-B"]
    r = api.post(f"/api/v1/orders/{number}/boards", {"serials": own}, "admin")
    assert r.status_code == 201 and r.get_json() == {"serials": own}
    assert api.scan("T-PRINT", own[1]).get_json()["serial"] == own[1]
    before = stored(app)
    err = assert_error(api.post(f"/api/v1/orders/{number}/boards",
                                {"serials": [f"CUS-{number}-C", own[0]]}, "admin"),
                       409, "ALREADY_EXISTS")
    assert own[0] in err["message"]
    for bad in ({"count": 2, "serials": [f"CUS-{number}-D"]}, {}, {"count": 0},
                {"count": "2"}, {"serials": []}, {"serials": ["a b c"]},
                {"serials": ["DUP-1", "DUP-1"]}):
        assert_error(api.post(f"/api/v1/orders/{number}/boards", bad, "admin"),
                     400, "INVALID_INPUT")
    assert_error(api.post("/api/v1/orders/NO-SUCH/boards", {"count": 1}, "admin"),
                 404, "NOT_FOUND")
    assert stored(app) == before
    assert order(api, number)["boards"] == 3


# --- the order ---------------------------------------------------------------------------


def test_order_fields(api, new_order):
    number, serials = new_order(2, unit_price="7.50")
    got = order(api, number)
    assert got["number"] == number and got["status"] == "open"
    assert got["quantity"] == 2 and got["boards_passed"] == 0
    assert got["balance_due"] == "15.00"
    assert got["readiness"]["ready"] is True
    assert [i["item"] for i in got["readiness"]["items"]] == [
        "data_package", "stencil", "profile_board", "blank_pcbs"]
    assert got["signoff"] is None
    blockers = got["shipment_blockers"]
    assert all({"code", "message"} <= set(b) and b["message"] for b in blockers)
    assert {b["code"] for b in blockers} == {"NOT_ALL_PASSED", "NOT_SIGNED_OFF", "NOT_PAID"}
    assert api.scan("T-PRINT", serials[0]).status_code == 201
    got = order(api, number)
    assert got["status"] == "in_production" and got["steps"]["PRINT"] == 1
    assert_error(api.get("/api/v1/orders/NO-SUCH"), 404, "NOT_FOUND")


# --- scanning ----------------------------------------------------------------------------


def test_a_board_walks_its_route_with_next_steps(app, api, new_order):
    _, (serial, *_) = new_order(1)
    expected = ["PRINT", "SPI", "PLACE", "REFLOW", "AOI", "FCT"]
    for step, next_step in itertools.pairwise(expected):
        r = api.scan(f"T-{step}", serial)
        assert r.status_code == 201
        body = r.get_json()
        assert {k: body[k] for k in ("accepted", "serial", "order", "step", "next_step")} == {
            "accepted": True, "serial": serial, "order": body["order"], "step": step,
            "next_step": next_step}
    before = stored(app)
    err = assert_error(api.scan("T-FCT", serial), 409, "NEEDS_TEST")
    assert serial in err["message"]
    assert stored(app) == before


def test_next_step_is_null_after_the_last_step(app, api, new_order):
    number, (serial,) = new_order(1, route=SHORT_ROUTE)
    assert api.scan("T-AOI", serial).get_json()["next_step"] == "FCT"
    assert_error(api.scan("T-FCT", serial), 409, "NEEDS_TEST")
    # FCT passes only by a test result (not built yet): record that pass the way it will be.
    with Session(app.extensions["engine"]) as s:
        board = s.exec(select(Board).where(Board.serial == serial)).one()
        s.add(BoardStep(board_id=board.id, step_index=1, step="FCT", station_id="T-FCT"))
        s.commit()
    r = api.scan("T-PACK", serial)
    assert r.status_code == 201
    body = r.get_json()
    assert body["accepted"] is True and body["step"] == "PACK" and body["next_step"] is None
    assert body["order"] == number and body["serial"] == serial
    assert order(api, number)["status"] == "complete"
    assert_error(api.scan("T-PACK", serial), 409, "ALREADY_DONE")


def test_invalid_code_is_400(api):
    err = assert_error(api.scan("T-PRINT", "WO 1"), 400, "INVALID_CODE")
    assert "not a code" in err["message"]


def test_unknown_board_is_404(app, api):
    before = stored(app)
    err = assert_error(api.scan("T-PRINT", "NO-SUCH-BOARD"), 404, "UNKNOWN_BOARD")
    assert "NO-SUCH-BOARD" in err["message"]
    assert stored(app) == before


def test_unknown_station_is_404(api, line):
    assert_error(api.scan("T-NOWHERE", line.serials[0]), 404, "UNKNOWN_STATION")


@pytest.mark.parametrize("station", [None, 7, ["T-PRINT"], {"id": "T-PRINT"}, True])
def test_station_must_be_a_station_id(app, api, new_order, station):
    _, (serial,) = new_order(1)
    before = stored(app)
    r = api.post("/api/v1/scans", {"code": serial} if station is None else
                 {"station": station, "code": serial})
    assert_error(r, 400, "INVALID_INPUT")
    assert stored(app) == before


def test_out_of_sequence_names_the_needed_step(app, api, new_order):
    _, (serial,) = new_order(1)
    before = stored(app)
    err = assert_error(api.scan("T-AOI", serial), 409, "OUT_OF_SEQUENCE")
    assert err["needed_step"] == "PRINT" and "PRINT" in err["message"]
    assert stored(app) == before
    api.scan("T-PRINT", serial)
    err = assert_error(api.scan("T-REFLOW", serial), 409, "OUT_OF_SEQUENCE")
    assert err["needed_step"] == "SPI"


def test_already_done(app, api, new_order):
    _, (serial,) = new_order(1)
    assert api.scan("T-PRINT", serial).status_code == 201
    before = stored(app)
    err = assert_error(api.scan("T-PRINT", serial), 409, "ALREADY_DONE")
    assert err["next_step"] == "SPI"
    assert stored(app) == before


def test_wrong_station(app, api, new_order):
    _, (serial,) = new_order(1)
    _, (short,) = new_order(1, route=SHORT_ROUTE)
    before = stored(app)
    err = assert_error(api.scan("T-DIP", serial), 409, "WRONG_STATION")
    assert err["needed_step"] == "PRINT"
    err = assert_error(api.scan("T-PRINT", short), 409, "WRONG_STATION")
    assert err["needed_step"] == "AOI"
    assert stored(app) == before


def test_needs_test_at_fct(app, api, new_order):
    _, (serial,) = new_order(1, route=SHORT_ROUTE)
    api.scan("T-AOI", serial)
    before = stored(app)
    assert_error(api.scan("T-FCT", serial), 409, "NEEDS_TEST")
    err = assert_error(api.scan("T-PACK", serial), 409, "OUT_OF_SEQUENCE")
    assert err["needed_step"] == "FCT"
    assert stored(app) == before


def test_a_held_order_moves_nowhere_until_released(app, api, new_order):
    number, (first, second) = new_order(2)
    assert api.scan("T-PRINT", first).status_code == 201
    r = api.post(f"/api/v1/orders/{number}/holds", {"reason": "solder balls on U3"}, "qa")
    assert r.status_code == 201 and r.get_json()["on_hold"] is True
    got = order(api, number)
    assert got["status"] == "on_hold"
    assert "ON_HOLD" in {b["code"] for b in got["shipment_blockers"]}
    before = stored(app)
    for station, serial in (("T-SPI", first), ("T-PRINT", second)):
        err = assert_error(api.scan(station, serial), 409, "ON_HOLD")
        assert "solder balls on U3" in err["message"]
    assert stored(app) == before
    r = api.delete(f"/api/v1/orders/{number}/holds", "qa")
    assert r.status_code == 200 and r.get_json()["released"] == 1
    assert api.scan("T-SPI", first).status_code == 201
    assert api.scan("T-PRINT", second).status_code == 201
    got = order(api, number)
    assert got["status"] == "in_production" and got["holds"] == []
    assert "ON_HOLD" not in {b["code"] for b in got["shipment_blockers"]}


def test_a_held_board_alone_is_stopped(api, new_order):
    number, (held, free) = new_order(2)
    r = api.post(f"/api/v1/orders/{number}/holds", {"reason": "cracked", "serial": held}, "qa")
    assert r.status_code == 201
    assert_error(api.scan("T-PRINT", held), 409, "ON_HOLD")
    assert api.scan("T-PRINT", free).status_code == 201
    assert api.delete(f"/api/v1/orders/{number}/holds?serial={held}", "qa") \
        .get_json()["released"] == 1
    assert api.scan("T-PRINT", held).status_code == 201


def test_a_hold_needs_a_reason_and_a_known_order(app, api, new_order):
    number, _ = new_order(1)
    before = stored(app)
    for body in ({}, {"reason": "  "}, {"reason": 5}, {"reason": "x" * 501}):
        assert_error(api.post(f"/api/v1/orders/{number}/holds", body, "qa"),
                     400, "INVALID_INPUT")
    assert_error(api.post("/api/v1/orders/NO-SUCH/holds", {"reason": "x"}, "qa"),
                 404, "NOT_FOUND")
    assert_error(api.post(f"/api/v1/orders/{number}/holds", {"reason": "x", "serial": "NOPE1"},
                          "qa"), 404, "NOT_FOUND")
    assert stored(app) == before


def test_scan_id_replay_returns_the_first_answer_and_stores_nothing(app, api, new_order):
    number, (serial,) = new_order(1)
    first = api.scan("T-PRINT", serial, scan_id="tablet-7:0001")
    assert first.status_code == 201
    after_first = stored(app)
    for _ in range(2):
        again = api.scan("T-PRINT", serial, scan_id="tablet-7:0001")
        assert again.status_code == 201
        assert again.get_data() == first.get_data()
    assert stored(app) == after_first
    assert order(api, number)["steps"]["PRINT"] == 1
    # The board moves on; the old scan id still answers as it first did.
    assert api.scan("T-SPI", serial, scan_id="tablet-7:0002").status_code == 201
    assert api.scan("T-PRINT", serial, scan_id="tablet-7:0001").get_json() == first.get_json()
    # A scan without an id is a new scan, and is refused as done.
    assert_error(api.scan("T-PRINT", serial), 409, "ALREADY_DONE")


def test_a_bad_scan_id_is_refused(app, api, new_order):
    _, (serial,) = new_order(1)
    before = stored(app)
    for scan_id in ("has space", "x" * 65, "<b>"):
        assert_error(api.scan("T-PRINT", serial, scan_id=scan_id), 400, "INVALID_INPUT")
    assert stored(app) == before


def test_a_panel_label_moves_all_its_boards(api, new_order):
    number, serials = new_order(3, panel_size=3)
    panel = f"{number}-P0001"
    r = api.scan("T-PRINT", panel)
    assert r.status_code == 201
    body = r.get_json()
    assert body["accepted"] is True and body["step"] == "PRINT" and body["next_step"] == "SPI"
    assert body["order"] == number and body["serials"] == serials and body["panel"] == panel
    assert order(api, number)["steps"]["PRINT"] == 3
    for serial in serials:
        assert_error(api.scan("T-PRINT", serial), 409, "ALREADY_DONE")
    assert api.scan("T-SPI", serials[1]).get_json()["next_step"] == "PLACE"
    assert order(api, number)["steps"] == {**dict.fromkeys(order(api, number)["route"], 0),
                                           "PRINT": 3, "SPI": 1}


BAD_CODES = [
    pytest.param("WO-1\x07", id="bell"),
    pytest.param("WO\x00-1", id="nul"),
    pytest.param("\x1b[31mWO-1", id="escape"),
    pytest.param("WO-1\u200b", id="zero-width"),
    pytest.param("<script>alert(1)</script>", id="html"),
    pytest.param("<img src=x onerror=alert(1)>", id="html-attr"),
    pytest.param("javascript:alert(1)", id="js-url"),
    pytest.param("WO-1' OR '1'='1", id="sql"),
    pytest.param("WO-1; DROP TABLE board;--", id="sql-drop"),
    pytest.param("\u202eWO-1", id="bidi-override"),
    pytest.param("WO-1\u2066", id="bidi-isolate"),
    pytest.param("A" * 10240, id="10kB"),
    pytest.param("A" * 65, id="too-long"),
    pytest.param("", id="empty"),
    pytest.param("   \r\n", id="blank"),
    pytest.param("Ｗ０-1", id="fullwidth"),
    pytest.param(12345, id="number"),
    pytest.param(None, id="null"),
    pytest.param(True, id="bool"),
    pytest.param(["WO-1-00001"], id="list"),
    pytest.param({"code": "WO-1-00001"}, id="object"),
]


@pytest.mark.parametrize("code", BAD_CODES)
def test_bad_input_is_refused_and_stores_nothing(app, api, new_order, code):
    _, (serial,) = new_order(1)
    before = stored(app)
    r = api.post("/api/v1/scans", {"station": "T-PRINT", "code": code, "scan_id": "bad-1"})
    assert_error(r, 400, "INVALID_CODE")
    assert stored(app) == before
    ok = api.scan("T-PRINT", serial)
    assert ok.status_code == 201 and ok.get_json()["serial"] == serial


def test_two_stations_scanning_one_board_at_once_let_exactly_one_win(app, line, new_order):
    number, serials = new_order(10)
    results = []

    def scan(role, serial, barrier):
        caller = Api(app.test_client(), line)
        barrier.wait()
        r = caller.scan("T-PRINT", serial, role=role)
        results.append((serial, r.status_code, r.get_json()))

    for serial in serials:
        barrier = threading.Barrier(2)
        threads = [threading.Thread(target=scan, args=(role, serial, barrier))
                   for role in ("operator", "qa")]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=30)
    assert len(results) == 20
    for serial in serials:
        mine = sorted(((status, body) for s, status, body in results if s == serial),
                      key=lambda pair: pair[0])
        assert [status for status, _ in mine] == [201, 409]
        assert mine[0][1]["serial"] == serial
        assert mine[1][1]["error"]["code"] == "ALREADY_DONE"
    with Session(app.extensions["engine"]) as s:
        steps = s.exec(select(func.count()).select_from(BoardStep).join(Board)
                       .where(Board.serial.in_(serials))).one()
    assert steps == 10
    assert order(Api(app.test_client(), line), number)["steps"]["PRINT"] == 10
