"""Station history: a station's state, its screen and a scan on a fresh database and after months.

The state snapshot (published on every change, shown on the line and plant pages), the scan
screen's last scans and shift count, and a scan itself must cost what they cost on the first
day, however many boards the line has made since: they read one station's recent rows, and the
history only grows. For SQLite (one line PC's file) and for PostgreSQL (the plant's database,
a database of its own, dropped after):

1. baseline: a fresh database with a line ready to scan and a few boards through it; the
   median time of each operation, measured in this run;
2. history: `--boards` boards (orders of 1,000, every step of the line, a functional test
   each, their events) written behind it, dated over the last 90 days; PostgreSQL is vacuumed
   and analysed, as its autovacuum would have; then the same operations again.

Prints ms per operation and the ratio history / fresh. Target: at most 2x (what grows with the
history is a real scan's index descent, a few levels deeper). About a minute at 100,000 boards.
Run: .venv/bin/python bench/station_history.py [--boards 100000] [--db postgresql+psycopg://...]
"""

import argparse
import os
import platform
import sqlite3
import statistics
import sys
import tempfile
import time
import uuid
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from mqtt_relay import SCANNED, make_station  # noqa: E402
from plant_load import DEFAULT_DB, PlantDatabase  # noqa: E402

WATCHED = ("L1-PRINT-1", "L1-AOI-1", "L1-FCT-1")
ORDER_SIZE = 1000
TARGET_RATIO = 2.0


def run_boards(app, op, serials: list[str]) -> None:
    """Boards of WO-1 through every scanned step and a passing functional test."""
    from sqlmodel import Session

    from station.line import scanning
    from station.quality import fct

    with Session(app.extensions["engine"], expire_on_commit=False) as s:
        for serial in serials:
            for step in SCANNED:
                scanning.scan(s, f"L1-{step}-1", serial, op)
            fct.record_result(s, op, serial, "L1-FCT-1", "pass", program="fct")


def write_history(engine, boards: int) -> float:
    """`boards` finished boards behind the line, in orders of ORDER_SIZE; seconds taken."""
    from sqlalchemy import insert, select

    from station.models import Board, BoardStep, Event, Product, TestAttempt, WorkOrder, utcnow

    t0 = time.perf_counter()
    start = utcnow() - timedelta(days=90)
    every = timedelta(days=90) / max(1, boards)
    with engine.begin() as conn:
        product = conn.execute(select(Product.id)).scalar_one()
        customer = conn.execute(select(WorkOrder.customer_id)).first()[0]
        n = 0
        for k in range(0, boards, ORDER_SIZE):
            size = min(ORDER_SIZE, boards - k)
            order = conn.execute(insert(WorkOrder).values(
                number=f"H-{k // ORDER_SIZE}", customer_id=customer, product_id=product,
                quantity=size, unit_price=1, created_at=start).returning(WorkOrder.id)).scalar()
            ids = conn.execute(insert(Board).returning(Board.id), [
                {"serial": f"H{k + i:07d}", "order_id": order, "created_at": start}
                for i in range(size)]).scalars().all()
            steps, tests, events = [], [], []
            for board in ids:
                at = start + every * n
                n += 1
                for i, step in enumerate(SCANNED):
                    when = at + timedelta(minutes=i)
                    steps.append({"board_id": board, "step_index": i, "step": step,
                                  "station_id": f"L1-{step}-1", "at": when})
                    events.append({"uid": str(uuid.uuid4()), "at": when,
                                   "kind": "board.step_passed", "actor": "op",
                                   "station_id": f"L1-{step}-1", "subject": f"board:{board}",
                                   "payload": {"step": step}})
                tests.append({"board_id": board, "station_id": "L1-FCT-1",
                              "outcome": "fail" if board % 20 == 0 else "pass",
                              "defect_code": f"D{board % 7}" if board % 20 == 0 else None,
                              "measurements": [], "at": at + timedelta(minutes=6)})
            conn.execute(insert(BoardStep), steps)
            conn.execute(insert(TestAttempt), tests)
            conn.execute(insert(Event), events)
    if engine.dialect.name == "postgresql":  # what autovacuum does to an append-only table
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("VACUUM ANALYZE")
    return time.perf_counter() - t0


