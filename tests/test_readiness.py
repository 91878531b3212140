"""Job readiness in the domain, without Flask: each item red to green, and the scan interlock.

Every test opens its own product revision and order on one app per module, so data packages,
stencils, profile runs and PCB lots of one test never count for another.
"""

import io
import itertools
import zipfile
from collections import namedtuple
from datetime import timedelta

import pytest
from conftest import ROUTE, build_line, make_app
from sqlmodel import Session, func, select

from station import demo, masterdata
from station.errors import InvalidInput, NotReady, StationError
from station.line import scanning
from station.models import BoardStep, Event, ProfileRun, Stencil, utcnow
from station.readiness import interlock, packages, pcb_lots, profiles, stencils
from station.readiness.pcb_lots import NotEnoughBoards
from station.readiness.reflow import load_windows
from station.readiness.stencils import WrongStencil

_numbers = itertools.count(1)
WINDOWS = load_windows()


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    return make_app(tmp_path_factory.mktemp("readiness"))


@pytest.fixture(scope="module")
def line(app):
    with Session(app.extensions["engine"], expire_on_commit=False) as s:
        return build_line(s, boards=1, tokens=False)


@pytest.fixture
def admin(line):
    return line.users["admin"]


@pytest.fixture
def op(line):
    return line.users["operator"]


# --- helpers (test_readiness_api.py and test_readiness_browser.py use some of them) -----------


def new_job(session, line, boards=4, route=ROUTE, panel_size=None, ready=False,
            revision="A") -> tuple[str, str, list[str]]:
    """A new product revision with this route, an order for `boards` of it and their serials."""
    n = next(_numbers)
    admin = line.users["admin"]
    code, number = f"P{n}", f"O{n}"
    masterdata.create_product(session, admin, code, revision, list(route))
    masterdata.create_order(session, admin, number, "CUST", code, revision, boards, "1.00")
    serials = masterdata.add_boards(session, admin, number, count=boards, panel_size=panel_size)
    if ready:
        demo.make_ready(session, admin, line.users["operator"], number)
    return number, code, serials


def item(session, number, name, now=None, rules=None) -> dict:
    """One readiness item of the order."""
    order = masterdata.find_order(session, number)
    (found,) = [i for i in interlock.assess(session, order, rules, now) if i["item"] == name]
    return found


def codes(session, number, now=None, rules=None) -> dict:
    """Each item of the order with its code (None when green)."""
    order = masterdata.find_order(session, number)
    return {i["item"]: i["code"] for i in interlock.assess(session, order, rules, now)}


def package_without(*names) -> dict:
    """The demo data package with these files left out of its Gerber zip."""
    pkg = demo.data_package()
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(pkg["gerber"])) as src, zipfile.ZipFile(out, "w") as dst:
        for info in src.infolist():
            if info.filename not in names:
                dst.writestr(info.filename, src.read(info.filename))
    return {**pkg, "gerber": out.getvalue()}


def upload(session, admin, code, pkg=None, revision="A"):
    pkg = pkg or demo.data_package()
    return packages.upload(session, admin, code, revision, pkg["gerber"], pkg["bom"],
                               "bom.csv", pkg["centroid"], "cpl.csv")


def profile_csv(peak_scale: float = 1.0) -> str:
    """The demo PASS profile; a scale above 1 stretches everything over 200 °C (1.5: FAIL)."""
    lines = demo.profile_csv().splitlines()
    rows = [lines[0]]
    for row in lines[1:]:
        t, *temps = row.split(",")
        temps = [200 + (float(x) - 200) * peak_scale if float(x) > 200 else float(x)
                 for x in temps]
        rows.append(",".join([t, *(f"{x:.2f}" for x in temps)]))
    return "\n".join(rows) + "\n"


def new_stencil(session, line, number, code, life=100, clean=50, side="top", tension=None,
                mount=True, revision="A") -> str:
    """A stencil of the product registered (and measured and mounted if asked): its id."""
    sid = f"S{next(_numbers)}"
    stencils.register_stencil(session, line.users["admin"], sid, code, revision, side, life,
                              clean)
    if tension is not None:
        stencils.record_tension(session, line.users["operator"], sid, tension)
    if mount:
        stencils.mount(session, line.users["operator"], number, sid)
    return sid


