"""Job readiness through the JSON API (bearer tokens) and the readiness screen (signed in)."""

import io
import re
from datetime import timedelta
from html.parser import HTMLParser

import pytest
from conftest import build_line, make_app
from sqlmodel import Session, func, select
from test_readiness import new_job, package_without, profile_csv

from station import demo
from station.models import (
    BoardStep,
    DataPackage,
    Event,
    PcbAllocation,
    PcbLot,
    StencilCheck,
    utcnow,
)
from station.readiness import pcb_lots, profiles, stencils
from station.readiness.reflow import load_windows

ITEMS = ["data_package", "stencil", "profile_board", "blank_pcbs"]
SHOWN = [*ITEMS, "feeder_setup"]  # the fifth (material) is shown where the route places parts
HX = {"HX-Request": "true"}


class Elements(HTMLParser):
    """Every start tag of a page with its attributes (as in test_web.py)."""

    def __init__(self, html: str):
        super().__init__()
        self.tags: list[tuple[str, dict]] = []
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def find(self, tag=None, **attrs) -> list[dict]:
        """The attributes of each element of this tag having these attribute values."""
        return [a for t, a in self.tags if (tag is None or t == tag)
                and all(a.get(k.rstrip("_").replace("_", "-")) == v for k, v in attrs.items())]


def has(body: dict, **fields) -> bool:
    """The body holds these fields with these values (and maybe more)."""
    return {k: body.get(k) for k in fields} == fields


# One app and one line for the module; each test opens its own product revision and order.
@pytest.fixture(scope="module")
def app(tmp_path_factory):
    return make_app(tmp_path_factory.mktemp("readiness_api"))


@pytest.fixture(scope="module")
def line(app):
    with Session(app.extensions["engine"], expire_on_commit=False) as s:
        return build_line(s, boards=1)


def assert_error(response, status, code) -> dict:
    """The response is the API's error body with this status and code; returns the error."""
    assert response.status_code == status, response.get_data(as_text=True)
    err = response.get_json()["error"]
    assert err["code"] == code and isinstance(err["message"], str) and err["message"]
    return err


def readiness(api, number) -> dict:
    r = api.get(f"/api/v1/orders/{number}/readiness")
    assert r.status_code == 200, r.get_data(as_text=True)
    return r.get_json()


def codes(api, number) -> dict:
    return {i["item"]: i["code"] for i in readiness(api, number)["items"]}


def upload(api, code, pkg=None, role="admin", revision="A", leave_out=()):
    """POST the data package as multipart, as an ERP script would."""
    pkg = pkg or demo.data_package()
    form = {name: (io.BytesIO(blob), f"{name}.{ext}") for (name, blob), ext in
            zip(pkg.items(), ("zip", "csv", "csv"), strict=True) if name not in leave_out}
    return api.client.post(f"/api/v1/products/{code}/{revision}/data-package", data=form,
                           content_type="multipart/form-data", headers=api._headers(role))


def profile_run(api, board, csv=None, paste="SAC305"):
    form = {"file": (io.BytesIO((csv or profile_csv()).encode()), "run.csv"), "paste": paste,
            "profile_board": board}
    return api.client.post("/api/v1/profiles", data=form, content_type="multipart/form-data",
                           headers=api._headers("operator"))


def count(app, *models) -> tuple[int, ...] | int:
    """How many rows of each model the database holds (read apart from the test's session,
    whose open transaction would hold SQLite's write lock against the requests)."""
    with Session(app.extensions["engine"]) as s:
        counts = tuple(s.exec(select(func.count()).select_from(m)).one() for m in models)
    return counts[0] if len(counts) == 1 else counts


def stored(app) -> tuple[int, int]:
    """How many passed steps and events the database holds."""
    return count(app, BoardStep, Event)


# --- GET readiness ----------------------------------------------------------------------------


