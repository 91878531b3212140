"""Functional test over a real SQLite file: attempts, the repair loop, retest limit, scrap,
OpenHTF and CSV imports, QA's signature and the review (station.quality.fct and .qa)."""

import hashlib
import shutil
from datetime import UTC, datetime, timedelta

import openhtf as htf
import pytest
from conftest import PEPPER, ROUTE, build_line, line_from, save_template
from openhtf.output.callbacks import json_factory
from openhtf.util import units
from sqlalchemy import text
from sqlmodel import Session, func, select

from station import db, masterdata, people
from station.errors import (
    BadCredentials,
    BadgeLocked,
    Forbidden,
    InvalidInput,
    NeedsRepair,
    NeedsTest,
    OnHold,
    OutOfSequence,
    UnknownBoard,
    WrongStation,
)
from station.line.scanning import scan
from station.models import Board, BoardStep, Event, Repair, Scrap, Signoff, TestAttempt
from station.quality import fct, holds, qa

BOARDS = 4
FCT = ROUTE.index("FCT")
T0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def template(tmp_path_factory):
    """A database file with a built, ready line: each test starts from a copy of it."""
    return save_template(tmp_path_factory.mktemp("fct-template"),
                         lambda s: build_line(s, boards=BOARDS, tokens=False))[0]


@pytest.fixture
def session(tmp_path, template):
    """A session on a fresh copy of the template's file: the domain alone, no Flask app."""
    shutil.copy(template, tmp_path / "station.db")
    engine = db.make_engine(f"sqlite:///{tmp_path / 'station.db'}")
    with Session(engine, expire_on_commit=False) as s:
        yield s
    engine.dispose()


@pytest.fixture
def line(session):
    return line_from(session)


# --- helpers ------------------------------------------------------------------------------


def to_fct(session, line, *serials):
    """Scan boards through every step before FCT."""
    for serial in serials:
        for step in ROUTE[:FCT]:
            scan(session, f"T-{step}", serial, line.users["operator"])


def post(session, line, serial, outcome="pass", station="T-FCT", role="operator", **kw):
    """Record one test attempt as a tester would."""
    return fct.record_result(session, line.users[role], serial, station, outcome, **kw)


def state(session, serial) -> dict:
    return fct.test_state(session, fct.find_board(session, serial))


def count(session, model, *where) -> int:
    return session.exec(select(func.count()).select_from(model).where(*where)).one()


def rows(session) -> dict:
    """Everything a test result, a repair or a scrap may write."""
    return {m.__name__: count(session, m) for m in (TestAttempt, BoardStep, Event, Repair, Scrap)}


def refused(fn, *args, **kw):
    """The StationError the call raises (it must raise one)."""
    with pytest.raises(Exception) as err:
        fn(*args, **kw)
    return err.value


def scan_error(session, line, station, serial):
    err = refused(scan, session, f"T-{station}", serial, line.users["operator"])
    session.rollback()
    return err


def sign(session, line, role="qa", badge="10002", pin="1234",
         meaning=qa.MEANINGS[0]):
    return qa.sign(session, line.users[role], "WO-1", badge, pin, meaning, pepper=PEPPER)


def order(session):
    return masterdata.find_order(session, "WO-1")


def view(session):
    return qa.signoff_view(session, order(session))


def pass_all(session, line, serials=None):
    serials = line.serials if serials is None else serials
    to_fct(session, line, *serials)
    for serial in serials:
        post(session, line, serial, "pass")


# --- entering FCT ---------------------------------------------------------------------------


def test_an_unknown_serial_is_unknown_board_and_stores_nothing(session, line):
    before = rows(session)
    err = refused(post, session, line, "NOSUCH-1")
    assert err.code == "UNKNOWN_BOARD" and isinstance(err, UnknownBoard)
    assert "NOSUCH-1" in str(err)
    assert refused(post, session, line, None).code == "UNKNOWN_BOARD"
    assert rows(session) == before


