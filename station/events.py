"""The append-only event log: written in the same transaction as the change it records."""

import uuid

from sqlmodel import Session, select

from station.models import Event, User, utcnow

ADDED = "station_events"  # in session.info while its transaction holds new events


def record(session: Session, kind: str, subject: str, payload: dict | None = None,
           user: User | None = None, station_id: str | None = None) -> Event:
    """Add an event to the session's transaction; it commits or rolls back with the change."""
    ev = Event(uid=str(uuid.uuid4()), at=utcnow(), kind=kind, subject=subject,
               payload=payload or {}, user_id=user.id if user else None,
               actor=user.name if user else "system", station_id=station_id)
    session.add(ev)
    return ev


def history(session: Session, subject: str) -> list[Event]:
    """Every event of one subject (for example "board:SN123"), oldest first."""
    return list(session.exec(select(Event).where(Event.subject == subject).order_by(Event.id)))
