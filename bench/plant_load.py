"""Plant load: 1, 2 and 4 line PCs (run.py processes) on one PostgreSQL, each with its own clients.

A plant runs one station process per line PC, all on one PostgreSQL and one broker. This bench
makes a fresh database on the server of --database-url (CREATE DATABASE plant_load_<pid>,
dropped at the end), seeds users, a product and, per line, an order of boards made ready, through
the station's own functions, and starts a Mosquitto of its own on a free port. Then:

1. closed loop, for 1, 2 and 4 PCs, with the relays off (no broker) and on: every PC is a
   `run.py` serving its own line ([mqtt] line = Lk, its own station.toml and client id), driven
   by a load process of its own whose client threads each walk their own boards through the
   route, scan after answered scan. Aggregate scans/s, p50 and p99 of the window, and the
   scaling ratio against one PC of the same kind, measured in this run;
2. line pace, 4 PCs with relays on: each line offered one scan a second per station (open loop,
   latency from when each scan was due), so the cost of a scan at the pace a plant runs (the
   station's and PostgreSQL's CPU and transactions per scan) gives what 50 lines would need.

Everything listens on 127.0.0.1 only; CPU time is read from Linux's /proc (elsewhere: not shown).
Run: .venv/bin/python bench/plant_load.py [--help]   (about 4 minutes)
"""

import argparse
import math
import multiprocessing
import os
import platform
import queue
import shutil
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from scan_load import (
    HOST,
    PEPPER,
    Client,
    Result,
    cpu_seconds,
    free_port,
    machine_busy,
    start_server,
    stop_server,
    walk,
)

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

ROUTE = ["PRINT", "SPI", "PLACE", "REFLOW", "AOI", "FCT", "QA", "PACK"]
SCANNED = ROUTE[:ROUTE.index("FCT")]  # FCT is passed by a test result, not by a scan
LINES = ("L1", "L2", "L3", "L4")
DEFAULT_DB = "postgresql+psycopg://postgres@127.0.0.1:5432/test"

PLANT_TOML = """
[site]
enterprise = "acme"
site = "plant1"
area = "smt"
timezone = "UTC"
language = "en"

[database]
url = "{db}"
pool_size = {pool}

[shifts]
starts = ["00:00"]

[mqtt]
url = "{mqtt}"
line = "{line}"
client_id = "{client_id}"
line_events = {line_events}
"""


def lines_toml(lines) -> str:
    """The [[lines]] and [[stations]] tables of these lines."""
    out = []
    for line in lines:
        out.append(f'\n[[lines]]\nid = "{line}"\nname = "Line {line}"\nhourly_target = 600\n')
        out += [f'\n[[stations]]\nid = "{line}-{step}-1"\ntype = "{step}"\nline = "{line}"\n'
                for step in ROUTE]
    return "".join(out)


# --- the plant's database ----------------------------------------------------------------------

class PlantDatabase:
    """A database of its own on the server of `base_url`, created here and dropped at the end."""

    def __init__(self, base_url: str):
        from sqlalchemy import create_engine
        from sqlalchemy.engine import make_url

        self.base = make_url(base_url)
        self.name = f"plant_load_{os.getpid()}"
        self.url = self.base.set(database=self.name).render_as_string(hide_password=False)
        self.admin = create_engine(self.base, isolation_level="AUTOCOMMIT")
        with self.admin.connect() as conn:
            conn.exec_driver_sql(f'CREATE DATABASE "{self.name}"')
        self.engine = create_engine(self.url)

    def scalar(self, sql: str):
        with self.engine.connect() as conn:
            return conn.exec_driver_sql(sql).scalar()

    def size(self) -> dict[str, int]:
        """Bytes on disk: the whole database, and the events table with its indexes."""
        return {"all": self.scalar("SELECT pg_database_size(current_database())"),
                "event": self.scalar("SELECT pg_total_relation_size('event')")}

    def transactions(self) -> int:
        """Transactions committed or rolled back in this database (PostgreSQL's statistics)."""
        return self.scalar("SELECT xact_commit + xact_rollback FROM pg_stat_database "
                           "WHERE datname = current_database()")

    def drop(self) -> None:
        self.engine.dispose()
        with self.admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')
        self.admin.dispose()