def refused(session, call, *args, **kwargs) -> StationError:
    """The floor's refusal of a call, rolled back as the routes do."""
    with pytest.raises(StationError) as info:
        call(session, *args, **kwargs)
    session.rollback()
    return info.value


def stored(session) -> tuple[int, int]:
    """How many passed steps and events the database holds."""
    return tuple(session.exec(select(func.count()).select_from(m)).one()
                 for m in (BoardStep, Event))


def prints(session, sid) -> int:
    session.expire_all()
    return session.get(Stencil, sid).prints


# --- data package -----------------------------------------------------------------------------


def test_data_package_missing_then_incomplete_then_ready(session, line, admin):
    number, code, _ = new_job(session, line)
    assert item(session, number, "data_package")["code"] == "NO_DATA_PACKAGE"

    broken = upload(session, admin, code, package_without("board-F_Mask.gbs"))
    assert broken.complete is False and broken.ready is False
    assert [p["code"] for p in broken.report["problems"] if p["severity"] == "error"] == \
        ["MISSING_LAYER"]
    got = item(session, number, "data_package")
    assert got["code"] == "DATA_PACKAGE_INCOMPLETE" and got["ready"] is False
    assert "soldermask" in got["message"]

    upload(session, admin, code)
    got = item(session, number, "data_package")
    assert got["ready"] is True and got["code"] is None

    upload(session, admin, code, package_without("board-PTH.drl"))  # the newest one counts
    got = item(session, number, "data_package")
    assert got["code"] == "DATA_PACKAGE_INCOMPLETE" and "drill" in got["message"]


# --- stencil ------------------------------------------------------------------------------------


def test_stencil_missing_then_unmeasured_then_ready_at_exactly_35_new(session, line, op):
    number, code, _ = new_job(session, line)
    got = item(session, number, "stencil")
    assert (got["code"], got["ready"]) == ("NO_STENCIL", False)

    sid = new_stencil(session, line, number, code)
    assert item(session, number, "stencil")["code"] == "STENCIL_NOT_MEASURED"

    check = stencils.record_tension(session, op, sid, [34.9, 40, 40, 40])
    assert check.passed is False
    got = item(session, number, "stencil")
    assert got["code"] == "STENCIL_TENSION_LOW" and "34.9" in got["message"]
    assert stencils.record_tension(session, op, sid, [25, 25, 25, 25]).passed is False

    assert stencils.record_tension(session, op, sid, [35, 35, 35, 35]).passed is True
    got = item(session, number, "stencil")
    assert (got["ready"], got["code"]) == (True, None) and sid in got["message"]


def test_stencil_in_service_needs_25_not_35(session, line, op):
    number, code, serials = new_job(session, line, ready=True)
    sid = new_stencil(session, line, number, code, tension=[36, 36, 36, 36])
    scanning.scan(session, "T-PRINT", serials[0], op)
    assert prints(session, sid) == 1

    assert stencils.record_tension(session, op, sid, [24.9, 30, 30, 30]).passed is False
    assert item(session, number, "stencil")["code"] == "STENCIL_TENSION_LOW"
    assert stencils.record_tension(session, op, sid, [25, 25, 25, 25]).passed is True
    assert item(session, number, "stencil")["ready"] is True


def test_tension_readings_must_be_enough_numbers_in_range(session, line, op):
    number, code, _ = new_job(session, line)
    sid = new_stencil(session, line, number, code)
    before = stored(session)
    for readings in ([40, 40, 40], [40, 40, 40, -1], [40, 40, 40, "40"], [40, 40, 40, True],
                     "40 40 40 40", None, [40, 40, 40, 201]):
        err = refused(session, stencils.record_tension, op, sid, readings)
        assert isinstance(err, InvalidInput), readings
    assert stored(session) == before
    assert item(session, number, "stencil")["code"] == "STENCIL_NOT_MEASURED"


