"""The scan rule over a real SQLite file: station.line.scanning.scan and check_step."""

import shutil
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from conftest import ROUTE, Line, build_line, line_from, make_app, save_template
from sqlalchemy.exc import OperationalError
from sqlmodel import Session, func, select

from station import events, masterdata, people
from station.errors import (
    AlreadyDone,
    Forbidden,
    InvalidCode,
    InvalidInput,
    NeedsTest,
    OnHold,
    OutOfSequence,
    RouteComplete,
    UnknownBoard,
    UnknownStation,
    WrongStation,
)
from station.line.scanning import ScanRules, check_step, scan
from station.models import Board, BoardStep, Event, ScanReceipt, User
from station.quality import holds
from station.quality.fct import steps_done

BOARDS = 40


@pytest.fixture(scope="module")
def template(tmp_path_factory):
    """A database file with a built line, made once per module."""
    def build(s):
        line = build_line(s, boards=BOARDS, tokens=False)
        masterdata.create_station(s, line.users["admin"], "T-XRAY", "XRAY", "T")

    return save_template(tmp_path_factory.mktemp("template"), build)[0]


@pytest.fixture
def app(tmp_path, template):
    """The conftest app, on a fresh copy of the template's file."""
    shutil.copy(template, tmp_path / "station.db")
    return make_app(tmp_path)


@pytest.fixture
def line(session):
    """The template's line, read back from the copy."""
    return line_from(session)


def counts(session) -> dict:
    """The rows a scan may write."""
    return {m.__name__: session.exec(select(func.count()).select_from(m)).one()
            for m in (Event, BoardStep, ScanReceipt)}


def pass_test(session, serial: str, station="T-FCT") -> None:
    """Stand in for a passing FCT result (there is no test-result capability yet)."""
    board = session.exec(select(Board).where(Board.serial == serial)).one()
    session.add(BoardStep(board_id=board.id, step_index=steps_done(session, board), step="FCT",
                          station_id=station))
    session.commit()


def scan_to(session, line, serial, last_step):
    """Scan a board through its route up to and including `last_step`."""
    for step in ROUTE[:ROUTE.index(last_step) + 1]:
        if step == "FCT":
            pass_test(session, serial)
        else:
            scan(session, f"T-{step}", serial, line.users["operator"])


def board_steps(session, serial) -> list[tuple[int, str]]:
    return list(session.exec(select(BoardStep.step_index, BoardStep.step).join(Board)
                             .where(Board.serial == serial).order_by(BoardStep.step_index)))


# --- the route ----------------------------------------------------------------------------


def test_a_board_passes_its_route_in_order(session, line):
    sn, op = line.serials[0], line.users["operator"]
    for i, step in enumerate(ROUTE[:5]):
        answer = scan(session, f"T-{step}", sn, op)
        assert answer["accepted"] is True
        assert (answer["serial"], answer["order"], answer["step"]) == (sn, "WO-1", step)
        assert answer["next_step"] == ROUTE[i + 1]
        assert answer["station"] == f"T-{step}"
    assert board_steps(session, sn) == list(enumerate(ROUTE[:5]))


def test_the_scanned_text_is_normalised_before_lookup(session, line):
    sn = line.serials[0]
    answer = scan(session, "T-PRINT", f"]C0{sn}\r\n", line.users["operator"])
    assert answer["serial"] == sn
    assert board_steps(session, sn) == [(0, "PRINT")]


def test_a_step_cannot_be_skipped_and_the_refusal_names_the_needed_step(session, line):
    sn, op = line.serials[0], line.users["operator"]
    before = counts(session)
    with pytest.raises(OutOfSequence) as err:
        scan(session, "T-SPI", sn, op)
    assert err.value.code == "OUT_OF_SEQUENCE"
    assert err.value.params["needed"] == "PRINT"
    assert "PRINT" in str(err.value) and sn in str(err.value)
    assert err.value.body()["error"]["needed_step"] == "PRINT"
    session.rollback()
    assert counts(session) == before

    scan(session, "T-PRINT", sn, op)
    with pytest.raises(OutOfSequence, match="must pass SPI before AOI") as err:
        scan(session, "T-AOI", sn, op)
    assert err.value.params["needed"] == "SPI"
    session.rollback()
    assert board_steps(session, sn) == [(0, "PRINT")]


