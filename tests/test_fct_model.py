"""Test results, repairs, holds, scraps and sign-offs against a pure model (hypothesis stateful
testing) over a real SQLite file: a void signature is never shown valid, a held, failed or
scrapped board never moves on, and no attempt is ever lost."""

import shutil
import tempfile
from pathlib import Path

import pytest
from conftest import PEPPER, ROUTE, build_line, save_template
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)
from sqlmodel import Session, func, select

from station import db, masterdata
from station.errors import StationError
from station.line.scanning import scan
from station.models import Board, BoardStep, Signoff, TestAttempt, User
from station.quality import fct, holds, qa

QUANTITY = 3  # the order's quantity; one board more is registered, so one may be scrapped
FCT = ROUTE.index("FCT")
LIMIT = fct.FctRules().retest_limit
LOCK_AFTER = 5  # wrong PINs before QA's badge locks
BOARD = st.integers(0, QUANTITY)  # QUANTITY + 1 boards


@pytest.fixture(scope="module")
def template(tmp_path_factory):
    """A line whose boards all wait at FCT, built once: each run starts from a copy."""
    def build(s):
        line = build_line(s, boards=QUANTITY, tokens=False)
        masterdata.add_boards(s, line.users["admin"], line.order, count=1)
        serials = list(s.exec(select(Board.serial).order_by(Board.id)))
        for serial in serials:
            for step in ROUTE[:FCT]:
                scan(s, f"T-{step}", serial, line.users["operator"])
        return serials

    return save_template(tmp_path_factory.mktemp("fct-model"), build)


