"""Functional test through the JSON API and the HTML screens: results, imports, repairs, scrap,
board holds, QA sign-off, the FCT station screen, the board page and the review page."""

import hashlib
import io
import re
import shutil

import pytest
from conftest import ROUTE, Api, Line, build_line, make_app
from sqlmodel import Session, func, select
from test_fct import run_openhtf

from station import people
from station.models import Event, Repair, Scrap, Signoff, TestAttempt, User

FCT = ROUTE.index("FCT")
TESTS = "/api/v1/tests"
ORDER = "/api/v1/orders/WO-1"


@pytest.fixture(scope="module")
def template(tmp_path_factory):
    """A database file with a ready line and API tokens, built once for the module."""
    folder = tmp_path_factory.mktemp("fct-api-template")
    app = make_app(folder)
    with Session(app.extensions["engine"], expire_on_commit=False) as s:
        line = build_line(s, boards=4)
    app.extensions["engine"].dispose()
    return folder / "station.db", dict(line.tokens), list(line.serials)


@pytest.fixture(scope="module")
def module_app(tmp_path_factory, template):
    """One app for the module (building its routes is not cheap) over a file each test resets."""
    folder = tmp_path_factory.mktemp("fct-api")
    shutil.copy(template[0], folder / "station.db")
    app = make_app(folder)
    yield app, folder
    app.extensions["engine"].dispose()


@pytest.fixture
def app(module_app, template):
    """The module's app on a fresh copy of the template (no connection is open in between)."""
    app, folder = module_app
    app.extensions["engine"].dispose()
    for leftover in ("station.db-wal", "station.db-shm"):
        (folder / leftover).unlink(missing_ok=True)
    shutil.copy(template[0], folder / "station.db")
    return app


@pytest.fixture
def line(app, template):
    line = Line(tokens=dict(template[1]), serials=list(template[2]))
    with Session(app.extensions["engine"], expire_on_commit=False) as s:
        for role in people.ROLES:
            line.users[role] = s.exec(select(User).where(User.name == role)).one()
    return line


@pytest.fixture
def api(client, line):
    return Api(client, line)


def count(app, model, *where) -> int:
    with Session(app.extensions["engine"]) as s:
        return s.exec(select(func.count()).select_from(model).where(*where)).one()


def stored(app) -> dict:
    return {m.__name__: count(app, m) for m in (TestAttempt, Event, Repair, Scrap, Signoff)}


def to_fct(api, *serials):
    for serial in serials:
        for step in ROUTE[:FCT]:
            r = api.scan(f"T-{step}", serial)
            assert r.status_code == 201, r.get_json()


def body(serial, outcome="pass", **extra):
    """A test result exactly as API.md describes it."""
    return {"serial": serial, "station": "T-FCT", "outcome": outcome, "program": "ctrl-fct",
            "program_version": "4.2.0", "fixture": "FX-11",
            "started_at": "2026-03-02T08:00:00Z", "ended_at": "2026-03-02T08:00:41Z",
            "measurements": [{"name": "vcc", "value": 3.31 if outcome == "pass" else 2.9,
                              "unit": "V", "low": 3.2, "high": 3.4,
                              "outcome": "pass" if outcome == "pass" else "fail"}], **extra}


def result(api, serial, outcome="pass", role="operator", **extra):
    return api.post(TESTS, body(serial, outcome, **extra), role)


def error(r, status, code):
    assert r.status_code == status, (r.status_code, r.get_data(as_text=True))
    err = r.get_json()["error"]
    assert err["code"] == code and err["message"]
    return err


def upload(api, path, data, name="record.json", station="T-FCT", role="operator"):
    return api.client.post(path, data={"file": (io.BytesIO(data), name), "station": station},
                           headers={"Authorization": f"Bearer {api.line.tokens[role]}"},
                           content_type="multipart/form-data")


def sign(api, role="qa", badge="10002", pin="1234", meaning="Approved: functional test results"):
    return api.post(f"{ORDER}/signoff", {"badge": badge, "pin": pin, "meaning": meaning}, role)


def pass_all(api):
    to_fct(api, *api.line.serials)
    for serial in api.line.serials:
        assert result(api, serial).status_code == 201


# --- POST /api/v1/tests -----------------------------------------------------------------------


