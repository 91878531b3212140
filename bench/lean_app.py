"""A lean station for scan_load.py: the station's reads and writes per scan, hand-written.

What a scan needs at the least, in plain sqlite3 on the floor's settings: the bearer token's
user, the board with its last step, its order, a readiness read, then the step and an audit
event (with the station's indexes) in one BEGIN IMMEDIATE ... COMMIT. No ORM, no rules beyond
"the next step of the route", no hooks. A board it has not seen is registered on its first scan.
It shows how much of the station's cost is the work and how much the layers:
    python bench/scan_load.py --floor-app bench/lean_app.py
"""

import hashlib
import json
import sqlite3
import threading
import uuid
from datetime import UTC, datetime

from flask import Flask, jsonify, request
from floor_app import main as serve_main  # bench/ is on the path when run as a script

ROUTE = ["PRINT", "SPI", "PLACE", "REFLOW", "AOI", "FCT", "QA", "PACK"]
SCHEMA = """
CREATE TABLE IF NOT EXISTS user (id INTEGER PRIMARY KEY, name TEXT, role TEXT);
CREATE TABLE IF NOT EXISTS token (hash TEXT PRIMARY KEY, user_id INTEGER, revoked_at TEXT);
CREATE TABLE IF NOT EXISTS work_order (id INTEGER PRIMARY KEY, number TEXT, quantity INTEGER,
    route TEXT, stencil TEXT);
CREATE TABLE IF NOT EXISTS board (id INTEGER PRIMARY KEY, serial TEXT UNIQUE,
    order_id INTEGER, panel_id TEXT);
CREATE INDEX IF NOT EXISTS ix_board_panel ON board (panel_id);
CREATE TABLE IF NOT EXISTS step (id INTEGER PRIMARY KEY, board_id INTEGER, idx INTEGER,
    step TEXT, station TEXT, user_id INTEGER, at TEXT, UNIQUE (board_id, idx));
CREATE INDEX IF NOT EXISTS ix_step_station ON step (station);
CREATE INDEX IF NOT EXISTS ix_step_at ON step (at);
CREATE TABLE IF NOT EXISTS event (id INTEGER PRIMARY KEY, uid TEXT UNIQUE, at TEXT, kind TEXT,
    user_id INTEGER, actor TEXT, station TEXT, subject TEXT, payload TEXT);
CREATE INDEX IF NOT EXISTS ix_event_at ON event (at);
CREATE INDEX IF NOT EXISTS ix_event_kind ON event (kind);
CREATE INDEX IF NOT EXISTS ix_event_station ON event (station);
CREATE INDEX IF NOT EXISTS ix_event_subject ON event (subject);
"""
USER = """SELECT u.id, u.name FROM token t JOIN user u ON u.id = t.user_id
          WHERE t.hash = ? AND t.revoked_at IS NULL"""
BOARD = """SELECT b.id, b.serial, b.order_id,
                  (SELECT max(s.idx) FROM step s WHERE s.board_id = b.id)
           FROM board b WHERE b.serial = ? OR b.panel_id = ?"""


def create_app(db_path: str) -> Flask:
    """The lean station: one connection that the server's threads write on in turn (as the
    station's scans do: its page cache stays warm)."""
    app = Flask(__name__)
    turn = threading.Lock()
    writer = sqlite3.connect(db_path, timeout=10, isolation_level=None, check_same_thread=False)
    for pragma in ("journal_mode=WAL", "synchronous=FULL", "busy_timeout=10000"):
        writer.execute(f"PRAGMA {pragma}")

    with sqlite3.connect(db_path) as conn:
        conn.executescript(SCHEMA)
        conn.execute("INSERT OR IGNORE INTO user VALUES (1, 'operator', 'operator')")
        conn.execute("INSERT OR IGNORE INTO work_order VALUES (1, 'WO-LEAN', 1000000, ?, 'S1')",
                     (json.dumps(ROUTE),))

    def work(conn: sqlite3.Connection, token: str, station: str, code: str) -> dict:
        user = conn.execute(USER, (token,)).fetchone()
        if user is None:  # the bench's token, seen first: kept like a created one
            conn.execute("INSERT INTO token VALUES (?, 1, NULL)", (token,))
            user = conn.execute(USER, (token,)).fetchone()
        board = conn.execute(BOARD, (code, code)).fetchone()
        if board is None:
            conn.execute("INSERT INTO board (serial, order_id) VALUES (?, 1)", (code,))
            board = conn.execute(BOARD, (code, code)).fetchone()
        board_id, serial, order_id, top = board
        number, quantity, route, stencil = conn.execute(
            "SELECT number, quantity, route, stencil FROM work_order WHERE id = ?",
            (order_id,)).fetchone()
        conn.execute("SELECT count(*) FROM board WHERE order_id = ?", (order_id,)).fetchone()
        route = json.loads(route)
        index = 0 if top is None else top + 1
        now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
        conn.execute("INSERT INTO step (board_id, idx, step, station, user_id, at) "
                     "VALUES (?, ?, ?, ?, ?, ?)", (board_id, index, route[index], station,
                                                   user[0], now))
        conn.execute("INSERT INTO event (uid, at, kind, user_id, actor, station, subject, "
                     "payload) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                     (str(uuid.uuid4()), now, "board.step_passed", user[0], user[1], station,
                      f"board:{serial}", json.dumps({"order": number, "step": route[index],
                                                     "step_index": index})))
        return {"accepted": True, "warnings": [], "serial": serial, "order": number,
                "step": route[index], "next_step": route[index + 1], "serials": [serial],
                "station": station}

    @app.post("/api/v1/scans")
    def scan():
        """Pass the board through its next step, committed before answering."""
        data = request.get_json()
        bearer = request.headers.get("Authorization", "").partition(" ")[2]
        token = hashlib.sha256(bearer.encode()).hexdigest()
        conn = writer
        with turn:
            conn.execute("BEGIN IMMEDIATE")
            try:
                answer = work(conn, token, data["station"], data["code"].strip())
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
        return jsonify(answer), 201

    return app


if __name__ == "__main__":
    serve_main(create_app, __doc__)  # the floor's command line and server