def test_a_board_is_tested_only_after_every_earlier_step_passed(session, line):
    sn, op = line.serials[0], line.users["operator"]
    before = rows(session)
    for i, step in enumerate(ROUTE[:FCT]):
        err = refused(post, session, line, sn)
        assert isinstance(err, OutOfSequence) and err.code == "OUT_OF_SEQUENCE"
        assert err.params["needed"] == step, "the refusal names the step it needs first"
        assert err.body()["error"]["needed_step"] == step
        assert f"must pass {step} before FCT" in str(err)
        assert count(session, TestAttempt) == 0
        scan(session, f"T-{step}", sn, op)
        assert count(session, BoardStep) == before["BoardStep"] + i + 1
    attempt = post(session, line, sn)
    assert attempt.id is not None and attempt.outcome == "pass"


def test_a_result_from_a_station_that_is_not_fct_is_wrong_station(session, line):
    sn = line.serials[0]
    to_fct(session, line, sn)
    before = rows(session)
    for station in ("T-AOI", "T-QA", "T-PRINT"):
        err = refused(post, session, line, sn, station=station)
        assert isinstance(err, WrongStation) and err.code == "WRONG_STATION"
        assert err.params["needed"] == "FCT"
    assert refused(post, session, line, sn, station="T-NOPE").code == "UNKNOWN_STATION"
    assert rows(session) == before


def test_a_held_board_is_not_tested_until_released(session, line):
    sn, other, qa_user = line.serials[0], line.serials[1], line.users["qa"]
    to_fct(session, line, sn, other)
    holds.place_hold(session, qa_user, "WO-1", "suspect solder paste lot", serial=sn)
    before = rows(session)
    err = refused(post, session, line, sn)
    assert isinstance(err, OnHold) and err.code == "ON_HOLD"
    assert "suspect solder paste lot" in str(err)
    assert post(session, line, other).outcome == "pass", "only the held board is refused"
    assert count(session, TestAttempt) == before["TestAttempt"] + 1
    holds.release_holds(session, qa_user, "WO-1", serial=sn)
    holds.place_hold(session, qa_user, "WO-1", "customer stop")  # the whole order
    assert refused(post, session, line, sn).code == "ON_HOLD"
    holds.release_holds(session, qa_user, "WO-1")
    assert post(session, line, sn).outcome == "pass"


def test_only_floor_roles_post_results_and_bad_input_stores_nothing(session, line):
    sn = line.serials[0]
    to_fct(session, line, sn)
    before = rows(session)
    for role in ("admin", "finance"):
        assert isinstance(refused(post, session, line, sn, role=role), Forbidden)
    for kw in ({"outcome": "maybe"}, {"outcome": None}, {"started_at": "yesterday"},
               {"ended_at": 1700000000}, {"measurements": {"vcc": 3.3}},
               {"measurements": [{"value": 3.3}]},
               {"measurements": [{"name": "vcc", "value": {"a": 1}}]},
               {"measurements": [{"name": "vcc", "value": 3.3, "outcome": "ok"}]},
               {"measurements": [{"name": "vcc", "value": 3.3, "low": "3.0"}]},
               {"started_at": "2026-03-02T08:01:00Z", "ended_at": "2026-03-02T08:00:00Z"},
               {"defect_code": "GREMLINS"}, {"program": "x" * 65}):
        kw = {"outcome": "fail", **kw}
        err = refused(post, session, line, sn, **kw)
        assert isinstance(err, InvalidInput) and err.status == 400, kw
    assert rows(session) == before
    for role in ("qa", "supervisor"):
        assert post(session, line, sn, "pass", role=role).user_id == line.users[role].id


# --- attempts ---------------------------------------------------------------------------------


