"""Material on the line without Flask: setups, reels and floor life, loading, the placement
interlock, consumption, splices and unloading."""

from datetime import timedelta
from types import SimpleNamespace

import pytest
from conftest import build_line
from sqlmodel import select

from station import masterdata
from station.errors import Conflict, Forbidden, InvalidCode, InvalidInput
from station.line.scanning import scan
from station.material import feeders, reels, setups, trace
from station.material.floorlife import FLOOR_LIFE_H, expired, floor_left_h
from station.models import Board, BoardMaterial, Event, FeederLoad, Reel, utcnow
from station.readiness import interlock

SLOTS = [{"slot": "F01", "part": "RC0603-10K", "alternates": ["ERJ-3EKF1002V"],
          "designators": ["R1"]},
         {"slot": "F02", "part": "CC0603-100N", "alternates": [], "designators": ["C1"]}]
LABEL = ("[)>{RS}06{GS}PRC0603-10K{GS}Q5000{GS}1TLOT-A1{GS}10D2611{GS}SREEL-0001{RS}{EOT}")


@pytest.fixture
def floor(session):
    """The test line with a feeder setup for its PLACE step and two right reels registered."""
    line = build_line(session, boards=6)
    setups.create_setup(session, line.users["admin"], "PCB", "A", "PLACE", SLOTS)
    op = line.users["operator"]
    reels.register_reel(session, op, id="R-10K", part="RC0603-10K", quantity=100, lot="L10K")
    reels.register_reel(session, op, id="C-100N", part="CC0603-100N", quantity=100, lot="L100N",
                        msl="3")
    return SimpleNamespace(line=line, op=op, admin=line.users["admin"], s=session)


def load_all(f):
    feeders.load(f.s, f.op, "T-PLACE", "WO-1", "F01", "R-10K")
    feeders.load(f.s, f.op, "T-PLACE", "WO-1", "F02", "C-100N")


def to_place(f, serial):
    """Scan a board through PRINT and SPI; return the answer of its PLACE scan."""
    for station in ("T-PRINT", "T-SPI"):
        scan(f.s, station, serial, f.op)
    return scan(f.s, "T-PLACE", serial, f.op)


def kinds(session, kind):
    return [e.payload for e in session.exec(select(Event).where(Event.kind == kind)
                                            .order_by(Event.id))]


# -- setups --------------------------------------------------------------------------------

@pytest.mark.parametrize("slots, problem, names", [
    ([{**SLOTS[0], "designators": ["R1", "C1"]}, SLOTS[1]], "doubled", ["C1"]),
    ([SLOTS[0]], "missing", ["C1"]),
    ([SLOTS[0], {**SLOTS[1], "designators": ["C1", "U9"]}], "unknown", ["U9"]),
    ([SLOTS[0], {**SLOTS[1], "designators": ["C1", "J1"]}], "unknown", ["J1"]),  # J1 is DIP
])
def test_a_designator_fed_twice_not_fed_or_not_smt_of_the_side_is_refused_by_name(
        session, slots, problem, names):
    line = build_line(session)
    with pytest.raises(setups.SetupInvalid) as err:
        setups.create_setup(session, line.users["admin"], "PCB", "A", "PLACE", slots)
    assert err.value.status == 400 and err.value.code == "SETUP_INVALID"
    body = err.value.body()["error"]
    assert body["designators"] == names and body["problems"][problem] == names
    assert names[0] in body["message"]


def test_a_setup_is_for_a_placement_step_of_the_route_and_admin_only(session):
    line = build_line(session)
    with pytest.raises(InvalidInput):
        setups.create_setup(session, line.users["admin"], "PCB", "A", "AOI", SLOTS)
    with pytest.raises(InvalidInput):
        setups.create_setup(session, line.users["admin"], "PCB", "A", "PLACE-B", SLOTS)
    with pytest.raises(InvalidInput):
        setups.create_setup(session, line.users["admin"], "PCB", "A", "PLACE",
                            [SLOTS[0], {**SLOTS[1], "slot": "f01"}])
    with pytest.raises(Forbidden):
        setups.create_setup(session, line.users["operator"], "PCB", "A", "PLACE", SLOTS)


def test_the_bottom_side_is_told_by_the_step_name():
    assert setups.side_of("PLACE") == "top" and setups.side_of("PLACE-T") == "top"
    assert setups.side_of("PLACE-B") == "bottom" and setups.side_of("PLACE-BOT") == "bottom"


