"""Job readiness: data package, stencil, profile board and blank PCBs, green before any board.

Every scan asks, so the facts are read in two queries (the order's row with its newest data
package, stencil, tension check and profile run; then its PCB lots) and judged without the
database.
"""

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import bindparam, func, select
from sqlmodel import Session

from station.errors import N_, Text
from station.material import feeders
from station.models import (
    DataPackage,
    PcbAllocation,
    PcbLot,
    Product,
    ProfileBoard,
    ProfileRun,
    Stencil,
    StencilCheck,
    WorkOrder,
    utcnow,
)
from station.readiness import pcb_lots, stencils
from station.readiness.datapackage.problems import joined, said

ITEMS = ("data_package", "stencil", "profile_board", "blank_pcbs")  # in the order shown
MATERIAL = "feeder_setup"  # the fifth item, shown where the route places parts; not gating


@dataclass
class Rules:
    """The limits readiness is judged by (config/station.toml [readiness])."""

    tension_new_Ncm: float = 35.0
    tension_service_Ncm: float = 25.0
    tension_points: int = 4
    life_warning_pct: float = 90.0
    profile_validity_hours: float = 24.0
    floor_life_hours: float | None = 168.0


def _facts_query():
    """The order, its product and the newest of each readiness record, as one row."""
    o, p, d, s = (WorkOrder.__table__, Product.__table__, DataPackage.__table__,
                  Stencil.__table__)
    check, run, board = StencilCheck.__table__, ProfileRun.__table__, ProfileBoard.__table__
    newest_package = (select(func.max(d.c.id)).where(d.c.product_id == o.c.product_id)
                      .correlate(o).scalar_subquery())
    last_tension = (select(func.max(check.c.id))
                    .where(check.c.stencil_id == o.c.stencil_id, check.c.kind == "tension")
                    .correlate(o).scalar_subquery())
    latest_run = (select(func.max(run.c.id)).join(board)
                  .where(board.c.product_id == o.c.product_id, run.c.paste == o.c.paste)
                  .correlate(o).scalar_subquery())
    return (select(o.c.id, o.c.number, o.c.quantity, o.c.paste, o.c.stencil_id, o.c.product_id,
                   p.c.code, p.c.revision, p.c.route,
                   d.c.id.label("package_id"), d.c.ready.label("package_ready"),
                   s.c.retired_at, s.c.damaged, s.c.prints, s.c.life_prints, s.c.prints_at_clean,
                   s.c.clean_interval_prints, check.c.id.label("tension_id"),
                   check.c.passed.label("tension_passed"), check.c.note.label("tension_note"),
                   run.c.id.label("run_id"), run.c.verdict, run.c.pwi, run.c.recorded_at,
                   run.c.profile_board_id)
            .select_from(o.join(p, p.c.id == o.c.product_id)
                         .outerjoin(d, d.c.id == newest_package)
                         .outerjoin(s, s.c.id == o.c.stencil_id)
                         .outerjoin(check, check.c.id == last_tension)
                         .outerjoin(run, run.c.id == latest_run))
            .where(o.c.id == bindparam("order_id")))


FACTS = _facts_query()  # every scan runs these two; SQLAlchemy caches their compiled SQL
LOTS = (select(PcbLot.lot, PcbLot.opened_at, PcbLot.baked_at, PcbLot.floor_life_hours,
               func.sum(PcbAllocation.quantity).label("quantity"))
        .join(PcbAllocation, PcbAllocation.lot == PcbLot.lot)
        .where(PcbAllocation.order_id == bindparam("order_id")).group_by(PcbLot.lot))


@dataclass
class Facts:
    """What the order's readiness is judged on: its row, its PCB lots, its package's problems."""

    order: tuple  # a row: its columns by name
    lots: list[tuple]
    package_errors: list[str] = field(default_factory=list)