def test_a_result_is_201_and_kept_with_every_field(api, app):
    sn = api.line.serials[0]
    to_fct(api, sn)
    r = result(api, sn, "fail", defect_code="SHORT")
    assert r.status_code == 201
    got = r.get_json()
    assert (got["serial"], got["station"], got["outcome"], got["state"]) == \
        (sn, "T-FCT", "fail", "needs_repair")
    assert (got["program"], got["program_version"], got["fixture"]) == \
        ("ctrl-fct", "4.2.0", "FX-11")
    assert got["started_at"] == "2026-03-02T08:00:00.000000Z"
    assert got["ended_at"] == "2026-03-02T08:00:41.000000Z"
    assert got["measurements"] == [{"name": "vcc", "value": 2.9, "unit": "V", "low": 3.2,
                                    "high": 3.4, "outcome": "fail"}]
    assert got["defect_code"] == "SHORT" and got["recorded_at"].endswith("Z")
    assert result(api, sn, "pass").get_json()["state"] == "passed"

    tests = api.get(f"/api/v1/boards/{sn}/tests").get_json()
    assert tests["serial"] == sn and tests["state"] == "passed"
    assert [a["outcome"] for a in tests["attempts"]] == ["fail", "pass"], "every attempt kept"
    assert tests["attempts"][0]["id"] == got["id"]
    assert api.get(f"/api/v1/boards/{sn}/tests", role="finance").status_code == 200
    assert api.get("/api/v1/boards/NOSUCH-1/tests").status_code == 404


def test_a_board_not_at_fct_is_out_of_sequence_409(api, app):
    sn = api.line.serials[0]
    before = stored(app)
    err = error(result(api, sn), 409, "OUT_OF_SEQUENCE")
    assert err["needed_step"] == "PRINT" and "PRINT" in err["message"]
    for step in ROUTE[:3]:
        api.scan(f"T-{step}", sn)
    assert error(result(api, sn), 409, "OUT_OF_SEQUENCE")["needed_step"] == "REFLOW"
    assert count(app, TestAttempt) == before["TestAttempt"]
    assert api.get(f"/api/v1/boards/{sn}/tests").get_json()["attempts"] == []


def test_an_unknown_board_is_404_and_a_station_not_fct_is_409(api, app):
    sn = api.line.serials[0]
    to_fct(api, sn)
    before = stored(app)
    error(result(api, "NOSUCH-0001"), 404, "UNKNOWN_BOARD")
    error(api.post(TESTS, {**body(sn), "station": "T-AOI"}), 409, "WRONG_STATION")
    error(api.post(TESTS, {**body(sn), "station": "NOPE"}), 404, "UNKNOWN_STATION")
    assert stored(app) == before


@pytest.mark.parametrize("change", [
    {"outcome": "PASSED"}, {"outcome": None}, {"outcome": 1},
    {"started_at": "8 o'clock"}, {"started_at": 1700000000}, {"ended_at": "2026-13-40T00:00Z"},
    {"started_at": "2026-03-02T09:00:00Z"},  # after it ended
    {"measurements": "vcc=3.3"}, {"measurements": [["vcc", 3.3]]},
    {"measurements": [{"value": 3.3}]}, {"measurements": [{"name": "vcc", "value": [3, 3]}]},
    {"measurements": [{"name": "vcc", "value": 3.3, "outcome": "PASS"}]},
    {"measurements": [{"name": "vcc", "value": 3.3, "low": "3.2"}]},
    {"measurements": [{"name": "vcc", "value": 3.3, "unit": 7}]},
    {"defect_code": "NOT-A-CODE"}, {"fixture": ["FX"]},
])
def test_malformed_results_are_400_and_store_nothing(api, app, change):
    sn = api.line.serials[0]
    to_fct(api, sn)
    before = stored(app)
    error(api.post(TESTS, {**body(sn), **change}), 400, "INVALID_INPUT")
    assert stored(app) == before


def test_a_body_that_is_not_json_is_400(api, app):
    r = api.client.post(TESTS, data="serial=1", headers={
        "Authorization": f"Bearer {api.line.tokens['operator']}",
        "Content-Type": "application/json"})
    error(r, 400, "INVALID_INPUT")


def test_only_floor_roles_post_results(api, app):
    sn = api.line.serials[0]
    to_fct(api, sn)
    error(api.post(TESTS, body(sn), role=None), 401, "UNAUTHENTICATED")
    for role in ("admin", "finance"):
        error(result(api, sn, role=role), 403, "FORBIDDEN")
    assert count(app, TestAttempt) == 0
    for role in ("operator", "qa", "supervisor"):
        assert result(api, sn, role=role).status_code == 201, role


