"""The scanner's parts without a port: double reads, the station's operators, the feed."""

from types import SimpleNamespace

import pytest

from station.devices.scanner import DoubleReads, ScanSplitter
from station.line.feed import ScanFeed
from station.line.operators import Operators


class Clock:
    """A clock the test moves by hand."""

    def __init__(self, t: float = 1000.0):
        self.t = t

    def __call__(self) -> float:
        return self.t

    def tick(self, seconds: float) -> None:
        self.t += seconds


def person(uid, name="Li Wei", epoch=0):
    return SimpleNamespace(id=uid, full_name=name, session_epoch=epoch)


# --- double reads ----------------------------------------------------------------------------


def test_the_same_label_within_the_window_counts_once():
    clock = Clock()
    reads = DoubleReads(1.0, clock)
    assert reads.fresh("WO-1-00001")
    clock.tick(0.3)
    assert not reads.fresh("WO-1-00001")


def test_a_rescan_after_the_window_is_an_ordinary_scan():
    clock = Clock()
    reads = DoubleReads(1.0, clock)
    assert reads.fresh("WO-1-00001")
    clock.tick(3.0)
    assert reads.fresh("WO-1-00001")


def test_a_label_held_in_view_keeps_counting_once():
    clock = Clock()
    reads = DoubleReads(1.0, clock)
    assert reads.fresh("A")
    for _ in range(10):  # the scanner re-reads it every half second
        clock.tick(0.5)
        assert not reads.fresh("A")
    clock.tick(1.5)
    assert reads.fresh("A")


def test_another_label_in_between_is_its_own_scan():
    clock = Clock()
    reads = DoubleReads(1.0, clock)
    assert reads.fresh("A") and reads.fresh("B")
    clock.tick(0.1)
    assert reads.fresh("A")  # A again after B is a rescan, not a double read


# --- the station's operators -----------------------------------------------------------------


def test_who_opened_the_screen_last_is_the_stations_operator():
    ops = Operators(idle_s=60, clock=Clock())
    ops.opened("S1", person(1, "Li Wei"))
    ops.opened("S1", person(2, "Wang Fang"))
    assert ops.current("S1").user_id == 2 and ops.current("S1").name == "Wang Fang"
    assert ops.current("S2") is None


def test_an_operator_idle_too_long_is_no_longer_signed_in():
    clock = Clock()
    ops = Operators(idle_s=60, clock=clock)
    ops.opened("S1", person(1))
    clock.tick(59)
    ops.touch("S1", 1)  # a scan keeps them
    clock.tick(59)
    assert ops.current("S1").user_id == 1
    clock.tick(2)
    assert ops.current("S1") is None


def test_a_badge_switches_only_to_someone_who_signed_in_with_a_pin_here():
    clock = Clock()
    ops = Operators(idle_s=60, clock=clock)
    li, wang = person(1, "Li Wei"), person(2, "Wang Fang")
    ops.opened("S1", wang, pin_at=None)  # by password: no PIN
    ops.opened("S1", li, pin_at=clock())
    assert not ops.badge_in("S1", wang)
    assert not ops.badge_in("S2", li)  # a PIN at another station does not count
    assert ops.current("S1").user_id == 1
    assert ops.badge_in("S1", li)
    assert ops.current("S1").via == "badge"


def test_a_pin_sign_in_too_long_ago_does_not_let_a_badge_switch():
    clock = Clock()
    ops = Operators(idle_s=60, clock=clock)
    li = person(1)
    ops.opened("S1", li, pin_at=clock())
    ops.opened("S1", person(2))
    clock.tick(61)
    assert not ops.badge_in("S1", li)


def test_signing_out_ends_the_operator_everywhere():
    clock = Clock()
    ops = Operators(idle_s=60, clock=clock)
    li = person(1)
    ops.opened("S1", li, pin_at=clock())
    ops.opened("S2", li, pin_at=clock())
    ops.leave(1)
    assert ops.current("S1") is None and ops.current("S2") is None
    assert not ops.badge_in("S1", li)


def test_a_session_seen_elsewhere_does_not_take_a_station_from_its_operator():
    clock = Clock()
    ops = Operators(idle_s=60, clock=clock)
    ops.opened("S1", person(1))
    ops.seen("S1", person(2), None, clock())
    assert ops.current("S1").user_id == 1
    clock.tick(61)
    ops.seen("S1", person(2), None, clock())  # the first one's time there is over
    assert ops.current("S1").user_id == 2


def test_a_new_session_epoch_is_a_new_presence():
    ops = Operators(idle_s=60, clock=Clock())
    first = ops.opened("S1", person(1, epoch=0))
    again = ops.opened("S1", person(1, epoch=1))
    assert again is not first and again.epoch == 1


# --- the feed --------------------------------------------------------------------------------


def test_the_feed_numbers_entries_in_order_per_station():
    feed = ScanFeed(keep=3)
    a = feed.publish("S1", "result", {"n": 1})
    b = feed.publish("S2", "result", {"n": 2})
    c = feed.publish("S1", "status", {"n": 3})
    assert a < b < c == feed.last_seq()
    assert [e.data["n"] for e in feed.since("S1", 0)] == [1, 3]
    assert [e.data["n"] for e in feed.since("S1", a)] == [3]
    assert feed.since("S1", c) == []


def test_the_feed_keeps_only_the_latest_entries():
    feed = ScanFeed(keep=3)
    for n in range(5):
        feed.publish("S1", "result", {"n": n})
    assert [e.data["n"] for e in feed.since("S1", 0)] == [2, 3, 4]


# --- the splitter that knows a pending line --------------------------------------------------


@pytest.mark.parametrize(("tab", "data", "pending"), [
    (True, b"WO-1-0", True), (True, b"WO-1-00001\r", False), (True, b"WO-1-00001\t", False),
    (False, b"WO-1-00001\t", True), (True, b"A\rB", True),
])
def test_the_splitter_knows_whether_a_line_is_pending(tab, data, pending):
    clock = Clock()
    s = ScanSplitter(1024, tab, clock)
    s.feed(data)
    assert s.pending is pending and s.last_byte == clock()
    s.reset()
    assert not s.pending


def test_a_restarted_feed_numbers_above_the_one_before():
    import time

    before = ScanFeed()
    before.publish("S1", "result", {})
    time.sleep(0.002)
    assert ScanFeed().publish("S1", "result", {}) > before.last_seq()


def test_waiting_on_the_feed_ends_when_an_entry_comes_or_time_is_up():
    import threading
    import time

    feed = ScanFeed()
    after = feed.last_seq()
    t0 = time.monotonic()
    assert not feed.wait("S1", after, 0.1)
    assert time.monotonic() - t0 >= 0.1
    threading.Timer(0.05, feed.publish, ["S1", "result", {}]).start()
    assert feed.wait("S1", after, 2.0)