def facts(session: Session, order_id: int) -> Facts:
    """The order's readiness facts, read in the session's transaction."""
    params = {"order_id": order_id}
    row = session.execute(FACTS, params).one()
    found = Facts(row, list(session.execute(LOTS, params)))
    if row.package_id is not None and not row.package_ready:
        # The report (every designator of the board) is read only when it is not ready.
        report = session.get(DataPackage, row.package_id).report
        found.package_errors = [said(p) for p in report.get("problems", [])
                                if p.get("severity", "error") == "error"]
    return found


def _item(item: str, code: str | None, message: Text, todo: Text | str = "",
          warning: Text | str = "") -> dict:
    entry = {"item": item, "ready": code is None, "code": code, "message": message, "todo": todo}
    if warning:
        entry["warning"] = warning
    return entry


def data_package_item(f: Facts) -> dict:
    """Ready when the product revision's newest data package is complete and without errors."""
    o = f.order
    if o.package_id is None:
        return _item("data_package", "NO_DATA_PACKAGE",
                     Text(N_("No data package for {product} rev {revision}."), product=o.code,
                          revision=o.revision),
                     Text(N_("Upload the customer's Gerber zip, BOM and centroid file.")))
    if not o.package_ready:
        # The problems are the report's own sentences, as the data package check wrote them.
        return _item("data_package", "DATA_PACKAGE_INCOMPLETE",
                     Text(N_("Data package has problems: {problems}"),
                          problems=joined(f.package_errors[:3])),
                     Text(N_("Ask the customer for the missing or corrected files.")))
    return _item("data_package", None, Text(N_("Data package complete and consistent.")))


def stencil_item(f: Facts, rules: Rules) -> dict:
    """Ready when the right stencil is mounted, tight, clean, whole and within its life."""
    s = f.order
    name, prints, life = s.stencil_id, s.prints, s.life_prints
    if name is None:
        return _item("stencil", "NO_STENCIL", Text(N_("No stencil is mounted for this order.")),
                     Text(N_("Scan the stencil on this screen to mount it.")))
    if s.retired_at is not None:
        return _item("stencil", "STENCIL_RETIRED", Text(N_("Stencil {name} is retired."),
                                                        name=name),
                     Text(N_("Mount another stencil of this product.")))
    if s.damaged:
        return _item("stencil", "STENCIL_DAMAGED", Text(N_("Stencil {name} is damaged."),
                                                        name=name),
                     Text(N_("Replace it, or inspect it again if it was repaired.")))
    if prints >= life:
        return _item("stencil", "STENCIL_LIFE_REACHED",
                     Text(N_("Stencil {name} has reached its life: {prints} of {life} prints."),
                          name=name, prints=prints, life=life),
                     Text(N_("Retire it and mount a new one.")))
    if prints - s.prints_at_clean >= s.clean_interval_prints:
        return _item("stencil", "STENCIL_NEEDS_CLEANING",
                     Text(N_("Stencil {name} needs cleaning: {since} prints since the last "
                             "({allowed} allowed)."), name=name,
                          since=prints - s.prints_at_clean, allowed=s.clean_interval_prints),
                     Text(N_("Clean it and record it.")))
    if s.tension_id is None:
        return _item("stencil", "STENCIL_NOT_MEASURED",
                     Text(N_("Stencil {name} has no tension reading."), name=name),
                     Text(N_("Measure its tension at {points} points at least."),
                          points=rules.tension_points))
    if not s.tension_passed:
        return _item("stencil", "STENCIL_TENSION_LOW",
                     Text(N_("Stencil {name}: {note}."), name=name,
                          note=stencils.tension_note(s.tension_note)),
                     Text(N_("Retension or replace the stencil, then measure again.")))
    warning = ""
    if prints >= life * rules.life_warning_pct / 100:
        warning = Text(N_("{prints} of {life} prints used: order its replacement."),
                       prints=prints, life=life)
    return _item("stencil", None, Text(N_("Stencil {name} ready ({prints}/{life} prints)."),
                                       name=name, prints=prints, life=life), warning=warning)


