"""The scan rule against a pure model: random scans, replays, holds and releases over a real
SQLite file, checked step by step (hypothesis stateful testing)."""

import shutil
import tempfile
from pathlib import Path

import pytest
from conftest import ROUTE, build_line, save_template
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)
from sqlalchemy import text
from sqlmodel import Session, func, select

from station import db, masterdata
from station.errors import (
    AlreadyDone,
    Forbidden,
    NeedsTest,
    OnHold,
    OutOfSequence,
    RouteComplete,
    StationError,
    WrongStation,
)
from station.line.scanning import scan
from station.models import Board, BoardStep, Event, ScanReceipt, User
from station.quality import holds

BOARDS = 3
COUNTS = text("SELECT (SELECT count(*) FROM board_step), (SELECT count(*) FROM event), "
              "(SELECT count(*) FROM scan_receipt)")
STATION_TYPES = [*ROUTE, "XRAY"]  # XRAY: a station no board of this product visits
SCANNERS = ["operator", "qa", "supervisor", "admin", "finance"]
STEPS = st.sampled_from([*STATION_TYPES, "NEXT", "NEXT", "NEXT"])  # NEXT: where the board goes


@pytest.fixture(scope="module")
def template(tmp_path_factory):
    """A database file with a line, built once: each run of the machine starts from a copy."""
    def build(s):
        line = build_line(s, boards=BOARDS, tokens=False)
        masterdata.create_station(s, line.users["admin"], "T-XRAY", "XRAY", "T")
        return line.serials

    return save_template(tmp_path_factory.mktemp("route-model"), build)


def expected(done: int, step: str):
    """What the route alone says about a board that passed `done` steps, at a `step` station."""
    if step not in ROUTE:
        return WrongStation
    index = ROUTE.index(step)
    if index < done:
        return RouteComplete if done == len(ROUTE) else AlreadyDone
    if index > done:
        return OutOfSequence
    return NeedsTest if step == "FCT" else "accept"