def seed(db_url: str, folder: Path, boards: int) -> tuple[str, dict[str, list[str]]]:
    """Users, a customer, a product with its route and every line's stations, and an order per
    line of `boards` boards made ready; the operator's token and each line's serials."""
    from sqlmodel import Session

    from station import create_app, demo, masterdata, people

    config = folder / "plant.toml"
    config.write_text(PLANT_TOML.format(db=db_url, pool=5, mqtt="", line="", client_id="seed",
                                        line_events="true") + lines_toml(LINES))
    app = create_app({"DATABASE_URL": db_url, "INSTANCE_PATH": str(folder / "instance"),
                      "SECRET_KEY": "bench-secret", "PIN_PEPPER": PEPPER,
                      "STATION_CONFIG": str(config)})  # migrates and creates the stations
    engine = app.extensions["engine"]
    serials = {}
    with Session(engine) as s:
        admin = people.create_user(s, "admin", "admin", pepper=PEPPER, password="admin-pw")
        op = people.create_user(s, "op", "operator", pepper=PEPPER, badge="10001", pin="1234")
        token = people.create_token(s, "op")
        masterdata.create_customer(s, admin, "CUST", "Customer Ltd", "prepaid")
        masterdata.create_product(s, admin, "PCB", "A", list(ROUTE))
        for i, line in enumerate(LINES, 1):
            number = f"WO-{1000 + i}"
            masterdata.create_order(s, admin, number, "CUST", "PCB", "A", boards, "2.50")
            serials[line] = masterdata.add_boards(s, admin, number, count=boards)
            demo.make_ready(s, admin, op, number)
    engine.dispose()
    return token, serials


# --- the line PCs ------------------------------------------------------------------------------

@dataclass
class LinePC:
    """One `run.py` serving one line on the plant's database."""

    line: str
    port: int
    proc: object
    client_id: str


def start_pcs(count: int, db_url: str, mqtt_url: str, folder: Path, threads: int,
              pool: int, run: str) -> list[LinePC]:
    """`count` line PCs, each with its own station.toml, port and client id; the first also
    publishes the events without a station."""
    env = {"SECRET_KEY": "bench-secret", "PIN_PEPPER": PEPPER}
    os.environ.pop("DATABASE_URL", None)
    os.environ.pop("MQTT_URL", None)
    pcs = []
    for k, line in enumerate(LINES[:count]):
        client_id = f"{line.lower()}-{run}"
        config = folder / f"{client_id}.toml"
        config.write_text(PLANT_TOML.format(db=db_url, pool=pool, mqtt=mqtt_url, line=line,
                                            client_id=client_id,
                                            line_events=str(k == 0).lower())
                          + lines_toml([line]))
        port = free_port()
        proc = start_server(client_id, [sys.executable, "run.py", "--host", HOST, "--port",
                                        str(port), "--threads", str(threads)],
                            {**env, "STATION_CONFIG": str(config)}, port, folder,
                            "/api/v1/openapi.json")
        pcs.append(LinePC(line, port, proc, client_id))
    return pcs


def stop_pcs(pcs: list[LinePC]) -> None:
    for pc in pcs:
        stop_server(pc.proc)
        (ROOT / "instance" / f"relay-{pc.client_id}.lock").unlink(missing_ok=True)


# --- the load processes ------------------------------------------------------------------------

def scan_body(line: str, serial: str, step: str) -> dict:
    return {"station": f"{line}-{step}-1", "code": serial}