def profile_item(f: Facts, rules: Rules, now: datetime) -> dict:
    """Ready when the latest profile run of the product on the order's paste passed (or warned)
    within the validity window; a newer failing run puts the oven in doubt again."""
    run = f.order
    todo = Text(N_("Run a profile board of this product through the oven with paste {paste}."),
                paste=run.paste)
    if run.run_id is None:
        return _item("profile_board", "NO_PROFILE_RUN",
                     Text(N_("No profile run of this product on paste {paste}."),
                          paste=run.paste), todo)
    if run.verdict not in ("PASS", "WARN"):
        return _item("profile_board", "PROFILE_FAILED",
                     Text(N_("The latest profile run #{run} is {verdict}."), run=run.run_id,
                          verdict=run.verdict), todo)
    if run.recorded_at < now - timedelta(hours=rules.profile_validity_hours):
        return _item("profile_board", "PROFILE_EXPIRED",
                     Text(N_("The last profile run #{run} is older than {hours:g} h."),
                          run=run.run_id, hours=rules.profile_validity_hours), todo)
    return _item("profile_board", None,
                 Text(N_("Profile run #{run} on {board}: {verdict}, PWI {pwi:.0f} %."),
                      run=run.run_id, board=run.profile_board_id, verdict=run.verdict,
                      pwi=run.pwi))


def pcb_item(f: Facts, rules: Rules, now: datetime) -> dict:
    """Ready when allocated lots cover the order and none is past its floor life unbaked."""
    for lot in f.lots:
        ends = pcb_lots.floor_life_ends(lot, rules.floor_life_hours)
        if ends is not None and ends < now:
            return _item("blank_pcbs", "PCB_FLOOR_LIFE",
                         Text(N_("Lot {lot} is past its floor life since {ends} UTC."),
                              lot=lot.lot, ends=f"{ends:%Y-%m-%d %H:%M}"),
                         Text(N_("Bake the lot and record the bake.")))
    have, need = sum(lot.quantity for lot in f.lots), f.order.quantity
    if have < need:
        return _item("blank_pcbs", "PCB_SHORT",
                     Text(N_("{have} of {need} blank PCBs allocated."), have=have, need=need),
                     Text(N_("Scan a PCB lot label on this screen to allocate it.")))
    return _item("blank_pcbs", None, Text(N_("{have} blank PCBs allocated for {need} boards."),
                                          have=have, need=need))


def judge(f: Facts, rules: Rules | None = None, now: datetime | None = None) -> list[dict]:
    """The four items, each ready or not with its reason and what to do."""
    rules, now = rules or Rules(), now or utcnow()
    route = f.order.route

    def not_needed(step: str) -> Text:
        return Text(N_("Not needed: the route has no {step} step."), step=step)

    return [
        data_package_item(f),
        stencil_item(f, rules) if "PRINT" in route else _item("stencil", None,
                                                              not_needed("PRINT")),
        profile_item(f, rules, now) if "REFLOW" in route
        else _item("profile_board", None, not_needed("REFLOW")),
        pcb_item(f, rules, now),
    ]


def assess(session: Session, order: WorkOrder, rules: Rules | None = None,
           now: datetime | None = None, material: bool = False) -> list[dict]:
    """The four items of the order, each ready or not with its reason and what to do; with
    `material` the fifth, the feeder setup, where the route has a placement step (it is shown,
    never part of the NOT_READY gate: the placement step refuses SETUP_NOT_VERIFIED)."""
    found = facts(session, order.id)
    items = judge(found, rules, now)
    if material:
        extra = feeders.readiness_item(session, order, list(found.order.route))
        items += [extra] if extra else []
    return items


def red_items(session: Session, order: WorkOrder, rules: Rules | None = None) -> list[dict]:
    """The items of the order that are not green."""
    return [item for item in assess(session, order, rules) if not item["ready"]]