def test_readiness_has_the_api_shape_red_and_green(api, session, line):
    red, _, _ = new_job(session, line)
    green, _, _ = new_job(session, line, ready=True)

    body = readiness(api, red)
    assert {"ready", "items"} <= set(body) and body["ready"] is False
    assert [i["item"] for i in body["items"]] == SHOWN
    material = body["items"].pop()  # no feeder setup: information, never gating the order
    assert material["ready"] is True and material["info"] is True and material["code"] is None
    for entry in body["items"]:
        assert {"item", "ready", "code", "message"} <= set(entry)
        assert entry["ready"] is False and isinstance(entry["message"], str)
        assert re.fullmatch(r"[A-Z][A-Z_]+", entry["code"])
    assert [i["code"] for i in body["items"]] == ["NO_DATA_PACKAGE", "NO_STENCIL",
                                                  "NO_PROFILE_RUN", "PCB_SHORT"]

    body = readiness(api, green)
    assert body["ready"] is True and [i["item"] for i in body["items"]] == SHOWN
    assert all(i["ready"] is True and i["code"] is None and i["message"] for i in body["items"])


def test_everyone_signed_in_reads_readiness_nobody_else(api, session, line):
    number, _, _ = new_job(session, line)
    for role in ("operator", "qa", "finance", "supervisor", "admin"):
        assert api.get(f"/api/v1/orders/{number}/readiness", role).status_code == 200
    assert_error(api.get(f"/api/v1/orders/{number}/readiness", None), 401, "UNAUTHENTICATED")
    assert_error(api.get("/api/v1/orders/NOPE/readiness"), 404, "NOT_FOUND")


def test_items_the_route_does_not_need_are_ready_in_the_api(api, session, line):
    number, _, _ = new_job(session, line, route=["PLACE", "AOI", "FCT"])
    items = {i["item"]: i for i in readiness(api, number)["items"]}
    assert items["stencil"]["ready"] is True and items["profile_board"]["ready"] is True
    assert "Not needed" in items["stencil"]["message"]


# --- stencils ---------------------------------------------------------------------------------


def test_stencil_register_mount_measure_inspect_clean_and_retire(api, session, line, app):
    number, code, _ = new_job(session, line)
    sid = f"ST-{number}"
    spec = {"id": sid, "product": code, "revision": "A", "side": "top", "life_prints": 1000,
            "clean_interval_prints": 10}

    assert_error(api.post("/api/v1/stencils", spec), 403, "FORBIDDEN")
    assert_error(api.get(f"/api/v1/stencils/{sid}"), 404, "NOT_FOUND")
    for bad in ({"side": "left"}, {"life_prints": 0}, {"life_prints": "1000"},
                {"clean_interval_prints": -1}, {"id": ""}):
        assert_error(api.post("/api/v1/stencils", {**spec, **bad}, "admin"), 400,
                     "INVALID_INPUT")
    r = api.post("/api/v1/stencils", spec, "admin")
    assert r.status_code == 201
    assert has(r.get_json(), id=sid, prints=0, life_prints=1000, clean_interval_prints=10,
               retired=False, damaged=False)
    assert_error(api.post("/api/v1/stencils", spec, "admin"), 409, "ALREADY_EXISTS")

    assert_error(api.post(f"/api/v1/orders/{number}/stencil", {"stencil": sid}, "admin"), 403,
                 "FORBIDDEN")
    r = api.post(f"/api/v1/orders/{number}/stencil", {"stencil": sid})
    assert r.status_code == 201 and r.get_json() == {"order": number, "stencil": sid}
    assert codes(api, number)["stencil"] == "STENCIL_NOT_MEASURED"

    before = count(app, StencilCheck)
    for readings in ([-1, 40, 40, 40], ["40", "40", "40", "40"], [40, 40, 40], "40 40 40 40",
                     [40, 40, None, 40], {"a": 40}, [True, 40, 40, 40]):
        assert_error(api.post(f"/api/v1/stencils/{sid}/tension", {"readings_Ncm": readings}),
                     400, "INVALID_INPUT")
    assert_error(api.post(f"/api/v1/stencils/{sid}/tension", [40, 40, 40, 40]), 400,
                 "INVALID_INPUT")
    assert count(app, StencilCheck) == before
    assert_error(api.post("/api/v1/stencils/NOPE/tension", {"readings_Ncm": [40] * 4}), 404,
                 "NOT_FOUND")

    r = api.post(f"/api/v1/stencils/{sid}/tension", {"readings_Ncm": [34.5, 36, 36, 36]})
    assert r.status_code == 201 and r.get_json()["passed"] is False
    assert codes(api, number)["stencil"] == "STENCIL_TENSION_LOW"
    r = api.post(f"/api/v1/stencils/{sid}/tension", {"readings_Ncm": [35, 35.5, 36, 40]})
    assert r.status_code == 201 and r.get_json()["passed"] is True
    assert codes(api, number)["stencil"] is None

    assert_error(api.post(f"/api/v1/stencils/{sid}/inspections", {"damaged": "yes"}), 400,
                 "INVALID_INPUT")
    r = api.post(f"/api/v1/stencils/{sid}/inspections", {"damaged": True, "note": "dent"})
    assert r.status_code == 201 and r.get_json()["damaged"] is True
    assert codes(api, number)["stencil"] == "STENCIL_DAMAGED"
    r = api.post(f"/api/v1/stencils/{sid}/inspections", {"damaged": False})
    assert r.status_code == 201 and codes(api, number)["stencil"] is None

    r = api.post(f"/api/v1/stencils/{sid}/cleanings", {})
    assert r.status_code == 201 and r.get_json()["prints_since_cleaning"] == 0

    assert_error(api.post(f"/api/v1/stencils/{sid}/retirement", {}), 400, "INVALID_INPUT")
    r = api.post(f"/api/v1/stencils/{sid}/retirement", {"reason": "worn"})
    assert r.status_code == 201 and r.get_json()["retired"] is True
    assert codes(api, number)["stencil"] == "STENCIL_RETIRED"
    assert_error(api.post(f"/api/v1/orders/{number}/stencil", {"stencil": sid}), 409,
                 "WRONG_STENCIL")


