"""The placement station's screen: work order, slot, then reel, all with the scanner alone.

At a station whose type is a placement step (PLACE, PLACE-B) a scan is, in this order: a work
order (the station loads for it now), a board (which goes through the scan rule as anywhere
else), the reel for the slot armed by the scan before (or the UNLOAD command label, which frees
it), or a slot of the order's feeder setup, which arms it. The rules of loading are
station.material.feeders'; this only tells the scans apart.
"""

from sqlmodel import Session, select

from station.errors import N_, StationError
from station.line.codes import LabelRules, Scan
from station.line.loading import Loading
from station.masterdata import find_order
from station.material import feeders, reels, setups
from station.models import Board, BoardStep, FeederLoad, Reel, Station, User, WorkOrder

UNLOAD = "UNLOAD"  # the command label (printed at the station) scanned after a slot frees it


class ScanSlotFirst(StationError):
    code, status = "SCAN_SLOT_FIRST", 409
    message = N_("Reel {reel}: which slot does it go into?")
    todo = N_("Scan the slot (or its feeder) first, then the reel.")


class NoOrderChosen(StationError):
    code, status = "NO_ORDER_CHOSEN", 409
    message = N_("{code}: this station has no work order to load feeders for.")
    todo = N_("Scan the work order's label first, then the slot, then the reel.")


def is_placement(station: Station | None) -> bool:
    """True for a station whose step places parts from feeders (PLACE, PLACE-B)."""
    return station is not None and setups.is_placement(station.type)


def current_order(session: Session, station_id: str, loading: Loading) -> str | None:
    """The order the station loads for: the one scanned, else its last load's or board's."""
    chosen = loading.order(station_id)
    if chosen is not None:
        return chosen
    last_load = session.exec(select(WorkOrder.number).join(FeederLoad,
                                                           FeederLoad.order_id == WorkOrder.id)
                             .where(FeederLoad.station_id == station_id)
                             .order_by(FeederLoad.id.desc()).limit(1)).first()
    if last_load is not None:
        return last_load
    return session.exec(select(WorkOrder.number).join(Board, Board.order_id == WorkOrder.id)
                        .join(BoardStep, BoardStep.board_id == Board.id)
                        .where(BoardStep.station_id == station_id)
                        .order_by(BoardStep.at.desc(), BoardStep.id.desc()).limit(1)).first()


def grid(session: Session, station: Station, loading: Loading) -> dict:
    """The slot grid of the station's order: each slot's part, reel and state, and the armed
    slot."""
    number = current_order(session, station.id, loading)
    armed = loading.armed(station.id)
    view = {"order": number, "verified": None, "slots": [],
            "armed": armed.slot if armed is not None and armed.order == number else None}
    if number is not None:
        view.update(feeders.status(session, station.id, number))
    return view


def placement_scan(session: Session, station: Station, scan: Scan, user: User,
                   loading: Loading, labels: LabelRules | None = None) -> dict | None:
    """A scan at a placement station as a work order, a reel or a slot (the result), or None
    for a board, which the scan rule takes."""
    if scan.kind == "order":
        order = find_order(session, scan.code)
        loading.choose(station.id, order.number)
        return {"outcome": "info", "code_scanned": scan.code, "notice": (
            N_("Order {order}: scan a slot, then its reel."), {"order": order.number})}
    board = _board_order(session, scan.code)
    if board is not None:
        loading.choose(station.id, board)
        loading.disarm(station.id)
        return None
    armed = loading.armed(station.id)
    if armed is not None and (scan.code or "").upper() == UNLOAD:
        return _unload(session, station, scan, user, loading, armed)
    reel_like = _reel_like(session, scan)
    if reel_like and armed is None:
        raise ScanSlotFirst(reel=reels.reel_id(scan) or scan.code)
    number = current_order(session, station.id, loading)
    if number is None:
        if scan.kind is None:
            raise NoOrderChosen(code=scan.code)
        return None
    # Another slot scanned while one waits for its reel: the operator moved on to that one.
    slot = None if reel_like else _slot_named(session, station.id, number, scan.code)
    if slot is None:
        return _load(session, station, scan, user, loading, armed, labels) if armed else None
    loading.arm(station.id, number, slot["slot"], slot["part"])
    return {"outcome": "info", "code_scanned": scan.code, "armed": slot["slot"], "notice": (
        N_("Slot {slot} needs {part}: scan its reel."), {"slot": slot["slot"],
                                                        "part": slot["part"]})}


def _unload(session: Session, station: Station, scan: Scan, user: User, loading: Loading,
            armed) -> dict:
    """The UNLOAD label after a slot: the slot is freed, its reel's count said."""
    loading.disarm(station.id)
    freed = feeders.unload(session, user, station.id, armed.slot, armed.order)
    return {"outcome": "info", "code_scanned": scan.code, "notice": (
        N_("Slot {slot} unloaded: reel {reel} with {left} parts left."),
        {"slot": freed["slot"], "reel": freed["reel"], "left": freed["quantity_left"]})}


def _load(session: Session, station: Station, scan: Scan, user: User, loading: Loading,
          armed, labels: LabelRules | None) -> dict:
    """The reel scanned for the armed slot, registered first when its label is new; loaded."""
    loading.disarm(station.id)  # one reel per slot scan, refused or not
    reel = reels.reel_id(scan)
    if reel is None or session.get(Reel, reel) is None:
        if scan.format != "plain":
            reel = reels.register_reel(session, user, label=scan.raw, rules=labels).id
        else:
            reel = scan.code
    loaded = feeders.load(session, user, station.id, armed.order, armed.slot, reel)
    return {"outcome": "accepted" if loaded["verdict"] == "PASS" else "warning",
            "feeder": {**loaded, "order": armed.order}, "code_scanned": reel}


def _board_order(session: Session, code: str | None) -> str | None:
    """The order of the board or panel the code names, or None when it names none."""
    if not code:
        return None
    return session.exec(select(WorkOrder.number).join(Board, Board.order_id == WorkOrder.id)
                        .where((Board.serial == code) | (Board.panel_id == code))
                        .limit(1)).first()


def _reel_like(session: Session, scan: Scan) -> bool:
    """True for a registered reel's id or a reel label (it names a part)."""
    if scan.format == "iso15434" and ("P" in scan.fields or "1P" in scan.fields):
        return True
    reel = reels.reel_id(scan)
    return reel is not None and session.get(Reel, reel) is not None


def _slot_named(session: Session, station_id: str, order: str, code: str | None) -> dict | None:
    """The setup's slot a code names: its name (F01), or a feeder label ending in it."""
    if not code:
        return None
    wanted = code.upper()
    for slot in feeders.status(session, station_id, order)["slots"]:
        name = slot["slot"].upper()
        if wanted == name or wanted.endswith(("-" + name, "/" + name, ":" + name)):
            return slot
    return None