def test_a_step_cannot_be_passed_twice(session, line):
    sn, op = line.serials[0], line.users["operator"]
    scan(session, "T-PRINT", sn, op)
    before = counts(session)
    with pytest.raises(AlreadyDone) as err:
        scan(session, "T-PRINT", sn, op)
    assert err.value.code == "ALREADY_DONE"
    assert err.value.params["next_step"] == "SPI"
    assert "already passed PRINT" in str(err.value)
    session.rollback()
    assert counts(session) == before

    scan(session, "T-SPI", sn, op)
    with pytest.raises(AlreadyDone) as err:
        scan(session, "T-PRINT", sn, op)
    assert err.value.params["next_step"] == "PLACE"
    session.rollback()
    assert board_steps(session, sn) == [(0, "PRINT"), (1, "SPI")]


def test_a_station_type_not_in_the_route_is_the_wrong_station(session, line):
    sn = line.serials[0]
    before = counts(session)
    with pytest.raises(WrongStation) as err:
        scan(session, "T-XRAY", sn, line.users["operator"])
    assert err.value.code == "WRONG_STATION"
    assert "XRAY" in str(err.value) and "PRINT" in str(err.value)
    assert err.value.params["needed"] == "PRINT"
    session.rollback()
    assert counts(session) == before


def test_fct_is_passed_by_a_test_not_by_a_scan(session, line):
    sn, op = line.serials[0], line.users["operator"]
    with pytest.raises(OutOfSequence):
        scan(session, "T-FCT", sn, op)  # not there yet: sequence comes first
    session.rollback()
    scan_to(session, line, sn, "AOI")
    before = counts(session)
    with pytest.raises(NeedsTest) as err:
        scan(session, "T-FCT", sn, op)
    assert err.value.code == "NEEDS_TEST"
    assert "test result" in str(err.value)
    session.rollback()
    assert counts(session) == before
    with pytest.raises(OutOfSequence) as err:
        scan(session, "T-QA", sn, op)
    assert err.value.params["needed"] == "FCT"


def test_a_board_that_completed_its_route_goes_nowhere(session, line):
    sn, op = line.serials[0], line.users["operator"]
    scan_to(session, line, sn, "FCT")
    assert scan(session, "T-QA", sn, op)["next_step"] == "PACK"
    last = scan(session, "T-PACK", sn, op)
    assert last["step"] == "PACK" and last["next_step"] is None
    assert board_steps(session, sn) == list(enumerate(ROUTE))
    before = counts(session)
    for step in ("PACK", "PRINT", "QA"):
        with pytest.raises(RouteComplete) as err:
            scan(session, f"T-{step}", sn, op)
        assert err.value.code == "ALREADY_DONE"
        assert "completed its route" in str(err.value)
        session.rollback()
    with pytest.raises(WrongStation):
        scan(session, "T-XRAY", sn, op)
    session.rollback()
    assert counts(session) == before


@pytest.mark.parametrize(("done", "step", "expected"), [
    (0, "PRINT", 0), (1, "SPI", 1), (4, "AOI", 4), (6, "QA", 6), (7, "PACK", 7),
    (0, "SPI", OutOfSequence), (3, "FCT", OutOfSequence), (0, "PACK", OutOfSequence),
    (1, "PRINT", AlreadyDone), (7, "QA", AlreadyDone),
    (8, "PACK", RouteComplete), (8, "PRINT", RouteComplete),
    (5, "FCT", NeedsTest), (0, "XRAY", WrongStation), (8, "XRAY", WrongStation),
])
def test_check_step_decides_by_the_route_alone(done, step, expected):
    if isinstance(expected, int):
        assert check_step(ROUTE, done, step, "SN-1") == expected
    else:
        with pytest.raises(expected) as err:
            check_step(ROUTE, done, step, "SN-1")
        assert "SN-1" in str(err.value)


def test_check_step_names_what_the_board_needs_next():
    with pytest.raises(OutOfSequence) as err:
        check_step(ROUTE, 2, "AOI", "SN-1")
    assert err.value.params["needed"] == "PLACE"
    with pytest.raises(AlreadyDone) as err:
        check_step(ROUTE, 2, "PRINT", "SN-1")
    assert err.value.params["next_step"] == "PLACE"
    with pytest.raises(WrongStation) as err:
        check_step(ROUTE, 8, "XRAY", "SN-1")
    assert err.value.params["needed"] == "-"


# --- unknown things -----------------------------------------------------------------------


def test_an_unknown_board_or_station_is_refused_and_nothing_stored(session, line):
    before = counts(session)
    with pytest.raises(UnknownBoard) as err:
        scan(session, "T-PRINT", "NOPE-0001", line.users["operator"], scan_id="s-unknown")
    assert err.value.code == "UNKNOWN_BOARD" and "NOPE-0001" in str(err.value)
    session.rollback()
    with pytest.raises(UnknownStation):
        scan(session, "T-NOWHERE", line.serials[0], line.users["operator"], scan_id="s-nowhere")
    session.rollback()
    assert counts(session) == before


