"""The ORM reference for scan_load.py: one scan is one row through a SQLModel Session.

Flask and SQLModel on the station's own engine (station.db.make_engine: WAL, synchronous=FULL,
BEGIN IMMEDIATE and the write turn), one Session per POST, one row added and committed before
answering 201 with JSON; served like the floor (waitress, the same thread count). No auth, no
rules. Run: python bench/orm_app.py DB_PATH --port P --threads N
"""

import sys
from datetime import UTC, datetime
from pathlib import Path

from flask import Flask, jsonify, request
from floor_app import main as serve_main  # bench/ is on the path when run as a script
from sqlmodel import Field, Session, SQLModel

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from station.db import make_engine  # noqa: E402


class BenchScan(SQLModel, table=True):
    """One scan as the floor stores it."""

    __tablename__ = "bench_scan"
    id: int | None = Field(default=None, primary_key=True)
    station: str
    code: str
    scan_id: str | None = None
    at: datetime


def create_app(db_path: str) -> Flask:
    """A Flask app that adds and commits one row per scan, in a Session of its own."""
    app = Flask(__name__)
    engine = make_engine(f"sqlite:///{db_path}")
    BenchScan.__table__.create(engine, checkfirst=True)

    @app.post("/api/v1/scans")
    def scan():
        """Store the scan and echo it back."""
        data = request.get_json()
        with Session(engine, expire_on_commit=False) as session:  # as the station's requests
            row = BenchScan(station=data["station"], code=data["code"],
                            scan_id=data.get("scan_id"), at=datetime.now(UTC))
            session.add(row)
            session.commit()
        return jsonify(accepted=True, id=row.id, serial=row.code, step=row.station), 201

    return app


if __name__ == "__main__":
    serve_main(create_app, __doc__)  # the floor's command line and server
