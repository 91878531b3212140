"""Feeder loading and the placement interlock against a pure model: random loads, splices,
unloads, expiries, bakes and board scans over a real SQLite file (hypothesis stateful testing).
No board passes PLACE while a slot is unverified, and every board's materials are exactly the
reels loaded at its scan."""

import shutil
import tempfile
from datetime import timedelta
from pathlib import Path

import pytest
from conftest import build_line, save_template
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule, run_state_machine_as_test
from sqlmodel import Session, select

from station import db
from station.errors import AlreadyDone, StationError
from station.line.scanning import scan
from station.material import feeders, reels, setups
from station.models import Board, BoardMaterial, Reel, User, utcnow

BOARDS = 5
SLOTS = {"F01": ("RC0603-10K", ["ERJ-3EKF1002V"], ["R1"]),
         "F02": ("CC0603-100N", [], ["C1"])}
REELS = {  # id: part, quantity, msl
    "A-1": ("RC0603-10K", 1, None), "A-2": ("RC0603-10K", 4, None),
    "ALT-1": ("ERJ-3EKF1002V", 3, None), "C-1": ("CC0603-100N", 2, "3"),
    "C-2": ("CC0603-100N", 5, "4"), "W-1": ("RC0603-1K", 9, None),
}
MSD = [r for r, (_p, _q, msl) in REELS.items() if msl]


@pytest.fixture(scope="module")
def template(tmp_path_factory):
    """A line with a feeder setup, six reels, and its boards printed and inspected."""
    def build(s):
        line = build_line(s, boards=BOARDS, tokens=False)
        setups.create_setup(s, line.users["admin"], "PCB", "A", "PLACE", [
            {"slot": slot, "part": part, "alternates": alts, "designators": des}
            for slot, (part, alts, des) in SLOTS.items()])
        op = line.users["operator"]
        for reel, (part, quantity, msl) in REELS.items():
            reels.register_reel(s, op, id=reel, part=part, quantity=quantity, msl=msl)
        for serial in line.serials:
            for station in ("T-PRINT", "T-SPI"):
                scan(s, station, serial, op)
        return line.serials

    return save_template(tmp_path_factory.mktemp("material-model"), build)