def test_the_retest_limit_forces_a_repair(api, app):
    sn = api.line.serials[0]
    to_fct(api, sn)
    assert result(api, sn, "fail").status_code == 201
    assert result(api, sn, "fail").status_code == 201
    err = error(result(api, sn, "pass"), 409, "NEEDS_REPAIR")
    assert "repair is forced" in err["message"]
    error(api.scan("T-QA", sn), 409, "NEEDS_REPAIR")
    assert len(api.get(f"/api/v1/boards/{sn}/tests").get_json()["attempts"]) == 2


# --- imports ----------------------------------------------------------------------------------


def test_an_openhtf_record_is_imported_by_multipart(api, app, tmp_path):
    sn = api.line.serials[0]
    to_fct(api, sn)
    path = tmp_path / "record.json"
    run_openhtf(path, sn, vcc=3.3, current=0.2)
    data = path.read_bytes()
    r = upload(api, f"{TESTS}/openhtf", data)
    assert r.status_code == 201, r.get_json()
    got = r.get_json()
    assert got["outcome"] == "pass" and got["source"] == "openhtf"
    assert (got["program"], got["program_version"]) == ("ctrl100-fct", "1.4.2")
    assert got["sha256"] == hashlib.sha256(data).hexdigest()
    vcc = next(m for m in got["measurements"] if m["name"] == "power_rails.vcc")
    assert (vcc["low"], vcc["high"], vcc["unit"], vcc["value"]) == (3.2, 3.4, "V", 3.3)
    assert api.scan("T-QA", sn).status_code == 201, "a passing record moves the board on"

    before = stored(app)
    error(upload(api, f"{TESTS}/openhtf", b"{not json"), 400, "INVALID_INPUT")
    error(api.client.post(f"{TESTS}/openhtf", data={"station": "T-FCT"}, headers={
        "Authorization": f"Bearer {api.line.tokens['operator']}"},
        content_type="multipart/form-data"), 400, "INVALID_INPUT")
    error(upload(api, f"{TESTS}/openhtf", data, role="finance"), 403, "FORBIDDEN")
    error(upload(api, f"{TESTS}/openhtf", data, station="T-AOI"), 409, "WRONG_STATION")
    assert stored(app) == before


def test_a_csv_is_imported_by_multipart_all_rows_or_none(api, app):
    a, b, c, _ = api.line.serials
    to_fct(api, a, b, c)
    good = f"serial,outcome,program,defect_code\n{a},pass,ict,\n{b},fail,ict,OPEN\n".encode()
    r = upload(api, f"{TESTS}/csv", good, "results.csv")
    assert r.status_code == 201
    got = r.get_json()["attempts"]
    assert [x["outcome"] for x in got] == ["pass", "fail"]
    assert {x["sha256"] for x in got} == {hashlib.sha256(good).hexdigest()}
    assert got[1]["defect_code"] == "OPEN" and got[1]["source"] == "csv"

    before = stored(app)
    bad = f"serial,outcome\n{c},pass\n{api.line.serials[3]},pass\n".encode()  # 4th not at FCT
    err = error(upload(api, f"{TESTS}/csv", bad, "results.csv"), 400, "INVALID_INPUT")
    assert "row 3" in err["message"]
    assert stored(app) == before
    assert api.get(f"/api/v1/boards/{c}/tests").get_json()["state"] == "untested"


# --- repairs and scrap --------------------------------------------------------------------------