def closed_driver(port: int, token: str, work: list[list[dict]], start_at: float,
                  warmup: float, seconds: float, out) -> None:
    """One load process: a thread per client list, each scan sent once the last is answered;
    the window's latencies, errors and every scan sent, put on `out`."""
    lock, found = threading.Lock(), {"latencies": [], "errors": Counter(), "sent": 0, "short": 0}
    headers = {"Authorization": f"Bearer {token}"}

    def client(items):
        conn = Client(port, headers)
        time.sleep(max(0.0, start_at - time.time()))
        t0 = time.perf_counter()
        mine, errors, sent, short = walk(conn, items, (t0 + warmup, t0 + warmup + seconds))
        conn.close()
        with lock:
            found["latencies"] += mine
            found["errors"] += errors
            found["sent"] += sent
            found["short"] += short

    threads = [threading.Thread(target=client, args=(items,)) for items in work]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    out.put(found)


def paced_driver(port: int, token: str, work: list[dict], start_at: float, rate: float,
                 seconds: float, out) -> None:
    """One load process offering scans on a fixed schedule; latency from when each was due."""
    found = {"latencies": [], "errors": Counter(), "sent": 0, "short": 0}
    lock, due_q = threading.Lock(), queue.Queue()
    headers = {"Authorization": f"Bearer {token}"}

    def sender():
        conn = Client(port, headers)
        while (item := due_q.get()) is not None:
            due, body = item
            status, answer = conn.post("/api/v1/scans", body)
            end = time.perf_counter()
            with lock:
                found["sent"] += 1
                if status == 201:
                    found["latencies"].append(end - due)
                else:
                    found["errors"][answer.get("error", {}).get("code", status)] += 1
        conn.close()

    senders = [threading.Thread(target=sender) for _ in range(4)]
    for t in senders:
        t.start()
    time.sleep(max(0.0, start_at - time.time()))
    t0 = time.perf_counter()
    for k in range(min(len(work), int(rate * seconds))):
        due = t0 + k / rate
        time.sleep(max(0.0, due - time.perf_counter()))
        due_q.put((due, work[k]))
    for _ in senders:
        due_q.put(None)
    for t in senders:
        t.join()
    out.put(found)


def run_drivers(target, jobs: list[tuple]) -> list[dict]:
    """Start one load process per job (spawned, as on Windows), wait for them; their findings."""
    ctx = multiprocessing.get_context("spawn")
    out = ctx.Queue()
    procs = [ctx.Process(target=target, args=(*job, out)) for job in jobs]
    for p in procs:
        p.start()
    found = [out.get() for _ in procs]  # before join: a child waits until its result is read
    for p in procs:
        p.join()
    return found


# --- CPU ---------------------------------------------------------------------------------------

def postgres_cpu() -> dict[int, float]:
    """CPU seconds of every PostgreSQL server process on this machine, by pid."""
    found = {}
    for entry in Path("/proc").iterdir() if Path("/proc/stat").exists() else ():
        if entry.name.isdigit():
            try:
                if (entry / "comm").read_text().strip() == "postgres":
                    found[int(entry.name)] = cpu_seconds(int(entry.name)) or 0.0
            except OSError:
                continue
    return found


class CpuMeter:
    """CPU seconds over a phase: the line PCs, PostgreSQL, the broker, the load processes (this
    process's children that ended meanwhile) and the whole machine."""

    def __init__(self, station_pids: list[int], broker_pid: int | None):
        self.stations, self.broker = station_pids, broker_pid
        self.start = self._read()

    def _read(self) -> dict:
        ended = os.times()
        busy = machine_busy()
        return {"wall": time.perf_counter(), "busy": math.nan if busy is None else busy,
                "station": sum(cpu_seconds(p) or 0.0 for p in self.stations),
                "broker": (cpu_seconds(self.broker) or 0.0) if self.broker else 0.0,
                "load": ended.children_user + ended.children_system,
                "postgres": postgres_cpu()}

    def stop(self) -> dict:
        """CPU seconds used since the start, by whom (call once the load processes ended)."""
        end = self._read()
        before = self.start["postgres"]
        used = {key: end[key] - self.start[key]
                for key in ("wall", "busy", "station", "broker", "load")}
        used["postgres"] = sum(t - before.get(pid, 0.0) for pid, t in end["postgres"].items())
        return used