def test_mounting_another_products_revisions_or_sides_stencil_is_refused(session, line, op):
    number, code, _ = new_job(session, line)
    own = new_stencil(session, line, number, code, tension=[40] * 4)
    _, other_code, _ = new_job(session, line)
    other_product = new_stencil(session, line, number, other_code, mount=False)
    masterdata.create_product(session, line.users["admin"], code, "B", ROUTE)
    other_revision = new_stencil(session, line, number, code, mount=False, revision="B")
    bottom = new_stencil(session, line, number, code, side="bottom", mount=False)
    before = stored(session)

    for sid, has in ((other_product, f"{other_code} rev A top"),
                     (other_revision, f"{code} rev B top"), (bottom, f"{code} rev A bottom")):
        err = refused(session, stencils.mount, op, number, sid)
        assert isinstance(err, WrongStencil) and err.code == "WRONG_STENCIL"
        assert has in str(err) and f"{code} rev A top" in str(err)

    assert stored(session) == before
    assert masterdata.find_order(session, number).stencil_id == own
    assert item(session, number, "stencil")["ready"] is True


def test_stencil_needs_cleaning_at_exactly_its_interval_and_a_cleaning_resets_it(
        session, line, op):
    number, code, serials = new_job(session, line, boards=5, ready=True)
    sid = new_stencil(session, line, number, code, clean=3, tension=[40] * 4)
    for serial in serials[:2]:
        scanning.scan(session, "T-PRINT", serial, op)
    assert item(session, number, "stencil")["ready"] is True

    scanning.scan(session, "T-PRINT", serials[2], op)
    got = item(session, number, "stencil")
    assert got["code"] == "STENCIL_NEEDS_CLEANING" and "3 prints" in got["message"]
    err = refused(session, scanning.scan, "T-PRINT", serials[3], op)
    assert isinstance(err, NotReady) and err.extra()["items"] == ["stencil"]
    assert prints(session, sid) == 3

    stencils.record_cleaning(session, op, sid)
    assert item(session, number, "stencil")["ready"] is True
    scanning.scan(session, "T-PRINT", serials[3], op)
    assert prints(session, sid) == 4
    assert item(session, number, "stencil")["ready"] is True  # 1 print since the cleaning


def test_life_warning_at_90_pct_then_life_reached_mid_order_stops_the_next_print(
        session, line, op):
    number, code, serials = new_job(session, line, boards=11, ready=True)
    sid = new_stencil(session, line, number, code, life=10, clean=50, tension=[40] * 4)
    for serial in serials[:8]:
        answer = scanning.scan(session, "T-PRINT", serial, op)
        assert answer["accepted"] is True and answer["warnings"] == []
    got = item(session, number, "stencil")
    assert got["ready"] is True and "warning" not in got

    answer = scanning.scan(session, "T-PRINT", serials[8], op)  # 9 of 10: 90 %
    assert answer["accepted"] is True
    assert [w for w in answer["warnings"] if sid in w and "9 of 10" in w]
    got = item(session, number, "stencil")
    assert got["ready"] is True and got["code"] is None
    assert "9 of 10 prints" in got["warning"]

    scanning.scan(session, "T-PRINT", serials[9], op)  # the 10th print: its life is reached
    got = item(session, number, "stencil")
    assert got["code"] == "STENCIL_LIFE_REACHED" and "10 of 10" in got["message"]
    before = stored(session)
    err = refused(session, scanning.scan, "T-PRINT", serials[10], op)
    assert err.code == "NOT_READY" and err.status == 409
    assert err.params["item_codes"] == ["stencil"] and err.extra()["items"] == ["stencil"]
    assert sid in str(err) and number in str(err)
    err = refused(session, scanning.scan, "T-SPI", serials[0], op)  # any station of the order
    assert err.code == "NOT_READY"
    assert stored(session) == before and prints(session, sid) == 10


def test_damaged_stencil_until_inspected_good_and_a_retired_one(session, line, op):
    number, code, _ = new_job(session, line)
    sid = new_stencil(session, line, number, code, tension=[40] * 4)

    stencils.record_inspection(session, op, sid, True, "dent near U3")
    got = item(session, number, "stencil")
    assert (got["code"], got["ready"]) == ("STENCIL_DAMAGED", False)
    stencils.record_inspection(session, op, sid, False, "repaired")
    assert item(session, number, "stencil")["ready"] is True

    stencils.retire(session, op, sid, "worn out")
    assert item(session, number, "stencil")["code"] == "STENCIL_RETIRED"
    err = refused(session, stencils.mount, op, number, sid)
    assert err.code == "WRONG_STENCIL" and "retired" in str(err)
    assert isinstance(refused(session, stencils.retire, op, sid, " "), InvalidInput)