def test_a_repair_is_recorded_and_sends_the_board_back_to_test(api, app):
    sn = api.line.serials[0]
    to_fct(api, sn)
    error(api.post(f"/api/v1/boards/{sn}/repairs", {"defect_code": "SHORT", "action": "x"}),
          400, "INVALID_INPUT")  # nothing failed yet
    result(api, sn, "fail", defect_code="SHORT")
    for bad in ({"defect_code": "BANANA", "action": "x"}, {"defect_code": "SHORT"},
                {"defect_code": "SHORT", "action": ""}):
        error(api.post(f"/api/v1/boards/{sn}/repairs", bad), 400, "INVALID_INPUT")
    error(api.post(f"/api/v1/boards/{sn}/repairs", {"defect_code": "SHORT", "action": "x"},
                   role="finance"), 403, "FORBIDDEN")
    error(api.post("/api/v1/boards/NOSUCH-1/repairs", {"defect_code": "SHORT", "action": "x"}),
          404, "UNKNOWN_BOARD")
    assert count(app, Repair) == 0
    r = api.post(f"/api/v1/boards/{sn}/repairs",
                 {"defect_code": "SHORT", "location": "U3", "action": "removed solder bridge"})
    assert r.status_code == 201 and r.get_json()["defect_code"] == "SHORT"
    tests = api.get(f"/api/v1/boards/{sn}/tests").get_json()
    assert tests["state"] == "repaired"
    assert tests["repairs"][0]["location"] == "U3"
    assert tests["repairs"][0]["action"] == "removed solder bridge"
    error(api.scan("T-FCT", sn), 409, "NEEDS_TEST")
    assert result(api, sn, "pass").get_json()["state"] == "passed"


def test_only_qa_scraps_and_a_scrapped_board_is_refused(api, app):
    a, b = api.line.serials[:2]
    to_fct(api, a)
    for role in ("operator", "supervisor", "admin", "finance"):
        error(api.post(f"/api/v1/boards/{a}/scrap", {"reason": "cracked"}, role), 403,
              "FORBIDDEN")
    error(api.post(f"/api/v1/boards/{a}/scrap", {"reason": " "}, "qa"), 400, "INVALID_INPUT")
    assert count(app, Scrap) == 0
    for sn in (a, b):
        r = api.post(f"/api/v1/boards/{sn}/scrap", {"reason": "cracked laminate"}, "qa")
        assert r.status_code == 201
        assert r.get_json()["reason"] == "cracked laminate"
        assert r.get_json()["scrapped_at"].endswith("Z")
    for sn in (a, b):
        err = error(result(api, sn), 409, "BOARD_SCRAPPED")
        assert "cracked laminate" in err["message"]
        for step in ("PRINT", "AOI", "QA"):
            error(api.scan(f"T-{step}", sn), 409, "BOARD_SCRAPPED")
    assert api.get(f"/api/v1/boards/{a}/tests").get_json()["scrapped"] == "cracked laminate"
    error(api.post(f"/api/v1/boards/{a}/scrap", {"reason": "again"}, "qa"), 400, "INVALID_INPUT")


# --- holds on a single board --------------------------------------------------------------------


def test_qa_holds_and_releases_a_single_board(api, app):
    held, free = api.line.serials[:2]
    to_fct(api, held)
    api.scan("T-PRINT", free)
    error(api.post(f"{ORDER}/holds", {"serial": held, "reason": "x"}), 403, "FORBIDDEN")
    error(api.post(f"{ORDER}/holds", {"serial": "NOSUCH-1", "reason": "x"}, "qa"), 404,
          "NOT_FOUND")
    r = api.post(f"{ORDER}/holds", {"serial": held, "reason": "X-ray voids on U5"}, "qa")
    assert r.status_code == 201
    assert r.get_json()["serial"] == held and r.get_json()["on_hold"] is True
    before = stored(app)
    for post in (lambda: result(api, held), lambda: api.scan("T-FCT", held),
                 lambda: api.scan("T-QA", held)):
        err = error(post(), 409, "ON_HOLD")
        assert "X-ray voids on U5" in err["message"] and held in err["message"]
    assert stored(app) == before
    assert api.scan("T-SPI", free).status_code == 201, "only that board is held"
    order = api.get(ORDER).get_json()
    assert [h["serial"] for h in order["holds"]] == [held]
    assert "ON_HOLD" in [b["code"] for b in order["shipment_blockers"]]

    error(api.delete(f"{ORDER}/holds?serial={held}", role="operator"), 403, "FORBIDDEN")
    assert api.delete(f"{ORDER}/holds", role="qa").get_json()["released"] == 0, \
        "releasing the order leaves the board's hold"
    assert result(api, held).status_code == 409
    r = api.delete(f"{ORDER}/holds?serial={held}", role="qa")
    assert r.status_code == 200 and r.get_json()["released"] == 1
    assert result(api, held).status_code == 201
    assert api.get(ORDER).get_json()["holds"] == []


# --- sign-off -----------------------------------------------------------------------------------


