"""Who works at each station: the last to open or use its screen, or to badge in there.

A serial scan is its station's operator's while their session there is alive (the configured
idle time since their last action at the station, screen or scanner). A PIN cannot be typed on
a scanner, so a badge scanned on it switches the station to that badge's operator only if they
signed in with badge and PIN on this station's screen within the idle time.
"""

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from station.models import User


@dataclass
class Presence:
    """The operator of a station: who, since when, last active when, signed in how."""

    user_id: int
    name: str
    epoch: int  # the user's session epoch: signing out everywhere ends this presence too
    since: float
    last_active: float
    via: str  # "screen" or "badge"
    pin_at: float | None = None  # when they signed in with badge and PIN, if they did


class Operators:
    """Who works at each station, in memory: the last to open or use its screen, or to badge."""

    def __init__(self, idle_s: float = 1800.0, clock: Callable[[], float] = time.time):
        self.idle_s, self.clock = idle_s, clock
        self._lock = threading.Lock()
        self._present: dict[str, Presence] = {}
        self._pins: dict[str, dict[int, tuple[float, float]]] = {}  # station: uid: (pin, last)

    def opened(self, station: str, user: User, pin_at: float | None = None,
               at: float | None = None) -> Presence:
        """The user opened or used the station's screen: they are its operator now."""
        now = self.clock() if at is None else at
        with self._lock:
            self._note_pin(station, user.id, pin_at, now)
            p = self._present.get(station)
            if p is not None and p.user_id == user.id and p.epoch == user.session_epoch:
                p.last_active, p.pin_at = max(p.last_active, now), pin_at or p.pin_at
                return p
            p = Presence(user.id, user.full_name, user.session_epoch, now, now, "screen", pin_at)
            self._present[station] = p
            return p

    def seen(self, station: str, user: User, pin_at: float | None, at: float) -> None:
        """The user's live session shows the screen: keep them, or make them, its operator."""
        with self._lock:
            p = self._present.get(station)
            if p is not None and p.user_id != user.id and self._fresh(p):
                return
        self.opened(station, user, pin_at, at)

    def badge_in(self, station: str, user: User) -> bool:
        """A badge scanned here: its user takes over if they signed in here with a PIN lately."""
        now = self.clock()
        with self._lock:
            pin, last = self._pins.get(station, {}).get(user.id, (None, 0.0))
            if pin is None or now - last > self.idle_s:
                return False
            self._pins[station][user.id] = (pin, now)
            self._present[station] = Presence(user.id, user.full_name, user.session_epoch, now,
                                              now, "badge", pin)
            return True

    def current(self, station: str) -> Presence | None:
        """The station's operator while their session there is alive, else None."""
        with self._lock:
            p = self._present.get(station)
            if p is None or self._fresh(p):
                return p
            del self._present[station]
            return None

    def touch(self, station: str, user_id: int) -> None:
        """The operator acted at the station (a scan): their session there goes on."""
        now = self.clock()
        with self._lock:
            p = self._present.get(station)
            if p is not None and p.user_id == user_id:
                p.last_active = now
            pins = self._pins.get(station, {})
            if user_id in pins:
                pins[user_id] = (pins[user_id][0], now)

    def last_active(self, station: str, user_id: int | None) -> float | None:
        """When the user last acted at the station as its operator, if they are it."""
        with self._lock:
            p = self._present.get(station)
            return p.last_active if p is not None and p.user_id == user_id else None

    def leave(self, user_id: int) -> None:
        """The user signed out: they are nobody's operator and their PIN sign-ins are over."""
        with self._lock:
            for station in [s for s, p in self._present.items() if p.user_id == user_id]:
                del self._present[station]
            for pins in self._pins.values():
                pins.pop(user_id, None)

    def _note_pin(self, station: str, user_id: int, pin_at: float | None, now: float) -> None:
        if pin_at:
            self._pins.setdefault(station, {})[user_id] = (pin_at, now)

    def _fresh(self, p: Presence) -> bool:
        return self.clock() - p.last_active <= self.idle_s