def test_each_accepted_print_counts_once_and_nothing_else_counts(session, line, op):
    number, code, serials = new_job(session, line, boards=3, ready=True)
    sid = new_stencil(session, line, number, code, tension=[40] * 4)

    scanning.scan(session, "T-PRINT", serials[0], op)
    first = scanning.scan(session, "T-PRINT", serials[1], op, scan_id="replayed-1")
    assert scanning.scan(session, "T-PRINT", serials[1], op, scan_id="replayed-1") == first
    assert prints(session, sid) == 2
    assert refused(session, scanning.scan, "T-PRINT", serials[0], op).code == "ALREADY_DONE"
    scanning.scan(session, "T-SPI", serials[0], op)
    assert refused(session, scanning.scan, "T-SPI", serials[2], op).code == "OUT_OF_SEQUENCE"
    assert prints(session, sid) == 2
    assert item(session, number, "stencil")["message"].endswith("(2/100 prints).")


def test_a_panel_label_prints_once_for_all_its_boards(session, line, op):
    number, code, serials = new_job(session, line, boards=4, panel_size=2, ready=True)
    sid = new_stencil(session, line, number, code, tension=[40] * 4)
    steps, _ = stored(session)

    answer = scanning.scan(session, "T-PRINT", f"{number}-P0001", op)

    assert answer["serials"] == serials[:2]
    assert stored(session)[0] == steps + 2
    assert prints(session, sid) == 1
    scanning.scan(session, "T-PRINT", f"{number}-P0002", op)
    assert prints(session, sid) == 2


# --- profile board ------------------------------------------------------------------------------


def test_profile_no_run_failed_then_passed(session, line, admin, op):
    number, code, _ = new_job(session, line)
    got = item(session, number, "profile_board")
    assert (got["code"], got["ready"]) == ("NO_PROFILE_RUN", False)

    board = f"PB{next(_numbers)}"
    profiles.register_profile_board(session, admin, board, code, "A", 2)
    failed = profiles.record_run(session, op, profile_csv(1.5), "SAC305", WINDOWS,
                                 profile_board=board)
    assert failed.verdict == "FAIL"
    got = item(session, number, "profile_board")
    assert got["code"] == "PROFILE_FAILED" and f"#{failed.id}" in got["message"]

    passed = profiles.record_run(session, op, profile_csv(), "SAC305", WINDOWS,
                                 profile_board=board)
    assert passed.verdict == "PASS"
    got = item(session, number, "profile_board")
    assert got["ready"] is True and f"#{passed.id}" in got["message"]


def test_profile_runs_on_another_paste_board_or_product_do_not_count(session, line, admin, op):
    number, code, _ = new_job(session, line)
    lead_free = f"O{next(_numbers)}"  # the same product, soldered with another paste
    masterdata.create_order(session, admin, lead_free, "CUST", code, "A", 2, "1.00",
                            paste="JSTD020-PbFree")
    _, other_code, _ = new_job(session, line)
    own, other = f"PB{next(_numbers)}", f"PB{next(_numbers)}"
    profiles.register_profile_board(session, admin, own, code, "A", 2)
    profiles.register_profile_board(session, admin, other, other_code, "A", 2)

    for board in (other, None):  # another product's profile board, or none at all
        run = profiles.record_run(session, op, profile_csv(), "SAC305", WINDOWS,
                                  profile_board=board)
        assert run.verdict == "PASS"
        assert item(session, number, "profile_board")["code"] == "NO_PROFILE_RUN"
    failed = profiles.record_run(session, op, profile_csv(), "JSTD020-PbFree", WINDOWS,
                                 profile_board=own)
    assert failed.verdict == "FAIL"  # on another paste: neither a pass nor a failure here
    assert item(session, number, "profile_board")["code"] == "NO_PROFILE_RUN"

    profiles.record_run(session, op, profile_csv(), "SAC305", WINDOWS, profile_board=own)
    assert item(session, number, "profile_board")["ready"] is True
    assert item(session, lead_free, "profile_board")["code"] == "PROFILE_FAILED"


