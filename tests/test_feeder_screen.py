"""The placement station's screen: work order, slot, then reel with the scanner alone; its grid."""

import re

import pytest
from conftest import build_line
from sqlmodel import Session, select

from station.line import scanning
from station.material import reels, setups
from station.models import Event, Reel

PLACE = "T-PLACE"
HX = {"HX-Request": "true"}
SETUP = [{"slot": "F01", "part": "RC0603-10K", "alternates": ["ERJ-3EKF1002V"],
          "designators": ["R1"]},
         {"slot": "F02", "part": "CC0603-100N", "alternates": [], "designators": ["C1"]}]
REELS = [("RL-10K-1", "RC0603-10K"), ("RL-100N-1", "CC0603-100N"), ("RL-ALT-1", "ERJ-3EKF1002V"),
         ("RL-1K-1", "RC0603-1K")]


@pytest.fixture
def line(session):
    line = build_line(session, boards=4, tokens=False)
    setups.create_setup(session, line.users["admin"], "PCB", "A", "PLACE", SETUP)
    for reel, part in REELS:
        reels.register_reel(session, line.users["operator"], id=reel, part=part, quantity=1000,
                            lot=f"LOT-{reel}", date_code="2611")
    for serial in line.serials:  # printed and inspected: next is PLACE
        for station in ("T-PRINT", "T-SPI"):
            scanning.scan(session, station, serial, line.users["operator"])
    return line


@pytest.fixture
def screen(app, line):
    client = app.test_client()
    assert client.post("/login", data={"badge": "10001", "pin": "1234"}).status_code == 302
    assert client.get(f"/station/{PLACE}").status_code == 200
    return client


def scan(client, code, station=PLACE):
    r = client.post(f"/station/{station}/scan", data={"code": code}, headers=HX)
    assert r.status_code == 200
    return r.get_data(as_text=True)


def outcome(html):
    return re.search(r'id="result" class="result (\w+)"', html).group(1)


def slot_states(html):
    return dict(re.findall(r'data-slot="(\w+)" data-state="(\w+)"', html))


def test_the_screen_shows_a_grey_grid_once_the_work_order_is_scanned(screen):
    page = screen.get(f"/station/{PLACE}").get_data(as_text=True)
    assert "Scan the work order" in page and 'id="feeders"' in page
    html = scan(screen, "WO-1")
    assert outcome(html) == "info" and "Order WO-1" in html
    assert slot_states(html) == {"F01": "unloaded", "F02": "unloaded"}
    assert 'data-verified="false"' in html


def test_slot_then_reel_loads_it_and_turns_the_slot_green(screen, session):
    scan(screen, "WO-1")
    html = scan(screen, "F01")
    assert outcome(html) == "info" and "F01 needs RC0603-10K" in html
    assert 'class="slot slot-unloaded armed" data-slot="F01"' in html
    html = scan(screen, "RL-10K-1")
    assert outcome(html) == "accepted" and 'data-verdict="PASS"' in html
    assert slot_states(html)["F01"] == "verified" and " armed" not in html
    loaded = session.exec(select(Event).where(Event.kind == "feeder.loaded")).all()
    assert [(e.payload["slot"], e.payload["reel"], e.station_id) for e in loaded] == \
        [("F01", "RL-10K-1", PLACE)]


def test_a_wrong_reel_turns_the_slot_red_and_the_board_is_refused(screen, line):
    scan(screen, "WO-1")
    scan(screen, "F01")
    html = scan(screen, "RL-1K-1")
    assert outcome(html) == "refused" and "WRONG_PART" in html and "RC0603-10K" in html
    assert slot_states(html)["F01"] == "wrong"
    html = scan(screen, line.serials[0])
    assert outcome(html) == "refused" and "SETUP_NOT_VERIFIED" in html


def test_every_slot_verified_lets_the_board_pass(screen, line):
    for slot, reel in (("F01", "RL-ALT-1"), ("F02", "RL-100N-1")):
        scan(screen, "WO-1")
        scan(screen, slot)
        html = scan(screen, reel)
    assert slot_states(html) == {"F01": "alternate", "F02": "verified"}
    assert 'data-verified="true"' in html
    html = scan(screen, line.serials[0])
    assert outcome(html) == "accepted" and f"OK · {line.serials[0]}" in html


def test_an_alternate_is_yellow(screen):
    scan(screen, "WO-1")
    scan(screen, "F01")
    html = scan(screen, "RL-ALT-1")
    assert outcome(html) == "warning" and 'data-verdict="ALTERNATE"' in html
    assert "alternate ERJ-3EKF1002V" in html and 'class="slot slot-alternate' in html


def test_a_reel_before_its_slot_is_refused_and_loads_nothing(screen, session):
    scan(screen, "WO-1")
    html = scan(screen, "RL-10K-1")
    assert outcome(html) == "refused" and "SCAN_SLOT_FIRST" in html
    assert slot_states(html)["F01"] == "unloaded"
    assert session.exec(select(Event).where(Event.kind == "feeder.loaded")).first() is None