def test_mounting_the_wrong_stencil_is_409_and_changes_nothing(api, session, line, app):
    number, code, _ = new_job(session, line)
    sid = f"ST-{number}-B"
    assert api.post("/api/v1/stencils", {"id": sid, "product": code, "revision": "A",
                                         "side": "bottom", "life_prints": 10,
                                         "clean_interval_prints": 5}, "admin").status_code == 201
    before = stored(app)
    err = assert_error(api.post(f"/api/v1/orders/{number}/stencil", {"stencil": sid}), 409,
                       "WRONG_STENCIL")
    assert "bottom" in err["message"] and err["todo"]
    assert_error(api.post(f"/api/v1/orders/{number}/stencil", {"stencil": "NOPE"}), 404,
                 "NOT_FOUND")
    assert_error(api.post(f"/api/v1/orders/{number}/stencil", {"stencil": ["x"]}), 404,
                 "NOT_FOUND")
    assert stored(app) == before
    assert codes(api, number)["stencil"] == "NO_STENCIL"


# --- blank PCB lots ---------------------------------------------------------------------------


def test_pcb_lots_register_allocate_open_and_bake(api, session, line, app):
    number, code, _ = new_job(session, line, boards=4)
    _, other_code, _ = new_job(session, line)
    lot = f"LOT-{number}"
    spec = {"lot": lot, "product": code, "revision": "A", "quantity": 5, "floor_life_hours": 72}

    assert_error(api.post("/api/v1/pcb-lots", spec), 403, "FORBIDDEN")
    for bad in ({"quantity": 0}, {"quantity": -3}, {"quantity": "5"}, {"quantity": 2.5},
                {"lot": ""}, {"lot": "a b"}, {"floor_life_hours": -1}):
        assert_error(api.post("/api/v1/pcb-lots", {**spec, **bad}, "admin"), 400,
                     "INVALID_INPUT")
    r = api.post("/api/v1/pcb-lots", spec, "admin")
    assert r.status_code == 201
    assert has(r.get_json(), lot=lot, quantity=5, left=5, opened_at=None, floor_life_hours=72)
    assert_error(api.post("/api/v1/pcb-lots", spec, "admin"), 409, "ALREADY_EXISTS")
    foreign = f"LOT-{number}-X"
    assert api.post("/api/v1/pcb-lots", {**spec, "lot": foreign, "product": other_code},
                    "admin").status_code == 201

    alloc = f"/api/v1/orders/{number}/pcb-lots"
    before = count(app, PcbAllocation)
    assert_error(api.post(alloc, {"lot": lot, "quantity": 2}, "admin"), 403, "FORBIDDEN")
    err = assert_error(api.post(alloc, {"lot": lot, "quantity": 6}), 409, "NOT_ENOUGH_PCBS")
    assert "5" in err["message"]
    for quantity in (0, -1, "2"):
        assert_error(api.post(alloc, {"lot": lot, "quantity": quantity}), 400, "INVALID_INPUT")
    assert_error(api.post(alloc, {"lot": foreign, "quantity": 2}), 400, "INVALID_INPUT")
    assert_error(api.post(alloc, {"lot": "NOPE", "quantity": 2}), 404, "NOT_FOUND")
    assert count(app, PcbAllocation) == before

    r = api.post(alloc, {"lot": lot, "quantity": 2})
    assert r.status_code == 201 and r.get_json() == {"order": number, "lot": lot, "quantity": 2}
    assert codes(api, number)["blank_pcbs"] == "PCB_SHORT"
    r = api.post(alloc, {"lot": lot})  # no quantity: the rest the order needs
    assert r.status_code == 201 and r.get_json()["quantity"] == 2
    assert codes(api, number)["blank_pcbs"] is None
    assert api.get(f"/api/v1/pcb-lots/{lot}").get_json()["left"] == 1
    assert_error(api.post(alloc, {"lot": lot}), 409, "ALREADY_ALLOCATED")
    r = api.post(alloc, {"lot": lot, "quantity": 1})  # a spare, asked for by number
    assert r.status_code == 201 and api.get(f"/api/v1/pcb-lots/{lot}").get_json()["left"] == 0

    assert_error(api.post(f"/api/v1/pcb-lots/{lot}/opened", {}, "admin"), 403, "FORBIDDEN")
    r = api.post(f"/api/v1/pcb-lots/{lot}/opened", {})
    assert r.status_code == 201 and r.get_json()["opened_at"].endswith("Z")
    assert r.get_json()["floor_life_ends"].endswith("Z")
    assert codes(api, number)["blank_pcbs"] is None

    row = session.get(PcbLot, lot)  # the bag was opened four days ago
    row.opened_at = utcnow() - timedelta(hours=96)
    session.add(row)
    session.commit()
    assert codes(api, number)["blank_pcbs"] == "PCB_FLOOR_LIFE"
    for bad in ({"hours": -1, "temperature_C": 125}, {"hours": "4", "temperature_C": 125},
                {"hours": 4}, {"hours": 4, "temperature_C": 900}):
        assert_error(api.post(f"/api/v1/pcb-lots/{lot}/bakes", bad), 400, "INVALID_INPUT")
    assert codes(api, number)["blank_pcbs"] == "PCB_FLOOR_LIFE"
    r = api.post(f"/api/v1/pcb-lots/{lot}/bakes", {"hours": 4, "temperature_C": 125})
    assert r.status_code == 201 and r.get_json()["baked_at"].endswith("Z")
    assert codes(api, number)["blank_pcbs"] is None