def test_every_attempt_is_kept_with_program_fixture_times_and_measurements(session, line):
    sn = line.serials[0]
    to_fct(session, line, sn)
    tries = [("fail", 3.05, "fail"), ("fail", 3.1, "fail"), ("pass", 3.3, "pass")]
    for n, (outcome, vcc, m_outcome) in enumerate(tries):
        start = T0 + timedelta(minutes=n)
        post(session, line, sn, outcome, program="fct-main", program_version=f"2.{n}",
             fixture="FX-07", started_at=start.isoformat().replace("+00:00", "Z"),
             ended_at=(start + timedelta(seconds=42)).isoformat(),
             measurements=[{"name": "vcc", "value": vcc, "unit": "V", "low": 3.2, "high": 3.4,
                            "outcome": m_outcome},
                           {"name": "fw_crc", "value": "0xBEEF", "outcome": "pass"}],
             defect_code="SHORT" if outcome == "fail" else None)
        if n == 1:
            fct.record_repair(session, line.users["operator"], sn, "SHORT", "removed bridge",
                              "U3")
    kept = fct.attempts(session, fct.find_board(session, sn))
    assert [a.outcome for a in kept] == ["fail", "fail", "pass"]
    for n, a in enumerate(kept):
        assert (a.program, a.program_version, a.fixture) == ("fct-main", f"2.{n}", "FX-07")
        assert a.station_id == "T-FCT" and a.source == "api"
        assert a.user_id == line.users["operator"].id
        assert a.started_at == T0 + timedelta(minutes=n)
        assert a.ended_at - a.started_at == timedelta(seconds=42)
        assert a.measurements[0] == {"name": "vcc", "value": tries[n][1], "unit": "V",
                                     "low": 3.2, "high": 3.4, "outcome": tries[n][2]}
        assert a.measurements[1]["low"] is None and a.measurements[1]["value"] == "0xBEEF"
    recorded = session.exec(select(Event).where(Event.kind == "test.recorded")
                            .order_by(Event.id)).all()
    assert [e.payload["attempt_no"] for e in recorded] == [1, 2, 3]
    assert all(e.subject == f"board:{sn}" and e.station_id == "T-FCT" for e in recorded)
    assert state(session, sn)["attempts"] == 3 and state(session, sn)["state"] == "passed"


def test_a_pass_records_the_fct_step_and_the_board_moves_on(session, line):
    sn = line.serials[0]
    to_fct(session, line, sn)
    assert scan_error(session, line, "QA", sn).code == "OUT_OF_SEQUENCE"
    assert isinstance(scan_error(session, line, "FCT", sn), NeedsTest), \
        "FCT is passed by a result, not by a scan"
    post(session, line, sn, "pass")
    steps = session.exec(select(BoardStep.step_index, BoardStep.step, BoardStep.station_id)
                         .join(Board).where(Board.serial == sn)
                         .order_by(BoardStep.step_index)).all()
    assert steps[-1] == (FCT, "FCT", "T-FCT") and len(steps) == FCT + 1
    answer = scan(session, "T-QA", sn, line.users["operator"])
    assert answer["accepted"] and answer["step"] == "QA" and answer["next_step"] == "PACK"
    post(session, line, sn, "pass")  # a passing retest adds no second FCT step
    assert count(session, BoardStep, BoardStep.step == "FCT") == 1


def test_a_failed_board_needs_repair_and_every_scan_elsewhere_is_refused(session, line):
    sn = line.serials[0]
    to_fct(session, line, sn)
    post(session, line, sn, "fail", defect_code="OPEN")
    assert state(session, sn)["state"] == "needs_repair"
    before = rows(session)
    for step in ROUTE:
        err = scan_error(session, line, step, sn)
        assert isinstance(err, NeedsRepair) and err.code == "NEEDS_REPAIR", step
    assert rows(session) == before
    assert count(session, BoardStep, BoardStep.step == "FCT") == 0


def test_an_error_outcome_keeps_the_board_from_moving_on(session, line):
    sn = line.serials[0]
    to_fct(session, line, sn)
    post(session, line, sn, "error")
    assert state(session, sn)["state"] == "needs_repair"
    assert scan_error(session, line, "QA", sn).code == "NEEDS_REPAIR"


def test_retests_are_allowed_until_the_limit_then_repair_is_forced(session, line):
    sn = line.serials[0]
    to_fct(session, line, sn)
    rules = fct.FctRules(retest_limit=2)
    post(session, line, sn, "fail", rules=rules)
    post(session, line, sn, "fail", rules=rules)  # one retest without repair is allowed
    assert state(session, sn)["fails_since_repair"] == 2
    before = rows(session)
    for outcome in ("pass", "fail"):
        err = refused(post, session, line, sn, outcome, rules=rules)
        assert isinstance(err, NeedsRepair) and err.code == "NEEDS_REPAIR"
        assert "repair is forced" in str(err) and "2 times" in str(err)
    assert rows(session) == before
    assert post(session, line, sn, "fail", rules=fct.FctRules(retest_limit=3)).outcome == "fail"
    fct.record_repair(session, line.users["operator"], sn, "SHORT", "reworked U7", "U7")
    assert state(session, sn)["fails_since_repair"] == 0
    post(session, line, sn, "fail", rules=rules)  # the count starts again after a repair
    post(session, line, sn, "pass", rules=rules)
    assert state(session, sn)["state"] == "passed"
    assert len(fct.attempts(session, fct.find_board(session, sn))) == 5


