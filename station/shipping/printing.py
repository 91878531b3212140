"""Label printers on raw TCP (port 9100): a queue per printer that sends jobs one at a time."""

# Each printer has one worker thread, started with its first job; a web request only puts a job
# on the queue and never waits for the printer. A job is tried, on failure retried with a growing
# pause, and ends `sent` or `failed` with the reason in the floor's words. A Zebra takes one
# connection at a time, so the jobs of a printer go out in order, one connection each.

import itertools
import logging
import queue
import socket
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from station.errors import N_, InvalidInput, NotFound, StationError
from station.models import iso, utcnow

log = logging.getLogger(__name__)
STATES = ("queued", "sending", "sent", "failed")
KEEP_JOBS = 200  # finished jobs each printer keeps for its page
MAX_BACKOFF_S = 60.0
_ids = itertools.count(1)
_ids_lock = threading.Lock()


class NoPrinter(StationError):
    code, status = "NO_PRINTER", 404
    message = N_("No label printer {what}.")
    todo = N_("Choose a printer, or add a [[printers]] section for it in config/station.toml.")


class PrintFailed(Exception):
    """One attempt to send a job failed; the message says why, for the floor."""


@dataclass(frozen=True)
class PrinterConfig:
    """A printer from config/station.toml: where it is, its resolution, how to retry."""

    name: str
    host: str
    port: int = 9100
    dpmm: int = 8                  # dots per mm: 8 at 203 dpi, 12 at 300 dpi, 24 at 600 dpi
    stations: tuple[str, ...] = ()
    timeout_s: float = 5.0         # for the connection, each send and the status answer
    retries: int = 3               # attempts after the first
    backoff_s: float = 2.0         # pause before the first retry, doubled for each next one
    confirm: str = "status"        # "status": ask ~HS first and wait for it; "none": just send


@dataclass
class Job:
    """One thing to print: its ZPL, who asked, where it is, and how it went."""

    printer: str
    label: str
    data: bytes
    by: str = ""
    station: str | None = None
    id: int = 0
    state: str = "queued"
    attempts: int = 0
    error: str | None = None
    created_at: datetime = field(default_factory=utcnow)
    finished_at: datetime | None = None

    def view(self) -> dict:
        """The job as the API and the queue page show it."""
        return {"id": self.id, "printer": self.printer, "label": self.label, "state": self.state,
                "attempts": self.attempts, "error": self.error, "by": self.by,
                "station": self.station, "bytes": len(self.data),
                "created_at": iso(self.created_at), "finished_at": iso(self.finished_at)}


# --- One attempt ------------------------------------------------------------------------------

def status_problems(reply: bytes) -> list[str]:
    """What a Zebra's ~HS answer says is wrong: paper out, paused, head open, ribbon out."""
    frames = [f.strip(b"\r\n\x02") for f in reply.split(b"\x03") if f.strip(b"\r\n\x02")]
    if len(frames) < 2:
        return ["an unreadable status answer"]
    one, two = frames[0].split(b","), frames[1].split(b",")
    checks = ((one, 1, "paper out"), (one, 2, "paused"), (two, 2, "head open"),
              (two, 3, "ribbon out"))
    return [name for fields, i, name in checks if len(fields) > i and fields[i].strip() == b"1"]


def _read_status(sock: socket.socket) -> bytes:
    """The three STX..ETX frames a Zebra answers to ~HS."""
    reply = b""
    while reply.count(b"\x03") < 3:
        chunk = sock.recv(1024)
        if not chunk:
            raise ConnectionResetError("closed")
        reply += chunk
        if len(reply) > 4096:
            break
    return reply


def send_raw(cfg: PrinterConfig, data: bytes) -> None:
    """Send one job over one connection; PrintFailed says what went wrong."""
    where = f"{cfg.host}:{cfg.port}"
    stage = "connect"
    try:
        with socket.create_connection((cfg.host, cfg.port), timeout=cfg.timeout_s) as sock:
            if cfg.confirm == "status":
                stage = "status"
                sock.sendall(b"~HS")
                problems = status_problems(_read_status(sock))
                if problems:
                    raise PrintFailed(f"printer {cfg.name} reports {', '.join(problems)}")
            stage = "send"
            sock.sendall(data)
            sock.shutdown(socket.SHUT_WR)
            _drain(sock)
    except ConnectionRefusedError:
        raise PrintFailed(f"printer {cfg.name} at {where} refused the connection: is it on, "
                          "and is its address right?") from None
    except TimeoutError:
        what = {"connect": "did not accept a connection",
                "status": "accepted the connection but did not answer its status request",
                "send": "did not take the label data"}[stage]
        raise PrintFailed(f"printer {cfg.name} at {where} {what} within {cfg.timeout_s:g} s") \
            from None
    except (ConnectionResetError, BrokenPipeError):
        raise PrintFailed(f"printer {cfg.name} at {where} closed the connection "
                          f"during {stage}") from None
    except OSError as err:
        raise PrintFailed(f"printer {cfg.name} at {where}: {err.strerror or err}") from None


def _drain(sock: socket.socket) -> None:
    # Closing with unread bytes makes the kernel reset the connection, and a reset printer
    # may drop data it has not read yet: read what it still says, briefly, then close.
    sock.settimeout(0.2)
    try:
        while sock.recv(1024):
            pass
    except OSError:
        pass


# --- The queue --------------------------------------------------------------------------------

