"""Job readiness: data package, stencil, profile board and blank PCBs, green before any board."""

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlmodel import Session, func, select

from station import pcb_lots, stencils
from station.models import (
    DataPackage,
    PcbAllocation,
    PcbLot,
    Product,
    ProfileBoard,
    ProfileRun,
    Stencil,
    WorkOrder,
    utcnow,
)

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


def _item(item: str, code: str | None, message: str, todo: str = "", warning: str = "") -> dict:
    entry = {"item": item, "ready": code is None, "code": code, "message": message, "todo": todo}
    if warning:
        entry["warning"] = warning
    return entry


def data_package_item(session: Session, product: Product) -> dict:
    """Ready when the product revision's newest data package is complete and without errors."""
    # Only the flag: the report (every designator of the board) is read when it is not ready.
    newest = session.exec(select(DataPackage.id, DataPackage.ready)
                          .where(DataPackage.product_id == product.id)
                          .order_by(DataPackage.id.desc()).limit(1)).first()
    if newest is None:
        return _item("data_package", "NO_DATA_PACKAGE",
                     f"No data package for {product.code} rev {product.revision}.",
                     "Upload the customer's Gerber zip, BOM and centroid file.")
    if not newest.ready:
        report = session.get(DataPackage, newest.id).report
        errors = [p["message"] for p in report.get("problems", [])
                  if p.get("severity", "error") == "error"]
        return _item("data_package", "DATA_PACKAGE_INCOMPLETE",
                     "Data package has problems: " + "; ".join(errors[:3]),
                     "Ask the customer for the missing or corrected files.")
    return _item("data_package", None, "Data package complete and consistent.")


def stencil_item(session: Session, order: WorkOrder, rules: Rules) -> dict:
    """Ready when the right stencil is mounted, tight, clean, whole and within its life."""
    if order.stencil_id is None:
        return _item("stencil", "NO_STENCIL", "No stencil is mounted for this order.",
                     "Scan the stencil on this screen to mount it.")
    s = session.get(Stencil, order.stencil_id)
    if s.retired_at is not None:
        return _item("stencil", "STENCIL_RETIRED", f"Stencil {s.id} is retired.",
                     "Mount another stencil of this product.")
    if s.damaged:
        return _item("stencil", "STENCIL_DAMAGED", f"Stencil {s.id} is damaged.",
                     "Replace it, or inspect it again if it was repaired.")
    if s.prints >= s.life_prints:
        return _item("stencil", "STENCIL_LIFE_REACHED",
                     f"Stencil {s.id} has reached its life: {s.prints} of {s.life_prints} prints.",
                     "Retire it and mount a new one.")
    if s.prints - s.prints_at_clean >= s.clean_interval_prints:
        return _item("stencil", "STENCIL_NEEDS_CLEANING",
                     f"Stencil {s.id} needs cleaning: {s.prints - s.prints_at_clean} prints since "
                     f"the last ({s.clean_interval_prints} allowed).", "Clean it and record it.")
    tension = stencils.last_check(session, s, "tension")
    if tension is None:
        return _item("stencil", "STENCIL_NOT_MEASURED", f"Stencil {s.id} has no tension reading.",
                     f"Measure its tension at {rules.tension_points} points at least.")
    if not tension.passed:
        return _item("stencil", "STENCIL_TENSION_LOW", f"Stencil {s.id}: {tension.note}.",
                     "Retension or replace the stencil, then measure again.")
    warning = ""
    if s.prints >= s.life_prints * rules.life_warning_pct / 100:
        warning = f"{s.prints} of {s.life_prints} prints used: order its replacement."
    return _item("stencil", None, f"Stencil {s.id} ready ({s.prints}/{s.life_prints} prints).",
                 warning=warning)


def profile_item(session: Session, order: WorkOrder, rules: Rules, now: datetime) -> dict:
    """Ready when the latest profile run of the product on the order's paste passed (or warned)
    within the validity window; a newer failing run puts the oven in doubt again."""
    since = now - timedelta(hours=rules.profile_validity_hours)
    # Only the columns judged here: a run's raw recording and result are large.
    latest = session.exec(select(ProfileRun.id, ProfileRun.verdict, ProfileRun.pwi,
                                 ProfileRun.recorded_at, ProfileRun.profile_board_id)
                          .join(ProfileBoard).where(ProfileBoard.product_id == order.product_id,
                                                    ProfileRun.paste == order.paste)
                          .order_by(ProfileRun.id.desc()).limit(1)).first()
    todo = f"Run a profile board of this product through the oven with paste {order.paste}."
    if latest is None:
        return _item("profile_board", "NO_PROFILE_RUN",
                     f"No profile run of this product on paste {order.paste}.", todo)
    if latest.verdict not in ("PASS", "WARN"):
        return _item("profile_board", "PROFILE_FAILED",
                     f"The latest profile run #{latest.id} is {latest.verdict}.", todo)
    if latest.recorded_at < since:
        return _item("profile_board", "PROFILE_EXPIRED",
                     f"The last profile run #{latest.id} is older than "
                     f"{rules.profile_validity_hours:g} h.", todo)
    return _item("profile_board", None,
                 f"Profile run #{latest.id} on {latest.profile_board_id}: {latest.verdict}, "
                 f"PWI {latest.pwi:.0f} %.")


def pcb_item(session: Session, order: WorkOrder, rules: Rules, now: datetime) -> dict:
    """Ready when allocated lots cover the order and none is past its floor life unbaked."""
    rows = session.exec(select(PcbLot, func.sum(PcbAllocation.quantity))
                        .join(PcbAllocation, PcbAllocation.lot == PcbLot.lot)
                        .where(PcbAllocation.order_id == order.id).group_by(PcbLot.lot)).all()
    for lot, _quantity in rows:
        ends = pcb_lots.floor_life_ends(lot, rules.floor_life_hours)
        if ends is not None and ends < now:
            return _item("blank_pcbs", "PCB_FLOOR_LIFE",
                         f"Lot {lot.lot} is past its floor life since "
                         f"{ends:%Y-%m-%d %H:%M} UTC.", "Bake the lot and record the bake.")
    have = sum(quantity for _lot, quantity in rows)
    if have < order.quantity:
        return _item("blank_pcbs", "PCB_SHORT",
                     f"{have} of {order.quantity} blank PCBs allocated.",
                     "Scan a PCB lot label on this screen to allocate it.")
    return _item("blank_pcbs", None, f"{have} blank PCBs allocated for {order.quantity} boards.")


def assess(session: Session, order: WorkOrder, rules: Rules | None = None,
           now: datetime | None = None) -> list[dict]:
    """The four items of the order, each ready or not with its reason and what to do."""
    rules, now = rules or Rules(), now or utcnow()
    product = session.get(Product, order.product_id)
    not_needed = "Not needed: the route has no {} step."
    return [
        data_package_item(session, product),
        stencil_item(session, order, rules) if "PRINT" in product.route
        else _item("stencil", None, not_needed.format("PRINT")),
        profile_item(session, order, rules, now) if "REFLOW" in product.route
        else _item("profile_board", None, not_needed.format("REFLOW")),
        pcb_item(session, order, rules, now),
    ]


def red_items(session: Session, order: WorkOrder, rules: Rules | None = None) -> list[dict]:
    """The items of the order that are not green."""
    return [item for item in assess(session, order, rules) if not item["ready"]]
