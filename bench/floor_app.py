"""The floor for scan_load.py: the least a scan can cost with Flask, waitress and SQLite.

One POST is one durable row: parse the JSON body, INSERT into a WAL SQLite file with
synchronous=FULL (the station's own settings), commit, answer 201 with JSON. No auth, no rules,
no ORM, no templates. Run: python bench/floor_app.py DB_PATH --port P --threads N
"""

import argparse
import sqlite3
import threading
from datetime import UTC, datetime

from flask import Flask, jsonify, request
from waitress import serve

SCHEMA = """CREATE TABLE IF NOT EXISTS scan (
    id INTEGER PRIMARY KEY, station TEXT NOT NULL, code TEXT NOT NULL, scan_id TEXT,
    at TEXT NOT NULL)"""


def create_app(db_path: str) -> Flask:
    """A Flask app that stores each scan as one row, one connection per server thread."""
    app = Flask(__name__)
    local = threading.local()

    def connection() -> sqlite3.Connection:
        if not hasattr(local, "conn"):
            conn = sqlite3.connect(db_path, timeout=10, isolation_level=None)
            for pragma in ("journal_mode=WAL", "synchronous=FULL", "busy_timeout=10000"):
                conn.execute(f"PRAGMA {pragma}")
            local.conn = conn
        return local.conn

    with sqlite3.connect(db_path) as conn:
        conn.execute(SCHEMA)

    @app.post("/api/v1/scans")
    def scan():
        """Store the scan and echo it back."""
        data = request.get_json()
        at = datetime.now(UTC).isoformat()
        cur = connection().execute(
            "INSERT INTO scan (station, code, scan_id, at) VALUES (?, ?, ?, ?)",
            (data["station"], data["code"], data.get("scan_id"), at))
        return jsonify(accepted=True, id=cur.lastrowid, serial=data["code"],
                       step=data["station"]), 201

    return app


def main(create=create_app, description: str = __doc__) -> None:
    """Serve the app `create(db_path)` makes (the floor's by default) on loopback with
    waitress, with the /ping that scan_load.py waits for."""
    parser = argparse.ArgumentParser(description=description.splitlines()[0])
    parser.add_argument("db_path")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--threads", type=int, default=8)
    args = parser.parse_args()
    app = create(args.db_path)
    app.add_url_rule("/ping", "ping", lambda: "ok")
    serve(app, host="127.0.0.1", port=args.port, threads=args.threads, _quiet=True)


if __name__ == "__main__":
    main()