def test_a_retest_may_pass_without_a_repair_below_the_limit(session, line):
    sn = line.serials[0]
    to_fct(session, line, sn)
    post(session, line, sn, "fail")
    post(session, line, sn, "pass")
    assert state(session, sn)["state"] == "passed"
    assert scan(session, "T-QA", sn, line.users["operator"])["accepted"]


def test_a_repair_sends_the_board_back_to_test(session, line):
    sn, op = line.serials[0], line.users["operator"]
    to_fct(session, line, sn)
    failing = post(session, line, sn, "fail", defect_code="SHORT")
    before = rows(session)
    for bad in ({"defect_code": "GREMLINS"}, {"action": "  "}, {"action": None},
                {"location": "U" * 65}):
        args = {"defect_code": "SHORT", "action": "removed bridge", "location": "U3", **bad}
        assert isinstance(refused(fct.record_repair, session, op, sn, **args), InvalidInput)
    assert isinstance(refused(fct.record_repair, session, line.users["finance"], sn, "SHORT",
                              "x"), Forbidden)
    assert rows(session) == before
    repair = fct.record_repair(session, op, sn, "SHORT", "removed solder bridge", "U3")
    assert (repair.defect_code, repair.location, repair.action) == \
        ("SHORT", "U3", "removed solder bridge")
    assert repair.user_id == op.id and repair.attempt_id == failing.id
    assert state(session, sn)["state"] == "repaired"
    ev = session.exec(select(Event).where(Event.kind == "board.repaired")).one()
    assert ev.payload["defect_code"] == "SHORT" and ev.payload["attempt"] == failing.id
    # Never passed FCT: FCT wants a test, the steps after it still want FCT first.
    assert scan_error(session, line, "FCT", sn).code == "NEEDS_TEST"
    err = scan_error(session, line, "QA", sn)
    assert err.code == "OUT_OF_SEQUENCE" and err.params["needed"] == "FCT"
    err = refused(fct.record_repair, session, op, sn, "SHORT", "again")
    assert isinstance(err, InvalidInput) and "repaired" in str(err)
    post(session, line, sn, "pass")
    assert scan(session, "T-QA", sn, op)["accepted"]


def test_a_board_that_passed_and_then_fails_a_retest_cannot_move_on(session, line):
    sn, op = line.serials[0], line.users["operator"]
    to_fct(session, line, sn)
    post(session, line, sn, "pass")
    scan(session, "T-QA", sn, op)
    post(session, line, sn, "fail", defect_code="DAMAGED")  # retested at QA's request
    assert state(session, sn)["state"] == "needs_repair"
    assert scan_error(session, line, "PACK", sn).code == "NEEDS_REPAIR"
    fct.record_repair(session, op, sn, "DAMAGED", "replaced C12", "C12")
    err = scan_error(session, line, "PACK", sn)
    assert isinstance(err, NeedsTest) and err.code == "NEEDS_TEST"
    assert count(session, BoardStep, BoardStep.step == "PACK") == 0
    post(session, line, sn, "pass")
    assert scan(session, "T-PACK", sn, op)["next_step"] is None


# --- scrap ------------------------------------------------------------------------------------


def test_scrap_needs_qa_and_a_reason_and_is_its_own_event(session, line):
    sn = line.serials[0]
    to_fct(session, line, sn)
    post(session, line, sn, "fail", defect_code="DAMAGED")
    before = rows(session)
    for role in ("operator", "supervisor", "admin", "finance"):
        assert isinstance(refused(fct.scrap, session, line.users[role], sn, "cracked"),
                          Forbidden), role
    for reason in ("", "   ", None, "x" * 501):
        assert isinstance(refused(fct.scrap, session, line.users["qa"], sn, reason),
                          InvalidInput)
    assert isinstance(refused(fct.scrap, session, line.users["qa"], "NOSUCH-1", "x"),
                      UnknownBoard)
    assert rows(session) == before
    row = fct.scrap(session, line.users["qa"], sn, "  cracked laminate near J1 ")
    assert row.reason == "cracked laminate near J1" and row.user_id == line.users["qa"].id
    ev = session.exec(select(Event).where(Event.kind == "board.scrapped")).one()
    assert ev.subject == f"board:{sn}" and ev.payload["reason"] == row.reason
    assert count(session, TestAttempt) == before["TestAttempt"], "scrap is not a test result"
    assert state(session, sn)["state"] == "scrapped"
    assert isinstance(refused(fct.scrap, session, line.users["qa"], sn, "again"), InvalidInput)