def test_a_setup_created_again_replaces_its_slots(session):
    line = build_line(session)
    first = setups.create_setup(session, line.users["admin"], "PCB", "A", "PLACE", SLOTS)
    again = setups.create_setup(session, line.users["admin"], "PCB", "A", "PLACE",
                                [{**SLOTS[0], "designators": ["R1", "C1"]}])
    assert again.id == first.id
    assert [s.slot for s in setups.slots_of(session, first.id)] == ["F01"]


def test_setup_csv_and_draft_from_the_data_package(session):
    text = ("slot,part,alternates,designators\nF01,RC0603-10K,ERJ-3EKF1002V,R1\n"
            "F02,CC0603-100N,,C1\n")
    assert setups.setup_from_csv(text) == [
        {"slot": "F01", "part": "RC0603-10K", "alternates": ["ERJ-3EKF1002V"],
         "designators": ["R1"]},
        {"slot": "F02", "part": "CC0603-100N", "alternates": [], "designators": ["C1"]}]
    with pytest.raises(InvalidInput):
        setups.setup_from_csv("a,b\n1,2\n")
    build_line(session)
    draft = setups.draft_from_package(session, "PCB", "A", "PLACE")
    assert sorted(d["designators"][0] for d in draft) == ["C1", "R1"]
    assert {d["slot"] for d in draft} == {""} and all(d["part"] for d in draft)


# -- reels and floor life ------------------------------------------------------------------

def test_a_reel_registers_from_its_ecia_label_and_its_id_is_unique(floor):
    reel = reels.register_reel(floor.s, floor.op, LABEL, msl="2a")
    assert (reel.id, reel.part, reel.quantity, reel.lot, reel.date_code, reel.msl) == \
        ("REEL-0001", "RC0603-10K", 5000, "LOT-A1", "2611", "2a")
    assert kinds(floor.s, "reel.registered")[-1]["reel"] == "REEL-0001"
    with pytest.raises(Conflict):
        reels.register_reel(floor.s, floor.op, LABEL)
    with pytest.raises(InvalidCode):
        reels.register_reel(floor.s, floor.op, "[)>{RS}06{GS}PX{GS}Q5{RS}{EOT}")
    with pytest.raises(InvalidInput):
        reels.register_reel(floor.s, floor.op, id="X1", part="P", quantity=5, msl="7")
    with pytest.raises(InvalidInput):
        reels.register_reel(floor.s, floor.op, id="X1", part="P", quantity=0)


def test_floor_life_per_msl_paused_by_dry_storage_and_reset_by_a_bake():
    now = utcnow()
    reel = SimpleNamespace(msl="3", floor_used_s=0.0, exposed_since=now - timedelta(hours=100))
    assert floor_left_h(reel, now) == pytest.approx(68)
    assert not expired(reel, now) and expired(reel, now + timedelta(hours=68))
    assert floor_left_h(SimpleNamespace(msl="1", floor_used_s=0, exposed_since=now), now) is None
    assert floor_left_h(SimpleNamespace(msl=None, floor_used_s=0, exposed_since=now), now) is None
    paused = SimpleNamespace(msl="5a", floor_used_s=20 * 3600.0, exposed_since=None)
    assert floor_left_h(paused, now + timedelta(days=30)) == pytest.approx(4)
    assert FLOOR_LIFE_H["2"] == 8760 and FLOOR_LIFE_H["4"] == 72


def test_dry_storage_pauses_and_a_bake_restarts_the_clock(floor):
    reel = floor.s.get(Reel, "C-100N")
    reel.exposed_since = utcnow() - timedelta(hours=100)
    floor.s.commit()
    reels.record_dry(floor.s, floor.op, "C-100N", True)
    reel = floor.s.get(Reel, "C-100N")
    assert reel.exposed_since is None and reel.floor_used_s == pytest.approx(360000, rel=1e-3)
    assert floor_left_h(reel, utcnow() + timedelta(days=9)) == pytest.approx(68, abs=0.1)
    reels.record_dry(floor.s, floor.op, "C-100N", False)
    reels.record_bake(floor.s, floor.op, "C-100N")
    assert floor_left_h(floor.s.get(Reel, "C-100N"), utcnow()) == pytest.approx(168, abs=0.1)
    assert [e["reel"] for e in kinds(floor.s, "reel.baked")] == ["C-100N"]
    assert len(kinds(floor.s, "reel.dry_stored")) == 1