# --- holds --------------------------------------------------------------------------------


def test_an_order_on_hold_moves_nowhere_until_released(session, line):
    qa, op = line.users["qa"], line.users["operator"]
    a, b = line.serials[:2]
    scan(session, "T-PRINT", a, op)
    holds.place_hold(session, qa, "WO-1", "solder bridges on U3")
    before = counts(session)
    for serial, station in ((a, "T-SPI"), (b, "T-PRINT"), (a, "T-XRAY")):
        with pytest.raises(OnHold) as err:
            scan(session, station, serial, op)
        assert err.value.code == "ON_HOLD"
        assert "solder bridges on U3" in str(err.value)
        assert serial in str(err.value)
        session.rollback()
    assert counts(session) == before

    assert holds.release_holds(session, qa, "WO-1") == 1
    assert scan(session, "T-SPI", a, op)["step"] == "SPI"
    assert scan(session, "T-PRINT", b, op)["step"] == "PRINT"


def test_a_board_on_hold_moves_nowhere_while_the_others_go_on(session, line):
    qa, op = line.users["qa"], line.users["operator"]
    a, b = line.serials[:2]
    holds.place_hold(session, qa, "WO-1", "dropped on the floor", serial=a)
    with pytest.raises(OnHold, match="dropped on the floor"):
        scan(session, "T-PRINT", a, op)
    session.rollback()
    assert scan(session, "T-PRINT", b, op)["accepted"]
    assert board_steps(session, a) == []

    assert holds.release_holds(session, qa, "WO-1") == 0  # the order's release: not the board's
    with pytest.raises(OnHold):
        scan(session, "T-PRINT", a, op)
    session.rollback()
    assert holds.release_holds(session, qa, "WO-1", serial=a) == 1
    assert scan(session, "T-PRINT", a, op)["accepted"]
    assert board_steps(session, a) == [(0, "PRINT")]


def test_only_qa_holds_and_releases(session, line):
    for role in ("operator", "supervisor", "admin", "finance"):
        with pytest.raises(Forbidden):
            holds.place_hold(session, line.users[role], "WO-1", "looks wrong")
        with pytest.raises(Forbidden):
            holds.release_holds(session, line.users[role], "WO-1")
    session.rollback()
    assert holds.order_holds(session, masterdata.find_order(session, "WO-1")) == []


@pytest.mark.parametrize("reason", ["", "   ", None, 42, "x" * 501])
def test_a_hold_needs_a_reason(session, line, reason):
    with pytest.raises(InvalidInput, match="reason"):
        holds.place_hold(session, line.users["qa"], "WO-1", reason)


# --- panels -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def panel_template(tmp_path_factory):
    """A database file with a line whose boards come two to a panel."""
    folder = tmp_path_factory.mktemp("panels")
    app = make_app(folder)
    with Session(app.extensions["engine"], expire_on_commit=False) as s:
        serials = build_line(s, boards=4, panel_size=2, tokens=False).serials
    app.extensions["engine"].dispose()
    return folder / "station.db", serials


@pytest.fixture
def panel_line(tmp_path, panel_template):
    """A fresh copy of the panel line: (session, line)."""
    path, serials = panel_template
    shutil.copy(path, tmp_path / "station.db")
    app = make_app(tmp_path)
    with Session(app.extensions["engine"], expire_on_commit=False) as s:
        line = Line(serials=list(serials))
        for role in people.ROLES:
            line.users[role] = s.exec(select(User).where(User.name == role)).one()
        yield s, line


def test_a_panel_scan_moves_every_board_of_the_panel(panel_line):
    session, line = panel_line
    op = line.users["operator"]
    first, second = (session.exec(select(Board).where(Board.serial == sn)).one()
                     for sn in line.serials[:2])
    assert first.panel_id == second.panel_id == "WO-1-P0001"
    assert (first.panel_position, second.panel_position) == (1, 2)

    before = counts(session)
    answer = scan(session, "T-PRINT", "WO-1-P0001", op)
    assert answer["accepted"] and answer["panel"] == "WO-1-P0001"
    assert answer["serials"] == line.serials[:2]
    assert answer["next_step"] == "SPI"
    after = counts(session)
    assert after["BoardStep"] - before["BoardStep"] == 2
    assert after["Event"] - before["Event"] == 2
    for sn in line.serials[:2]:
        assert board_steps(session, sn) == [(0, "PRINT")]
    for sn in line.serials[2:]:
        assert board_steps(session, sn) == []  # the other panel stays where it was

    scan(session, "T-SPI", "WO-1-P0001", op)
    scan(session, "T-PLACE", line.serials[0], op)  # one board of it may still go alone
    assert board_steps(session, line.serials[0])[-1] == (2, "PLACE")


