"""The profiler on a serial port: lines gathered into runs, each stored when the run ends."""

import logging
import threading
import time
from collections.abc import Callable

from sqlmodel import Session

from station.devices.profiler import serial_line_ends_run, serial_line_starts_run
from station.devices.serial_lines import Overlong, PortReader

log = logging.getLogger(__name__)


class ProfilerCapture:
    """Collects a profiler's lines into a run that ends at the device's end line or when quiet."""

    def __init__(self, on_run: Callable[[str], None], quiet_s: float = 10.0,
                 clock: Callable[[], float] = time.monotonic, max_lines: int = 100_000):
        self.on_run, self.quiet_s, self.clock, self.max_lines = on_run, quiet_s, clock, max_lines
        self._lines: list[str] = []
        self._last = 0.0
        self._lock = threading.Lock()

    def line(self, text) -> None:
        """Take one line from the port (an overlong one is kept as a marked bad line)."""
        if isinstance(text, Overlong):
            text = f"# overlong line of {text.length} bytes dropped"
        with self._lock:
            if serial_line_starts_run(text):
                self._lines.clear()
            if len(self._lines) < self.max_lines:
                self._lines.append(text)
            self._last = self.clock()
        if serial_line_ends_run(text):
            self._finish()

    def idle(self) -> None:
        """Called while nothing arrives: a run that went quiet long enough is finished."""
        with self._lock:
            quiet = bool(self._lines) and self.clock() - self._last >= self.quiet_s
        if quiet:
            self._finish()

    def live(self) -> list[str]:
        """The lines of the run in progress (for the live curve)."""
        with self._lock:
            return list(self._lines)

    def _finish(self) -> None:
        with self._lock:
            lines, self._lines = self._lines, []
        if lines:
            self.on_run("\n".join(lines) + "\n")


class ProfilerDevice:
    """One profiler: its port reader, its capture, and what its screen shows."""

    def __init__(self, name: str, url: str, store_run: Callable[[str, dict], object], *,
                 baudrate: int = 115200, quiet_s: float = 10.0, defaults: dict | None = None):
        self.name, self.url = name, url
        self.defaults = dict(defaults or {})  # paste, profile_board, oven, recipe for the next run
        self.state, self.detail = "starting", ""
        self.last_run_id = None
        self.last_error = None
        self._store_run = store_run
        self.capture = ProfilerCapture(self._run_done, quiet_s=quiet_s)
        self.reader = PortReader(url, self.capture.line, self._status, baudrate=baudrate,
                                 on_idle=self.capture.idle, flush_after=1.0, name=name)

    def start(self) -> "ProfilerDevice":
        """Start reading the port in the background."""
        self.reader.start()
        return self

    def stop(self) -> None:
        """Stop reading and release the port."""
        self.reader.stop()

    def _status(self, state: str, detail: str) -> None:
        self.state, self.detail = state, detail
        log.info("profiler %s %s %s", self.name, state, detail)

    def _run_done(self, text: str) -> None:
        try:
            run = self._store_run(text, dict(self.defaults))
            self.last_run_id, self.last_error = getattr(run, "id", None), None
        except Exception as err:  # a bad recording is reported, never a dead reader
            log.exception("profiler %s: run not stored", self.name)
            self.last_error = str(err)



def start_profilers(app) -> dict[str, ProfilerDevice]:
    """Start a reader for each profiler in config/station.toml; each run is stored as it ends."""
    devices = {}
    settings = app.config["SETTINGS"]
    for spec in settings.profilers:
        if not spec.url:
            continue
        name = spec.name

        def store(text: str, meta: dict, name=name):
            from station.readiness import profiles

            with Session(app.extensions["engine"], expire_on_commit=False) as session:
                return profiles.record_run(
                    session, None, text, meta.get("paste") or "SAC305", app.extensions["pastes"],
                    profile_board=meta.get("profile_board") or None,
                    oven=meta.get("oven") or None, recipe=meta.get("recipe") or None,
                    source=name, slope_window_s=settings.reflow.slope_window_s)

        defaults = {k: getattr(spec, k) or None for k in ("paste", "profile_board", "oven",
                                                          "recipe")}
        devices[name] = ProfilerDevice(name, spec.url, store, baudrate=spec.baud,
                                       quiet_s=spec.quiet_s, defaults=defaults).start()
    app.extensions["profilers"] = devices
    return devices