def test_a_passing_profile_expires_after_its_validity_window(session, line, admin, op):
    number, code, _ = new_job(session, line)
    board = f"PB{next(_numbers)}"
    profiles.register_profile_board(session, admin, board, code, "A", 2)
    run = profiles.record_run(session, op, profile_csv(), "SAC305", WINDOWS, profile_board=board)
    at = run.recorded_at

    assert item(session, number, "profile_board", now=at + timedelta(hours=24))["ready"] is True
    got = item(session, number, "profile_board", now=at + timedelta(hours=24, seconds=1))
    assert got["code"] == "PROFILE_EXPIRED" and "24 h" in got["message"]
    shift = interlock.Rules(profile_validity_hours=8)
    assert item(session, number, "profile_board", now=at + timedelta(hours=9),
                rules=shift)["code"] == "PROFILE_EXPIRED"

    stored_run = session.get(ProfileRun, run.id)  # or an old run, recorded yesterday
    stored_run.recorded_at = utcnow() - timedelta(hours=25)
    session.add(stored_run)
    session.commit()
    assert item(session, number, "profile_board")["code"] == "PROFILE_EXPIRED"
    profiles.record_run(session, op, profile_csv(), "SAC305", WINDOWS, profile_board=board)
    assert item(session, number, "profile_board")["ready"] is True


# --- blank PCBs ---------------------------------------------------------------------------------


def test_blank_pcbs_short_until_allocations_cover_the_order(session, line, admin, op):
    number, code, _ = new_job(session, line, boards=5)
    assert item(session, number, "blank_pcbs")["code"] == "PCB_SHORT"
    few, small = f"L{next(_numbers)}-a", f"L{next(_numbers)}-b"
    pcb_lots.register_lot(session, admin, few, code, "A", 3)
    pcb_lots.register_lot(session, admin, small, code, "A", 10)

    first = pcb_lots.allocate(session, op, number, few)
    assert first.quantity == 3  # all the lot has
    got = item(session, number, "blank_pcbs")
    assert got["code"] == "PCB_SHORT" and "3 of 5" in got["message"]

    pcb_lots.allocate(session, op, number, small, 1)
    assert item(session, number, "blank_pcbs")["code"] == "PCB_SHORT"
    rest = pcb_lots.allocate(session, op, number, small)  # no quantity: what is still needed
    assert rest.quantity == 1
    got = item(session, number, "blank_pcbs")
    assert got["ready"] is True and got["code"] is None
    assert pcb_lots.left_in(session, pcb_lots.find_lot(session, small)) == 8

    before = stored(session)  # a lot scanned again: nothing is needed, and it says so
    err = refused(session, pcb_lots.allocate, op, number, small)
    assert err.code == "ALREADY_ALLOCATED" and err.status == 409 and "all 5" in str(err)
    assert stored(session) == before
    second = f"O{next(_numbers)}"  # another order of the product, from the used-up lot
    masterdata.create_order(session, admin, second, "CUST", code, "A", 2, "1.00")
    before = stored(session)
    err = refused(session, pcb_lots.allocate, op, second, few)
    assert isinstance(err, NotEnoughBoards) and "0 boards left, not 2" in str(err)
    assert stored(session) == before


def test_a_lot_with_too_few_left_or_of_another_product_is_refused(session, line, admin, op):
    number, code, _ = new_job(session, line, boards=5)
    _, other_code, _ = new_job(session, line)
    lot, foreign = f"L{next(_numbers)}", f"L{next(_numbers)}"
    pcb_lots.register_lot(session, admin, lot, code, "A", 4)
    pcb_lots.register_lot(session, admin, foreign, other_code, "A", 50)
    before = stored(session)

    err = refused(session, pcb_lots.allocate, op, number, lot, 5)
    assert isinstance(err, NotEnoughBoards) and err.code == "NOT_ENOUGH_PCBS"
    assert "4 boards left, not 5" in str(err)
    err = refused(session, pcb_lots.allocate, op, number, foreign, 5)
    assert isinstance(err, InvalidInput) and other_code in str(err)
    for quantity in (0, -1, "5", 2.5, True):
        assert isinstance(refused(session, pcb_lots.allocate, op, number, lot, quantity),
                          InvalidInput)

    assert stored(session) == before
    order = masterdata.find_order(session, number)
    assert pcb_lots.allocated(session, order) == 0
    assert item(session, number, "blank_pcbs")["code"] == "PCB_SHORT"