def test_signoff_needs_every_board_passed(api, app):
    to_fct(api, *api.line.serials)
    result(api, api.line.serials[0])
    err = error(sign(api), 409, "NOT_ALL_PASSED")
    assert api.line.serials[1] in err["message"]
    assert count(app, Signoff) == 0
    blockers = [b["code"] for b in api.get(ORDER).get_json()["shipment_blockers"]]
    assert "NOT_ALL_PASSED" in blockers and "NOT_SIGNED_OFF" in blockers


def test_signoff_roles_and_credentials(api, app):
    pass_all(api)
    for role, badge in (("operator", "10001"), ("finance", "10002"), ("admin", "10002"),
                        ("supervisor", "10004")):
        error(sign(api, role=role, badge=badge), 403, "FORBIDDEN")
    error(sign(api, pin="9999"), 401, "BAD_CREDENTIALS")
    error(sign(api, badge="10001"), 401, "BAD_CREDENTIALS")  # the operator's own badge and PIN
    error(sign(api, badge="99999"), 401, "BAD_CREDENTIALS")
    error(sign(api, meaning=""), 400, "INVALID_INPUT")
    error(api.post(f"{ORDER}/signoff", {"badge": "10002", "pin": "1234"}, "qa"), 400,
          "INVALID_INPUT")
    assert count(app, Signoff) == 0
    with Session(app.extensions["engine"]) as s:
        assert s.exec(select(User.failed_pins).where(User.name == "qa")).one() == 1
    assert api.get(ORDER).get_json()["signoff"] is None


def test_a_signoff_is_201_and_a_later_change_voids_it(api, app):
    pass_all(api)
    r = sign(api)
    assert r.status_code == 201
    got = r.get_json()
    assert set(got) >= {"signed_by", "signed_at", "meaning", "results_hash"}
    assert got["signed_by"] == "Qa One"
    assert got["meaning"] == "Approved: functional test results"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z", got["signed_at"])
    assert re.fullmatch(r"[0-9a-f]{64}", got["results_hash"])
    order = api.get(ORDER, role="finance").get_json()
    assert order["signoff"] == {**got, "valid": True}
    codes = [b["code"] for b in order["shipment_blockers"]]
    assert "SIGNOFF_VOID" not in codes and "NOT_SIGNED_OFF" not in codes

    assert result(api, api.line.serials[2], "fail").status_code == 201
    order = api.get(ORDER).get_json()
    assert order["signoff"]["valid"] is False
    assert order["signoff"]["results_hash"] == got["results_hash"]
    assert "SIGNOFF_VOID" in [b["code"] for b in order["shipment_blockers"]]
    error(sign(api), 409, "NOT_ALL_PASSED")
    review = api.get(f"{ORDER}/review").get_json()
    assert review["signoff"]["valid"] is False


# --- the HTML screens ---------------------------------------------------------------------------


def login(client, badge="10001", pin="1234"):
    r = client.post("/login", data={"badge": badge, "pin": pin})
    assert r.status_code == 302, r.get_data(as_text=True)


def test_the_fct_station_screen_shows_and_records_attempts(api, app, client):
    sn, early = api.line.serials[:2]
    to_fct(api, sn)
    assert client.get("/fct/T-FCT").status_code == 302  # sign in first
    login(client)
    page = client.get("/fct/T-FCT").get_data(as_text=True)
    assert 'id="code"' in page and "T-FCT" in page

    html = client.post("/fct/T-FCT/board", data={"code": sn}).get_data(as_text=True)
    assert sn in html and "untested" in html and "Not tested yet." in html
    assert 'value="pass"' in html and 'value="SHORT"' in html

    html = client.post("/fct/T-FCT/board", data={"code": sn, "outcome": "fail",
                                                 "defect_code": "SHORT"}).get_data(as_text=True)
    assert "FAIL recorded" in html and "needs_repair" in html
    assert "<td>SHORT</td>" in html
    with Session(app.extensions["engine"]) as s:
        kept = s.exec(select(TestAttempt)).all()
        assert [(a.outcome, a.defect_code, a.source, a.station_id) for a in kept] == \
            [("fail", "SHORT", "manual", "T-FCT")]
        assert kept[0].user_id == api.line.users["operator"].id

    html = client.post("/fct/T-FCT/board", data={"code": sn, "outcome": "pass"}) \
        .get_data(as_text=True)
    assert "PASS recorded" in html and "passed" in html
    assert html.count('class="verdict fail"') == html.count('class="verdict pass"') == 1
    assert count(app, TestAttempt) == 2

    html = client.post("/fct/T-FCT/board", data={"code": early, "outcome": "pass"}) \
        .get_data(as_text=True)
    assert "OUT_OF_SEQUENCE" in html and 'data-outcome="refused"' in html
    html = client.post("/fct/T-FCT/board", data={"code": "NOSUCH-1"}).get_data(as_text=True)
    assert "UNKNOWN_BOARD" in html
    assert count(app, TestAttempt) == 2
    assert client.get("/fct/T-AOI").status_code == 404  # not an FCT station