def test_a_scrapped_board_is_refused_everywhere(session, line):
    at_fct, fresh = line.serials[0], line.serials[1]
    to_fct(session, line, at_fct)
    post(session, line, at_fct, "pass")
    for sn in (at_fct, fresh):
        fct.scrap(session, line.users["qa"], sn, "dropped on the floor")
    before = rows(session)
    for sn in (at_fct, fresh):
        for step in ROUTE:
            err = scan_error(session, line, step, sn)
            assert err.code == "BOARD_SCRAPPED", (sn, step, err)
            assert "dropped on the floor" in str(err)
        err = refused(post, session, line, sn, "pass")
        assert err.code == "BOARD_SCRAPPED", (sn, err)
        assert isinstance(refused(fct.record_repair, session, line.users["operator"], sn,
                                  "OTHER", "x"), InvalidInput)
    assert rows(session) == before


# --- OpenHTF and CSV imports ------------------------------------------------------------------


def run_openhtf(path, serial, vcc, current) -> None:
    """Run a real OpenHTF test on `serial` and write its JSON test record to `path`."""

    @htf.measures(htf.Measurement("vcc").in_range(3.2, 3.4).with_units(units.VOLT),
                  htf.Measurement("current").in_range(maximum=0.5).with_units(units.AMPERE),
                  htf.Measurement("temp").in_range(-10, 60))
    def power_rails(test):
        test.measurements.vcc = vcc
        test.measurements.current = current
        test.measurements.temp = -2.5

    test = htf.Test(power_rails, test_name="ctrl100-fct", test_version="1.4.2")
    test.add_output_callbacks(json_factory.OutputToJSON(str(path), indent=2))
    test.execute(test_start=lambda: serial)


def test_openhtf_records_are_imported_with_limits_and_the_files_hash(session, line, tmp_path):
    sn = line.serials[0]
    to_fct(session, line, sn)
    failing, passing = tmp_path / "fail.json", tmp_path / "pass.json"
    run_openhtf(failing, sn, vcc=3.3, current=0.72)
    run_openhtf(passing, sn, vcc=3.31, current=0.41)

    first = fct.import_openhtf(session, line.users["operator"], failing.read_bytes(), "T-FCT")
    assert first.outcome == "fail" and state(session, sn)["state"] == "needs_repair"
    fct.record_repair(session, line.users["operator"], sn, "INSUFFICIENT", "touched up L2",
                      "L2")
    second = fct.import_openhtf(session, line.users["operator"], passing.read_bytes(), "T-FCT")
    assert second.outcome == "pass" and state(session, sn)["state"] == "passed"

    for attempt, path in ((first, failing), (second, passing)):
        assert attempt.source == "openhtf"
        assert (attempt.program, attempt.program_version) == ("ctrl100-fct", "1.4.2")
        assert attempt.fixture  # OpenHTF's station id: the host that ran the test
        assert attempt.file_sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
        assert attempt.started_at <= attempt.ended_at
        assert abs(attempt.started_at - datetime.now(UTC)) < timedelta(minutes=5)
    by_name = {m["name"]: m for m in first.measurements}
    assert set(by_name) == {"power_rails.vcc", "power_rails.current", "power_rails.temp"}
    assert by_name["power_rails.vcc"] == {"name": "power_rails.vcc", "value": 3.3, "unit": "V",
                                          "low": 3.2, "high": 3.4, "outcome": "pass"}
    assert by_name["power_rails.current"] == {"name": "power_rails.current", "value": 0.72,
                                              "unit": "A", "low": None, "high": 0.5,
                                              "outcome": "fail"}
    assert (by_name["power_rails.temp"]["low"], by_name["power_rails.temp"]["high"]) == (-10, 60)
    assert {m["name"]: m["outcome"] for m in second.measurements}["power_rails.current"] == "pass"
    ev = session.exec(select(Event).where(Event.kind == "test.recorded")
                      .order_by(Event.id.desc())).first()
    assert ev.payload["sha256"] == second.file_sha256 and ev.payload["source"] == "openhtf"