def test_an_opened_lot_past_its_floor_life_until_baked(session, line, admin, op):
    number, code, _ = new_job(session, line, boards=2)
    lot = f"L{next(_numbers)}"
    opened = utcnow() - timedelta(hours=80)
    pcb_lots.register_lot(session, admin, lot, code, "A", 2, floor_life_hours=72,
                          opened_at=opened)
    pcb_lots.allocate(session, op, number, lot)

    at_limit = opened + timedelta(hours=72)
    assert item(session, number, "blank_pcbs", now=at_limit)["ready"] is True
    got = item(session, number, "blank_pcbs", now=at_limit + timedelta(seconds=1))
    assert (got["code"], got["ready"]) == ("PCB_FLOOR_LIFE", False)
    assert item(session, number, "blank_pcbs")["code"] == "PCB_FLOOR_LIFE"  # now: 80 h open

    assert isinstance(refused(session, pcb_lots.bake_lot, op, lot, 0, 125), InvalidInput)
    assert isinstance(refused(session, pcb_lots.bake_lot, op, lot, 4, "125"), InvalidInput)
    baked = pcb_lots.bake_lot(session, op, lot, 4, 125)
    assert item(session, number, "blank_pcbs")["ready"] is True
    ends = baked.baked_at + timedelta(hours=72)  # the floor life counts again from the bake
    assert item(session, number, "blank_pcbs", now=ends + timedelta(seconds=1))["code"] == \
        "PCB_FLOOR_LIFE"


def test_unopened_lots_never_expire_and_opening_starts_the_default_floor_life(
        session, line, admin, op):
    number, code, _ = new_job(session, line, boards=2)
    lot = f"L{next(_numbers)}"
    pcb_lots.register_lot(session, admin, lot, code, "A", 2)  # no floor life of its own
    pcb_lots.allocate(session, op, number, lot)
    years = utcnow() + timedelta(days=3650)
    assert item(session, number, "blank_pcbs", now=years)["ready"] is True

    row = pcb_lots.open_lot(session, op, lot)
    week = row.opened_at + timedelta(hours=interlock.Rules().floor_life_hours)
    assert item(session, number, "blank_pcbs", now=week)["ready"] is True
    assert item(session, number, "blank_pcbs",
                now=week + timedelta(seconds=1))["code"] == "PCB_FLOOR_LIFE"


# --- items the route does not need, and the order of items --------------------------------------


def test_items_a_route_does_not_need_are_ready_by_definition(session, line):
    number, _, _ = new_job(session, line, route=["PLACE", "AOI", "FCT"])
    order = masterdata.find_order(session, number)
    items = interlock.assess(session, order)
    assert [i["item"] for i in items] == list(interlock.ITEMS)
    assert [i["item"] for i in items] == ["data_package", "stencil", "profile_board",
                                          "blank_pcbs"]
    by = {i["item"]: i for i in items}
    for name, step in (("stencil", "PRINT"), ("profile_board", "REFLOW")):
        assert by[name]["ready"] is True and by[name]["code"] is None
        assert by[name]["message"].startswith("Not needed") and step in by[name]["message"]
    assert by["data_package"]["code"] == "NO_DATA_PACKAGE"
    assert by["blank_pcbs"]["code"] == "PCB_SHORT"

    number, _, _ = new_job(session, line, route=["PRINT", "PLACE", "FCT"])
    got = codes(session, number)
    assert got["stencil"] == "NO_STENCIL" and got["profile_board"] is None


# --- the interlock: no board enters while an item is red ---------------------------------------


def test_while_items_are_red_every_scan_at_every_station_is_refused(session, line, op):
    number, _, serials = new_job(session, line, boards=2, panel_size=2)
    assert codes(session, number) == {"data_package": "NO_DATA_PACKAGE",
                                      "stencil": "NO_STENCIL",
                                      "profile_board": "NO_PROFILE_RUN",
                                      "blank_pcbs": "PCB_SHORT"}
    before = stored(session)

    for station in [f"T-{step}" for step in ROUTE]:
        for code in (serials[0], f"{number}-P0001"):
            err = refused(session, scanning.scan, station, code, op, scan_id=f"x{station}{code}")
            assert isinstance(err, NotReady) and err.status == 409, (station, code)
            assert err.extra()["items"] == ["data_package", "stencil", "profile_board",
                                            "blank_pcbs"]
            assert err.extra()["codes"] == ["NO_DATA_PACKAGE", "NO_STENCIL", "NO_PROFILE_RUN",
                                            "PCB_SHORT"]
            assert number in str(err)

    assert stored(session) == before