class PrintQueue:
    """One printer's jobs, sent in order by one worker thread, retried with backoff."""

    def __init__(self, cfg: PrinterConfig,
                 send: Callable[[PrinterConfig, bytes], None] = send_raw):
        self.cfg, self._send = cfg, send
        self._queue: queue.Queue[Job | None] = queue.Queue()
        self._jobs: deque[Job] = deque(maxlen=KEEP_JOBS)
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.last_error: str | None = None

    def submit(self, data: bytes | str, label: str, by: str = "",
               station: str | None = None) -> Job:
        """Queue a job and return at once; the worker sends it."""
        if isinstance(data, str):
            data = data.encode("utf-8")
        with _ids_lock:
            job_id = next(_ids)
        job = Job(self.cfg.name, label, data, by, station, id=job_id)
        with self._lock:
            if self._stop.is_set():
                raise InvalidInput(detail=f"printer {self.cfg.name} is shut down")
            self._jobs.append(job)
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, daemon=True,
                                                name=f"printer-{self.cfg.name}")
                self._thread.start()
        self._queue.put(job)
        return job

    def jobs(self) -> list[Job]:
        """The printer's recent jobs, newest first."""
        with self._lock:
            return list(reversed(self._jobs))

    def job(self, job_id: int) -> Job | None:
        """One of the printer's recent jobs."""
        return next((j for j in self.jobs() if j.id == job_id), None)

    @property
    def state(self) -> str:
        """idle, busy (jobs waiting or being sent) or failing (the last attempt failed)."""
        pending = any(j.state in ("queued", "sending") for j in self.jobs())
        if self.last_error:
            return "failing"
        return "busy" if pending else "idle"

    def view(self) -> dict:
        """The printer and its jobs, as the API and the page show them."""
        c = self.cfg
        return {"name": c.name, "host": c.host, "port": c.port, "dpmm": c.dpmm,
                "stations": list(c.stations), "state": self.state, "last_error": self.last_error,
                "jobs": [j.view() for j in self.jobs()]}

    def close(self, timeout: float = 5.0) -> None:
        """Stop the worker after the job in hand; jobs still waiting are failed."""
        self._stop.set()
        self._queue.put(None)
        if self._thread is not None:
            self._thread.join(timeout)

    def _run(self) -> None:
        while True:
            job = self._queue.get()
            if job is None or self._stop.is_set():
                if job is not None:
                    self._finish(job, "failed", "the station shut down before it was sent")
                if self._queue.empty():
                    return
                continue
            try:
                self._print(job)
            except Exception as err:  # a bug in one job must not kill the printer's worker
                log.exception("printer %s: job %s", self.cfg.name, job.id)
                self._finish(job, "failed", f"internal error: {err}")

    def _print(self, job: Job) -> None:
        for attempt in range(1, self.cfg.retries + 2):
            job.state, job.attempts = "sending", attempt
            try:
                self._send(self.cfg, job.data)
            except PrintFailed as err:
                job.error = self.last_error = str(err)
                log.warning("printer %s: job %s attempt %d: %s", self.cfg.name, job.id,
                            attempt, err)
                if attempt > self.cfg.retries:
                    break
                job.state = "queued"
                pause = min(MAX_BACKOFF_S, self.cfg.backoff_s * 2 ** (attempt - 1))
                if self._stop.wait(pause):
                    break
            else:
                self.last_error = None
                self._finish(job, "sent", None)
                return
        self._finish(job, "failed", f"{job.error} (gave up after {job.attempts} attempts)")

    def _finish(self, job: Job, state: str, error: str | None) -> None:
        job.state, job.error, job.finished_at = state, error, utcnow()


class Printers:
    """Every printer of the station by name, and which one serves which station."""

    def __init__(self, configs: list[PrinterConfig],
                 send: Callable[[PrinterConfig, bytes], None] = send_raw):
        self.queues = {c.name: PrintQueue(c, send) for c in configs}

    @classmethod
    def from_settings(cls, settings, **kwargs) -> "Printers":
        """The printers of config/station.toml's [[printers]] (checked by station.config)."""
        return cls([PrinterConfig(**dict(p)) for p in settings.printers], **kwargs)

    def choose(self, printer: str | None = None, station: str | None = None) -> PrintQueue:
        """The named printer, else the station's, else the only one; or NO_PRINTER."""
        if printer:
            if printer not in self.queues:
                raise NoPrinter(what=printer)
            return self.queues[printer]
        if station:
            for q in self.queues.values():
                if station in q.cfg.stations:
                    return q
        if len(self.queues) == 1:
            return next(iter(self.queues.values()))
        raise NoPrinter(what=f"for station {station}" if station else "is configured")

    def job(self, job_id: int) -> Job:
        """A recent job of any printer, or NOT_FOUND."""
        for q in self.queues.values():
            job = q.job(job_id)
            if job is not None:
                return job
        raise NotFound(what="print job", key=job_id)

    def view(self) -> list[dict]:
        """Every printer with its recent jobs."""
        return [q.view() for q in self.queues.values()]

    def close(self) -> None:
        """Stop every worker."""
        for q in self.queues.values():
            q.close()


def wait_for(job: Job, states=("sent", "failed"), timeout: float = 10.0) -> Job:
    """Wait until the job reaches one of `states` (for scripts and tests, never a request)."""
    deadline = time.monotonic() + timeout
    while job.state not in states and time.monotonic() < deadline:
        time.sleep(0.01)
    return job
