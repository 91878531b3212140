"""Lines from a serial port: a pure splitter, and a reader thread that owns one port."""

import contextlib
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import serial

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Overlong:
    """A line longer than the cap: dropped whole, reported by its length."""

    length: int


class LineSplitter:
    """Split a byte stream into lines on CR, LF or CRLF (and TAB when asked), with a length cap."""

    def __init__(self, max_length: int = 1024, tab: bool = False):
        self.max_length, self.tab = max_length, tab
        self._buf = bytearray()
        self._overflow = 0
        self._after_cr = False

    def feed(self, data: bytes) -> list:
        """The complete lines in `data` (str, or Overlong for a line over the cap)."""
        out = []
        for byte in data:
            if byte == 0x0A and self._after_cr:  # the LF of a CRLF split across reads
                self._after_cr = False
                continue
            self._after_cr = byte == 0x0D
            if byte in (0x0A, 0x0D) or (self.tab and byte == 0x09):
                out.extend(self._end_line())
            elif self._overflow or len(self._buf) >= self.max_length:
                self._overflow += 1
            else:
                self._buf.append(byte)
        return out

    def _end_line(self) -> list:
        if self._overflow:
            length, self._overflow = len(self._buf) + self._overflow, 0
            self._buf.clear()
            return [Overlong(length)]
        text = self._buf.decode("utf-8", errors="replace")
        self._buf.clear()
        return [text] if text else []

    def flush(self) -> list:
        """The partial line so far, as if its terminator had come (for devices that end late)."""
        return self._end_line() if self._buf or self._overflow else []

    def reset(self) -> None:
        """Forget a partial line (the device went away mid-line: no phantom line)."""
        self._buf.clear()
        self._overflow, self._after_cr = 0, False


class PortReader(threading.Thread):
    """Owns one serial port: reads lines, reports its state, reopens with backoff when unplugged."""

    def __init__(self, url: str, on_line: Callable, on_status: Callable[[str, str], None],
                 *, baudrate: int = 9600, parity: str = "N", max_length: int = 1024,
                 tab: bool = False, on_idle: Callable[[], None] | None = None,
                 flush_after: float | None = None,
                 backoff: tuple[float, float] = (0.5, 10.0), name: str = "port"):
        super().__init__(name=f"reader-{name}", daemon=True)
        self.url, self.baudrate, self.parity = url, baudrate, parity
        self.on_line, self.on_status, self.on_idle = on_line, on_status, on_idle
        self.splitter = LineSplitter(max_length, tab)
        self.backoff = backoff
        # The T-962 starts each line with its newline, so its last line waits for the next one:
        # a reader with flush_after takes a partial line as whole after that many quiet seconds.
        self.flush_after = flush_after
        self._stop_event = threading.Event()
        self.state = "starting"

    def stop(self, timeout: float = 2.0) -> None:
        """Ask the thread to end and wait for it."""
        self._stop_event.set()
        if self.is_alive():
            self.join(timeout)

    def _status(self, state: str, detail: str = "") -> None:
        if state != self.state:
            self.state = state
            try:
                self.on_status(state, detail)
            except Exception:  # a broken listener must not kill the port
                log.exception("status listener failed")

    def run(self) -> None:
        """Open, read until the device goes away, wait, reopen; until stopped."""
        delay = self.backoff[0]
        while not self._stop_event.is_set():
            try:
                port = serial.serial_for_url(self.url, baudrate=self.baudrate, parity=self.parity,
                                             timeout=0.1, exclusive=True)
            except (serial.SerialException, OSError, ValueError) as err:
                self._status("disconnected", str(err))
                self._wait(delay)
                delay = min(delay * 2, self.backoff[1])
                continue
            delay = self.backoff[0]
            self._status("connected", self.url)
            try:
                self._read(port)
            except (serial.SerialException, OSError) as err:
                self._status("disconnected", str(err))
            finally:
                self.splitter.reset()
                with contextlib.suppress(serial.SerialException, OSError):
                    port.close()

    def _wait(self, seconds: float) -> None:
        """Wait before reopening, still ticking the idle handler (a run can time out unplugged)."""
        end = time.monotonic() + seconds
        while time.monotonic() < end and not self._stop_event.is_set():
            if self.on_idle is not None:
                self._deliver_idle()
            self._stop_event.wait(0.1)

    def _read(self, port) -> None:
        last = time.monotonic()
        while not self._stop_event.is_set():
            data = port.read(max(1, port.in_waiting))
            if data:
                last = time.monotonic()
                for line in self.splitter.feed(data):
                    self._deliver(line)
                continue
            if self.flush_after is not None and time.monotonic() - last >= self.flush_after:
                for line in self.splitter.flush():
                    self._deliver(line)
            if self.on_idle is not None:
                self._deliver_idle()

    def _deliver(self, line) -> None:
        try:
            self.on_line(line)
        except Exception:  # one bad line must never stop the reader
            log.exception("line handler failed on %r", line)

    def _deliver_idle(self) -> None:
        try:
            self.on_idle()
        except Exception:
            log.exception("idle handler failed")