def test_openhtf_import_refuses_what_is_not_a_record_and_stores_nothing(session, line, tmp_path):
    to_fct(session, line, line.serials[0])
    before = rows(session)
    for data in (b"\xff\xfe", b"not json", b"[1, 2]", b'{"outcome": "PASS"}'):
        assert isinstance(refused(fct.import_openhtf, session, line.users["operator"], data,
                                  "T-FCT"), InvalidInput)
    path = tmp_path / "other.json"
    run_openhtf(path, "NOSUCH-9", vcc=3.3, current=0.1)
    assert refused(fct.import_openhtf, session, line.users["operator"], path.read_bytes(),
                   "T-FCT").code == "UNKNOWN_BOARD"
    assert rows(session) == before


def test_a_csv_is_imported_whole(session, line):
    a, b = line.serials[:2]
    to_fct(session, line, a, b)
    data = ("serial,outcome,program,program_version,fixture,started_at,ended_at,defect_code\n"
            f"{a},PASS,ict,3.1,FX-2,2026-03-02T08:00:00Z,2026-03-02T08:00:30Z,\n"
            f"{b},fail,ict,3.1,FX-2,2026-03-02T08:01:00Z,2026-03-02T08:01:30Z,OPEN\n"
            f"{b},pass,ict,3.1,FX-2,2026-03-02T08:02:00Z,2026-03-02T08:02:30Z,\n").encode()
    kept = fct.import_csv(session, line.users["operator"], data, "T-FCT")
    assert [(fct_serial(session, x), x.outcome, x.defect_code) for x in kept] == \
        [(a, "pass", None), (b, "fail", "OPEN"), (b, "pass", None)]
    sha = hashlib.sha256(data).hexdigest()
    assert all(x.file_sha256 == sha and x.source == "csv" and x.fixture == "FX-2" for x in kept)
    assert kept[1].started_at == datetime(2026, 3, 2, 8, 1, tzinfo=UTC)
    assert state(session, a)["state"] == state(session, b)["state"] == "passed"
    assert count(session, BoardStep, BoardStep.step == "FCT") == 2


def fct_serial(session, attempt) -> str:
    return session.get(Board, attempt.board_id).serial


@pytest.mark.parametrize("bad_row", ["NOSUCH-1,pass", "{c},perhaps", "{c},pass,,,,tomorrow",
                                     "{c},fail,,,,,,GREMLINS", "{d},pass"])
def test_a_csv_with_one_bad_row_stores_nothing(session, line, bad_row):
    a, b, c, d = line.serials
    to_fct(session, line, a, b, c)  # d has not reached FCT
    before = rows(session)
    data = (f"serial,outcome,program,program_version,fixture,started_at,ended_at,defect_code\n"
            f"{a},pass\n{b},fail\n{bad_row.format(c=c, d=d)}\n").encode()
    err = refused(fct.import_csv, session, line.users["operator"], data, "T-FCT")
    assert isinstance(err, InvalidInput) and "row 4" in str(err)
    assert rows(session) == before
    assert state(session, a)["state"] == "untested"
    for data in (b"", b"serial,result\nX,pass\n", b"\xff\xfe"):
        assert isinstance(refused(fct.import_csv, session, line.users["operator"], data,
                                  "T-FCT"), InvalidInput)
    assert rows(session) == before


# --- QA sign-off ------------------------------------------------------------------------------


def test_sign_off_waits_until_every_board_passed(session, line):
    to_fct(session, line, *line.serials)
    for serial in line.serials[:3]:
        post(session, line, serial, "pass")
    post(session, line, line.serials[3], "fail")
    err = refused(sign, session, line)
    assert err.code == "NOT_ALL_PASSED" and line.serials[3] in str(err)
    fct.scrap(session, line.users["qa"], line.serials[3], "burnt")
    err = refused(sign, session, line)  # three passed boards do not cover a quantity of four
    assert err.code == "NOT_ALL_PASSED" and "3 of 4" in str(err)
    extra = masterdata.add_boards(session, line.users["admin"], "WO-1", count=1)[0]
    assert refused(sign, session, line).code == "NOT_ALL_PASSED"
    pass_all(session, line, [extra])
    row = sign(session, line)
    assert row.results_hash and count(session, Signoff) == 1
    assert view(session)["valid"] is True