# -- loading -------------------------------------------------------------------------------

def test_loading_the_right_reel_passes_an_alternate_is_yellow(floor):
    answer = feeders.load(floor.s, floor.op, "T-PLACE", "WO-1", "f01", "R-10K")
    assert answer == {"verdict": "PASS", "slot": "F01", "part": "RC0603-10K",
                      "slot_part": "RC0603-10K", "reel": "R-10K", "spliced": False}
    reels.register_reel(floor.s, floor.op, id="ALT-1", part="ERJ-3EKF1002V", quantity=50)
    assert feeders.load(floor.s, floor.op, "T-PLACE", "WO-1", "F01", "ALT-1")["verdict"] == \
        "ALTERNATE"
    status = feeders.status(floor.s, "T-PLACE", "WO-1")
    assert [(s["slot"], s["state"]) for s in status["slots"]] == [("F01", "alternate"),
                                                                  ("F02", "unloaded")]
    assert not status["verified"]
    loaded = kinds(floor.s, "feeder.loaded")
    assert loaded[-1] == {"station": "T-PLACE", "order": "WO-1", "slot": "F01",
                          "part": "ERJ-3EKF1002V", "reel": "ALT-1", "lot": None, "quantity": 50,
                          "verdict": "ALTERNATE", "spliced": True, "previous_reel": "R-10K"}


def test_a_wrong_reel_is_refused_naming_the_part_and_turns_the_slot_red(floor):
    feeders.load(floor.s, floor.op, "T-PLACE", "WO-1", "F01", "R-10K")
    with pytest.raises(feeders.WrongPart) as err:
        feeders.load(floor.s, floor.op, "T-PLACE", "WO-1", "F01", "C-100N")
    assert err.value.body()["error"]["part_needed"] == "RC0603-10K"
    refused = kinds(floor.s, "feeder.refused")
    assert refused == [{"station": "T-PLACE", "order": "WO-1", "slot": "F01", "reel": "C-100N",
                        "code": "WRONG_PART", "part_needed": "RC0603-10K"}]
    ev = floor.s.exec(select(Event).where(Event.kind == "feeder.refused")).one()
    assert ev.station_id == "T-PLACE"
    assert feeders.status(floor.s, "T-PLACE", "WO-1")["slots"][0]["state"] == "wrong"
    feeders.load(floor.s, floor.op, "T-PLACE", "WO-1", "F01", "R-10K")
    assert feeders.status(floor.s, "T-PLACE", "WO-1")["slots"][0]["state"] == "verified"


def test_unknown_expired_empty_and_busy_reels_are_refused_and_kept_as_events(floor):
    with pytest.raises(feeders.UnknownReel) as err:
        feeders.load(floor.s, floor.op, "T-PLACE", "WO-1", "F01", "NOPE")
    assert err.value.status == 404
    reel = floor.s.get(Reel, "C-100N")
    reel.exposed_since = utcnow() - timedelta(hours=169)
    floor.s.commit()
    with pytest.raises(feeders.MsdExpired):
        feeders.load(floor.s, floor.op, "T-PLACE", "WO-1", "F02", "C-100N")
    reels.register_reel(floor.s, floor.op, id="E-1", part="RC0603-10K", quantity=1)
    floor.s.get(Reel, "E-1").quantity = 0
    floor.s.commit()
    with pytest.raises(feeders.ReelEmpty):
        feeders.load(floor.s, floor.op, "T-PLACE", "WO-1", "F01", "E-1")
    assert feeders.status(floor.s, "T-PLACE", "WO-1")["slots"][0]["state"] == "empty"
    with pytest.raises(feeders.UnknownSlot):
        feeders.load(floor.s, floor.op, "T-PLACE", "WO-1", "F99", "R-10K")
    assert [e["code"] for e in kinds(floor.s, "feeder.refused")] == \
        ["UNKNOWN_REEL", "MSD_EXPIRED", "REEL_EMPTY"]


def test_a_reel_is_on_one_slot_at_a_time(floor):
    setups.create_setup(floor.s, floor.admin, "PCB", "A", "PLACE",
                        [{**SLOTS[0], "designators": ["R1"]},
                         {**SLOTS[1], "part": "RC0603-10K"}])
    feeders.load(floor.s, floor.op, "T-PLACE", "WO-1", "F01", "R-10K")
    with pytest.raises(feeders.ReelInUse):
        feeders.load(floor.s, floor.op, "T-PLACE", "WO-1", "F02", "R-10K")


