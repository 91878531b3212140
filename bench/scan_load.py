"""Scan load: the station's POST /api/v1/scans under load, against a floor baseline.

Starts the real station (run.py: waitress) on a fresh SQLite file, seeds a line through the API,
and starts bench/floor_app.py (Flask + sqlite3, one durable INSERT per POST, same server and
thread count). Then, for each server in turn:

1. closed loop: N client threads, each with its own keep-alive connection, POST scans back to
   back for a fixed time (each scan accepted: a fresh board/step); scans/s, p50, p99;
2. open loop: scans offered on a fixed schedule (default 100/s), latency counted from the
   moment each scan was due, so a stalled server cannot hide its queue (no coordinated
   omission); p50, p99 against the 25 ms target.

Everything listens on 127.0.0.1 only. Run: .venv/bin/python bench/scan_load.py [--help]
"""

import argparse
import http.client
import json
import math
import os
import platform
import queue
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

HOST = "127.0.0.1"
ROUTE = ["PRINT", "SPI", "PLACE", "REFLOW", "AOI", "FCT", "QA", "PACK"]
SCANNED = ROUTE[:ROUTE.index("FCT")]  # FCT is passed by a test result, not by a scan
PEPPER = "bench-pepper"
TARGET_P99_MS = 25.0


@dataclass
class Result:
    """What one phase against one server measured."""

    latencies: list[float] = field(default_factory=list)  # seconds, successful scans only
    errors: Counter = field(default_factory=Counter)
    seconds: float = 0.0
    late_sends: int = 0  # open loop: scans the client itself sent over 5 ms late

    @property
    def rate(self) -> float:
        return len(self.latencies) / self.seconds if self.seconds else 0.0

    def pct(self, p: float) -> float:
        """The p-th percentile latency in ms (nearest rank)."""
        if not self.latencies:
            return math.nan
        ordered = sorted(self.latencies)
        return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)] * 1000