def test_only_qa_signs_and_only_with_their_own_badge_and_pin(session, line):
    pass_all(session, line)
    for role, badge in (("operator", "10001"), ("finance", "10001"), ("admin", "10002"),
                        ("supervisor", "10004")):
        assert isinstance(refused(sign, session, line, role=role, badge=badge), Forbidden)
    qa_user = line.users["qa"]
    err = refused(sign, session, line, badge="10001", pin="1234")  # the operator's badge
    assert isinstance(err, BadCredentials) and err.code == "BAD_CREDENTIALS"
    for meaning in ("", "  ", None, "x" * 201):
        assert isinstance(refused(sign, session, line, meaning=meaning), InvalidInput)
    for n in range(1, 5):
        err = refused(sign, session, line, pin="9999")
        assert isinstance(err, BadCredentials)
        session.refresh(qa_user)
        assert qa_user.failed_pins == n, "a wrong PIN counts toward the lockout"
    assert isinstance(refused(sign, session, line, pin="0000"), BadgeLocked)
    assert isinstance(refused(sign, session, line), BadgeLocked), "locked even with the PIN"
    assert count(session, Signoff) == 0
    people.unlock_badge(session, "qa", line.users["supervisor"])
    assert sign(session, line).printed_name == "Qa One"


def test_a_signature_stores_name_utc_time_meaning_and_the_results_hash(session, line):
    pass_all(session, line)
    before = datetime.now(UTC)
    row = sign(session, line, meaning=qa.MEANINGS[1])
    assert row.printed_name == "Qa One" and row.user_id == line.users["qa"].id
    assert row.meaning == "Reviewed: functional test results"
    assert before - timedelta(seconds=1) <= row.signed_at <= datetime.now(UTC)
    assert row.signed_at.utcoffset() == timedelta(0)
    results = qa.board_results(session, order(session))
    assert row.results_hash == qa.results_hash(results)
    assert len(row.results_hash) == 64
    shown = view(session)
    assert shown == {"signed_by": "Qa One", "signed_at": shown["signed_at"],
                     "meaning": row.meaning, "results_hash": row.results_hash, "valid": True}
    assert shown["signed_at"].endswith("Z")
    assert datetime.fromisoformat(shown["signed_at"]) == row.signed_at
    ev = session.exec(select(Event).where(Event.kind == "order.signed_off")).one()
    assert ev.payload["printed_name"] == "Qa One" and ev.user_id == line.users["qa"].id


def test_any_change_to_the_results_voids_the_signature_until_qa_signs_again(session, line):
    masterdata.add_boards(session, line.users["admin"], "WO-1", count=1)
    serials = list(session.exec(select(Board.serial).order_by(Board.id)))
    pass_all(session, line, serials)
    a, b, c = serials[:3]
    sign(session, line)
    holds.place_hold(session, line.users["qa"], "WO-1", "audit", serial=a)
    assert view(session)["valid"] is True, "a hold is not a change to the results"
    holds.release_holds(session, line.users["qa"], "WO-1", serial=a)

    post(session, line, a, "pass")  # even a passing retest is a new result
    assert view(session)["valid"] is False
    sign(session, line)
    assert view(session)["valid"] is True

    post(session, line, b, "fail")
    assert view(session)["valid"] is False
    hash_before_repair = qa.results_hash(qa.board_results(session, order(session)))
    fct.record_repair(session, line.users["operator"], b, "SHORT", "removed bridge", "U1")
    assert qa.results_hash(qa.board_results(session, order(session))) != hash_before_repair
    assert view(session)["valid"] is False
    post(session, line, b, "pass")
    assert view(session)["valid"] is False, "back to all passed is still not what was signed"
    sign(session, line)
    assert view(session)["valid"] is True

    fct.scrap(session, line.users["qa"], c, "connector torn off")
    assert view(session)["valid"] is False
    third = sign(session, line)  # four boards still passed: the quantity is covered
    assert view(session)["valid"] is True
    assert view(session)["results_hash"] == third.results_hash
    assert count(session, Signoff) == 4


