"""Bench: trace a lot, a reel and a part through an order of 100,000 boards, and export the CSV.

Target (issue 16): each trace answers in under 1 s. A fresh SQLite file in a temporary folder
gets the station's schema by its migrations (board_material with its lot, reel_id, part and
board_id indexes) on the station's engine (WAL, synchronous=FULL), a customer with an order of
100,000 boards and a smaller earlier order of another customer, and the
board_material rows their placement scans would write: SLOTS slots a board, each feeding 1-6
designators, reels of REEL_QTY parts spliced one after another, LOT_REELS reels to a lot, one
row per board and slot. Timed, median of --runs, in the same run: a bare COUNT(*) over
board_material (the floor any question over the table costs, and the ratio to it), then trace by
lot, by reel and by part (the part on every board: the largest answer) and the CSV export.
Timed: station.material.trace (`station`), and beside it `ref`, the spec's question as one
plain query (the distinct boards, orders and customers that got it), to show what the ORM costs.
Run: .venv/bin/python bench/trace.py [--boards N] [--runs N] [--indexes single|covering|none]
"""

import argparse
import csv
import gc
import io
import random
import sqlite3
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import text  # noqa: E402
from sqlmodel import Session  # noqa: E402

from station.db import make_engine, migrate  # noqa: E402
from station.material import trace as station_trace  # noqa: E402
from station.models import Reel  # noqa: E402

SLOTS, REEL_QTY, LOT_REELS = 24, 10_000, 4
TARGET_S = 1.0
INDEXES = {"ix_board_material_lot": "lot", "ix_board_material_reel_id": "reel_id",
           "ix_board_material_part": "part", "ix_board_material_board_id": "board_id"}

# the reference: one pass over the matching rows, boards joined to their order and customer
REF_SQL = """SELECT DISTINCT b.serial, o.number, c.code FROM board_material m
JOIN board b ON b.id = m.board_id JOIN work_order o ON o.id = b.order_id
JOIN customer c ON c.id = o.customer_id WHERE m.{column} = :value"""
CSV_SQL = """SELECT b.serial, o.number, c.code, m.step, m.slot, m.part, m.reel_id, m.lot,
m.date_code, m.designators FROM board_material m JOIN board b ON b.id = m.board_id
JOIN work_order o ON o.id = b.order_id JOIN customer c ON c.id = o.customer_id
WHERE m.{column} = :value ORDER BY b.serial, m.step, m.slot"""
COLUMNS = {"lot": "lot", "reel": "reel_id", "part": "part"}


def ref_trace(session: Session, **what) -> dict:
    """Boards, orders and customers that got a lot, reel or part (the spec's answer)."""
    (key, value), = what.items()
    rows = session.exec(text(REF_SQL.format(column=COLUMNS[key])), params={"value": value})
    boards, orders, customers = set(), set(), set()
    for serial, number, code in rows:
        boards.add(serial)
        orders.add(number)
        customers.add(code)
    return {"boards": sorted(boards), "orders": sorted(orders), "customers": sorted(customers)}


def ref_csv(session: Session, **what) -> str:
    """One line a board and slot that got it: the recall list a quality engineer sends."""
    (key, value), = what.items()
    out = io.StringIO()
    w = csv.writer(out)
    w.writerow(["serial", "order", "customer", "step", "slot", "part", "reel", "lot",
                "date_code", "designators"])
    for row in session.exec(text(CSV_SQL.format(column=COLUMNS[key])), params={"value": value}):
        w.writerow(row)
    return out.getvalue()


def _sql_time(dt: datetime) -> str:
    """A time as SQLAlchemy stores DateTime in SQLite."""
    return dt.strftime("%Y-%m-%d %H:%M:%S.%f")


def _ids(conn, table: str, column: str) -> dict:
    return dict(conn.exec_driver_sql(f"SELECT {column}, id FROM {table}").all())