def test_a_panel_whose_boards_are_at_different_steps_is_refused_whole(panel_line):
    session, line = panel_line
    op = line.users["operator"]
    scan(session, "T-PRINT", line.serials[0], op)  # only the first board of the panel
    before = counts(session)
    with pytest.raises(OutOfSequence):
        scan(session, "T-SPI", "WO-1-P0001", op, scan_id="panel-spi")
    session.rollback()
    with pytest.raises(AlreadyDone):
        scan(session, "T-PRINT", "WO-1-P0001", op, scan_id="panel-print")
    session.rollback()
    assert counts(session) == before
    assert board_steps(session, line.serials[0]) == [(0, "PRINT")]
    assert board_steps(session, line.serials[1]) == []


def test_a_held_board_holds_its_whole_panel(panel_line):
    session, line = panel_line
    holds.place_hold(session, line.users["qa"], "WO-1", "scratched", serial=line.serials[1])
    before = counts(session)
    with pytest.raises(OnHold, match="scratched"):
        scan(session, "T-PRINT", "WO-1-P0001", line.users["operator"])
    session.rollback()
    assert counts(session) == before
    assert board_steps(session, line.serials[0]) == []


# --- replays, invalid codes, events -------------------------------------------------------


def test_a_replayed_scan_id_returns_the_first_answer_and_stores_nothing(session, line):
    sn, op = line.serials[0], line.users["operator"]
    first = scan(session, "T-PRINT", sn, op, scan_id="tablet-7:0001")
    assert session.get(ScanReceipt, "tablet-7:0001").answer == first
    before = counts(session)
    for _ in range(3):
        assert scan(session, "T-PRINT", sn, op, scan_id="tablet-7:0001") == first
    assert counts(session) == before

    scan(session, "T-SPI", sn, op)
    after_spi = counts(session)
    session.commit()  # even a read holds the write lock (BEGIN IMMEDIATE): end it
    with Session(session.get_bind()) as fresh:  # read back from the file, not the identity map
        assert scan(fresh, "T-PRINT", sn, op, scan_id="tablet-7:0001") == first
        fresh.rollback()
    assert counts(session) == after_spi
    with pytest.raises(AlreadyDone):
        scan(session, "T-PRINT", sn, op, scan_id="tablet-7:0002")  # a new scan id: a new scan
    session.rollback()
    assert counts(session) == after_spi


def test_a_refused_scan_stores_no_receipt_so_its_retry_is_judged_afresh(session, line):
    sn, op = line.serials[0], line.users["operator"]
    with pytest.raises(OutOfSequence):
        scan(session, "T-SPI", sn, op, scan_id="retry-1")
    session.rollback()
    assert session.get(ScanReceipt, "retry-1") is None
    scan(session, "T-PRINT", sn, op)
    assert scan(session, "T-SPI", sn, op, scan_id="retry-1")["step"] == "SPI"


@pytest.mark.parametrize("scan_id", ["", "has space", "x" * 65, "a/b", 17, "<b>"])
def test_a_malformed_scan_id_is_refused(session, line, scan_id):
    before = counts(session)
    with pytest.raises(InvalidInput, match="scan_id"):
        scan(session, "T-PRINT", line.serials[0], line.users["operator"], scan_id=scan_id)
    session.rollback()
    assert counts(session) == before


@pytest.mark.parametrize("raw", [
    "", "   ", "\r\n", "SN\x000001", "\x1b[2J", "WO-1-\u202e10000", "WO-1\u200b-00001",
    "<script>alert(1)</script>", "' OR 1=1--", "A" * 10_240, "A" * 65, None, 12345,
    b"WO-1-00001",
])
def test_an_invalid_code_is_refused_and_stores_nothing(session, line, raw):
    before = counts(session)
    with pytest.raises(InvalidCode) as err:
        scan(session, "T-PRINT", raw, line.users["operator"], scan_id="bad-1")
    assert err.value.code == "INVALID_CODE"
    assert err.value.params["reason"]
    session.rollback()
    assert counts(session) == before
    assert session.get(ScanReceipt, "bad-1") is None