# --- data packages ----------------------------------------------------------------------------


def test_data_package_upload_reports_and_gates_readiness(api, session, line, app):
    number, code, _ = new_job(session, line)
    before = count(app, DataPackage)
    assert_error(upload(api, code, role="operator"), 403, "FORBIDDEN")
    err = assert_error(upload(api, code, leave_out=("centroid",)), 400, "INVALID_INPUT")
    assert "centroid" in err["message"]
    assert_error(upload(api, "NOPE"), 404, "NOT_FOUND")
    assert count(app, DataPackage) == before

    r = upload(api, code, package_without("board-F_Silkscreen.gto"))
    assert r.status_code == 201
    body = r.get_json()
    assert body["complete"] is False and body["layers"]["silkscreen"] == []
    assert "MISSING_LAYER" in [p["code"] for p in body["problems"]]
    assert codes(api, number)["data_package"] == "DATA_PACKAGE_INCOMPLETE"

    r = upload(api, code)
    assert r.status_code == 201
    body = r.get_json()
    assert body["complete"] is True
    assert all(body["layers"][layer] for layer in ("copper", "drill", "silkscreen",
                                                   "soldermask"))
    assert body["parts"] == {"smt_top": 2, "smt_bottom": 0, "dip": 1, "dip_top": 1,
                             "dip_bottom": 0}
    assert all({"code", "message"} <= set(p) for p in body["problems"])
    assert codes(api, number)["data_package"] is None
    assert count(app, DataPackage) == before + 2