def _add_reels(conn, reels: list, t0: datetime) -> int:
    """Reels into the reel table (board_material names them by foreign key)."""
    if reels:
        conn.execute(Reel.__table__.insert(), [
            {"id": r, "part": p, "quantity": 0, "initial_quantity": REEL_QTY, "lot": lot,
             "date_code": "2648", "msl": "3", "opened_at": None, "floor_used_s": 0.0,
             "exposed_since": None, "baked_at": None, "created_at": t0}
            for r, p, lot in reels])
    return len(reels)


def populate(engine, boards: int, earlier: int, seed: int = 16) -> dict:
    """The orders, boards, reels and board_material rows; returns what to trace."""
    rnd = random.Random(seed)
    t0 = datetime(2026, 12, 1, 6, tzinfo=UTC)
    now = _sql_time(t0)
    feeds = [rnd.randint(1, 6) for _ in range(SLOTS)]  # designators each slot feeds a board
    parts = [f"PN-{i:03d}" for i in range(SLOTS)]
    with engine.begin() as conn:
        conn.exec_driver_sql("INSERT INTO customer (code, name, terms, requested_terms, "
                             "created_at) VALUES ('ACME', 'Acme', 'net30', 'net30', ?), "
                             "('BETA', 'Beta', 'net30', 'net30', ?)", (now, now))
        cust = _ids(conn, "customer", "code")
        conn.exec_driver_sql("INSERT INTO product (code, revision, route, created_at) VALUES "
                             "('PCB-1', 'A', '[\"PRINT\",\"PLACE\",\"AOI\"]', ?)", (now,))
        product = conn.exec_driver_sql("SELECT id FROM product").scalar()
        for number, code, qty in (("WO-OLD", "BETA", earlier), ("WO-BIG", "ACME", boards)):
            conn.exec_driver_sql(
                "INSERT INTO work_order (number, customer_id, product_id, quantity, unit_price,"
                " currency, paste, side, created_at) VALUES (?, ?, ?, ?, 1, 'USD', 'SAC305',"
                " 'top', ?)", (number, cust[code], product, qty, now))
        orders = _ids(conn, "work_order", "number")
        serial_rows = [(f"SN{i:07d}", orders["WO-OLD" if i < earlier else "WO-BIG"], now)
                       for i in range(earlier + boards)]
        conn.exec_driver_sql("INSERT INTO board (serial, order_id, created_at) VALUES (?, ?, ?)",
                             serial_rows)
        board_ids = [r[0] for r in conn.exec_driver_sql("SELECT id FROM board ORDER BY id")]
        left, reel_no = [0] * SLOTS, [0] * SLOTS
        current: list[tuple[str, str, str] | None] = [None] * SLOTS
        reels, batch, stored = [], [], 0
        sql = ("INSERT INTO board_material (board_id, step, slot, part, reel_id, lot, date_code,"
               " designators, at) VALUES (?, 'PLACE', ?, ?, ?, ?, ?, ?, ?)")
        designators = [repr([f"D{s}-{k}" for k in range(feeds[s])]).replace("'", '"')
                       for s in range(SLOTS)]
        for n, board_id in enumerate(board_ids):
            at = _sql_time(t0 + timedelta(seconds=6 * n))
            for s in range(SLOTS):
                if left[s] < feeds[s]:  # a splice: the next reel of this slot
                    reel_no[s] += 1
                    left[s] = REEL_QTY
                    lot = f"LOT-{s:03d}-{(reel_no[s] - 1) // LOT_REELS:03d}"
                    current[s] = (f"R-{s:03d}-{reel_no[s]:04d}", parts[s], lot)
                    reels.append(current[s])
                left[s] -= feeds[s]
                reel, part, lot = current[s]
                batch.append((board_id, f"F{s + 1:02d}", part, reel, lot, "2648",
                              designators[s], at))
            if len(batch) >= 50_000 or n == len(board_ids) - 1:
                stored += _add_reels(conn, reels[stored:], t0)  # before the rows naming them
                conn.exec_driver_sql(sql, batch)
                batch.clear()
    # what to trace: a lot and a reel of the big order's middle, and the busiest part
    mid = [r for r in reels if r[0].startswith("R-005-")]
    lot = mid[len(mid) // 2][2]
    return {"lot": lot, "reel": mid[len(mid) // 2][0], "part": parts[feeds.index(max(feeds))],
            "reels": len(reels)}


def timed(fn, runs: int):
    """Median seconds of `runs` calls, and the last answer."""
    times, answer = [], None
    for _ in range(runs):
        answer = None
        gc.collect()  # the last answer's garbage is not this call's
        t = time.perf_counter()
        answer = fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times), answer


def count(session: Session) -> int:
    """The floor: every row of board_material counted, nothing else."""
    return session.exec(text("SELECT COUNT(*) FROM board_material")).one()[0]


def fresh(engine, fn, **what):
    """One call in its own session, as a request has (no identity map left from the last)."""
    with Session(engine) as s:
        return fn(s, **what)


def measure(engine, name: str, trace, export, what: dict, floor: float,
            runs: int) -> list[bool]:
    """Time one implementation's traces and exports, print them; True for each under target."""
    results = []
    for key in ("lot", "reel", "part"):
        secs, ans = timed(lambda: fresh(engine, trace, **{key: what[key]}), runs)  # noqa: B023
        label = f"{name}: trace({key}={what[key]!r})"
        print(f"{label:52s} {secs * 1000:8.1f} ms {secs / floor:7.1f}x  "
              f"{len(ans['boards']):>7,} boards {len(ans['orders'])} orders "
              f"{len(ans['customers'])} customers")
        results.append(secs < TARGET_S)
    for key in ("lot", "part"):
        secs, body = timed(lambda: fresh(engine, export, **{key: what[key]}), runs)  # noqa: B023
        label = f"{name}: CSV of {key} {what[key]!r}"
        print(f"{label:52s} {secs * 1000:8.1f} ms {secs / floor:7.1f}x  "
              f"{body.count(chr(10)) - 1:>7,} lines {len(body) / 1e6:.1f} MB")
        results.append(secs < TARGET_S)
    return results


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--boards", type=int, default=100_000)
    ap.add_argument("--earlier", type=int, default=20_000, help="boards of an earlier order")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--indexes", choices=("single", "covering", "none"), default="single",
                    help="board_material's lot, reel and part indexes: one column each (the "
                         "spec's), with board_id (covering the join), or none")
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        engine = make_engine(f"sqlite:///{Path(tmp) / 'trace.db'}")
        migrate(engine)
        t = time.perf_counter()
        what = populate(engine, args.boards, args.earlier)
        with engine.begin() as conn:
            for name, col in INDEXES.items():
                if col != "board_id" and args.indexes != "single":
                    conn.exec_driver_sql(f"DROP INDEX IF EXISTS {name}")
                    if args.indexes == "covering":
                        conn.exec_driver_sql(f"CREATE INDEX {name} ON board_material "
                                             f"({col}, board_id)")
            conn.exec_driver_sql("ANALYZE")
            rows = conn.exec_driver_sql("SELECT COUNT(*) FROM board_material").scalar()
            indexes = [r[0] for r in conn.exec_driver_sql(
                "SELECT name FROM sqlite_master WHERE type='index' "
                "AND tbl_name='board_material'")]
        size = (Path(tmp) / "trace.db").stat().st_size
        print(f"board_material: {rows:,} rows ({args.earlier + args.boards:,} boards x {SLOTS} "
              f"slots, {what['reels']:,} reels), {size / 1e6:.0f} MB, built in "
              f"{time.perf_counter() - t:.1f} s; indexes: {', '.join(sorted(indexes)) or 'none'}")
        print(f"SQLite {sqlite3.sqlite_version}; median of {args.runs}")
        floor, _ = timed(lambda: fresh(engine, count), args.runs)
        print(f"{'floor: SELECT COUNT(*) FROM board_material':52s} {floor * 1000:8.1f} ms")
        impls = [("station", station_trace.trace, station_trace.trace_csv),
                 ("ref", ref_trace, ref_csv)]
        verdicts = [ok for impl in impls for ok in measure(engine, *impl, what, floor, args.runs)]
        engine.dispose()
    ok = all(verdicts)
    print(f"every trace and export under {TARGET_S:.0f} s: {'met' if ok else 'MISSED'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