# -- the interlock and consumption ---------------------------------------------------------

def test_a_board_is_refused_at_place_until_every_slot_is_verified(floor):
    serial = floor.line.serials[0]
    with pytest.raises(feeders.SetupNotVerified) as err:
        to_place(floor, serial)
    assert err.value.body()["error"]["slots"] == ["F01", "F02"]
    feeders.load(floor.s, floor.op, "T-PLACE", "WO-1", "F01", "R-10K")
    with pytest.raises(feeders.SetupNotVerified) as err:
        scan(floor.s, "T-PLACE", serial, floor.op)
    assert err.value.params["slots"] == ["F02"]
    feeders.load(floor.s, floor.op, "T-PLACE", "WO-1", "F02", "C-100N")
    assert scan(floor.s, "T-PLACE", serial, floor.op)["accepted"]
    assert trace.board_materials(floor.s, serial)["materials"] == [
        {"step": "PLACE", "slot": "F01", "part": "RC0603-10K", "reel": "R-10K", "lot": "L10K",
         "date_code": None, "designators": ["R1"]},
        {"step": "PLACE", "slot": "F02", "part": "CC0603-100N", "reel": "C-100N",
         "lot": "L100N", "date_code": None, "designators": ["C1"]}]
    assert floor.s.get(Reel, "R-10K").quantity == 99


def test_without_a_setup_placement_is_not_interlocked(session, line):
    op = line.users["operator"]
    for station in ("T-PRINT", "T-SPI", "T-PLACE"):
        assert scan(session, station, line.serials[0], op)["accepted"]
    assert feeders.status(session, "T-PLACE", "WO-1") == {
        "station": "T-PLACE", "order": "WO-1", "step": "PLACE", "setup": None,
        "verified": True, "slots": []}


def test_an_expired_reel_on_a_feeder_makes_the_setup_not_verified(floor):
    load_all(floor)
    floor.s.get(Reel, "C-100N").exposed_since = utcnow() - timedelta(hours=200)
    floor.s.commit()
    with pytest.raises(feeders.SetupNotVerified) as err:
        to_place(floor, floor.line.serials[0])
    assert err.value.params["slots"] == ["F02"]
    reels.record_bake(floor.s, floor.op, "C-100N")
    assert scan(floor.s, "T-PLACE", floor.line.serials[0], floor.op)["accepted"]


def test_a_low_reel_warns_at_ten_percent_and_an_empty_one_refuses_the_scan(floor):
    reels.register_reel(floor.s, floor.op, id="R-SHORT", part="RC0603-10K", quantity=20)
    floor.s.get(Reel, "R-SHORT").quantity = 3
    floor.s.commit()
    feeders.load(floor.s, floor.op, "T-PLACE", "WO-1", "F01", "R-SHORT")
    feeders.load(floor.s, floor.op, "T-PLACE", "WO-1", "F02", "C-100N")
    first = to_place(floor, floor.line.serials[0])
    assert any("R-SHORT" in w for w in first["warnings"])  # 2 of 20 left
    to_place(floor, floor.line.serials[1])
    assert floor.s.get(Reel, "R-SHORT").quantity == 1
    to_place(floor, floor.line.serials[2])
    steps_before = floor.s.exec(select(BoardMaterial)).all()
    with pytest.raises(feeders.ReelEmpty) as err:
        to_place(floor, floor.line.serials[3])
    assert err.value.code == "REEL_EMPTY" and err.value.body()["error"]["slots"] == ["F01"]
    assert floor.s.exec(select(BoardMaterial)).all() == steps_before
    assert floor.s.get(Reel, "C-100N").quantity == 97  # the refused scan took nothing


def test_a_panel_takes_each_boards_designators_and_a_reel_that_would_go_below_zero_refuses(
        session):
    line = build_line(session, boards=4, panel_size=4)
    op = line.users["operator"]
    setups.create_setup(session, line.users["admin"], "PCB", "A", "PLACE", SLOTS)
    reels.register_reel(session, op, id="R-3", part="RC0603-10K", quantity=3)
    reels.register_reel(session, op, id="C-9", part="CC0603-100N", quantity=9)
    feeders.load(session, op, "T-PLACE", "WO-1", "F01", "R-3")
    feeders.load(session, op, "T-PLACE", "WO-1", "F02", "C-9")
    panel = session.exec(select(BoardMaterial)).all()
    assert panel == []
    panel_id = session.exec(select(Board.panel_id)).first()
    for station in ("T-PRINT", "T-SPI"):
        scan(session, station, panel_id, op)
    with pytest.raises(feeders.ReelEmpty):
        scan(session, "T-PLACE", panel_id, op)
    assert session.get(Reel, "R-3").quantity == 3


