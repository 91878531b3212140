"""What each placement station's screen is loading: its order, and the slot scanned last.

Loading a feeder takes two scans with the scanner alone: the slot (its name in the order's feeder
setup, or a feeder label ending in it), then the reel. Between the two the slot is armed, in
memory like the station's operator: an armed slot left alone goes stale, so a reel scanned much
later is not loaded into a slot nobody is standing at any more.
"""

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Armed:
    """A slot scanned at a station, waiting for its reel."""

    order: str
    slot: str
    part: str
    at: float


class Loading:
    """Each placement station's chosen order and armed slot, in memory."""

    def __init__(self, arm_s: float = 120.0, clock: Callable[[], float] = time.time):
        self.arm_s, self.clock = arm_s, clock
        self._lock = threading.Lock()
        self._orders: dict[str, str] = {}
        self._armed: dict[str, Armed] = {}

    def choose(self, station: str, order: str) -> None:
        """The station now loads for this order; a slot armed for another one is forgotten."""
        with self._lock:
            if self._orders.get(station) != order:
                self._armed.pop(station, None)
            self._orders[station] = order

    def order(self, station: str) -> str | None:
        """The order the station loads for, if one was chosen."""
        with self._lock:
            return self._orders.get(station)

    def arm(self, station: str, order: str, slot: str, part: str) -> Armed:
        """The slot was scanned: the station's next reel scan goes into it."""
        armed = Armed(order, slot, part, self.clock())
        with self._lock:
            self._orders[station] = order
            self._armed[station] = armed
        return armed

    def armed(self, station: str) -> Armed | None:
        """The slot waiting for its reel at the station, unless it went stale."""
        with self._lock:
            armed = self._armed.get(station)
            if armed is not None and self.clock() - armed.at > self.arm_s:
                del self._armed[station]
                return None
            return armed

    def disarm(self, station: str) -> Armed | None:
        """The reel scan was taken (or the slot given up): the slot waits no more."""
        with self._lock:
            return self._armed.pop(station, None)
