"""Stencils: registered per product side, measured, cleaned, inspected, mounted, counted."""

from __future__ import annotations  # interlock imports this module: its Rules are read late

import re

from sqlalchemy import update
from sqlmodel import Session

from station import events, people
from station.errors import N_, Conflict, InvalidInput, NotFound, StationError, Text
from station.masterdata import find_order, find_product, valid_code
from station.models import Product, Stencil, StencilCheck, User, WorkOrder, utcnow
from station.readiness import interlock

SIDES = ("top", "bottom")
TENSION_NOTE = N_("lowest {lowest} N/cm, limit {limit} N/cm")
SIDE_NAMES = {"top": N_("top"), "bottom": N_("bottom")}
_TENSION_NOTE = re.compile(r"lowest (?P<lowest>[\d.]+) N/cm, limit (?P<limit>[\d.]+) N/cm")


class WrongStencil(StationError):
    code = "WRONG_STENCIL"
    message = N_("Stencil {stencil} is for {has}, but order {order} needs {needs}.")
    todo = N_("Mount the stencil of this product, revision and side.")


def tension_note(note: str | None) -> Text | str:
    """A stored tension note (kept in English) as a Text the reader's language can say."""
    found = _TENSION_NOTE.fullmatch(note or "")
    return Text(TENSION_NOTE, **found.groupdict()) if found else note or ""


