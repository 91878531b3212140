"""The relay's cursor: a row of relay_cursor (never the events: they are append-only)."""

import time

from sqlalchemy import or_
from sqlmodel import Session, func, select

from station.models import Event, RelayCursor, Station, utcnow
from station.mqtt.config import MqttConfig

SAVE_EVERY_S = 0.2  # a write per acknowledgement would be one more transaction per scan


class CursorStore:
    """Where a relay got to, and how many broker sessions it began."""

    def __init__(self, engine, name: str):
        self.engine, self.name = engine, name
        self._saved, self._saved_at = 0, 0.0

    def load(self) -> int:
        """Where this relay got to (a new name starts before the first event)."""
        with Session(self.engine) as s:
            row = s.get(RelayCursor, self.name)
            if row is None:
                row = RelayCursor(name=self.name)
                s.add(row)
                s.commit()
            self._saved = row.last_event_id
            return row.last_event_id

    @property
    def saved(self) -> int:
        """The cursor as last stored."""
        return self._saved

    def save(self, cursor: int, force: bool = False) -> None:
        """Store the cursor, at most five times a second (a crash only repeats events)."""
        if cursor == self._saved:
            return
        if not force and time.monotonic() - self._saved_at < SAVE_EVERY_S:
            return
        with Session(self.engine) as s:
            row = s.get(RelayCursor, self.name)
            row.last_event_id, row.updated_at = max(row.last_event_id, cursor), utcnow()
            s.add(row)
            s.commit()
        self._saved, self._saved_at = cursor, time.monotonic()

    def count_session(self) -> int:
        """Count a new broker session; its number goes in the online status."""
        with Session(self.engine) as s:
            row = s.get(RelayCursor, self.name)
            row.connects += 1
            row.updated_at = utcnow()
            s.add(row)
            s.commit()
            return row.connects


def served(cfg: MqttConfig):
    """The events of the stations this process speaks for: its station's, its line's or all."""
    if cfg.station:
        return Event.station_id == cfg.station
    if cfg.serve_line:
        return Event.station_id.in_(select(Station.id).where(Station.line == cfg.serve_line))
    return Event.station_id.is_not(None)


def waiting(session: Session, cfg: MqttConfig) -> int:
    """How many events the relay has still to publish (its cursor is in the database)."""
    row = session.get(RelayCursor, cfg.client_id)
    query = select(func.count()).select_from(Event).where(
        Event.id > (row.last_event_id if row else 0))
    mine = served(cfg)
    if cfg.line_events:
        mine = or_(mine, Event.station_id.is_(None))
    query = query.where(mine)
    return session.exec(query).one()
