"""Barcode scanners on serial ports: a reader thread that owns the port, framing, double reads.

A `ScannerPort` is a `PortReader` thread that owns the port (opened exclusively, reopened with
backoff after an unplug), a splitter on CR, LF, CRLF or TAB with a length cap, and a filter for
double reads. It hands each new label to `on_scan` and each change of state to `on_state`; what
a label means is the station desk's business (station.line.desk).
"""

import logging
import time
from collections.abc import Callable

from station.devices.serial_lines import LineSplitter, PortReader

log = logging.getLogger(__name__)
TERMINATORS = {"any": True, "eol": False, "none": False}  # does TAB end a scan?


class ScanSplitter(LineSplitter):
    """A LineSplitter that also knows when its last byte came and whether a line is pending."""

    def __init__(self, max_length: int, tab: bool, clock: Callable[[], float]):
        super().__init__(max_length, tab)
        self.clock, self.last_byte, self.pending = clock, 0.0, False
        self._ends = b"\r\n\t" if tab else b"\r\n"

    def feed(self, data: bytes) -> list:
        """The complete lines in `data`, noting whether a partial one is left."""
        if data:
            self.last_byte = self.clock()
            self.pending = data[-1] not in self._ends
        return super().feed(data)

    def flush(self) -> list:
        """The partial line as a whole one."""
        self.pending = False
        return super().flush()

    def reset(self) -> None:
        """Forget the partial line."""
        self.pending = False
        super().reset()


class DoubleReads:
    """The same label read again within `window_s` of its last read counts once (Zebra's
    "timeout between decodes, same symbol"); a rescan after a quiet window is a new scan."""

    def __init__(self, window_s: float = 1.0, clock: Callable[[], float] = time.monotonic):
        self.window_s, self.clock = window_s, clock
        self._last: tuple[str, float] | None = None

    def fresh(self, code: str) -> bool:
        """True when this read is a scan; a double read of the last label is not."""
        now = self.clock()
        last, self._last = self._last, (code, now)
        return last is None or last[0] != code or now - last[1] > self.window_s


class ScannerPort:
    """One serial scanner: owns its port through a reader thread, hands each new label on."""

    def __init__(self, name: str, url: str, on_scan: Callable[[object], None],
                 on_state: Callable[[str, str], None] | None = None, *, baudrate: int = 9600,
                 parity: str = "N", terminator: str = "any", double_read_s: float = 1.0,
                 max_bytes: int = 1024, settle_s: float = 0.3, quiet_s: float = 0.5,
                 backoff: tuple[float, float] = (0.5, 5.0),
                 clock: Callable[[], float] = time.monotonic):
        if terminator not in TERMINATORS:
            raise ValueError(f"terminator must be one of {', '.join(TERMINATORS)}")
        self.name, self.url, self.terminator = name, url, terminator
        self.on_scan, self.on_state, self.clock = on_scan, on_state, clock
        # Bytes a device sends while being plugged in (or a probe's echo) are no scan.
        self.settle_s, self.quiet_s = settle_s, quiet_s
        self.state, self.detail, self.connected_at = "starting", "", 0.0
        self.double_reads = DoubleReads(double_read_s, clock)
        self.reader = PortReader(url, self._line, self._status, baudrate=baudrate, parity=parity,
                                 max_length=max_bytes, tab=TERMINATORS[terminator],
                                 on_idle=self._idle, backoff=backoff, name=name)
        self.reader.splitter = self.splitter = ScanSplitter(max_bytes, TERMINATORS[terminator],
                                                            clock)

    def start(self) -> "ScannerPort":
        """Start reading the port in the background."""
        self.reader.start()
        return self

    def stop(self) -> None:
        """Stop reading and release the port."""
        self.reader.stop()

    def _status(self, state: str, detail: str) -> None:
        if state == "connected":
            self.connected_at = self.clock()
            self.double_reads = DoubleReads(self.double_reads.window_s, self.clock)
        self.state, self.detail = state, detail
        log.info("scanner %s %s %s", self.name, state, detail)
        if self.on_state is not None:
            self.on_state(state, detail)

    def _line(self, line) -> None:
        """One line off the port: dropped if it is noise or a double read, else a scan."""
        if self.clock() - self.connected_at < self.settle_s:
            log.warning("scanner %s: %r arrived while it was being plugged in; dropped",
                        self.name, line)
            return
        if isinstance(line, str):
            text = line.strip(" \t")
            if not any(ch.isprintable() and ch not in " \ufffd" for ch in text):
                if text:
                    log.warning("scanner %s: noise %r dropped", self.name, line)
                return  # an empty line, or nothing legible: nothing was scanned
            if not self.double_reads.fresh(text):
                log.info("scanner %s: double read of %r dropped", self.name, text)
                return
        self.on_scan(line)

    def _idle(self) -> None:
        """Nothing came for a while: a partial line is whole (no terminator) or a leftover."""
        if not self.splitter.pending or self.clock() - self.splitter.last_byte < self.quiet_s:
            return
        if self.terminator == "none":
            for line in self.splitter.flush():
                self._line(line)
        else:
            log.warning("scanner %s: a partial line without its terminator was dropped",
                        self.name)
            self.splitter.reset()


def plain_detail(detail: str) -> str:
    """A port error as the floor understands it."""
    if "exclusively lock" in detail or "Resource busy" in detail or "Access is denied" in detail:
        return "the port is in use by another program"
    if "No such file" in detail or "could not open port" in detail.lower():
        return "the port is not there (unplugged?)"
    return detail
