"""Scan load: the station's POST /api/v1/scans under load, against two references.

Starts the real station (run.py: waitress) on a fresh SQLite file and seeds a line through the
API, then the references, each on its own file with the same server and thread count:
bench/orm_app.py (Flask + SQLModel, one row committed per POST through a Session on the
station's engine: the target's reference) and bench/floor_app.py (Flask + raw sqlite3, one
durable INSERT per POST: the least a scan can cost, no target). Then, for each server in turn:

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
import shutil
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
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
TARGET_RATIO = 1 / 3  # the station's closed-loop throughput against the ORM reference's
BETTER_RATIO = 0.5
REFERENCES = {"orm": "bench/orm_app.py", "floor": "bench/floor_app.py"}


@dataclass
class Result:
    """What one phase against one server measured."""

    latencies: list[float] = field(default_factory=list)  # seconds, successful scans only
    errors: Counter = field(default_factory=Counter)
    seconds: float = 0.0
    late_sends: int = 0  # open loop: scans the client itself sent over 5 ms late
    sent: int = 0  # every scan answered, warm-up included (for CPU per scan)
    cpu: dict | None = None  # CPU seconds: server, client, other processes, and the wall time

    @property
    def rate(self) -> float:
        return len(self.latencies) / self.seconds if self.seconds else 0.0

    def cpu_ms_per_scan(self, who: str = "server") -> float:
        return 1000 * self.cpu[who] / self.sent if self.cpu and self.sent else math.nan

    def other_load(self) -> float:
        """Other processes' CPU use during the run, in CPUs (1.0: one core fully busy)."""
        return self.cpu["other"] / self.cpu["wall"] if self.cpu else math.nan

    def pct(self, p: float) -> float:
        """The p-th percentile latency in ms (nearest rank)."""
        if not self.latencies:
            return math.nan
        ordered = sorted(self.latencies)
        return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)] * 1000


