"""Blank PCB lots: registered, opened, baked, and allocated to orders within their floor life."""

import re
from datetime import datetime, timedelta

from sqlmodel import Session, func, select

from station import events, people
from station.errors import N_, Conflict, InvalidInput, NotFound, StationError, Text
from station.masterdata import find_order, find_product
from station.models import PcbAllocation, PcbLot, Product, User, WorkOrder, utcnow

LOT = r"^[A-Za-z0-9][A-Za-z0-9._/-]{0,63}$"


class NotEnoughBoards(StationError):
    code = "NOT_ENOUGH_PCBS"
    message = N_("Lot {lot} has {left} boards left, not {asked}.")
    todo = N_("Allocate the rest from another lot of this product revision.")


class AllAllocated(StationError):
    code = "ALREADY_ALLOCATED"
    message = N_("Order {order} already has all {quantity} blank PCBs it needs.")
    todo = N_("Nothing more to allocate: the order's blank PCBs are covered.")


def find_lot(session: Session, lot) -> PcbLot:
    """The PCB lot, or NOT_FOUND."""
    row = session.get(PcbLot, lot) if isinstance(lot, str) else None
    if row is None:
        raise NotFound(what=Text(N_("PCB lot")), key=lot)
    return row


def _quantity(value) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value <= 10**6:
        raise InvalidInput(N_("quantity must be a whole number from 1 to 1000000"))
    return value


def register_lot(session: Session, by: User, lot, product, revision, quantity,
                 floor_life_hours=None, opened_at: datetime | None = None) -> PcbLot:
    """Register a lot of blank PCBs (from its label): product revision, quantity, floor life."""
    people.require(by, "master_data")
    if not isinstance(lot, str) or not re.match(LOT, lot):
        raise InvalidInput(N_("lot must be 1 to 64 letters, digits, '.', '_', '/' or '-'"))
    quantity = _quantity(quantity)
    if floor_life_hours is not None and (isinstance(floor_life_hours, bool) or not isinstance(
            floor_life_hours, int | float) or not 0 < floor_life_hours <= 10**5):
        raise InvalidInput(N_("floor_life_hours must be a positive number of hours"))
    prod = find_product(session, product, revision)
    if session.get(PcbLot, lot):
        raise Conflict(what=Text(N_("PCB lot")), key=lot)
    row = PcbLot(lot=lot, product_id=prod.id, quantity=quantity, opened_at=opened_at,
                 floor_life_hours=floor_life_hours)
    session.add(row)
    events.record(session, "pcb_lot.registered", f"pcb_lot:{lot}",
                  {"product": prod.code, "revision": prod.revision, "quantity": quantity,
                   "floor_life_hours": floor_life_hours}, by)
    session.commit()
    return row


def open_lot(session: Session, by: User, lot) -> PcbLot:
    """Record that the lot's moisture barrier bag was opened: its floor life starts."""
    people.require(by, "floor")
    row = find_lot(session, lot)
    row.opened_at = row.opened_at or utcnow()
    session.add(row)
    events.record(session, "pcb_lot.opened", f"pcb_lot:{row.lot}", {}, by)
    session.commit()
    return row


def bake_lot(session: Session, by: User, lot, hours, temperature_C) -> PcbLot:
    """Record a bake of the lot: its floor life starts again from the bake."""
    people.require(by, "floor")
    row = find_lot(session, lot)
    for name, value, top in (("hours", hours, 100), ("temperature_C", temperature_C, 200)):
        if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value <= top:
            raise InvalidInput(N_("{name} must be a number from 0 to {top}"), name=name, top=top)
    row.baked_at = utcnow()
    session.add(row)
    events.record(session, "pcb_lot.baked", f"pcb_lot:{row.lot}",
                  {"hours": hours, "temperature_C": temperature_C}, by)
    session.commit()
    return row


def left_in(session: Session, row: PcbLot) -> int:
    """How many boards of the lot are not yet allocated."""
    used = session.exec(select(func.coalesce(func.sum(PcbAllocation.quantity), 0))
                        .where(PcbAllocation.lot == row.lot)).one()
    return row.quantity - used


def allocate(session: Session, by: User, number, lot, quantity=None) -> PcbAllocation:
    """Set boards of a lot aside for an order (all it still needs when no quantity is given)."""
    people.require(by, "floor")
    order = find_order(session, number)
    row = find_lot(session, lot)
    if row.product_id != order.product_id:
        has = session.get(Product, row.product_id)
        raise InvalidInput(N_("lot {lot} is {product} rev {revision}, not the order's product"),
                           lot=row.lot, product=has.code, revision=has.revision)
    left = left_in(session, row)
    if quantity is None:  # a lot label scanned: what the order still needs, as far as it goes
        needed = order.quantity - allocated(session, order)
        if needed <= 0:
            raise AllAllocated(order=order.number, quantity=order.quantity)
        if left <= 0:
            raise NotEnoughBoards(lot=row.lot, left=left, asked=needed)
        quantity = min(left, needed)
    quantity = _quantity(quantity)
    if quantity > left:
        raise NotEnoughBoards(lot=row.lot, left=left, asked=quantity)
    alloc = PcbAllocation(lot=row.lot, order_id=order.id, quantity=quantity, user_id=by.id)
    session.add(alloc)
    events.record(session, "pcb_lot.allocated", f"order:{order.number}",
                  {"order": order.number, "lot": row.lot, "quantity": quantity}, by)
    session.commit()
    return alloc


def allocated(session: Session, order: WorkOrder) -> int:
    """How many blank PCBs are allocated to the order."""
    return session.exec(select(func.coalesce(func.sum(PcbAllocation.quantity), 0))
                        .where(PcbAllocation.order_id == order.id)).one()


def order_lots(session: Session, order: WorkOrder) -> list[PcbLot]:
    """The lots allocated to the order."""
    return list(session.exec(select(PcbLot).join(PcbAllocation, PcbAllocation.lot == PcbLot.lot)
                             .where(PcbAllocation.order_id == order.id).distinct()))


def floor_life_ends(row: PcbLot, default_hours: float | None) -> datetime | None:
    """When the lot's floor life ends (counted from opening or the last bake); None if unopened."""
    hours = row.floor_life_hours or default_hours
    start = max(t for t in (row.opened_at, row.baked_at) if t) if row.opened_at else None
    if start is None or not hours:
        return None
    return start + timedelta(hours=hours)