def test_a_splice_keeps_the_old_reel_traced_to_the_boards_it_fed(floor):
    load_all(floor)
    to_place(floor, floor.line.serials[0])
    reels.register_reel(floor.s, floor.op, id="R-10K-2", part="RC0603-10K", quantity=100,
                        lot="L10K-2")
    answer = feeders.load(floor.s, floor.op, "T-PLACE", "WO-1", "F01", "R-10K-2")
    assert answer["spliced"] and kinds(floor.s, "feeder.loaded")[-1]["previous_reel"] == "R-10K"
    to_place(floor, floor.line.serials[1])
    first = trace.board_materials(floor.s, floor.line.serials[0])["materials"]
    second = trace.board_materials(floor.s, floor.line.serials[1])["materials"]
    assert first[0]["reel"] == "R-10K" and second[0]["reel"] == "R-10K-2"
    assert trace.trace(floor.s, reel="R-10K")["boards"] == [floor.line.serials[0]]
    assert trace.trace(floor.s, lot="L100N") == {
        "boards": sorted(floor.line.serials[:2]), "orders": ["WO-1"], "customers": ["CUST"]}
    assert trace.trace(floor.s, part="RC0603-10K")["boards"] == sorted(floor.line.serials[:2])
    csv_text = trace.trace_csv(floor.s, lot="L10K-2")
    assert csv_text.splitlines()[0].startswith("serial,order,customer")
    assert floor.line.serials[1] in csv_text and floor.line.serials[0] not in csv_text


def test_unloading_frees_the_slot_and_holds_the_boards(floor):
    load_all(floor)
    answer = feeders.unload(floor.s, floor.op, "T-PLACE", "F02")
    assert answer == {"slot": "F02", "reel": "C-100N", "quantity_left": 100}
    assert kinds(floor.s, "feeder.unloaded") == [{"station": "T-PLACE", "order": "WO-1",
                                                  "slot": "F02", "reel": "C-100N",
                                                  "quantity_left": 100}]
    assert feeders.status(floor.s, "T-PLACE", "WO-1")["slots"][1]["state"] == "unloaded"
    with pytest.raises(feeders.SetupNotVerified):
        to_place(floor, floor.line.serials[0])
    with pytest.raises(feeders.NotLoaded):
        feeders.unload(floor.s, floor.op, "T-PLACE", "F02")
    assert floor.s.exec(select(FeederLoad).where(FeederLoad.unloaded_at.is_(None))).all()


# -- readiness's fifth item ----------------------------------------------------------------

def material(session, number="WO-1"):
    items = interlock.assess(session, masterdata.find_order(session, number), material=True)
    assert [i["item"] for i in items][:4] == list(interlock.ITEMS)
    return items[4] if len(items) > 4 else None


def test_readiness_shows_the_feeder_setup_without_gating_the_order(floor):
    item = material(floor.s)
    assert item["item"] == "feeder_setup" and not item["ready"]
    assert item["code"] == "SETUP_NOT_VERIFIED" and "F01, F02" in item["message"]
    assert interlock.red_items(floor.s, masterdata.find_order(floor.s, "WO-1")) == []
    # PRINT and SPI run while the feeders are loaded
    scan(floor.s, "T-PRINT", floor.line.serials[0], floor.op)
    load_all(floor)
    item = material(floor.s)
    assert item["ready"] and item["code"] is None and "PLACE" in item["message"]


def test_without_a_setup_the_fifth_item_is_information_and_without_placement_absent(session):
    line = build_line(session)
    item = material(session)
    assert item["ready"] and item["info"] and item["code"] is None
    assert "No feeder setup" in item["message"]
    admin = line.users["admin"]
    masterdata.create_product(session, admin, "HAND", "A", ["DIP", "FCT"])
    masterdata.create_order(session, admin, "WO-2", "CUST", "HAND", "A", 1, "1.00")
    assert material(session, "WO-2") is None