def test_a_feeder_label_ending_in_the_slot_arms_that_slot(screen):
    scan(screen, "WO-1")
    html = scan(screen, "T-PLACE-F02")
    assert outcome(html) == "info" and "F02 needs CC0603-100N" in html


def test_a_new_reel_label_is_registered_then_loaded(screen, session):
    scan(screen, "WO-1")
    scan(screen, "F02")
    label = "[)>{RS}06{GS}PCC0603-100N{GS}Q4000{GS}1TL2609{GS}9D2609{GS}SRL-NEW-7{RS}{EOT}"
    html = scan(screen, label)
    assert outcome(html) == "accepted" and "RL-NEW-7" in html
    assert slot_states(html)["F02"] == "verified"
    kinds = [e.kind for e in session.exec(select(Event).where(Event.subject == "reel:RL-NEW-7"))]
    assert kinds == ["reel.registered"]


def test_an_unknown_reel_is_refused_by_its_code(screen):
    scan(screen, "WO-1")
    scan(screen, "F01")
    html = scan(screen, "RL-NOBODY")
    assert outcome(html) == "refused" and "UNKNOWN_REEL" in html


def test_a_slot_with_no_order_chosen_asks_for_the_work_order(screen):
    html = scan(screen, "F01")
    assert outcome(html) == "refused" and "NO_ORDER_CHOSEN" in html


def test_a_board_scanned_chooses_its_order(screen, line):
    html = scan(screen, line.serials[0])
    assert "SETUP_NOT_VERIFIED" in html and 'data-order="WO-1"' in html
    assert outcome(scan(screen, "F01")) == "info"


def test_a_station_of_another_step_shows_no_grid(app, line):
    client = app.test_client()
    client.post("/login", data={"badge": "10001", "pin": "1234"})
    page = client.get("/station/T-REFLOW").get_data(as_text=True)
    assert 'id="feeders"' not in page
    assert "WRONG_KIND" in scan(client, "WO-1", "T-REFLOW")


def test_the_board_page_lists_what_fed_it(screen, line, app):
    for slot, reel in (("F01", "RL-10K-1"), ("F02", "RL-100N-1")):
        scan(screen, "WO-1")
        scan(screen, slot)
        scan(screen, reel)
    assert outcome(scan(screen, line.serials[0])) == "accepted"
    page = screen.get(f"/boards/{line.serials[0]}").get_data(as_text=True)
    assert 'id="materials"' in page and 'data-reel="RL-10K-1"' in page
    assert "LOT-RL-100N-1" in page


def test_readiness_shows_the_material_tile_without_gating_the_order(screen):
    page = screen.get("/orders/WO-1/readiness").get_data(as_text=True)
    assert 'class="ready-tile refused" data-item="feeder_setup" data-ready="false"' in page
    assert "Material" in page
    assert 'data-ready="true"' in page.split('class="verdict-line', 1)[1][:200]


def admin(app):
    client = app.test_client()
    assert client.post("/login", data={"name": "admin", "password": "admin-pw"}).status_code == 302
    return client


def test_the_setup_page_shows_the_setup_and_drafts_from_the_package(app, line):
    client = admin(app)
    page = client.get("/products/PCB/A/feeder-setups").get_data(as_text=True)
    assert 'data-slot="F01"' in page and "RC0603-10K" in page
    page = client.post("/products/PCB/A/feeder-setups",
                       data={"step": "PLACE", "action": "draft"}).get_data(as_text=True)
    assert "slot,part,alternates,designators" in page and "R1" in page and "C1" in page


def test_a_setup_from_csv_missing_a_designator_is_refused_naming_it(app, line):
    client = admin(app)
    csv = "slot,part,alternates,designators\nF01,RC0603-10K,,R1\n"
    page = client.post("/products/PCB/A/feeder-setups",
                       data={"step": "PLACE", "action": "create", "csv": csv})
    html = page.get_data(as_text=True)
    assert "SETUP_INVALID" in html and 'data-designators="C1"' in html


def test_a_setup_from_csv_is_saved(app, line):
    client = admin(app)
    csv = "slot,part,alternates,designators\nA1,RC0603-10K,ERJ-3EKF1002V,R1\nA2,CC0603-100N,,C1\n"
    r = client.post("/products/PCB/A/feeder-setups",
                    data={"step": "PLACE", "action": "create", "csv": csv})
    assert r.status_code == 302
    page = client.get(r.headers["Location"]).get_data(as_text=True)
    assert 'data-slot="A1"' in page and 'data-slot="A2"' in page


def test_slot_then_the_unload_label_frees_the_slot(screen, session):
    for code in ("WO-1", "F01", "RL-10K-1", "F01"):
        scan(screen, code)
    html = scan(screen, "UNLOAD")
    assert outcome(html) == "info" and "F01 unloaded" in html and "RL-10K-1" in html
    assert slot_states(html)["F01"] == "unloaded"
    assert [e.payload["reel"] for e in session.exec(
        select(Event).where(Event.kind == "feeder.unloaded"))] == ["RL-10K-1"]