def measure(app, op, fresh: list[str], repeat: int) -> dict[str, float]:
    """Median ms of each operation at the watched stations (a scan: fresh boards at PRINT)."""
    from sqlmodel import Session

    from station.line import scanning
    from station.line import state as line_state
    from station.models import Station, utcnow

    out: dict[str, list[float]] = {}

    def timed(name, fn):
        t = time.perf_counter()
        fn()
        out.setdefault(name, []).append((time.perf_counter() - t) * 1000)

    with Session(app.extensions["engine"], expire_on_commit=False) as s:
        stations = [s.get(Station, sid) for sid in WATCHED]
        since = utcnow() - timedelta(hours=8)
        for _ in range(repeat):
            for st in stations:
                timed(f"state snapshot {st.type}", lambda st=st: line_state.snapshot(s, st))
                timed(f"scan screen {st.type}", lambda st=st: (
                    scanning.last_scans(s, st.id), scanning.shift_count(s, st.id, since)))
                s.rollback()
        for serial in fresh:
            timed("scan at PRINT", lambda serial=serial: scanning.scan(s, "L1-PRINT-1", serial,
                                                                         op))
    return {name: statistics.median(ms) for name, ms in out.items()}


def one_backend(name: str, url: str, folder: Path, boards: int, repeat: int) -> None:
    """Fresh, then with history, on one database; prints the table."""
    from sqlalchemy import func, select

    from station.models import BoardStep, Event

    app, op, serials = make_station(folder, 500, url)
    engine = app.extensions["engine"]
    run_boards(app, op, serials[:20])
    before = measure(app, op, serials[20:40], repeat)
    took = write_history(engine, boards)
    run_boards(app, op, serials[40:60])  # today's boards come after the history
    after = measure(app, op, serials[60:80], repeat)
    with engine.connect() as conn:
        steps = conn.execute(select(func.count()).select_from(BoardStep)).scalar()
        events = conn.execute(select(func.count()).select_from(Event)).scalar()
    app.extensions["mqtt"].close()
    engine.dispose()
    print(f"{name}: {boards:,} boards of history written in {took:.0f} s "
          f"({steps:,} steps, {events:,} events)")
    print(f"  {'operation':<24}{'fresh ms':>9}{'history ms':>12}{'ratio':>8}")
    worst = 0.0
    for op_name, ms in before.items():
        ratio = after[op_name] / ms
        worst = max(worst, ratio)
        print(f"  {op_name:<24}{ms:9.2f}{after[op_name]:12.2f}{ratio:7.2f}x")
    print(f"  worst ratio {worst:.2f}x   target <= {TARGET_RATIO:g}x: "
          f"{'met' if worst <= TARGET_RATIO else 'MISSED'}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--boards", type=int, default=100_000, help="boards of history")
    parser.add_argument("--repeat", type=int, default=15, help="measurements per operation")
    parser.add_argument("--db", default=os.environ.get("TEST_DATABASE_URL", DEFAULT_DB),
                        help="the PostgreSQL server to create the bench's database on")
    args = parser.parse_args()
    import logging

    logging.basicConfig(level=logging.ERROR)
    print(f"Station history bench: {platform.python_version()}, SQLite "
          f"{sqlite3.sqlite_version}, {os.cpu_count()} CPUs")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        (folder / "sqlite").mkdir()
        one_backend("SQLite", f"sqlite:///{folder / 'sqlite' / 'station.db'}",
                    folder / "sqlite", args.boards, args.repeat)
        try:
            pg = PlantDatabase(args.db)
        except Exception as e:  # noqa: BLE001 - say why and stop
            print(f"PostgreSQL: skipped, {args.db} not reachable: {e.__class__.__name__}")
            return
        try:
            (folder / "pg").mkdir()
            one_backend("PostgreSQL", pg.url, folder / "pg", args.boards, args.repeat)
        finally:
            pg.drop()


if __name__ == "__main__":
    main()