def _count(value, what: str, low: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= 10**8:
        raise InvalidInput(N_("{what} must be a whole number of at least {low}"), what=what,
                           low=low)
    return value


def find_stencil(session: Session, stencil_id) -> Stencil:
    """The stencil, or NOT_FOUND."""
    stencil = session.get(Stencil, stencil_id) if isinstance(stencil_id, str) else None
    if stencil is None:
        raise NotFound(what=Text(N_("stencil")), key=stencil_id)
    return stencil


def register_stencil(session: Session, by: User, id, product, revision, side, life_prints,
                     clean_interval_prints, thickness_um=None) -> Stencil:
    """Register a stencil for one side of a product revision, its life and cleaning interval."""
    people.require(by, "master_data")
    id = valid_code(id, "id")
    if side not in SIDES:
        raise InvalidInput(N_("side must be 'top' or 'bottom'"))
    life, interval = _count(life_prints, "life_prints"), _count(clean_interval_prints,
                                                                 "clean_interval_prints")
    if thickness_um is not None:
        _count(thickness_um, "thickness_um", 10)
    prod = find_product(session, product, revision)
    if session.get(Stencil, id):
        raise Conflict(what=Text(N_("stencil")), key=id)
    stencil = Stencil(id=id, product_id=prod.id, side=side, life_prints=life,
                      clean_interval_prints=interval, thickness_um=thickness_um)
    session.add(stencil)
    events.record(session, "stencil.registered", f"stencil:{id}",
                  {"product": prod.code, "revision": prod.revision, "side": side,
                   "life_prints": life, "clean_interval_prints": interval}, by)
    session.commit()
    return stencil


def _check(session: Session, by: User, stencil: Stencil, kind: str, payload: dict,
           **fields) -> StencilCheck:
    check = StencilCheck(stencil_id=stencil.id, kind=kind, prints=stencil.prints,
                         user_id=by.id, **fields)
    session.add(stencil)
    session.add(check)
    events.record(session, f"stencil.{kind}", f"stencil:{stencil.id}", payload, by)
    session.commit()
    return check


def record_tension(session: Session, by: User, stencil_id, readings,
                   rules: interlock.Rules | None = None) -> StencilCheck:
    """Record tension readings (N/cm) at several points; they pass when all meet the limit."""
    rules = rules or interlock.Rules()
    points = rules.tension_points
    people.require(by, "floor")
    stencil = find_stencil(session, stencil_id)
    if not isinstance(readings, list) or not all(
            isinstance(r, int | float) and not isinstance(r, bool) and 0 <= r <= 200
            for r in readings):
        raise InvalidInput(N_("readings_Ncm must be a list of numbers from 0 to 200 N/cm"))
    if len(readings) < points:
        raise InvalidInput(N_("measure the tension at {points} points at least"), points=points)
    limit = rules.tension_new_Ncm if stencil.prints == 0 else rules.tension_service_Ncm
    passed = min(readings) >= limit
    return _check(session, by, stencil, "tension",
                  {"readings_Ncm": readings, "limit_Ncm": limit, "passed": passed},
                  readings=list(readings), passed=passed,
                  note=str(Text(TENSION_NOTE, lowest=f"{min(readings):g}",
                                    limit=f"{limit:g}")))


def record_cleaning(session: Session, by: User, stencil_id) -> StencilCheck:
    """Record a cleaning: the cleaning interval counts again from here."""
    people.require(by, "floor")
    stencil = find_stencil(session, stencil_id)
    stencil.prints_at_clean = stencil.prints
    return _check(session, by, stencil, "cleaning", {"prints": stencil.prints})


def record_inspection(session: Session, by: User, stencil_id, damaged, note="") -> StencilCheck:
    """Record a damage inspection; a damaged stencil is not ready until inspected good again."""
    people.require(by, "floor")
    stencil = find_stencil(session, stencil_id)
    if not isinstance(damaged, bool) or not isinstance(note, str) or len(note) > 500:
        raise InvalidInput(N_("damaged must be true or false, note a text"))
    stencil.damaged = damaged
    return _check(session, by, stencil, "inspection", {"damaged": damaged, "note": note},
                  passed=not damaged, note=note)


def retire(session: Session, by: User, stencil_id, reason) -> StencilCheck:
    """Retire a stencil for good (worn out, damaged beyond repair)."""
    people.require(by, "floor")
    stencil = find_stencil(session, stencil_id)
    if not isinstance(reason, str) or not reason.strip():
        raise InvalidInput(N_("retiring a stencil needs a reason"))
    stencil.retired_at = utcnow()
    return _check(session, by, stencil, "retirement", {"reason": reason}, passed=False,
                  note=reason[:500])


def _side_of(product: Product, side: str) -> Text:
    return Text(N_("{product} rev {revision} {side}"), product=product.code,
                revision=product.revision, side=Text(SIDE_NAMES[side]))


def mount(session: Session, by: User, number, stencil_id) -> WorkOrder:
    """Mount a stencil for an order; one of another product, revision or side is refused."""
    people.require(by, "floor")
    order = find_order(session, number)
    stencil = find_stencil(session, stencil_id)
    product = session.get(Product, order.product_id)
    has = session.get(Product, stencil.product_id)
    if stencil.product_id != order.product_id or stencil.side != order.side:
        raise WrongStencil(stencil=stencil.id, order=order.number,
                           has=_side_of(has, stencil.side), needs=_side_of(product, order.side))
    if stencil.retired_at is not None:
        raise WrongStencil(N_("Stencil {stencil} is retired."), stencil=stencil.id)
    old, order.stencil_id = order.stencil_id, stencil.id
    session.add(order)
    events.record(session, "stencil.mounted", f"order:{order.number}",
                  {"order": order.number, "stencil": stencil.id, "previous": old}, by)
    session.commit()
    return order


def count_print(session: Session, stencil_id: str | None, warning_pct: float) -> Text | None:
    """Count one print with the order's stencil (a panel prints once), in the scan's
    transaction; return a warning once `warning_pct` % of its life is used."""
    if stencil_id is None:
        return None
    # One UPDATE in the database: two stations printing at once both count.
    prints, life = session.execute(
        update(Stencil).where(Stencil.id == stencil_id).values(prints=Stencil.prints + 1)
        .returning(Stencil.prints, Stencil.life_prints)).one()
    if prints < life * warning_pct / 100:
        return None
    return Text(N_("Stencil {stencil} has printed {prints} of {life}: order its replacement."),
                stencil=stencil_id, prints=prints, life=life)