class Client:
    """One keep-alive HTTP/1.1 connection that speaks JSON (and multipart for uploads)."""

    def __init__(self, port: int, headers: dict):
        self.port, self.headers = port, headers
        self.conn = http.client.HTTPConnection(HOST, port, timeout=30)

    def request(self, method: str, path: str, data: bytes | None = None,
                content_type: str = "application/json") -> tuple[int, dict]:
        """Send one request and read the whole answer; reconnect once if the server closed."""
        headers = {**self.headers, "Content-Type": content_type} if data else self.headers
        for attempt in (1, 2):
            try:
                self.conn.request(method, path, data, headers)
                resp = self.conn.getresponse()
                raw = resp.read()
                return resp.status, json.loads(raw) if raw else {}
            except (http.client.HTTPException, ConnectionError):
                self.conn.close()
                self.conn = http.client.HTTPConnection(HOST, self.port, timeout=30)
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def post(self, path: str, body: dict) -> tuple[int, dict]:
        return self.request("POST", path, json.dumps(body).encode())

    def get(self, path: str) -> tuple[int, dict]:
        return self.request("GET", path)

    def upload(self, path: str, fields: dict[str, str],
               files: dict[str, tuple[str, bytes]]) -> tuple[int, dict]:
        """POST a multipart/form-data body."""
        boundary = uuid.uuid4().hex
        parts = [f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'
                 f"{value}\r\n".encode() for name, value in fields.items()]
        parts += [f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; '
                  f'filename="{filename}"\r\nContent-Type: application/octet-stream\r\n\r\n'
                  .encode() + content + b"\r\n" for name, (filename, content) in files.items()]
        data = b"".join(parts) + f"--{boundary}--\r\n".encode()
        return self.request("POST", path, data, f"multipart/form-data; boundary={boundary}")

    def close(self) -> None:
        self.conn.close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def fsync_ms(folder: Path, count: int = 200) -> tuple[float, float]:
    """p50 and p99 of an append plus fsync in `folder`: what every synchronous=FULL commit
    pays at least once; a slow or shared disk shows here first."""
    times = []
    with open(folder / "fsync.probe", "ab") as f:
        for _ in range(count):
            start = time.perf_counter()
            f.write(b"x" * 4096)
            f.flush()
            os.fsync(f.fileno())
            times.append(time.perf_counter() - start)
    (folder / "fsync.probe").unlink()
    times.sort()
    return times[count // 2] * 1000, times[math.ceil(0.99 * count) - 1] * 1000


def cpu_seconds(pid: int) -> float | None:
    """User plus system CPU seconds of a process so far (Linux /proc); None when unreadable."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def machine_busy() -> float | None:
    """CPU seconds the machine spent busy so far, all but idle and iowait; None off Linux."""
    try:
        with open("/proc/stat") as f:
            cpu = [int(x) for x in f.readline().split()[1:]]
    except OSError:
        return None
    return (sum(cpu) - cpu[3] - cpu[4]) / os.sysconf("SC_CLK_TCK")


class CpuMeter:
    """CPU seconds used by the machine, the server under test and this load generator (Linux
    /proc; elsewhere it measures nothing), so a busy machine shows in the report."""

    def __init__(self, server_pid: int):
        self.pid = server_pid
        self.start = self._read()

    def _read(self):
        busy, server = machine_busy(), cpu_seconds(self.pid)
        if busy is None or server is None:
            return None
        me = os.times()
        return time.perf_counter(), busy, server, me.user + me.system

    def stop(self) -> dict | None:
        """CPU seconds over the run: the server, the load generator, everything else."""
        end = self._read()
        if self.start is None or end is None:
            return None
        wall, busy, server, me = (b - a for a, b in zip(self.start, end, strict=True))
        return {"wall": wall, "server": server, "client": me,
                "other": max(0.0, busy - server - me)}


def start_server(name: str, cmd: list[str], env: dict, port: int, log_dir: Path,
                 probe: str) -> subprocess.Popen:
    """Start a server process and wait until it answers `probe`."""
    with (log_dir / f"{name}.log").open("wb") as log:
        proc = subprocess.Popen(cmd, cwd=ROOT, env={**os.environ, **env}, stdout=log,
                                stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            sys.exit(f"{name} exited early:\n"
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


def must(answer: tuple[int, dict], what: str, status: int = 201) -> dict:
    if answer[0] != status:
        sys.exit(f"seeding failed at {what}: {answer[0]} {answer[1]}")
    return answer[1]


def seed_line(port: int, tokens: dict[str, str], boards: int) -> list[str]:
    """A customer, a product and its route, stations, an order, its boards and every readiness
    item green (data package, stencil, profile run, blank PCBs), all through the API."""
    from station.demo import data_package, profile_csv  # the demo's ready order

    admin = Client(port, {"Authorization": f"Bearer {tokens['admin']}"})
    op = Client(port, {"Authorization": f"Bearer {tokens['operator']}"})
    product, number = {"product": "BENCH-PCB", "revision": "A"}, "WO-BENCH"
    must(admin.post("/api/v1/customers", {"code": "BENCH", "name": "Bench Ltd",
                                          "terms": "prepaid"}), "customer")
    must(admin.post("/api/v1/products", {"code": "BENCH-PCB", "revision": "A",
                                         "route": ROUTE}), "product")
    for step in ROUTE:
        must(admin.post("/api/v1/stations", {"id": f"B1-{step}-1", "type": step,
                                             "line": "B1"}), "station")
    must(admin.post("/api/v1/orders", {"number": number, "customer": "BENCH", **product,
                                       "quantity": boards, "unit_price": "1.00",
                                       "paste": "SAC305"}), "order")
    serials = must(admin.post(f"/api/v1/orders/{number}/boards", {"count": boards}),
                   "boards")["serials"]
    pkg = data_package()
    must(admin.upload("/api/v1/products/BENCH-PCB/A/data-package", {},
                      {"gerber": ("gerber.zip", pkg["gerber"]), "bom": ("bom.csv", pkg["bom"]),
                       "centroid": ("cpl.csv", pkg["centroid"])}), "data package")
    must(admin.post("/api/v1/stencils", {"id": "ST-BENCH", **product, "side": "top",
                                         "life_prints": 10**6, "clean_interval_prints": 10**6}),
         "stencil")
    must(op.post("/api/v1/stencils/ST-BENCH/tension", {"readings_Ncm": [40, 41, 39.5, 40.5]}),
         "stencil tension")
    must(op.post(f"/api/v1/orders/{number}/stencil", {"stencil": "ST-BENCH"}), "stencil mount")
    must(admin.post("/api/v1/profile-boards", {"id": "PB-BENCH", **product, "thermocouples": 2}),
         "profile board")
    must(op.upload("/api/v1/profiles", {"paste": "SAC305", "profile_board": "PB-BENCH"},
                   {"file": ("profile.csv", profile_csv().encode())}), "profile run")
    must(admin.post("/api/v1/pcb-lots", {"lot": "LOT-BENCH", **product, "quantity": boards}),
         "PCB lot")
    must(op.post(f"/api/v1/orders/{number}/pcb-lots", {"lot": "LOT-BENCH",
                                                       "quantity": boards}), "PCB allocation")
    ready = must(admin.get(f"/api/v1/orders/{number}/readiness"), "readiness", 200)
    if not ready["ready"]:
        sys.exit(f"the bench order is not ready: {ready['items']}")
    admin.close()
    op.close()
    return serials


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


def walk(conn: Client, items: list[dict], window: tuple[float, float]
         ) -> tuple[list[float], Counter, int, bool]:
    """POST scans back to back until the window's end: the latencies of accepted scans inside
    the window, the errors there, the scans sent, and whether the items ran out first."""
    latencies, errors, sent = [], Counter(), 0
    for body in items:
        start = time.perf_counter()
        if start >= window[1]:
            return latencies, errors, sent, False
        status, answer = conn.post("/api/v1/scans", body)
        end = time.perf_counter()
        sent += 1
        if start >= window[0] and end <= window[1]:
            if status == 201:
                latencies.append(end - start)
            else:
                errors[answer.get("error", {}).get("code", status)] += 1
    return latencies, errors, sent, True


def closed_loop(port: int, server_pid: int, headers: dict, work: list[list[dict]],
                warmup: float, seconds: float) -> Result:
    """Every client sends its next scan as soon as the last is answered; count a window."""
    result, lock = Result(), threading.Lock()
    t0 = time.perf_counter()
    window = (t0 + warmup, t0 + warmup + seconds)
    ran_out = []

    def client(items):
        conn = Client(port, headers)
        mine, errs, sent, short = walk(conn, items, window)
        if short:
            ran_out.append(True)
        conn.close()
        with lock:
            result.latencies += mine
            result.errors += errs
            result.sent += sent

    threads = [threading.Thread(target=client, args=(items,)) for items in work]
    meter = CpuMeter(server_pid)
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    result.cpu = meter.stop()
    result.seconds = seconds
    if ran_out:
        print(f"  warning: {len(ran_out)} clients ran out of boards before the window ended;"
              " raise --boards", file=sys.stderr)
    return result


def open_loop(port: int, server_pid: int, headers: dict, work: list[dict], rate: float,
              seconds: float, senders: int) -> Result:
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
                result.sent += 1
                if sent - due > 0.005:
                    result.late_sends += 1
                if status == 201:
                    result.latencies.append(end - due)
                else:
                    result.errors[answer.get("error", {}).get("code", status)] += 1
        conn.close()

    threads = [threading.Thread(target=sender) for _ in range(senders)]
    meter = CpuMeter(server_pid)
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
    result.cpu = meter.stop()
    result.seconds = count / rate
    return result


HEADER = (f"{'phase':<20} {'server':<8} {'scans':>6} {'errors':>6} {'scans/s':>8} "
          f"{'p50 ms':>7} {'p99 ms':>7} {'max ms':>7} {'CPU ms/scan':>11} {'others':>6}")


def row(phase: str, system: str, r: Result) -> str:
    """One line of the table; "others" is what other processes took, in CPUs."""
    return (f"{phase:<20} {system:<8} {len(r.latencies):>6} {sum(r.errors.values()):>6} "
            f"{r.rate:>8.1f} {r.pct(50):>7.2f} {r.pct(99):>7.2f} {r.pct(100):>7.2f} "
            f"{r.cpu_ms_per_scan():>11.2f} {r.other_load():>6.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(
        description="Scan throughput and latency: the station against an ORM app and a floor")
    parser.add_argument("--threads", type=int, default=8,
                        help="waitress threads of every server, and closed-loop clients")
    parser.add_argument("--seconds", type=float, default=10, help="closed-loop window per server")
    parser.add_argument("--warmup", type=float, default=1.5, help="closed-loop warm-up")
    parser.add_argument("--rate", type=float, default=100, help="open-loop scans per second")
    parser.add_argument("--open-seconds", type=float, default=15, help="open-loop duration")
    parser.add_argument("--boards", type=int, default=3000, help="boards registered per round")
    parser.add_argument("--rounds", type=int, default=1,
                        help="closed-loop rounds, every server in turn (a machine whose "
                             "speed drifts shows as a spread of ratios)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="scan_load-"))
    try:
        report(args, measure(args, tmp))
    finally:
        if args.keep:
            print(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)


def measure(args, tmp: Path) -> dict[tuple[str, str], Result]:
    """Set up the servers, run every phase against each, stop them; the results by phase."""
    station_url = f"sqlite:///{tmp / 'station.db'}"
    print(f"scan_load: {os.cpu_count()} CPUs, Python {platform.python_version()}, "
          f"SQLite {sqlite3.sqlite_version}, {args.threads} waitress threads per server, "
          f"files in {tmp}")
    p50, p99 = fsync_ms(tmp)
    print(f"disk: 4 KiB append + fsync p50 {p50:.2f} ms, p99 {p99:.2f} ms")
    threads = ["--threads", str(args.threads)]
    procs, servers = [], {}  # servers: name -> (port, pid), the references first
    try:
        for name, script in REFERENCES.items():
            port = free_port()
            procs.append(start_server(name, [sys.executable, script, str(tmp / f"{name}.db"),
                                             "--port", str(port), *threads], {}, port, tmp,
                                      "/ping"))
            servers[name] = port, procs[-1].pid
        tokens = create_users(station_url, tmp / "instance")
        port = free_port()
        procs.append(start_server(
            "station", [sys.executable, "run.py", "--host", HOST, "--port", str(port), *threads],
            {"DATABASE_URL": station_url, "SECRET_KEY": "bench-secret", "PIN_PEPPER": PEPPER,
             "MQTT_URL": ""}, port, tmp, "/api/v1/openapi.json"))
        servers["station"] = port, procs[-1].pid
        results: dict[tuple[str, str], Result] = {}
        serials = seed_line(port, tokens, args.boards * args.rounds)
        # Closed loop takes boards from the front, open loop from the back: never the same.
        need_open = math.ceil(args.rate * args.open_seconds / len(SCANNED)) + 1
        closed_serials, open_serials = serials[:-need_open], serials[-need_open:]
        headers = {"Authorization": f"Bearer {tokens['operator']}"}
        for k in range(args.rounds):
            mine = closed_serials[k::args.rounds]  # each round scans boards of its own
            for name, (port, pid) in servers.items():
                print(f"{phase_name('closed', args, k)} against {name} for "
                      f"{args.warmup + args.seconds:g} s ...", file=sys.stderr)
                work = closed_work(mine, args.threads)
                if name in REFERENCES:  # they keep no route: they may take the same scans again
                    work = [items * 10 for items in work]
                results[phase_name("closed", args, k), name] = closed_loop(
                    port, pid, headers, work, args.warmup, args.seconds)
        for name, (port, pid) in servers.items():
            print(f"{phase_name('open', args)} against {name} for {args.open_seconds:g} s ...",
                  file=sys.stderr)
            # A board's next step is due 3 s of schedule after its last one.
            results[phase_name("open", args), name] = open_loop(
                port, pid, headers, open_work(open_serials, int(3 * args.rate)), args.rate,
                args.open_seconds, 2 * args.threads)
        return results
    finally:
        for proc in procs:
            stop_server(proc)


def phase_name(phase: str, args, round_: int = 0) -> str:
    if phase == "closed":
        return f"closed, {args.threads} clients" + (f" #{round_ + 1}" if args.rounds > 1 else "")
    return f"open, {args.rate:g}/s offered"


def compare(args, results: dict[tuple[str, str], Result], ref: str) -> list[float]:
    """Print the station against `ref` round by round; the throughput ratios."""
    ratios = []
    for k in range(args.rounds):
        ref_r = results[phase_name("closed", args, k), ref]
        st = results[phase_name("closed", args, k), "station"]
        ratios.append(st.rate / ref_r.rate)
        print(f"station/{ref}, {phase_name('closed', args, k)}: throughput {ratios[-1]:.2f}x, "
              f"p50 {st.pct(50) / ref_r.pct(50):.1f}x, p99 {st.pct(99) / ref_r.pct(99):.1f}x, "
              f"server CPU per scan {st.cpu_ms_per_scan() / ref_r.cpu_ms_per_scan():.1f}x")
    return ratios


def summary(ratios: list[float]) -> str:
    """The median ratio, and its spread over several rounds."""
    spread = f" (median of {len(ratios)}: {min(ratios):.2f}-{max(ratios):.2f}x)" \
        if len(ratios) > 1 else ""
    return f"{statistics.median(ratios):.2f}x{spread}"


def verdict(met: bool) -> str:
    return "met" if met else "MISSED"


def report(args, results: dict[tuple[str, str], Result]) -> None:
    """Print the table, the ratios, the verdicts and anything that makes the figures doubtful."""
    print()
    print(HEADER)
    print("-" * len(HEADER))
    for (phase, name), r in results.items():
        print(row(phase, name, r))
    print("-" * len(HEADER))
    orm = compare(args, results, "orm")
    floor = compare(args, results, "floor")
    ratio = statistics.median(orm)
    print(f"station/orm throughput {summary(orm)} "
          f"(target >= {TARGET_RATIO:.2f}x: {verdict(ratio >= TARGET_RATIO)})")
    print(f"station/orm throughput, half is better (>= {BETTER_RATIO:g}x): "
          f"{verdict(ratio >= BETTER_RATIO)}")
    print(f"station/floor throughput {summary(floor)} (raw sqlite3, no target)")
    open_ = results[phase_name("open", args), "station"]
    print(f"station at {args.rate:g}/s offered: p99 {open_.pct(99):.2f} ms "
          f"(target < {TARGET_P99_MS:g} ms: {verdict(open_.pct(99) < TARGET_P99_MS)})")
    cpu = {name: statistics.median(r.cpu_ms_per_scan() for (phase, n), r in results.items()
                                   if n == name and phase.startswith("closed"))
           for name in (*REFERENCES, "station")}
    print("CPU ms/scan, closed loop, median: "
          + ", ".join(f"{name} {ms:.2f}" for name, ms in cpu.items()))
    print("CPU ms/scan: the server process's CPU time per answered scan. others: CPUs that "
          "other processes on this machine used meanwhile (1.00 = a whole core).")
    for (phase, name), r in results.items():
        if r.errors:
            print(f"  {phase}, {name}: errors {dict(r.errors)}")
        if r.late_sends:
            print(f"  {phase}, {name}: the load generator itself sent {r.late_sends} scans "
                  "over 5 ms late")
    busy = max(r.other_load() for r in results.values())
    if busy > 0.2:
        print(f"  warning: other processes used up to {busy:.2f} CPUs during the run; "
              "the figures are pessimistic, run again on a quiet machine")


if __name__ == "__main__":
    main()