def test_a_change_made_directly_in_the_database_voids_the_signature(session, line):
    pass_all(session, line)
    sign(session, line)
    assert view(session)["valid"] is True
    session.commit()
    with session.get_bind().begin() as conn:
        conn.execute(text("UPDATE test_attempt SET outcome = 'fail' WHERE id = "
                          "(SELECT min(id) FROM test_attempt)"))
    session.expire_all()
    shown = view(session)
    assert shown["valid"] is False
    assert shown["results_hash"] == session.exec(select(Signoff.results_hash)).one()
    session.commit()
    with session.get_bind().begin() as conn:
        conn.execute(text("UPDATE test_attempt SET measurements = '[{\"name\": \"vcc\"}]' "
                          "WHERE id = (SELECT max(id) FROM test_attempt)"))
        conn.execute(text("UPDATE test_attempt SET outcome = 'pass'"))
    session.expire_all()
    assert view(session)["valid"] is False, "a changed measurement voids it too"


# --- review -----------------------------------------------------------------------------------


def test_the_review_counts_yields_failures_and_retests(session, line):
    a, b, c, d = line.serials
    op = line.users["operator"]
    to_fct(session, line, a, b, c, d)

    def m(name, ok):
        return [{"name": name, "value": 1.0, "low": 0.5, "high": 1.5,
                 "outcome": "pass" if ok else "fail"}, {"name": "id", "value": "x"}]

    script = [  # (board, outcome, defect code, failing measurement) in the order they happen
        (a, "pass", None, None),
        (b, "fail", "SHORT", "vcc"), (b, "REPAIR", "SHORT", None), (b, "pass", None, None),
        (c, "fail", "OPEN", "current"), (c, "fail", "OPEN", "current"),
        (c, "REPAIR", "TOMBSTONE", None), (c, "pass", None, None),
        (d, "error", None, "vcc"), (d, "SCRAP", None, None),
    ]
    for serial, outcome, code, failing in script:
        if outcome == "REPAIR":
            fct.record_repair(session, op, serial, code, "reworked")
        elif outcome == "SCRAP":
            fct.scrap(session, line.users["qa"], serial, "lifted pad")
        else:
            post(session, line, serial, outcome, defect_code=code,
                 measurements=m(failing or "vcc", failing is None))

    tests = [(s, o) for s, o, _, _ in script if o not in ("REPAIR", "SCRAP")]
    tested = sorted({s for s, _ in tests})
    first = {s: next(o for t, o in tests if t == s) for s in tested}
    last = {s: [o for t, o in tests if t == s][-1] for s in tested}
    # each failing attempt counts once: under the repair's finding if it was repaired
    want_defects = {"SHORT": 1, "OPEN": 1, "TOMBSTONE": 1}
    want_measurements = {"vcc": 2, "current": 2}

    r = qa.review(session, order(session))
    assert r["first_pass_yield"] == sum(o == "pass" for o in first.values()) / len(tested) == 0.25
    assert r["final_yield"] == sum(last[s] == "pass" and s != d for s in tested) / 4 == 0.75
    assert r["retests"] == len(tests) - len(tested) == 3
    assert dict(r["defects"]) == want_defects
    assert dict(r["failed_measurements"]) == want_measurements
    assert r["by_state"] == {"passed": 3, "scrapped": 1}
    assert "3 of 4" in r["not_passed"]
    assert r["signoff"] is None
    boards = {x["serial"]: x for x in r["boards"]}
    assert [x["outcome"] for x in boards[c]["attempts"]] == ["fail", "fail", "pass"]
    assert boards[d]["scrapped"] == "lifted pad"
    assert [x["defect_code"] for x in boards[c]["repairs"]] == ["TOMBSTONE"]


def test_the_review_of_an_untested_order_has_no_yields(session, line):
    r = qa.review(session, order(session))
    assert r["first_pass_yield"] is None and r["final_yield"] is None
    assert r["retests"] == 0 and r["defects"] == [] and r["failed_measurements"] == []
    assert r["by_state"] == {"untested": BOARDS}
    assert f"{BOARDS} board(s) without a final pass" in r["not_passed"]