def test_one_red_item_stops_the_order_and_green_lets_it_go(session, line, admin, op):
    number, code, serials = new_job(session, line, boards=2, ready=True)
    scanning.scan(session, "T-PRINT", serials[0], op)
    upload(session, admin, code, package_without("board-F_Cu.gbr"))
    before = stored(session)

    for station, serial in (("T-SPI", serials[0]), ("T-PRINT", serials[1])):
        err = refused(session, scanning.scan, station, serial, op)
        assert err.code == "NOT_READY" and err.extra()["items"] == ["data_package"]
    assert stored(session) == before

    upload(session, admin, code)
    assert scanning.scan(session, "T-SPI", serials[0], op)["next_step"] == "PLACE"
    assert scanning.scan(session, "T-PRINT", serials[1], op)["accepted"] is True
    assert stored(session)[0] == before[0] + 2


# --- the judgement alone, on facts as the two queries return them -------------------------


def _facts(readiness_row: dict, lots=()) -> interlock.Facts:
    """Facts of an order whose every item is green, with `readiness_row` changed."""
    now = utcnow()
    row = {"id": 1, "number": "WO-P", "quantity": 10, "paste": "SAC305", "stencil_id": "S1",
           "product_id": 1, "code": "PCB", "revision": "A", "route": list(ROUTE),
           "package_id": 3, "package_ready": True, "retired_at": None, "damaged": False,
           "prints": 10, "life_prints": 100, "prints_at_clean": 5, "clean_interval_prints": 20,
           "tension_id": 7, "tension_passed": True, "tension_note": "", "run_id": 9,
           "verdict": "PASS", "pwi": 40.0, "recorded_at": now - timedelta(hours=1),
           "profile_board_id": "PB1"} | readiness_row
    lot = {"lot": "L1", "opened_at": None, "baked_at": None, "floor_life_hours": None,
           "quantity": 10}
    lots = [lot | changed for changed in lots] or [lot]
    return interlock.Facts(_row(interlock.FACTS, row), [_row(interlock.LOTS, x) for x in lots])


def _row(query, values: dict):
    """A row of the query as the database returns it: its columns by name, and only those."""
    return namedtuple("Row", query.selected_columns.keys())(**values)


def test_the_judgement_needs_no_database_and_names_the_first_problem_of_each_item():
    now = utcnow()
    assert [i["code"] for i in interlock.judge(_facts({}), now=now)] == [None] * 4
    codes = {i["item"]: i["code"] for i in interlock.judge(_facts(
        {"prints": 100, "verdict": "FAIL", "package_id": None},
        lots=[{"opened_at": now - timedelta(hours=200)}]), now=now)}
    assert codes == {"data_package": "NO_DATA_PACKAGE", "stencil": "STENCIL_LIFE_REACHED",
                     "profile_board": "PROFILE_FAILED", "blank_pcbs": "PCB_FLOOR_LIFE"}


def test_the_judgement_follows_the_clock_and_the_rules_it_is_given():
    facts, now = _facts({}), utcnow()
    later = now + timedelta(hours=24)  # the run was recorded an hour before `now`
    (profile,) = [i for i in interlock.judge(facts, now=later) if i["item"] == "profile_board"]
    assert profile["code"] == "PROFILE_EXPIRED"
    longer = interlock.Rules(profile_validity_hours=48)
    assert all(i["ready"] for i in interlock.judge(facts, longer, now=later))
    short = _facts({}, lots=[{"quantity": 4}, {"lot": "L2", "quantity": 5}])
    (pcbs,) = [i for i in interlock.judge(short, now=now) if i["item"] == "blank_pcbs"]
    assert (pcbs["code"], pcbs["message"]) == ("PCB_SHORT", "9 of 10 blank PCBs allocated.")