# --- the phases --------------------------------------------------------------------------------

@dataclass
class Phase:
    """What one phase measured, all PCs together."""

    relays: bool
    pcs: int
    result: Result
    cpu: dict
    transactions: int
    events: int
    caught_up_s: float | None  # the relays' cursors past the last event this long after the end

    def per_scan(self, key: str) -> float:
        return 1000 * self.cpu[key] / self.result.sent if self.result.sent else math.nan

    @property
    def tx_per_scan(self) -> float:
        return self.transactions / self.result.sent if self.result.sent else math.nan


def settle(db: PlantDatabase) -> int:
    """The database's transaction count once the servers' statistics are flushed (they are
    reported at most once a second per connection)."""
    time.sleep(1.5)
    return db.transactions()


def relays_caught_up(db: PlantDatabase, pcs: list[LinePC], limit_s: float = 60) -> float | None:
    """Seconds until every PC's relay cursor is past the last event; None if not within limit."""
    names = ",".join(f"'{pc.client_id}'" for pc in pcs)
    last = db.scalar("SELECT max(id) FROM event")
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < limit_s:
        lowest = db.scalar(f"SELECT min(last_event_id) FROM relay_cursor WHERE name IN ({names})")
        if db.scalar(f"SELECT count(*) FROM relay_cursor WHERE name IN ({names})") == len(pcs) \
                and lowest >= last:
            return time.perf_counter() - t0
        time.sleep(0.05)
    return None


def phase(args, db: PlantDatabase, broker, folder: Path, token: str, serials: dict,
          count: int, relays: bool, paced: bool, run: str) -> Phase:
    """Start `count` PCs, drive each with a load process of its own, stop them."""
    pcs = start_pcs(count, db.url, broker.url if relays and broker else "", folder,
                    args.threads, args.pool, run)
    try:
        if relays:
            relays_caught_up(db, pcs, 30)  # each relay has connected and passed the old events
        boards = {pc.line: serials[pc.line][:args.boards_per_phase] for pc in pcs}
        for pc in pcs:
            del serials[pc.line][:args.boards_per_phase]  # every phase scans fresh boards
        tx0, ev0 = settle(db), db.scalar("SELECT count(*) FROM event")
        meter = CpuMeter([pc.proc.pid for pc in pcs], broker.proc.pid if relays else None)
        start_at = time.time() + 1.0
        if paced:
            rate = len(ROUTE) * args.pace  # one scan a second per station
            jobs = [(pc.port, token, paced_work(pc.line, boards[pc.line], rate), start_at,
                     rate, args.pace_seconds) for pc in pcs]
            found = run_drivers(paced_driver, jobs)
            seconds = args.pace_seconds
        else:
            jobs = [(pc.port, token, closed_work(pc.line, boards[pc.line], args.clients),
                     start_at, args.warmup, args.seconds) for pc in pcs]
            found = run_drivers(closed_driver, jobs)
            seconds = args.seconds
        cpu = meter.stop()
        caught = relays_caught_up(db, pcs) if relays else None
        tx1, ev1 = settle(db), db.scalar("SELECT count(*) FROM event")
    finally:
        stop_pcs(pcs)
    result = Result(seconds=seconds)
    for f in found:
        result.latencies += f["latencies"]
        result.errors += f["errors"]
        result.sent += f["sent"]
        if f["short"]:
            print(f"  warning: {f['short']} clients ran out of boards; raise --boards-per-phase",
                  file=sys.stderr)
    return Phase(relays, count, result, cpu, tx1 - tx0, ev1 - ev0, caught)


def closed_work(line: str, serials: list[str], clients: int) -> list[list[dict]]:
    """Each client's own boards, each board through every scanned step in route order."""
    return [[scan_body(line, s, step) for s in serials[i::clients] for step in SCANNED]
            for i in range(clients)]


