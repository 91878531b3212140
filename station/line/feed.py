"""Each station's feed: the serial scans' results and scanner events its screen polls for."""

import threading
import time
from collections import deque
from dataclasses import dataclass, field


@dataclass
class FeedEntry:
    """One thing that happened at a station: a serial scan's result, or a scanner's state."""

    seq: int
    station: str
    kind: str  # "result" or "status"
    data: dict
    at: float = field(default_factory=time.monotonic)


class ScanFeed:
    """Each station's latest serial-scan results and scanner events, numbered in order."""

    def __init__(self, keep: int = 50):
        self._lock = threading.Condition()
        # Numbers start from the time in ms, so a screen left open across a restart of the
        # station, still asking "after N", sees the new process's results as newer.
        self._seq = int(time.time() * 1000)
        self._keep = keep
        self._entries: dict[str, deque[FeedEntry]] = {}

    def publish(self, station: str, kind: str, data: dict) -> int:
        """Add an entry for the station; its sequence number."""
        with self._lock:
            self._seq += 1
            entry = FeedEntry(self._seq, station, kind, data)
            self._entries.setdefault(station, deque(maxlen=self._keep)).append(entry)
            self._lock.notify_all()
            return entry.seq

    def since(self, station: str, after: int) -> list[FeedEntry]:
        """The station's entries after sequence number `after`, oldest first."""
        with self._lock:
            return [e for e in self._entries.get(station, ()) if e.seq > after]

    def wait(self, station: str, after: int, timeout: float) -> bool:
        """Wait up to `timeout` s for a station entry after `after`; True when one is there."""
        end = time.monotonic() + timeout
        with self._lock:
            while not any(e.seq > after for e in self._entries.get(station, ())):
                left = end - time.monotonic()
                if left <= 0:
                    return False
                self._lock.wait(left)
            return True

    def last_seq(self) -> int:
        """The newest sequence number given out (a new page starts after it)."""
        with self._lock:
            return self._seq
