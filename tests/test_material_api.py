"""Material on the line through the JSON API: every code of the issue's API core."""

from datetime import timedelta

import pytest
from sqlmodel import select

from station.models import Event, Reel, utcnow

SETUP = {"product": "PCB", "revision": "A", "step": "PLACE",
         "slots": [{"slot": "F01", "part": "RC0603-10K", "alternates": ["ERJ-3EKF1002V"],
                    "designators": ["R1"]},
                   {"slot": "F02", "part": "CC0603-100N", "alternates": [],
                    "designators": ["C1"]}]}
LABEL = "[)>{RS}06{GS}PRC0603-10K{GS}Q2{GS}1TLOT-A1{GS}10D2611{GS}SREEL-0001{RS}{EOT}"


@pytest.fixture
def setup(api):
    r = api.post("/api/v1/feeder-setups", SETUP, role="admin")
    assert r.status_code == 201, r.get_json()
    for body in ({"id": "C-1", "part": "CC0603-100N", "quantity": 100, "lot": "LC",
                  "date_code": "2601", "msl": "3"},
                 {"id": "ALT-1", "part": "ERJ-3EKF1002V", "quantity": 100, "lot": "LALT"}):
        assert api.post("/api/v1/reels", body).status_code == 201
    return r.get_json()


def load(api, slot, reel, order="WO-1", role="operator"):
    return api.post("/api/v1/stations/T-PLACE/feeders", {"order": order, "slot": slot,
                                                         "reel": reel}, role)


def through_spi(api, serial):
    for station in ("T-PRINT", "T-SPI"):
        assert api.scan(station, serial).status_code == 201


def test_a_setup_is_created_by_admin_only_and_refused_naming_designators(api):
    assert api.post("/api/v1/feeder-setups", SETUP).status_code == 403
    r = api.post("/api/v1/feeder-setups", SETUP, role="admin")
    assert r.status_code == 201 and r.get_json()["slots"] == 2 and r.get_json()["id"]
    bad = {**SETUP, "slots": [{**SETUP["slots"][0], "designators": ["R1", "C1", "U7"]},
                              SETUP["slots"][1]]}
    r = api.post("/api/v1/feeder-setups", bad, role="admin")
    assert r.status_code == 400
    err = r.get_json()["error"]
    assert err["code"] == "SETUP_INVALID" and err["designators"] == ["C1", "U7"]
    assert err["problems"] == {"doubled": ["C1"], "missing": [], "unknown": ["U7"]}
    r = api.get("/api/v1/products/PCB/A/feeder-setups/PLACE")
    assert [s["slot"] for s in r.get_json()["slots"]] == ["F01", "F02"]
    r = api.get("/api/v1/products/PCB/A/feeder-setups/PLACE?draft=1")
    assert sorted(d for s in r.get_json()["slots"] for d in s["designators"]) == ["C1", "R1"]


def test_reels_register_from_a_label_or_fields_and_an_id_is_unique(api, setup):
    r = api.post("/api/v1/reels", {"label": LABEL})
    assert r.status_code == 201
    body = r.get_json()
    assert {k: body[k] for k in ("id", "part", "quantity", "lot", "date_code", "msl")} == {
        "id": "REEL-0001", "part": "RC0603-10K", "quantity": 2, "lot": "LOT-A1",
        "date_code": "2611", "msl": None}
    r = api.post("/api/v1/reels", {"label": LABEL})
    assert r.status_code == 409 and r.get_json()["error"]["code"] == "ALREADY_EXISTS"
    assert api.post("/api/v1/reels", {"label": "garbage\x01"}).status_code == 400
    assert api.post("/api/v1/reels", {"id": "X", "part": "P"}).status_code == 400
    assert api.post("/api/v1/reels", {"label": LABEL}, role="finance").status_code == 403
    assert api.get("/api/v1/reels/C-1").get_json()["floor_left_h"] == pytest.approx(168, 0.01)
    assert api.post("/api/v1/reels/C-1/dry-storage", {"stored": True}).get_json()["dry_stored"]
    assert api.post("/api/v1/reels/C-1/bakes", {}).status_code == 201