def paced_work(line: str, serials: list[str], rate: float) -> list[dict]:
    """Scans in blocks of boards, step by step, a board's next step due 3 s after its last."""
    block, work = max(1, int(3 * rate / len(SCANNED))), []
    for start in range(0, len(serials), block):
        chunk = serials[start:start + block]
        work += [scan_body(line, s, step) for step in SCANNED for s in chunk]
    return work


# --- the report --------------------------------------------------------------------------------

HEADER = (f"{'phase':<22} {'PCs':>3} {'scans':>6} {'err':>4} {'scans/s':>8} {'ratio':>6} "
          f"{'p50 ms':>7} {'p99 ms':>7} {'station':>8} {'postgres':>8} {'load':>6} "
          f"{'tx/scan':>7} {'ev/scan':>7} {'busy':>5} {'relay s':>7}")


def row(name: str, p: Phase, base: Phase | None) -> str:
    r = p.result
    ratio = f"{r.rate / base.result.rate:.2f}x" if base and base.result.rate else "-"
    busy = p.cpu["busy"] / p.cpu["wall"] / os.cpu_count()
    caught = "-" if not p.relays else "never" if p.caught_up_s is None else f"{p.caught_up_s:.2f}"
    return (f"{name:<22} {p.pcs:>3} {len(r.latencies):>6} {sum(r.errors.values()):>4} "
            f"{r.rate:>8.1f} {ratio:>6} {r.pct(50):>7.2f} {r.pct(99):>7.2f} "
            f"{p.per_scan('station'):>8.2f} {p.per_scan('postgres'):>8.2f} "
            f"{p.per_scan('load'):>6.2f} {p.tx_per_scan:>7.1f} "
            f"{p.events / r.sent if r.sent else math.nan:>7.2f} {busy:>5.0%} {caught:>7}")


def report(args, phases: dict[tuple[str, int], Phase], pg_max_connections: int,
           grown: dict[str, float]) -> None:
    print()
    print(HEADER)
    print("-" * len(HEADER))
    for (kind, _count), p in phases.items():
        base = phases.get((kind, 1)) if kind != "line pace" else None
        print(row(f"closed, relays {kind}" if kind != "line pace" else
                  f"line pace, {args.pace:g} scan/s/stn", p, base))
    print("-" * len(HEADER))
    print("station, postgres, load: CPU ms per scan sent, of the line PCs' processes, every "
          "PostgreSQL server process, and the load processes; busy: the machine's CPUs in use; "
          "relay s: until every relay's cursor was past the last event after the load stopped.")
    for (kind, count), p in phases.items():
        if p.result.errors:
            print(f"  {kind}, {count} PCs: errors {dict(p.result.errors)}")
    for kind in ("off", "on"):
        rows = [phases[kind, n] for n in args.pcs if (kind, n) in phases]
        if len(rows) > 1:
            print(f"relays {kind}: scaling " + ", ".join(
                f"{p.pcs} PCs {p.result.rate / rows[0].result.rate:.2f}x" for p in rows[1:])
                + f" against {rows[0].pcs} PC ({rows[0].result.rate:.0f} scans/s)")
    pace = phases.get(("line pace", max(args.pcs)))
    print(f"database growth: {grown['all']:.0f} bytes per scan, {grown['event']:.0f} of them "
          "the events table with its indexes (all phases)")
    if pace:
        fifty(args, pace, pg_max_connections, grown)


