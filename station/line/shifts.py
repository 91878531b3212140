"""Shifts: when the current one began, in the factory's own clock."""

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo


def shift_start(now_utc: datetime, timezone: str, starts: list[str]) -> datetime:
    """The time (aware, UTC) at which the shift running at `now_utc` began."""
    tz = ZoneInfo(timezone)
    local = now_utc.astimezone(tz)
    times = sorted(time.fromisoformat(s) for s in starts) or [time(0, 0)]
    candidates = [datetime.combine(local.date() + timedelta(days=d), t, tz)
                  for d in (-1, 0) for t in times]
    begun = max(c for c in candidates if c <= local)
    return begun.astimezone(UTC)