class FeederMachine(RuleBasedStateMachine):
    """What the slots hold, what each reel has left, which reels are past their floor life."""

    template: tuple[Path, list[str]]

    def __init__(self):
        super().__init__()
        path, self.serials = self.template
        self.folder = Path(tempfile.mkdtemp(prefix="material-run-"))
        shutil.copy(path, self.folder / "station.db")
        self.engine = db.make_engine(f"sqlite:///{self.folder / 'station.db'}")
        self.session = Session(self.engine, expire_on_commit=False)
        self.op = self.session.exec(select(User).where(User.name == "operator")).one()
        self.boards = {b.serial: b.id for b in self.session.exec(select(Board))}
        self.session.commit()
        # the model
        self.on = {slot: None for slot in SLOTS}  # slot -> the reel feeding it
        self.red = {slot: False for slot in SLOTS}  # a refused reel was scanned onto it
        self.left = {r: q for r, (_p, q, _m) in REELS.items()}
        self.expired: set[str] = set()
        self.fed: dict[str, dict[str, str]] = {}  # serial -> slot -> reel, at its scan

    def teardown(self):
        self.session.close()
        self.engine.dispose()
        shutil.rmtree(self.folder, ignore_errors=True)

    def refusal(self, slot: str, reel: str):
        part, alternates, _ = SLOTS[slot]
        if REELS[reel][0] != part and REELS[reel][0] not in alternates:
            return feeders.WrongPart
        if self.left[reel] <= 0:
            return feeders.ReelEmpty
        if reel in self.expired:
            return feeders.MsdExpired
        return None

    def attempt(self, call):
        try:
            return call()
        except StationError as err:
            self.session.rollback()
            return err

    @rule(slot=st.sampled_from(sorted(SLOTS)), reel=st.sampled_from(sorted(REELS)))
    def load_a_reel(self, slot, reel):
        """Scan a slot, then a reel: a load, a splice, a rescan or a refusal."""
        outcome = self.attempt(lambda: feeders.load(self.session, self.op, "T-PLACE", "WO-1",
                                                    slot, reel))
        refused = self.refusal(slot, reel)
        elsewhere = next((s for s, r in self.on.items() if r == reel and s != slot), None)
        if self.on[slot] == reel and refused is None:
            assert isinstance(outcome, dict) and not outcome["spliced"], outcome
        elif refused is not None:
            assert type(outcome) is refused, (outcome, refused)
            self.on[slot], self.red[slot] = None, True
        elif elsewhere is not None:
            assert type(outcome) is feeders.ReelInUse, outcome
        else:
            assert isinstance(outcome, dict), outcome
            assert outcome["spliced"] == (self.on[slot] is not None)
            assert outcome["verdict"] == ("PASS" if REELS[reel][0] == SLOTS[slot][0]
                                          else "ALTERNATE")
            self.on[slot], self.red[slot] = reel, False

    @rule(data=st.data())
    def load_every_slot_as_the_setup_says(self, data):
        """The operator's usual round: a reel of the slot's part (or an alternate) on each."""
        for slot, (part, alternates, _) in SLOTS.items():
            right = sorted(r for r, (p, _q, _m) in REELS.items() if p in (part, *alternates))
            self.load_a_reel(slot, data.draw(st.sampled_from(right)))

    @rule(slot=st.sampled_from(sorted(SLOTS)))
    def unload_a_slot(self, slot):
        outcome = self.attempt(lambda: feeders.unload(self.session, self.op, "T-PLACE", slot))
        if self.on[slot] is None and not self.red[slot]:
            assert isinstance(outcome, feeders.NotLoaded), outcome
        else:
            assert isinstance(outcome, dict), outcome
            self.on[slot], self.red[slot] = None, False

    @rule(reel=st.sampled_from(MSD))
    def floor_life_runs_out(self, reel):
        row = self.session.get(Reel, reel)
        row.exposed_since, row.floor_used_s = utcnow() - timedelta(hours=200), 0.0
        self.session.commit()
        self.expired.add(reel)

    @rule(reel=st.sampled_from(MSD))
    def bake_a_reel(self, reel):
        reels.record_bake(self.session, self.op, reel)
        self.expired.discard(reel)

    @rule(b=st.integers(0, BOARDS - 1))
    def scan_a_board_at_place(self, b):
        serial = self.serials[b]
        outcome = self.attempt(lambda: scan(self.session, "T-PLACE", serial, self.op))
        if serial in self.fed:
            assert isinstance(outcome, AlreadyDone), outcome
            return
        bad = [s for s, r in self.on.items() if r is None or r in self.expired]
        empty = [s for s, r in self.on.items() if r is not None and r not in self.expired
                 and self.left[r] <= 0]
        if bad:
            assert isinstance(outcome, feeders.SetupNotVerified), outcome
            assert outcome.params["slots"] == bad + empty
        elif empty:
            assert isinstance(outcome, feeders.ReelEmpty), outcome
        else:
            # accepted only with every slot verified: that is the interlock
            assert isinstance(outcome, dict) and outcome["accepted"], outcome
            self.fed[serial] = dict(self.on)
            for reel in self.on.values():
                self.left[reel] -= 1

    @invariant()
    def every_board_got_exactly_the_reels_loaded_at_its_scan(self):
        got: dict[int, dict[str, str]] = {}
        for board_id, slot, reel in self.session.exec(
                select(BoardMaterial.board_id, BoardMaterial.slot, BoardMaterial.reel_id)):
            assert slot not in got.setdefault(board_id, {}), "one reel per slot and board"
            got[board_id][slot] = reel
        assert got == {self.boards[s]: fed for s, fed in self.fed.items()}
        quantities = {r: q for r, q in self.session.exec(select(Reel.id, Reel.quantity))}
        assert quantities == self.left
        status = feeders.status(self.session, "T-PLACE", "WO-1")
        for entry in status["slots"]:
            reel = self.on[entry["slot"]]
            assert entry["reel"] == (reel if reel or not self.red[entry["slot"]]
                                     else entry["reel"])
            if reel is None:
                assert entry["state"] in (("wrong", "empty") if self.red[entry["slot"]]
                                          else ("unloaded",))
        assert status["verified"] == all(
            r is not None and r not in self.expired and self.left[r] > 0
            for r in self.on.values())
        self.session.commit()


def test_loading_and_the_interlock_follow_the_feeder_model(template):
    FeederMachine.template = template
    run_state_machine_as_test(FeederMachine, settings=settings(
        max_examples=60, stateful_step_count=40, deadline=None))
