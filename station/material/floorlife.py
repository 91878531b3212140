"""Floor life of moisture-sensitive reels (J-STD-033): pure, judged at a given time."""

from datetime import UTC, datetime

# Hours an opened reel may stay in room air (<= 30 °C / 60 % RH) per MSL; None: no clock
# (1 is not sensitive; 6 must be baked before use and runs for the time on its label).
FLOOR_LIFE_H = {"1": None, "2": 8760, "2a": 672, "3": 168, "4": 72, "5": 48, "5a": 24,
                "6": None}


def aware(dt: datetime | None) -> datetime | None:
    """A stored time as aware UTC (SQLite hands back naive ones)."""
    if dt is not None and dt.tzinfo is None:
        return dt.replace(tzinfo=UTC)
    return dt


def used_s(reel, now: datetime) -> float:
    """Seconds of floor life used: before the current exposure, and during it."""
    used = reel.floor_used_s or 0.0
    since = aware(reel.exposed_since)
    if since is not None:
        used += max((now - since).total_seconds(), 0.0)
    return used


def floor_left_h(reel, now: datetime) -> float | None:
    """Hours of floor life left (negative once past it), or None when the reel has no clock."""
    limit = FLOOR_LIFE_H.get(reel.msl) if reel.msl else None
    if limit is None:
        return None
    return limit - used_s(reel, now) / 3600


def expired(reel, now: datetime) -> bool:
    """True when the reel's floor life is used up: it must be baked before it is placed."""
    left = floor_left_h(reel, now)
    return left is not None and left <= 0
