"""The append-only event log: written in the same transaction as the change it records."""

import uuid

from sqlalchemy import insert
from sqlalchemy.engine import Connection
from sqlmodel import Session, select

from station.db import Prepared, WriteTx
from station.models import Event, User, utcnow

INSERT = Prepared(insert(Event.__table__))
ADDED = "station_events"  # in session.info while its transaction holds new events


def values(kind: str, subject: str, payload: dict | None = None, user: User | None = None,
           station_id: str | None = None) -> dict:
    """An event's columns."""
    return {"uid": str(uuid.uuid4()), "at": utcnow(), "kind": kind, "subject": subject,
            "payload": payload or {}, "user_id": user.id if user else None,
            "actor": user.name if user else "system", "station_id": station_id}


def record(session: Session, kind: str, subject: str, payload: dict | None = None,
           user: User | None = None, station_id: str | None = None) -> Event:
    """Add an event to the session's transaction; it commits or rolls back with the change."""
    ev = Event(**values(kind, subject, payload, user, station_id))
    session.add(ev)
    return ev


def insert_rows(session: Session | WriteTx, conn: Connection | WriteTx, rows: list[dict]) -> None:
    """Write events (from `values`) straight to the session's transaction, as the scan does;
    its commit still wakes the MQTT relay."""
    INSERT.run(conn, rows)
    session.info[ADDED] = True


def history(session: Session, subject: str) -> list[Event]:
    """Every event of one subject (for example "board:SN123"), oldest first."""
    return list(session.exec(select(Event).where(Event.subject == subject).order_by(Event.id)))