def test_the_station_rules_cap_the_code(session, line):
    sn = line.serials[0]  # "WO-1-00001": 10 characters
    with pytest.raises(InvalidCode, match="at most 8"):
        scan(session, "T-PRINT", sn, line.users["operator"], rules=ScanRules(max_length=8))
    session.rollback()
    assert scan(session, "T-PRINT", sn, line.users["operator"],
                rules=ScanRules(max_length=10))["accepted"]


def test_each_accepted_step_writes_its_event(session, line):
    sn, op = line.serials[0], line.users["operator"]
    for i, step in enumerate(ROUTE[:3]):
        before = counts(session)
        scan(session, f"T-{step}", sn, op, scan_id=f"ev-{i}")
        after = counts(session)
        assert after["Event"] == before["Event"] + 1
        assert after["BoardStep"] == before["BoardStep"] + 1
    history = events.history(session, f"board:{sn}")
    assert [e.kind for e in history] == ["board.step_passed"] * 3
    for i, (ev, step) in enumerate(zip(history, ROUTE, strict=False)):
        assert ev.payload["step"] == step and ev.payload["step_index"] == i
        assert ev.payload["order"] == "WO-1" and ev.payload["scan_id"] == f"ev-{i}"
        assert ev.station_id == f"T-{step}"
        assert ev.user_id == op.id and ev.actor == "operator"
        assert ev.uid


# --- roles --------------------------------------------------------------------------------


@pytest.mark.parametrize("role", ["admin", "finance"])
def test_office_roles_may_not_scan(session, line, role):
    before = counts(session)
    with pytest.raises(Forbidden) as err:
        scan(session, "T-PRINT", line.serials[0], line.users[role], scan_id="office-1")
    assert err.value.code == "FORBIDDEN" and role in str(err.value)
    session.rollback()
    assert counts(session) == before


def test_floor_roles_may_scan(session, line):
    sn = line.serials[0]
    for step, role in zip(ROUTE, ("operator", "qa", "supervisor"), strict=False):
        answer = scan(session, f"T-{step}", sn, line.users[role])
        assert answer["step"] == step
    users = session.exec(select(BoardStep.user_id).join(Board).where(Board.serial == sn)
                         .order_by(BoardStep.step_index)).all()
    assert users == [line.users[r].id for r in ("operator", "qa", "supervisor")]


# --- two stations at the same instant -----------------------------------------------------


def race(engine, user, serials, station="T-PRINT", scan_id=None):
    """Scan each board from two threads released together; the outcomes per board."""
    outcomes = []

    def one(serial, barrier):
        with Session(engine, expire_on_commit=False) as s:
            barrier.wait(timeout=10)
            try:
                answer = scan(s, station, serial, user, scan_id=scan_id and f"{scan_id}-{serial}")
            except AlreadyDone:
                return "already-done"
            except OperationalError as err:  # "database is locked" would land here
                return f"error: {err}"
            return answer

    with ThreadPoolExecutor(max_workers=2) as pool:
        for serial in serials:
            barrier = threading.Barrier(2)
            futures = [pool.submit(one, serial, barrier) for _ in range(2)]
            outcomes.append([f.result(timeout=30) for f in futures])
    return outcomes


def test_two_scans_of_one_board_at_the_same_instant_have_one_winner(app, session, line):
    engine, op = app.extensions["engine"], line.users["operator"]
    serials = line.serials[:25]
    before = counts(session)
    session.commit()
    for serial, pair in zip(serials, race(engine, op, serials), strict=True):
        won = [r for r in pair if isinstance(r, dict)]
        assert len(won) == 1, pair
        assert won[0]["serial"] == serial and won[0]["step"] == "PRINT"
        assert [r for r in pair if not isinstance(r, dict)] == ["already-done"], pair
    after = counts(session)
    assert after["BoardStep"] - before["BoardStep"] == len(serials)
    assert after["Event"] - before["Event"] == len(serials)
    for serial in serials:
        assert board_steps(session, serial) == [(0, "PRINT")]


def test_a_scan_sent_twice_at_the_same_instant_is_stored_once(app, session, line):
    engine, op = app.extensions["engine"], line.users["operator"]
    serials = line.serials[:10]
    before = counts(session)
    session.commit()
    for pair in race(engine, op, serials, scan_id="dup"):
        assert all(isinstance(r, dict) for r in pair), pair
        assert pair[0] == pair[1]
    after = counts(session)
    assert after["BoardStep"] - before["BoardStep"] == len(serials)
    assert after["ScanReceipt"] - before["ScanReceipt"] == len(serials)
