"""Job readiness: data package, stencil, profile board and blank PCBs, green before any board.

Every scan asks, so the facts are read in two queries (the order's row with its newest data
package, stencil, tension check and profile run; then its PCB lots) and judged without the
database.
"""

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import bindparam, func, select
from sqlmodel import Session

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
from station.readiness import pcb_lots

ITEMS = ("data_package", "stencil", "profile_board", "blank_pcbs")  # in the order shown


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
        found.package_errors = [p["message"] for p in report.get("problems", [])
                                if p.get("severity", "error") == "error"]
    return found


def _item(item: str, code: str | None, message: str, todo: str = "", warning: str = "") -> dict:
    entry = {"item": item, "ready": code is None, "code": code, "message": message, "todo": todo}
    if warning:
        entry["warning"] = warning
    return entry


def data_package_item(f: Facts) -> dict:
    """Ready when the product revision's newest data package is complete and without errors."""
    o = f.order
    if o.package_id is None:
        return _item("data_package", "NO_DATA_PACKAGE",
                     f"No data package for {o.code} rev {o.revision}.",
                     "Upload the customer's Gerber zip, BOM and centroid file.")
    if not o.package_ready:
        return _item("data_package", "DATA_PACKAGE_INCOMPLETE",
                     "Data package has problems: " + "; ".join(f.package_errors[:3]),
                     "Ask the customer for the missing or corrected files.")
    return _item("data_package", None, "Data package complete and consistent.")


def stencil_item(f: Facts, rules: Rules) -> dict:
    """Ready when the right stencil is mounted, tight, clean, whole and within its life."""
    s = f.order
    name = s.stencil_id
    if name is None:
        return _item("stencil", "NO_STENCIL", "No stencil is mounted for this order.",
                     "Scan the stencil on this screen to mount it.")
    if s.retired_at is not None:
        return _item("stencil", "STENCIL_RETIRED", f"Stencil {name} is retired.",
                     "Mount another stencil of this product.")
    if s.damaged:
        return _item("stencil", "STENCIL_DAMAGED", f"Stencil {name} is damaged.",
                     "Replace it, or inspect it again if it was repaired.")
    if s.prints >= s.life_prints:
        return _item("stencil", "STENCIL_LIFE_REACHED",
                     f"Stencil {name} has reached its life: {s.prints} of {s.life_prints} prints.",
                     "Retire it and mount a new one.")
    if s.prints - s.prints_at_clean >= s.clean_interval_prints:
        return _item("stencil", "STENCIL_NEEDS_CLEANING",
                     f"Stencil {name} needs cleaning: {s.prints - s.prints_at_clean} prints since "
                     f"the last ({s.clean_interval_prints} allowed).", "Clean it and record it.")
    if s.tension_id is None:
        return _item("stencil", "STENCIL_NOT_MEASURED", f"Stencil {name} has no tension reading.",
                     f"Measure its tension at {rules.tension_points} points at least.")
    if not s.tension_passed:
        return _item("stencil", "STENCIL_TENSION_LOW", f"Stencil {name}: {s.tension_note}.",
                     "Retension or replace the stencil, then measure again.")
    warning = ""
    if s.prints >= s.life_prints * rules.life_warning_pct / 100:
        warning = f"{s.prints} of {s.life_prints} prints used: order its replacement."
    return _item("stencil", None, f"Stencil {name} ready ({s.prints}/{s.life_prints} prints).",
                 warning=warning)


def profile_item(f: Facts, rules: Rules, now: datetime) -> dict:
    """Ready when the latest profile run of the product on the order's paste passed (or warned)
    within the validity window; a newer failing run puts the oven in doubt again."""
    run = f.order
    todo = f"Run a profile board of this product through the oven with paste {run.paste}."
    if run.run_id is None:
        return _item("profile_board", "NO_PROFILE_RUN",
                     f"No profile run of this product on paste {run.paste}.", todo)
    if run.verdict not in ("PASS", "WARN"):
        return _item("profile_board", "PROFILE_FAILED",
                     f"The latest profile run #{run.run_id} is {run.verdict}.", todo)
    if run.recorded_at < now - timedelta(hours=rules.profile_validity_hours):
        return _item("profile_board", "PROFILE_EXPIRED",
                     f"The last profile run #{run.run_id} is older than "
                     f"{rules.profile_validity_hours:g} h.", todo)
    return _item("profile_board", None,
                 f"Profile run #{run.run_id} on {run.profile_board_id}: {run.verdict}, "
                 f"PWI {run.pwi:.0f} %.")


def pcb_item(f: Facts, rules: Rules, now: datetime) -> dict:
    """Ready when allocated lots cover the order and none is past its floor life unbaked."""
    for lot in f.lots:
        ends = pcb_lots.floor_life_ends(lot, rules.floor_life_hours)
        if ends is not None and ends < now:
            return _item("blank_pcbs", "PCB_FLOOR_LIFE",
                         f"Lot {lot.lot} is past its floor life since "
                         f"{ends:%Y-%m-%d %H:%M} UTC.", "Bake the lot and record the bake.")
    have, need = sum(lot.quantity for lot in f.lots), f.order.quantity
    if have < need:
        return _item("blank_pcbs", "PCB_SHORT", f"{have} of {need} blank PCBs allocated.",
                     "Scan a PCB lot label on this screen to allocate it.")
    return _item("blank_pcbs", None, f"{have} blank PCBs allocated for {need} boards.")


def judge(f: Facts, rules: Rules | None = None, now: datetime | None = None) -> list[dict]:
    """The four items, each ready or not with its reason and what to do."""
    rules, now = rules or Rules(), now or utcnow()
    not_needed = "Not needed: the route has no {} step."
    route = f.order.route
    return [
        data_package_item(f),
        stencil_item(f, rules) if "PRINT" in route
        else _item("stencil", None, not_needed.format("PRINT")),
        profile_item(f, rules, now) if "REFLOW" in route
        else _item("profile_board", None, not_needed.format("REFLOW")),
        pcb_item(f, rules, now),
    ]


def assess(session: Session, order: WorkOrder, rules: Rules | None = None,
           now: datetime | None = None) -> list[dict]:
    """The four items of the order, each ready or not with its reason and what to do."""
    return judge(facts(session, order.id), rules, now)


def red_items(session: Session, order: WorkOrder, rules: Rules | None = None) -> list[dict]:
    """The items of the order that are not green."""
    return [item for item in assess(session, order, rules) if not item["ready"]]