def test_a_splice_keeps_the_slot_green_and_says_so(screen):
    for code in ("WO-1", "F01", "RL-10K-1", "F01"):
        scan(screen, code)
    html = scan(screen, "RL-ALT-1")
    assert "spliced" in html and slot_states(html)["F01"] == "alternate"


def test_the_screen_speaks_chinese_to_a_chinese_station(app, line, session):
    from station.models import Station
    session.get(Station, PLACE).language = "zh_CN"
    session.commit()
    client = app.test_client()
    client.post("/login", data={"badge": "10001", "pin": "1234"})
    html = scan(client, "WO-1")
    assert "请扫描站位" in html and "未上料" in html


def test_another_slot_scanned_while_one_waits_arms_that_one(screen):
    scan(screen, "WO-1")
    scan(screen, "F01")
    html = scan(screen, "F02")
    assert outcome(html) == "info" and "F02 needs CC0603-100N" in html
    html = scan(screen, "RL-100N-1")
    assert outcome(html) == "accepted" and slot_states(html) == {"F01": "unloaded",
                                                                 "F02": "verified"}


def test_a_product_without_a_feeder_setup_shows_a_blue_material_tile(screen, line, session):
    from station import masterdata
    admin_user = line.users["admin"]
    masterdata.create_product(session, admin_user, "PCB2", "A", ["PRINT", "PLACE", "FCT", "PACK"])
    masterdata.create_order(session, admin_user, "WO-2", "CUST", "PCB2", "A", 2, "2.50")
    page = screen.get("/orders/WO-2/readiness").get_data(as_text=True)
    assert re.search(r'class="ready-tile info" data-item="feeder_setup"', page)


def test_a_reel_is_registered_on_the_reels_page_by_label_or_by_typed_fields(client, app, line):
    client.post("/login", data={"badge": "10001", "pin": "1234"})
    assert client.get("/reels").status_code == 200
    label = "[)>\x1e06\x1dPRC0402-10K\x1dQ5000\x1d1TLOT-77\x1d10D2540\x1dSREEL-PAGE-1\x1e\x04"
    r = client.post("/reels", data={"label": label, "msl": "3"})
    assert r.status_code == 302, r.get_data(as_text=True)
    r = client.post("/reels", data={"id": "REEL-PAGE-2", "part": "GRM155-100N", "quantity": "10000",
                                    "lot": "L9", "msl": "1"})
    assert r.status_code == 302
    with Session(app.extensions["engine"]) as s:
        typed, scanned = s.get(Reel, "REEL-PAGE-2"), s.get(Reel, "REEL-PAGE-1")
        assert (scanned.part, scanned.quantity, scanned.lot, scanned.msl) == (
            "RC0402-10K", 5000, "LOT-77", "3")
        assert (typed.part, typed.quantity, typed.msl) == ("GRM155-100N", 10000, "1")
    html = client.post("/reels", data={"id": "REEL-PAGE-3", "part": "X", "quantity": "many"}) \
        .get_data(as_text=True)
    assert "INVALID_INPUT" in html and "REEL-PAGE-3" not in html.split('id="reels"')[1]
    html = client.get("/reels").get_data(as_text=True)
    assert 'data-reel="REEL-PAGE-1"' in html and 'data-reel="REEL-PAGE-2"' in html


def test_a_bake_and_dry_storage_are_recorded_by_scanning_the_reel(client, app, line):
    client.post("/login", data={"badge": "10001", "pin": "1234"})
    label = "[)>\x1e06\x1dPRC0402-10K\x1dQ5000\x1d1TLOT-78\x1dSREEL-MSD-1\x1e\x04"
    assert client.post("/reels", data={"label": label, "msl": "3"}).status_code == 302

    def reel() -> Reel:
        with Session(app.extensions["engine"]) as s:
            return s.get(Reel, "REEL-MSD-1")

    for action, stored in (("dry_in", True), ("dry_out", False)):
        r = client.post("/reels/floor-life", data={"reel": label, "action": action})
        assert r.status_code == 302
        assert (reel().exposed_since is None) is stored
    assert client.post("/reels/floor-life", data={"reel": "REEL-MSD-1", "action": "bake"}) \
        .status_code == 302
    assert reel().baked_at is not None and reel().floor_used_s == 0
    html = client.post("/reels/floor-life", data={"reel": "REEL-MSD-1", "action": "melt"}) \
        .get_data(as_text=True)
    assert "INVALID_INPUT" in html
    with Session(app.extensions["engine"]) as s:
        kinds = s.exec(select(Event.kind).where(Event.subject == "reel:REEL-MSD-1")
                       .order_by(Event.id)).all()
    assert kinds == ["reel.registered", "reel.dry_stored", "reel.dry_removed", "reel.baked"]