def test_loading_answers_pass_alternate_and_every_refusal(api, setup, session):
    api.post("/api/v1/reels", {"label": LABEL})
    r = load(api, "F01", "REEL-0001")
    assert r.status_code == 201
    assert {k: r.get_json()[k] for k in ("verdict", "slot", "part")} == {
        "verdict": "PASS", "slot": "F01", "part": "RC0603-10K"}
    r = load(api, "F01", "ALT-1")
    assert r.status_code == 201 and r.get_json()["verdict"] == "ALTERNATE"
    assert r.get_json()["spliced"]
    r = load(api, "F02", "ALT-1")
    assert r.status_code == 409 and r.get_json()["error"]["code"] == "WRONG_PART"
    assert r.get_json()["error"]["part_needed"] == "CC0603-100N"
    r = load(api, "F02", "NO-SUCH-REEL")
    assert r.status_code == 404 and r.get_json()["error"]["code"] == "UNKNOWN_REEL"
    session.get(Reel, "C-1").exposed_since = utcnow() - timedelta(hours=170)
    session.commit()
    r = load(api, "F02", "C-1")
    assert r.status_code == 409 and r.get_json()["error"]["code"] == "MSD_EXPIRED"
    api.post("/api/v1/reels", {"id": "C-0", "part": "CC0603-100N", "quantity": 1})
    session.get(Reel, "C-0").quantity = 0
    session.commit()
    r = load(api, "F02", "C-0")
    assert r.status_code == 409 and r.get_json()["error"]["code"] == "REEL_EMPTY"
    assert load(api, "F02", "C-1", role="admin").status_code == 403
    assert load(api, "F02", "C-1", order="WO-404").status_code == 404
    codes = [e.payload["code"] for e in session.exec(
        select(Event).where(Event.kind == "feeder.refused").order_by(Event.id))]
    assert codes == ["WRONG_PART", "UNKNOWN_REEL", "MSD_EXPIRED", "REEL_EMPTY"]


def test_status_scan_interlock_materials_and_trace(api, setup, line):
    serial = line.serials[0]
    through_spi(api, serial)
    r = api.get("/api/v1/stations/T-PLACE/feeders?order=WO-1")
    assert r.status_code == 200
    assert r.get_json()["verified"] is False
    assert [(s["slot"], s["part"], s["reel"], s["state"]) for s in r.get_json()["slots"]] == [
        ("F01", "RC0603-10K", None, "unloaded"), ("F02", "CC0603-100N", None, "unloaded")]
    r = api.scan("T-PLACE", serial)
    assert r.status_code == 409
    assert r.get_json()["error"]["code"] == "SETUP_NOT_VERIFIED"
    assert r.get_json()["error"]["slots"] == ["F01", "F02"]
    load(api, "F01", "ALT-1")
    load(api, "F02", "C-1")
    states = [s["state"] for s in api.get(
        "/api/v1/stations/T-PLACE/feeders?order=WO-1").get_json()["slots"]]
    assert states == ["alternate", "verified"]
    r = api.scan("T-PLACE", serial)
    assert r.status_code == 201, r.get_json()
    r = api.get(f"/api/v1/boards/{serial}/materials")
    assert r.get_json() == {"serial": serial, "materials": [
        {"step": "PLACE", "slot": "F01", "part": "ERJ-3EKF1002V", "reel": "ALT-1",
         "lot": "LALT", "date_code": None, "designators": ["R1"]},
        {"step": "PLACE", "slot": "F02", "part": "CC0603-100N", "reel": "C-1", "lot": "LC",
         "date_code": "2601", "designators": ["C1"]}]}
    assert api.get("/api/v1/boards/NOPE-00001/materials").status_code == 404
    r = api.get("/api/v1/trace?lot=LC")
    assert r.get_json() == {"boards": [serial], "orders": ["WO-1"], "customers": ["CUST"]}
    assert api.get("/api/v1/trace?reel=ALT-1").get_json()["boards"] == [serial]
    assert api.get("/api/v1/trace?part=CC0603-100N").get_json()["boards"] == [serial]
    assert api.get("/api/v1/trace?lot=NONE").get_json()["boards"] == []
    assert api.get("/api/v1/trace").status_code == 400
    r = api.get("/api/v1/trace?lot=LC&format=csv")
    assert r.mimetype == "text/csv" and serial in r.get_data(as_text=True)
    r = api.delete("/api/v1/stations/T-PLACE/feeders/F02")
    assert r.status_code == 200 and r.get_json()["reel"] == "C-1"
    assert r.get_json()["quantity_left"] == 99
    assert api.delete("/api/v1/stations/T-PLACE/feeders/F02").status_code == 409
    through_spi(api, line.serials[1])
    assert api.scan("T-PLACE", line.serials[1]).get_json()["error"]["slots"] == ["F02"]


def test_a_reel_running_empty_refuses_the_scan_with_reel_empty(api, setup, line):
    api.post("/api/v1/reels", {"label": LABEL})  # two parts
    load(api, "F01", "REEL-0001")
    load(api, "F02", "C-1")
    warnings = []
    for serial in line.serials[:2]:
        through_spi(api, serial)
        r = api.scan("T-PLACE", serial)
        assert r.status_code == 201
        warnings += r.get_json()["warnings"]
    assert any("REEL-0001" in w for w in warnings)
    through_spi(api, line.serials[2])
    r = api.scan("T-PLACE", line.serials[2])
    assert r.status_code == 409 and r.get_json()["error"]["code"] == "REEL_EMPTY"
    slots = api.get("/api/v1/stations/T-PLACE/feeders?order=WO-1").get_json()["slots"]
    assert slots[0]["state"] == "empty"