def corrupt_zips() -> dict:
    good = demo.data_package()["gerber"]
    flipped = bytearray(good)
    start = good.index(b"%TF") if b"%TF" in good else 40
    flipped[start:start + 20] = b"\xff" * 20  # a member's data no longer matches its CRC
    return {"not a zip": b"this is not a zip file", "zip magic then junk": b"PK\x03\x04" * 50,
            "cut in half": good[: len(good) // 2], "bad member": bytes(flipped),
            "empty": b""}


@pytest.mark.parametrize("kind", list(corrupt_zips()))
def test_a_corrupt_gerber_zip_is_a_report_not_a_crash(api, session, line, kind):
    number, code, _ = new_job(session, line)
    pkg = {**demo.data_package(), "gerber": corrupt_zips()[kind]}
    r = upload(api, code, pkg)
    assert r.status_code == 201, r.get_data(as_text=True)
    body = r.get_json()
    assert body["complete"] is False and body["problems"]
    assert codes(api, number)["data_package"] == "DATA_PACKAGE_INCOMPLETE"


def ruled(problems: list[dict]) -> set[str]:
    """The panel rule's problem codes, the panel that could not be measured aside."""
    return {p["code"] for p in problems} - {"PANEL_NOT_MEASURED"}


# The panel form became an override of one measured value with a reason (issue 15): the old test
# posted the whole form; this one posts overrides and checks what the form's test checked (404
# without a package, admin only, 400 on a non-object, problems from the values, stored on the
# newest package).
def test_panel_overrides_are_stored_on_the_newest_package(api, session, line):
    _, code, _ = new_job(session, line)
    good = {"value": "rails_top_mm", "entered": 10, "reason": "measured on the panel drawing"}
    assert_error(api.post(f"/api/v1/products/{code}/A/panel", good, "admin"), 404, "NOT_FOUND")
    assert upload(api, code).status_code == 201

    assert_error(api.post(f"/api/v1/products/{code}/A/panel", good), 403, "FORBIDDEN")
    assert_error(api.post(f"/api/v1/products/{code}/A/panel", [1, 2], "admin"), 400,
                 "INVALID_INPUT")
    assert_error(api.post(f"/api/v1/products/{code}/A/panel", {**good, "reason": ""}, "admin"),
                 400, "INVALID_INPUT")
    r = api.post(f"/api/v1/products/{code}/A/panel", good, "admin")
    # The fixture's Gerber has no outline: the panel stays unmeasured (a warning) whatever is
    # entered; the rule's own problems are what the overrides change.
    assert r.status_code == 201 and ruled(r.get_json()["problems"]) == set()
    (shown,) = r.get_json()["panel"]["overrides"]
    assert shown["value"] == "rails_top_mm" and shown["entered"] == 10 and shown["by"] == "admin"
    r = api.post(f"/api/v1/products/{code}/A/panel", {**good, "entered": 6}, "admin")
    r = api.post(f"/api/v1/products/{code}/A/panel", {
        "value": "fiducials_asymmetric", "entered": False, "reason": "two are DNP"}, "admin")
    assert r.status_code == 201 and r.get_json()["ready"] is False
    assert ruled(r.get_json()["problems"]) == {"RAIL_TOO_NARROW", "FIDUCIALS_SYMMETRIC"}
    package = api.get(f"/api/v1/products/{code}/A/data-package").get_json()
    entered = {o["value"]: o["entered"] for o in package["panel"]["overrides"]}
    assert entered == {"rails_top_mm": 6, "fiducials_asymmetric": False}
    assert {"RAIL_TOO_NARROW", "FIDUCIALS_SYMMETRIC"} <= {p["code"] for p in package["problems"]}


# --- the interlock through the API --------------------------------------------------------------


def test_scans_are_refused_not_ready_until_every_item_is_green(api, session, line, app):
    number, code, serials = new_job(session, line, boards=2)
    tag = number

    def refused_with_red_items():
        red = [i for i in readiness(api, number)["items"] if not i["ready"]]
        before = stored(app)
        for station in ("T-PRINT", "T-SPI", "T-FCT"):
            err = assert_error(api.scan(station, serials[0]), 409, "NOT_READY")
            assert err["items"] == [i["item"] for i in red]
            assert all(i["message"] in err["message"] for i in red)
        assert stored(app) == before
        return [i["code"] for i in red]

    assert refused_with_red_items() == ["NO_DATA_PACKAGE", "NO_STENCIL", "NO_PROFILE_RUN",
                                        "PCB_SHORT"]
    assert upload(api, code).status_code == 201
    assert refused_with_red_items() == ["NO_STENCIL", "NO_PROFILE_RUN", "PCB_SHORT"]

    sid = f"ST-{tag}"
    assert api.post("/api/v1/stencils", {"id": sid, "product": code, "revision": "A",
                                         "side": "top", "life_prints": 100,
                                         "clean_interval_prints": 10}, "admin").status_code == 201
    assert api.post(f"/api/v1/orders/{number}/stencil", {"stencil": sid}).status_code == 201
    assert refused_with_red_items() == ["STENCIL_NOT_MEASURED", "NO_PROFILE_RUN", "PCB_SHORT"]
    assert api.post(f"/api/v1/stencils/{sid}/tension",
                    {"readings_Ncm": [38, 37, 39, 38]}).status_code == 201
    assert refused_with_red_items() == ["NO_PROFILE_RUN", "PCB_SHORT"]

    board = f"PB-{tag}"
    assert api.post("/api/v1/profile-boards", {"id": board, "product": code, "revision": "A",
                                               "thermocouples": 2}, "admin").status_code == 201
    r = profile_run(api, board, profile_csv(1.5))
    assert r.status_code == 201 and r.get_json()["verdict"] == "FAIL"
    assert refused_with_red_items() == ["PROFILE_FAILED", "PCB_SHORT"]
    r = profile_run(api, board)
    assert r.status_code == 201 and r.get_json()["verdict"] == "PASS"
    assert refused_with_red_items() == ["PCB_SHORT"]

    lot = f"LOT-{tag}"
    assert api.post("/api/v1/pcb-lots", {"lot": lot, "product": code, "revision": "A",
                                         "quantity": 2}, "admin").status_code == 201
    assert api.post(f"/api/v1/orders/{number}/pcb-lots", {"lot": lot}).status_code == 201
    assert readiness(api, number)["ready"] is True

    r = api.scan("T-PRINT", serials[0])
    assert r.status_code == 201, r.get_data(as_text=True)
    assert has(r.get_json(), accepted=True, serial=serials[0], order=number, step="PRINT",
               next_step="SPI")
    assert api.get(f"/api/v1/stencils/{sid}").get_json()["prints"] == 1


# --- the readiness screen -----------------------------------------------------------------------


def sign_in(client, badge="10001", pin="1234"):
    r = client.post("/login", data={"badge": badge, "pin": pin})
    assert r.status_code == 302, r.get_data(as_text=True)


def tiles(html) -> dict:
    """Each tile's item and data-ready, in page order."""
    return {t["data-item"]: t["data-ready"]
            for t in Elements(html).find("section") if "data-item" in t}


def screen_scan(client, number, code) -> tuple[str, str]:
    r = client.post(f"/orders/{number}/readiness", data={"code": code}, headers=HX)
    assert r.status_code == 200
    html = r.get_data(as_text=True)
    (result,) = Elements(html).find("div", id="result")
    return result["data-outcome"], html


def test_readiness_screen_shows_four_tiles_and_acts_on_scanned_labels(client, session, line, app):
    number, code, _ = new_job(session, line, boards=3)
    _, other_code, _ = new_job(session, line)
    r = client.get(f"/orders/{number}/readiness")
    assert r.status_code == 302 and "/login" in r.headers["Location"]
    sign_in(client)

    html = client.get(f"/orders/{number}/readiness").get_data(as_text=True)
    assert list(tiles(html).items()) == [(item, "false") for item in ITEMS] + [
        ("feeder_setup", "true")]
    assert Elements(html).find("form", id="scan") and Elements(html).find("input", id="code")
    (verdict,) = [t for t in Elements(html).find("p") if "data-ready" in t]
    assert verdict["data-ready"] == "false"
    for code_shown in ("NO_DATA_PACKAGE", "NO_STENCIL", "NO_PROFILE_RUN", "PCB_SHORT"):
        assert code_shown in html

    sid = f"ST-{number}"
    admin = line.users["admin"]  # the office registers; the floor scans
    stencils.register_stencil(session, admin, sid, code, "A", "top", 100, 10)
    stencils.register_stencil(session, admin, f"{sid}-X", other_code, "A", "top", 100, 10)
    pcb_lots.register_lot(session, admin, f"LOT-{number}", code, "A", 3)

    before = stored(app)
    outcome, html = screen_scan(client, number, "NO-SUCH-LABEL")
    assert outcome == "refused" and "is no stencil, PCB lot or profile board" in html
    outcome, html = screen_scan(client, number, f"{sid}-X")
    assert outcome == "refused" and "needs" in html and other_code in html
    assert stored(app) == before
    assert tiles(html)["stencil"] == "false" and "NO_STENCIL" in html

    outcome, html = screen_scan(client, number, sid)
    assert outcome == "accepted" and f"Stencil {sid} mounted." in html
    assert tiles(html)["stencil"] == "false" and "STENCIL_NOT_MEASURED" in html
    (form,) = Elements(html).find("form", class_="tile-form")
    assert form["action"] == f"/stencils/{sid}/checks"

    r = client.post(form["action"], data={"kind": "tension", "readings": "35, 36 35 37",
                                          "next": f"/orders/{number}/readiness"})
    assert r.status_code == 302 and r.headers["Location"] == f"/orders/{number}/readiness"
    html = client.get(f"/orders/{number}/readiness").get_data(as_text=True)
    assert tiles(html)["stencil"] == "true"
    r = client.post(form["action"], data={"kind": "tension", "readings": "35 abc 35 35"})
    assert r.status_code == 400 and "INVALID_INPUT" in r.get_data(as_text=True)
    r = client.post(form["action"], data={"kind": "cleaning", "next": "https://evil.example/"})
    assert r.status_code == 302 and r.headers["Location"] == "/"  # never off the station

    outcome, html = screen_scan(client, number, f"LOT-{number}")
    assert outcome == "accepted" and "3 boards of lot" in html
    assert tiles(html) == {"data_package": "false", "stencil": "true",
                           "profile_board": "false", "blank_pcbs": "true",
                           "feeder_setup": "true"}

    before = stored(app)
    outcome, html = screen_scan(client, number, f"LOT-{number}")  # scanned once too often
    assert outcome == "refused" and "already has all 3 blank PCBs" in html
    assert stored(app) == before

    r = client.post(f"/orders/{number}/readiness", data={"code": "NO-SUCH-LABEL"})
    assert r.status_code == 200 and "<html" in r.get_data(as_text=True)  # the whole page


def test_a_profile_board_scanned_on_the_screen_tells_its_state(client, session, line):
    number, code, _ = new_job(session, line)
    board = f"PB-{number}"
    profiles.register_profile_board(session, line.users["admin"], board, code, "A", 2)
    sign_in(client)
    outcome, html = screen_scan(client, number, board)
    assert outcome == "refused" and "No profile run" in html
    profiles.record_run(session, line.users["operator"], profile_csv(), "SAC305", load_windows(),
                        profile_board=board)
    outcome, html = screen_scan(client, number, board)
    assert outcome == "accepted" and tiles(html)["profile_board"] == "true"


def test_the_screen_is_read_only_for_office_roles(client, session, line):
    number, _, _ = new_job(session, line)
    r = client.post("/login", data={"name": "admin", "password": "admin-pw"})
    assert r.status_code == 302
    html = client.get(f"/orders/{number}/readiness").get_data(as_text=True)
    assert len(tiles(html)) == 5 and not Elements(html).find("form", id="scan")
    r = client.post(f"/orders/{number}/readiness", data={"code": "x"}, headers=HX)
    assert "FORBIDDEN" in r.get_data(as_text=True)


def test_the_readiness_screen_reads_a_scan_as_the_scan_box_does(client, session, line, app):
    number, code, _ = new_job(session, line, boards=3)
    sid = f"ST-{number}"
    stencils.register_stencil(session, line.users["admin"], sid, code, "A", "top", 100, 10)
    sign_in(client)
    before = stored(app)
    for garbled in ("x" * 10_000, "ST\x00-1", f"{sid}\x1b[A"):
        outcome, html = screen_scan(client, number, garbled)
        assert outcome == "refused" and 'data-code="INVALID_CODE"' in html
    assert stored(app) == before  # nothing of a bad scan is kept
    outcome, html = screen_scan(client, number, f"]C0{sid}\r\n")  # AIM prefix and CR LF
    assert outcome == "accepted" and sid in html