def fifty(args, pace: Phase, pg_max_connections: int, grown: dict[str, float]) -> None:
    """What 50 lines at line pace would ask of PostgreSQL and of each line PC."""
    lines, rate = 50, len(ROUTE) * args.pace
    scans = lines * rate
    print(f"at {lines} lines ({len(ROUTE)} stations, {args.pace:g} scan/s each: "
          f"{scans:.0f} scans/s), from the line-pace phase's cost per scan:")
    events = scans * pace.events / pace.result.sent
    print(f"  PostgreSQL: {scans * pace.per_scan('postgres') / 1000:.1f} CPUs, "
          f"{scans * pace.tx_per_scan:.0f} transactions/s, {events:.0f} "
          f"events/s (and as many MQTT messages); connections up to "
          f"{lines * (args.pool + 10)} ({args.pool} + 10 overflow per PC) against "
          f"max_connections {pg_max_connections}")
    print(f"  each line PC: {rate * pace.per_scan('station') / 1000:.2f} CPUs for its station "
          f"process, p99 {pace.result.pct(99):.1f} ms at this pace")
    print(f"  storage: {scans * 86400 * grown['all'] / 1e9:.0f} GB a day running round the clock "
          f"({scans * 86400 * grown['event'] / 1e9:.0f} GB of it events)")


# --- main --------------------------------------------------------------------------------------

def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--database-url", default=os.environ.get("TEST_DATABASE_URL", DEFAULT_DB),
                        help="a PostgreSQL whose server may CREATE DATABASE (default: "
                             "TEST_DATABASE_URL or the local one)")
    parser.add_argument("--pcs", type=int, nargs="+", default=[1, 2, 4], choices=[1, 2, 3, 4])
    parser.add_argument("--relays", choices=["off", "on", "both"], default="both")
    parser.add_argument("--clients", type=int, default=8, help="closed-loop clients per PC")
    parser.add_argument("--threads", type=int, default=8, help="waitress threads per PC")
    parser.add_argument("--pool", type=int, default=10, help="[database] pool_size per PC")
    parser.add_argument("--seconds", type=float, default=8, help="closed-loop window")
    parser.add_argument("--warmup", type=float, default=2, help="closed-loop warm-up")
    parser.add_argument("--pace", type=float, default=1.0, help="scans a second per station")
    parser.add_argument("--pace-seconds", type=float, default=20, help="line-pace phase; 0: none")
    parser.add_argument("--boards-per-phase", type=int, default=700,
                        help="fresh boards per line and phase")
    args = parser.parse_args()
    kinds = ["off", "on"] if args.relays == "both" else [args.relays]
    per_line = args.boards_per_phase * (len(kinds) * len(args.pcs) + 1)

    from station.mqtt.local import LocalBroker, find_mosquitto

    folder = Path(tempfile.mkdtemp(prefix="plant_load-"))
    db = PlantDatabase(args.database_url)
    broker = None
    try:
        print(f"plant_load: {os.cpu_count()} CPUs, Python {platform.python_version()}, "
              f"PostgreSQL {db.scalar('SHOW server_version')} at {db.base.host}:{db.base.port}, "
              f"database {db.name}; {args.clients} clients and {args.threads} waitress threads "
              f"per PC; files in {folder}")
        if "on" in kinds or args.pace_seconds:
            executable = find_mosquitto()
            if executable is None:
                sys.exit("no mosquitto found: install it, or run with --relays off "
                         "--pace-seconds 0")
            broker = LocalBroker(executable).start()
        print(f"seeding {len(LINES)} lines of {per_line} boards ...", file=sys.stderr)
        token, serials = seed(db.url, folder, per_line)
        size0 = db.size()
        phases: dict[tuple[str, int], Phase] = {}
        for kind in kinds:
            for count in args.pcs:
                print(f"closed loop, relays {kind}, {count} PCs ...", file=sys.stderr)
                phases[kind, count] = phase(args, db, broker, folder, token, serials, count,
                                            kind == "on", False, f"{kind}{count}")
        if args.pace_seconds:
            count = max(args.pcs)
            print(f"line pace, {count} PCs ...", file=sys.stderr)
            phases["line pace", count] = phase(args, db, broker, folder, token, serials, count,
                                               True, True, "pace")
        scans = sum(p.result.sent for p in phases.values())
        size1 = db.size()
        grown = {key: (size1[key] - size0[key]) / scans for key in size0}
        report(args, phases, int(db.scalar("SHOW max_connections")), grown)
    finally:
        if broker:
            broker.stop()
        db.drop()
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