def test_the_board_page_shows_attempts_and_repairs(api, app, client):
    sn = api.line.serials[0]
    to_fct(api, sn)
    result(api, sn, "fail", defect_code="POLARITY")
    login(client)
    page = client.get(f"/boards/{sn}").get_data(as_text=True)
    assert "needs_repair" in page and "Record repair" in page and "POLARITY" in page
    r = client.post(f"/boards/{sn}/repairs", data={"defect_code": "POLARITY", "location": "D4",
                                                   "action": "turned D4 around"})
    assert r.status_code == 302
    result(api, sn, "pass")
    page = client.get(f"/boards/{sn}").get_data(as_text=True)
    assert "turned D4 around" in page and "@ D4" in page
    assert "FAIL" in page and "PASS" in page and "ctrl-fct 4.2.0" in page
    assert "vcc=2.9 V [3.2, 3.4]" in page  # the failed measurement with its limits
    assert "Scrap board" not in page, "only QA sees the scrap form"


def test_the_review_page_shows_yields_and_the_signature_box(api, app, client):
    a, b, c, d = api.line.serials
    to_fct(api, a, b, c, d)
    for sn in (a, b, c):
        result(api, sn)
    result(api, d, "fail", defect_code="OPEN")
    login(client, badge="10002")  # QA
    page = client.get("/orders/WO-1/review").get_data(as_text=True)
    assert "Not signed off." in page
    assert "First-pass yield: <strong>75.0 %</strong>" in page
    assert "Final yield: <strong>75.0 %</strong>" in page
    assert "OPEN: 1" in page and "vcc: 1" in page
    assert 'id="sign-badge"' in page and 'id="sign-pin"' in page

    result(api, d, "pass")
    form = {"badge": "10002", "pin": "0000", "meaning": "Approved: functional test results"}
    page = client.post("/orders/WO-1/review", data=form).get_data(as_text=True)
    assert "BAD_CREDENTIALS" in page and count(app, Signoff) == 0
    r = client.post("/orders/WO-1/review", data={**form, "pin": "1234"})
    assert count(app, Signoff) == 1
    # redirected after signing: a reload of the page sends no badge and PIN again
    assert r.status_code == 302 and r.headers["Location"].endswith("/orders/WO-1/review")
    page = client.get("/orders/WO-1/review").get_data(as_text=True)
    assert 'data-valid="true"' in page and "Qa One" in page
    assert "Approved: functional test results" in page and " UTC" in page
    assert "Final yield: <strong>100.0 %</strong>" in page
    assert "Retests: 1" in page

    result(api, a, "fail", defect_code="DAMAGED")
    page = client.get("/orders/WO-1/review").get_data(as_text=True)
    assert 'data-valid="false"' in page and "VOID" in page and "Qa One" in page

    client.post("/logout")
    login(client)  # an operator sees the review but not the signature box
    page = client.get("/orders/WO-1/review").get_data(as_text=True)
    assert "VOID" in page and 'id="sign-badge"' not in page
    page = client.post("/orders/WO-1/review", data={**form, "badge": "10001", "pin": "1234"})
    assert page.status_code == 200 and "VOID" in page.get_data(as_text=True)
    assert count(app, Signoff) == 1, "only QA signs"



def test_the_fct_screen_reads_a_scan_as_the_scan_box_does(api, app, client):
    sn = api.line.serials[0]
    to_fct(api, sn)
    login(client)
    html = client.post("/fct/T-FCT/board", data={"code": f"]C0{sn}\r\n"}).get_data(as_text=True)
    assert sn in html and "untested" in html
    before = count(app, TestAttempt)
    html = client.post("/fct/T-FCT/board", data={"code": "<script>alert(1)</script>",
                                                 "outcome": "pass"}).get_data(as_text=True)
    assert "INVALID_CODE" in html and "<script>alert" not in html
    assert count(app, TestAttempt) == before