class Client:
    """One keep-alive HTTP/1.1 connection that POSTs JSON."""

    def __init__(self, port: int, headers: dict):
        self.port, self.headers = port, {"Content-Type": "application/json", **headers}
        self.conn = http.client.HTTPConnection(HOST, port, timeout=30)

    def post(self, path: str, body: dict) -> tuple[int, dict]:
        """Send one request and read the whole answer; reconnect once if the server closed."""
        data = json.dumps(body).encode()
        for attempt in (1, 2):
            try:
                self.conn.request("POST", path, data, self.headers)
                resp = self.conn.getresponse()
                raw = resp.read()
                return resp.status, json.loads(raw) if raw else {}
            except (http.client.HTTPException, ConnectionError):
                self.conn.close()
                self.conn = http.client.HTTPConnection(HOST, self.port, timeout=30)
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def close(self) -> None:
        self.conn.close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def start_server(name: str, cmd: list[str], env: dict, port: int, log_dir: Path,
                 probe: str) -> subprocess.Popen:
    """Start a server process and wait until it answers `probe`."""
    log = (log_dir / f"{name}.log").open("wb")
    proc = subprocess.Popen(cmd, cwd=ROOT, env={**os.environ, **env}, stdout=log,
                            stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            sys.exit(f"{name} exited early; see {log.name}:\n"
                     + (log_dir / f"{name}.log").read_text()[-3000:])
        try:
            conn = http.client.HTTPConnection(HOST, port, timeout=2)
            conn.request("GET", probe)
            conn.getresponse().read()
            conn.close()
            return proc
        except OSError:
            time.sleep(0.1)
    proc.kill()
    sys.exit(f"{name} did not answer on port {port} within 60 s")


def stop_server(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def create_users(database_url: str, instance: Path) -> dict[str, str]:
    """An admin and an operator with API tokens, straight through station.people."""
    from sqlmodel import Session

    from station import create_app, people

    app = create_app({"DATABASE_URL": database_url, "INSTANCE_PATH": str(instance),
                      "SECRET_KEY": "bench-secret", "PIN_PEPPER": PEPPER})
    engine = app.extensions["engine"]
    with Session(engine) as session:
        people.create_user(session, "bench-admin", "admin", pepper=PEPPER, password="bench-pw")
        people.create_user(session, "bench-op", "operator", pepper=PEPPER, badge="90001",
                           pin="1234")
        tokens = {"admin": people.create_token(session, "bench-admin"),
                  "operator": people.create_token(session, "bench-op")}
    engine.dispose()
    return tokens


def seed_line(port: int, admin_token: str, boards: int) -> list[str]:
    """A customer, a product and its route, stations, an order and its boards, by the API."""
    api = Client(port, {"Authorization": f"Bearer {admin_token}"})
    calls = [("/api/v1/customers", {"code": "BENCH", "name": "Bench Ltd", "terms": "prepaid"}),
             ("/api/v1/products", {"code": "BENCH-PCB", "revision": "A", "route": ROUTE})]
    calls += [("/api/v1/stations", {"id": f"B1-{step}-1", "type": step, "line": "B1"})
              for step in ROUTE]
    calls.append(("/api/v1/orders", {"number": "WO-BENCH", "customer": "BENCH",
                                     "product": "BENCH-PCB", "revision": "A",
                                     "quantity": boards, "unit_price": "1.00",
                                     "paste": "SAC305"}))
    for path, body in calls:
        status, answer = api.post(path, body)
        if status != 201:
            sys.exit(f"seeding {path} failed: {status} {answer}")
    status, answer = api.post("/api/v1/orders/WO-BENCH/boards", {"count": boards})
    api.close()
    if status != 201:
        sys.exit(f"registering boards failed: {status} {answer}")
    return answer["serials"]


def scan_body(serial: str, step: str) -> dict:
    return {"station": f"B1-{step}-1", "code": serial}


def closed_work(serials: list[str], clients: int) -> list[list[dict]]:
    """Each client's own boards, each board through every scanned step in route order."""
    return [[scan_body(serial, step) for serial in serials[i::clients] for step in SCANNED]
            for i in range(clients)]


def open_work(serials: list[str], block: int) -> list[dict]:
    """Scans in blocks of `block` boards, step by step, so a board's next step is due a whole
    block of scans after its last one and concurrent senders never overtake a board's route."""
    work = []
    for start in range(0, len(serials), block):
        chunk = serials[start:start + block]
        work += [scan_body(serial, step) for step in SCANNED for serial in chunk]
    return work


def closed_loop(port: int, headers: dict, work: list[list[dict]], warmup: float,
                seconds: float) -> Result:
    """Every client sends its next scan as soon as the last is answered; count a window."""
    result, lock = Result(), threading.Lock()
    t0 = time.perf_counter()
    window = (t0 + warmup, t0 + warmup + seconds)
    ran_out = []

    def client(items):
        conn = Client(port, headers)
        mine, errs = [], Counter()
        for body in items:
            start = time.perf_counter()
            if start >= window[1]:
                break
            status, answer = conn.post("/api/v1/scans", body)
            end = time.perf_counter()
            if start >= window[0] and end <= window[1]:
                if status == 201:
                    mine.append(end - start)
                else:
                    errs[answer.get("error", {}).get("code", status)] += 1
        else:
            ran_out.append(True)
        conn.close()
        with lock:
            result.latencies += mine
            result.errors += errs

    threads = [threading.Thread(target=client, args=(items,)) for items in work]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    result.seconds = seconds
    if ran_out:
        print(f"  warning: {len(ran_out)} clients ran out of boards before the window ended;"
              " raise --boards", file=sys.stderr)
    return result


def open_loop(port: int, headers: dict, work: list[dict], rate: float, seconds: float,
              senders: int) -> Result:
    """Offer scans on a fixed schedule; latency runs from when each scan was due."""
    result, lock = Result(), threading.Lock()
    count = min(len(work), int(rate * seconds))
    due_q: queue.Queue = queue.Queue()

    def sender():
        conn = Client(port, headers)
        while (item := due_q.get()) is not None:
            due, body = item
            sent = time.perf_counter()
            status, answer = conn.post("/api/v1/scans", body)
            end = time.perf_counter()
            with lock:
                if sent - due > 0.005:
                    result.late_sends += 1
                if status == 201:
                    result.latencies.append(end - due)
                else:
                    result.errors[answer.get("error", {}).get("code", status)] += 1
        conn.close()

    threads = [threading.Thread(target=sender) for _ in range(senders)]
    for t in threads:
        t.start()
    t0 = time.perf_counter() + 0.05
    for k in range(count):
        due = t0 + k / rate
        pause = due - time.perf_counter()
        if pause > 0:
            time.sleep(pause)
        due_q.put((due, work[k]))
    for _ in threads:
        due_q.put(None)
    for t in threads:
        t.join()
    result.seconds = count / rate
    return result


def row(phase: str, system: str, r: Result) -> str:
    errors = sum(r.errors.values())
    return (f"{phase:<22} {system:<8} {len(r.latencies):>7} {errors:>6} {r.rate:>9.1f} "
            f"{r.pct(50):>8.2f} {r.pct(99):>8.2f} {r.pct(100):>8.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description="Scan throughput and latency: station vs floor")
    parser.add_argument("--threads", type=int, default=8,
                        help="waitress threads of both servers, and closed-loop clients")
    parser.add_argument("--seconds", type=float, default=10, help="closed-loop window per server")
    parser.add_argument("--warmup", type=float, default=1.5, help="closed-loop warm-up")
    parser.add_argument("--rate", type=float, default=100, help="open-loop scans per second")
    parser.add_argument("--open-seconds", type=float, default=15, help="open-loop duration")
    parser.add_argument("--boards", type=int, default=3000, help="boards registered")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="scan_load-"))
    station_url = f"sqlite:///{tmp / 'station.db'}"
    print(f"scan_load: {os.cpu_count()} CPUs, Python {platform.python_version()}, "
          f"SQLite {sqlite3.sqlite_version}, {args.threads} server threads; files in {tmp}")

    tokens = create_users(station_url, tmp / "instance")
    sport, fport = free_port(), free_port()
    station = start_server(
        "station", [sys.executable, "run.py", "--host", HOST, "--port", str(sport),
                    "--threads", str(args.threads)],
        {"DATABASE_URL": station_url, "SECRET_KEY": "bench-secret", "PIN_PEPPER": PEPPER,
         "MQTT_URL": ""}, sport, tmp, "/api/v1/openapi.json")
    floor = start_server(
        "floor", [sys.executable, "bench/floor_app.py", str(tmp / "floor.db"), "--port",
                  str(fport), "--threads", str(args.threads)], {}, fport, tmp, "/ping")
    results = {}
    try:
        serials = seed_line(sport, tokens["admin"], args.boards)
        # Closed loop takes boards from the front, open loop from the back: never the same.
        need_open = math.ceil(args.rate * args.open_seconds / len(SCANNED)) + 1
        closed_serials, open_serials = serials[:-need_open], serials[-need_open:]
        headers = {"Authorization": f"Bearer {tokens['operator']}"}
        servers = {"floor": fport, "station": sport}
        for name, port in servers.items():
            print(f"closed loop: {args.threads} clients against {name} for "
                  f"{args.warmup + args.seconds:.0f} s ...", file=sys.stderr)
            results["closed", name] = closed_loop(port, headers,
                                                  closed_work(closed_serials, args.threads),
                                                  args.warmup, args.seconds)
        for name, port in servers.items():
            print(f"open loop: {args.rate:.0f}/s against {name} for {args.open_seconds:.0f} s"
                  " ...", file=sys.stderr)
            results["open", name] = open_loop(port, headers,
                                              open_work(open_serials, int(3 * args.rate)),
                                              args.rate, args.open_seconds, 2 * args.threads)
    finally:
        stop_server(station)
        stop_server(floor)

    closed_phase = f"closed, {args.threads} clients"
    open_phase = f"open, {args.rate:.0f}/s offered"
    print()
    print(f"{'phase':<22} {'server':<8} {'scans':>7} {'errors':>6} {'scans/s':>9} "
          f"{'p50 ms':>8} {'p99 ms':>8} {'max ms':>8}")
    print("-" * 83)
    for (phase, name), r in results.items():
        print(row(closed_phase if phase == "closed" else open_phase, name, r))
    print("-" * 83)
    cf, cs = results["closed", "floor"], results["closed", "station"]
    print(f"station/floor, closed loop: throughput {cs.rate / cf.rate:.2f}x, "
          f"p50 {cs.pct(50) / cf.pct(50):.1f}x, p99 {cs.pct(99) / cf.pct(99):.1f}x")
    os_ = results["open", "station"]
    verdict = "met" if os_.pct(99) < TARGET_P99_MS else "MISSED"
    print(f"station at {args.rate:.0f}/s: p99 {os_.pct(99):.2f} ms, target < {TARGET_P99_MS:.0f}"
          f" ms: {verdict}")
    for (phase, name), r in results.items():
        if r.errors:
            print(f"  {phase} {name} errors: {dict(r.errors)}")
        if r.late_sends:
            print(f"  {phase} {name}: the client sent {r.late_sends} scans over 5 ms late")
    if args.keep:
        print(f"kept {tmp}")
    else:
        for path in sorted(tmp.rglob("*"), reverse=True):
            path.rmdir() if path.is_dir() else path.unlink()
        tmp.rmdir()


if __name__ == "__main__":
    main()
