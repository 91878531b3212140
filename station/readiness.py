"""Job readiness: the items that must be green before an order's boards may enter the line."""

from sqlmodel import Session

from station.models import WorkOrder


def red_items(session: Session, order: WorkOrder) -> list[dict]:
    """The readiness items of the order that are not green (none are tracked yet)."""
    return []