class FctMachine(RuleBasedStateMachine):
    """Results, repairs, scraps, holds, QA scans and sign-offs on the boards of one order."""

    template: tuple[Path, list[str]]

    def __init__(self):
        super().__init__()
        path, self.serials = self.template
        self.folder = Path(tempfile.mkdtemp(prefix="fct-run-"))
        shutil.copy(path, self.folder / "station.db")
        self.engine = db.make_engine(f"sqlite:///{self.folder / 'station.db'}")
        self.session = Session(self.engine, expire_on_commit=False)
        self.users = {u.name: u for u in self.session.exec(select(User))}
        self.ids = {b.serial: b.id for b in self.session.exec(select(Board))}
        self.order = masterdata.find_order(self.session, "WO-1")
        # board_results lists boards by serial
        self.by_serial = sorted(range(len(self.serials)), key=self.serials.__getitem__)
        self.session.commit()
        n = len(self.serials)
        # the model
        self.state = ["untested"] * n  # untested | passed | needs_repair | repaired | scrapped
        self.fails = [0] * n  # failed attempts since the last pass or repair
        self.done = [FCT] * n  # route steps passed
        self.board_holds = [0] * n
        self.order_holds = 0
        self.attempts = 0
        self.kept = 0  # attempts stored at the last check
        self.wrong_pins = 0
        self.tried: dict[int, str | None] = {}  # board -> why its last QA scan was refused
        self.signed = False  # has QA ever signed
        self.valid = False  # does the newest signature still cover the results

    def teardown(self):
        self.session.close()
        self.engine.dispose()
        shutil.rmtree(self.folder, ignore_errors=True)

    # --- helpers ---------------------------------------------------------------------------

    def held(self, b: int) -> bool:
        return self.order_holds > 0 or self.board_holds[b] > 0

    def attempt(self, fn, *args, **kw):
        """The call's result, or the StationError it raised (rolled back)."""
        try:
            return fn(*args, **kw)
        except StationError as err:
            self.session.rollback()
            return err

    def changed(self):
        """A result, repair or scrap was stored: the newest signature no longer covers it."""
        self.valid = False

    def refusal_at_qa(self, b: int) -> str | None:
        """The code a scan of board b at QA gets, by the model (None: it is accepted)."""
        if self.held(b):
            return "ON_HOLD"
        if self.state[b] == "scrapped":
            return "BOARD_SCRAPPED"
        if self.state[b] == "needs_repair":
            return "NEEDS_REPAIR"
        if self.state[b] == "repaired" and self.done[b] > FCT:
            return "NEEDS_TEST"
        if self.done[b] == FCT:
            return "OUT_OF_SEQUENCE"
        if self.done[b] > FCT + 1:
            return "ALREADY_DONE"
        return None

    # --- rules -----------------------------------------------------------------------------

    @rule(b=BOARD, outcome=st.sampled_from(["pass", "pass", "fail", "error"]),
          role=st.sampled_from(["operator", "qa", "supervisor"]))
    def post_a_result(self, b, outcome, role):
        got = self.attempt(fct.record_result, self.session, self.users[role], self.serials[b],
                           "T-FCT", outcome, program="fct", program_version="1",
                           measurements=[{"name": "vcc", "value": 3.3 if outcome == "pass"
                                          else 2.1, "low": 3.2, "high": 3.4}])
        if self.held(b):
            want = "ON_HOLD"
        elif self.state[b] == "scrapped":
            want = "BOARD_SCRAPPED"
        elif self.state[b] == "needs_repair" and self.fails[b] >= LIMIT:
            want = "NEEDS_REPAIR"
        else:
            want = None
        if want is not None:
            assert isinstance(got, StationError) and got.code == want, (got, want)
            if want == "NEEDS_REPAIR":
                assert "repair is forced" in str(got)
            return
        assert isinstance(got, TestAttempt), got
        self.attempts += 1
        if outcome == "pass":
            self.state[b], self.fails[b] = "passed", 0
            self.done[b] = max(self.done[b], FCT + 1)
        else:
            self.state[b], self.fails[b] = "needs_repair", self.fails[b] + 1
        self.changed()

    @rule(b=BOARD, code=st.sampled_from(["SHORT", "OPEN", "MISSING"]))
    def repair(self, b, code):
        got = self.attempt(fct.record_repair, self.session, self.users["operator"],
                           self.serials[b], code, "reworked", "U1")
        if self.state[b] != "needs_repair":
            assert isinstance(got, StationError) and got.code == "INVALID_INPUT", got
            return
        assert not isinstance(got, StationError), got
        self.state[b], self.fails[b] = "repaired", 0
        self.changed()

    @rule(b=BOARD, role=st.sampled_from(["qa", "operator", "finance", "supervisor"]))
    def scrap(self, b, role):
        got = self.attempt(fct.scrap, self.session, self.users[role], self.serials[b],
                           "damaged in handling")
        if role != "qa":
            assert isinstance(got, StationError) and got.code == "FORBIDDEN", got
        elif self.state[b] == "scrapped":
            assert isinstance(got, StationError) and got.code == "INVALID_INPUT", got
        else:
            assert not isinstance(got, StationError), got
            self.state[b] = "scrapped"
            self.changed()

    @rule(action=st.sampled_from(["hold", "release", "release"]), b=st.one_of(st.none(), BOARD))
    def hold_or_release(self, action, b):
        serial = None if b is None else self.serials[b]
        if action == "hold":
            holds.place_hold(self.session, self.users["qa"], "WO-1", "suspect", serial=serial)
            if b is None:
                self.order_holds += 1
            else:
                self.board_holds[b] += 1
        else:
            released = holds.release_holds(self.session, self.users["qa"], "WO-1", serial=serial)
            assert released == (self.order_holds if b is None else self.board_holds[b])
            if b is None:
                self.order_holds = 0
            else:
                self.board_holds[b] = 0

    @rule(b=BOARD)
    def scan_at_qa(self, b):
        before = self.steps(b)
        got = self.attempt(scan, self.session, "T-QA", self.serials[b], self.users["operator"])
        want = self.refusal_at_qa(b)
        if want is None:
            assert isinstance(got, dict) and got["accepted"], got
            self.done[b] += 1
            assert self.steps(b) == before + 1
        else:
            assert isinstance(got, StationError) and got.code == want, (got, want)
            assert self.steps(b) == before

    # Rules that drive the order towards a sign-off, as the line does on a good day.

    @rule()
    def repair_and_pass_every_board_that_may(self):
        self.repair_every_failed_board()
        self.pass_every_board_that_may()

    @rule()
    def repair_every_failed_board(self):
        for b in range(len(self.serials)):
            if self.state[b] == "needs_repair":
                self.repair(b, "OTHER")

    @rule()
    def pass_every_board_that_may(self):
        for b in range(len(self.serials)):
            waiting = self.state[b] in ("untested", "repaired") or \
                self.state[b] == "needs_repair" and self.fails[b] < LIMIT
            if waiting and not self.held(b):
                self.post_a_result(b, "pass", "operator")

    @precondition(lambda self: self.valid)
    @rule(b=BOARD, what=st.sampled_from(["pass", "fail", "error", "scrap"]))
    def change_a_signed_result(self, b, what):
        """Retest or scrap a board of a signed order (refused while it is held)."""
        if what == "scrap":
            self.scrap(b, "qa")
        else:
            self.post_a_result(b, what, "qa")

    @rule(pin=st.sampled_from(["1234", "1234", "1234", "9999"]))
    def sign(self, pin):
        got = self.attempt(qa.sign, self.session, self.users["qa"], "WO-1", "10002", pin,
                           qa.MEANINGS[0], pepper=PEPPER)
        live = [s for s in self.state if s != "scrapped"]
        if self.wrong_pins >= LOCK_AFTER:
            assert isinstance(got, StationError) and got.code == "BADGE_LOCKED", got
            return
        if pin != "1234":
            self.wrong_pins += 1
            want = "BADGE_LOCKED" if self.wrong_pins >= LOCK_AFTER else "BAD_CREDENTIALS"
            assert isinstance(got, StationError) and got.code == want, got
            return
        self.wrong_pins = 0  # a right PIN clears the count
        if any(s != "passed" for s in live) or len(live) < QUANTITY:
            assert isinstance(got, StationError) and got.code == "NOT_ALL_PASSED", got
            return
        assert isinstance(got, Signoff), got
        assert got.printed_name == "Qa One" and got.meaning == qa.MEANINGS[0]
        self.signed = self.valid = True

    # --- invariants ------------------------------------------------------------------------
    # (This session is the file's only connection: reads need no commit to let writers in.)

    def steps(self, b: int) -> int:
        return self.session.exec(select(func.count()).select_from(BoardStep).where(
            BoardStep.board_id == self.ids[self.serials[b]])).one()

    @invariant()
    def a_void_signature_is_never_shown_valid(self):
        if not self.signed:
            assert qa.signoff_view(self.session, self.order) is None
            return
        results = qa.board_results(self.session, self.order)
        shown = qa.signoff_view(self.session, self.order, results)
        newest = self.session.exec(select(Signoff.results_hash)
                                   .order_by(Signoff.id.desc())).first()
        assert shown["results_hash"] == newest
        assert shown["valid"] is (qa.results_hash(results) == newest)
        assert shown["valid"] is self.valid, "valid until a result, repair or scrap"
        assert [b["state"] for b in results] == [self.state[i] for i in self.by_serial]

    @invariant()
    def a_held_failed_or_scrapped_board_never_moves_on(self):
        steps = dict(self.session.exec(select(BoardStep.board_id, func.count())
                                       .group_by(BoardStep.board_id)).all())
        for b, serial in enumerate(self.serials):
            assert steps.get(self.ids[serial], 0) == self.done[b], serial
            want = self.refusal_at_qa(b)
            if want in ("ON_HOLD", "BOARD_SCRAPPED", "NEEDS_REPAIR", "NEEDS_TEST") and \
                    self.tried.get(b) != want:  # each new reason once (scans are not cheap)
                got = self.attempt(scan, self.session, "T-QA", serial, self.users["operator"])
                assert isinstance(got, StationError) and got.code == want, (serial, got, want)
                assert self.steps(b) == self.done[b], "a refused scan moved the board"
            self.tried[b] = want

    @invariant()
    def every_attempt_is_kept(self):
        kept = self.session.exec(select(func.count()).select_from(TestAttempt)).one()
        assert kept >= self.kept, "an attempt was lost"
        assert kept == self.attempts
        self.kept = kept


def test_results_repairs_holds_scraps_and_signatures_follow_the_model(template):
    FctMachine.template = template
    run_state_machine_as_test(FctMachine, settings=settings(
        max_examples=40, stateful_step_count=30, deadline=None))