class RouteMachine(RuleBasedStateMachine):
    """Scans, replays, test passes, holds and releases, against a model of steps passed."""

    template: tuple[Path, list[str]]

    def __init__(self):
        super().__init__()
        path, self.serials = self.template
        self.folder = Path(tempfile.mkdtemp(prefix="route-run-"))
        shutil.copy(path, self.folder / "station.db")
        self.engine = db.make_engine(f"sqlite:///{self.folder / 'station.db'}")
        self.session = Session(self.engine, expire_on_commit=False)
        self.users = {u.name: u for u in self.session.exec(select(User))}
        self.boards = {b.serial: b.id for b in self.session.exec(select(Board))}
        self.session.commit()
        # the model
        self.done = [0] * BOARDS
        self.order_holds = 0
        self.board_holds = [0] * BOARDS
        self.held_at: dict[int, int] = {}  # board -> steps passed when its hold began
        self.receipts: dict[str, dict] = {}  # scan id -> the first (accepted) answer
        self.boxes: set[int] = set()  # boxes PACK opened: each one's opening is an event too
        self.sent_ids: list[str] = []
        self.next_id = 0

    def teardown(self):
        self.session.close()
        self.engine.dispose()
        shutil.rmtree(self.folder, ignore_errors=True)

    # --- helpers ---------------------------------------------------------------------------

    def held(self, b: int) -> bool:
        return self.order_holds > 0 or self.board_holds[b] > 0

    def note_holds(self):
        """Remember where each newly held board stood; forget released ones."""
        for b in range(BOARDS):
            if self.held(b):
                self.held_at.setdefault(b, self.done[b])
            else:
                self.held_at.pop(b, None)

    def rows(self) -> tuple[int, int, int]:
        """How many steps, events and scan receipts are stored (one query: it runs often)."""
        return tuple(self.session.execute(COUNTS).one())

    def do_scan(self, b: int, step: str, role: str, scan_id: str | None):
        if step == "NEXT":
            step = ROUTE[min(self.done[b], len(ROUTE) - 1)]
        serial, before = self.serials[b], self.rows()
        try:
            outcome = scan(self.session, f"T-{step}", serial, self.users[role], scan_id=scan_id)
        except StationError as err:
            self.session.rollback()
            outcome = err

        if role in ("admin", "finance"):
            assert isinstance(outcome, Forbidden), outcome
        elif scan_id in self.receipts:
            assert outcome == self.receipts[scan_id], "a replay returns the first answer"
        elif self.held(b):
            assert isinstance(outcome, OnHold), outcome
        else:
            want = expected(self.done[b], step)
            if want != "accept":
                assert type(outcome) is want, (outcome, want, self.done[b], step)
                if want is OutOfSequence:
                    assert outcome.params["needed"] == ROUTE[self.done[b]]
            else:
                assert isinstance(outcome, dict), outcome
                assert (outcome["serial"], outcome["step"]) == (serial, step)
                nxt = self.done[b] + 1
                assert outcome["next_step"] == (ROUTE[nxt] if nxt < len(ROUTE) else None)
                self.done[b] = nxt
                if scan_id:
                    self.receipts[scan_id] = outcome
                opened = "box" in outcome and outcome["box"] not in self.boxes
                self.boxes.add(outcome.get("box"))
                assert self.rows() == (before[0] + 1, before[1] + 1 + opened,
                                       before[2] + (1 if scan_id else 0))
                return
        assert self.rows() == before, "a refused scan or a replay stores nothing"

    # --- rules -----------------------------------------------------------------------------

    @rule(b=st.integers(0, BOARDS - 1), role=st.sampled_from(["operator", "qa", "supervisor"]))
    def scan_where_it_goes_next(self, b, role):
        self.do_scan(b, "NEXT", role, None)

    @rule(b=st.integers(0, BOARDS - 1), step=STEPS, role=st.sampled_from(SCANNERS),
          with_id=st.booleans())
    def scan_a_board(self, b, step, role, with_id):
        scan_id = None
        if with_id:
            scan_id, self.next_id = f"scan-{self.next_id}", self.next_id + 1
            self.sent_ids.append(scan_id)
        self.do_scan(b, step, role, scan_id)

    @precondition(lambda self: self.sent_ids)
    @rule(data=st.data(), b=st.integers(0, BOARDS - 1), step=STEPS)
    def replay_a_scan_id(self, data, b, step):
        scan_id = data.draw(st.sampled_from(self.sent_ids))
        self.do_scan(b, step, "operator", scan_id)

    @rule(b=st.integers(0, BOARDS - 1))
    def pass_the_test(self, b):
        """Stand in for a passing FCT result (the station has no test-result capability yet)."""
        if self.held(b) or expected(self.done[b], "FCT") is not NeedsTest:
            return
        self.session.add(BoardStep(board_id=self.boards[self.serials[b]],
                                   step_index=self.done[b], step="FCT", station_id="T-FCT"))
        self.session.commit()
        self.done[b] += 1

    @rule(action=st.sampled_from(["hold", "release"]),
          b=st.one_of(st.none(), st.integers(0, BOARDS - 1)),
          reason=st.sampled_from(["solder bridges", "wrong paste", "盖章 missing"]))
    def hold_or_release(self, action, b, reason):
        """QA holds or releases the order (b None) or one board."""
        qa, serial = self.users["qa"], None if b is None else self.serials[b]
        if action == "hold":
            holds.place_hold(self.session, qa, "WO-1", reason, serial=serial)
            if b is None:
                self.order_holds += 1
            else:
                self.board_holds[b] += 1
        else:
            released = holds.release_holds(self.session, qa, "WO-1", serial=serial)
            if b is None:
                assert released == self.order_holds
                self.order_holds = 0
            else:
                assert released == self.board_holds[b]
                self.board_holds[b] = 0
        self.note_holds()

    # --- invariants ------------------------------------------------------------------------

    @invariant()
    def the_database_agrees_with_the_model(self):
        steps = {b: [] for b in self.boards.values()}
        for board_id, index, step in self.session.exec(
                select(BoardStep.board_id, BoardStep.step_index, BoardStep.step)
                .order_by(BoardStep.board_id, BoardStep.step_index, BoardStep.id)):
            steps[board_id].append((index, step))
        for b, serial in enumerate(self.serials):
            # never a skipped step, never a repeated one
            assert steps[self.boards[serial]] == list(enumerate(ROUTE[:self.done[b]])), serial
        for b, done in self.held_at.items():  # held boards never move
            assert len(steps[self.boards[self.serials[b]]]) == done == self.done[b]
        passed = self.session.exec(select(func.count()).select_from(Event)
                                   .where(Event.kind == "board.step_passed")).one()
        # one event per scanned step (the FCT passes stood in for above have none)
        assert passed == sum(self.done) - sum(d > ROUTE.index("FCT") for d in self.done)
        assert set(self.session.exec(select(ScanReceipt.scan_id))) == set(self.receipts)
        self.session.commit()


def test_the_scan_rule_follows_the_route_model(template):
    RouteMachine.template = template
    run_state_machine_as_test(RouteMachine, settings=settings(
        max_examples=60, stateful_step_count=40, deadline=None))
