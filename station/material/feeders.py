"""Loading reels on the placement station's slots, verified against the feeder setup by scan;
the interlock that holds boards until every slot is verified, and what each board consumes."""

from dataclasses import dataclass

from sqlmodel import Session, col, select

from station import events, people
from station.errors import (
    N_,
    SENTENCES,
    InvalidInput,
    StationError,
    Text,
    UnknownStation,
)
from station.masterdata import find_order
from station.material.floorlife import expired, floor_left_h
from station.material.setups import find_setup, is_placement, slots_of
from station.models import (
    BoardMaterial,
    FeederLoad,
    FeederSetup,
    FeederSlot,
    Product,
    Reel,
    Station,
    User,
    WorkOrder,
    utcnow,
)

GOOD = ("PASS", "ALTERNATE")  # a load's verdict that feeds boards
LOW_PCT = 10.0  # a reel at or below this share of its parts warns: splice the next one
STATES = {"PASS": "verified", "ALTERNATE": "alternate"}


class WrongPart(StationError):
    code = "WRONG_PART"
    message = N_("Reel {reel} holds {part}, but slot {slot} needs {part_needed}.")
    todo = N_("Take the reel away and load a reel of {part_needed} on slot {slot}.")

    def extra(self):
        return {"part_needed": self.params["part_needed"], "slot": self.params["slot"],
                "alternates": self.params.get("alternates", [])}


class MsdExpired(StationError):
    code = "MSD_EXPIRED"
    message = N_("Reel {reel} (MSL {msl}) is past its floor life.")
    todo = N_("Bake the reel and record the bake before it is loaded.")


class ReelEmpty(StationError):
    code = "REEL_EMPTY"
    message = N_("Reel {reel} is empty.")
    todo = N_("Splice or load a new reel on slot {slot}.")

    def extra(self):
        return {"slots": self.params.get("slots", [self.params.get("slot")])}


class UnknownReel(StationError):
    code, status = "UNKNOWN_REEL", 404
    message = N_("No reel {reel} is registered.")
    todo = N_("Scan the reel's label to register it, then load it again.")


class ReelInUse(StationError):
    code = "REEL_IN_USE"
    message = N_("Reel {reel} is loaded on slot {slot} of {station}.")
    todo = N_("Unload it there first.")


class UnknownSlot(StationError):
    code, status = "UNKNOWN_SLOT", 404
    message = N_("Slot {slot} is not in the feeder setup of {step}.")
    todo = N_("Scan a slot of the setup: {slots}.")


class NoFeederSetup(StationError):
    code = "NO_FEEDER_SETUP"
    message = N_("Order {order} has no feeder setup at {station} ({step}).")
    todo = N_("Ask an admin to create the feeder setup of this product's placement step.")


class NotLoaded(StationError):
    code = "NOT_LOADED"
    message = N_("Nothing is loaded on slot {slot} of {station}.")


class SetupNotVerified(StationError):
    code = "SETUP_NOT_VERIFIED"
    message = N_("The feeder setup at {station} is not verified: slots {names}.")
    todo = N_("Load the right reels on these slots: scan the slot, then the reel.")

    def __init__(self, station: str, slots: list[str]):
        super().__init__(station=station, slots=slots, names=", ".join(slots))

    def extra(self):
        return {"slots": self.params["slots"]}


@dataclass
class Place:
    """A placement station working an order: its step, the setup and what its slots hold."""

    station: Station
    order: WorkOrder
    product: Product
    setup: FeederSetup | None
    slots: list[FeederSlot]
    loads: dict[str, FeederLoad]  # slot -> its open load

    def slot(self, name) -> FeederSlot:
        """The setup's slot of this name (as printed on the feeder, any case)."""
        if isinstance(name, str):
            for s in self.slots:
                if s.slot.upper() == name.strip().upper():
                    return s
        raise UnknownSlot(slot=name, step=self.station.type,
                          slots=", ".join(s.slot for s in self.slots))


def open_loads(session: Session, station_id: str) -> dict[str, FeederLoad]:
    """The loads on the station's slots that are not unloaded, by slot."""
    rows = session.exec(select(FeederLoad).where(FeederLoad.station_id == station_id,
                                                 col(FeederLoad.unloaded_at).is_(None))
                        .order_by(FeederLoad.id))
    return {ld.slot: ld for ld in rows}


def _station(session: Session, station_id) -> Station:
    station = session.get(Station, station_id) if isinstance(station_id, str) else None
    if station is None:
        raise UnknownStation(station=station_id)
    return station


def place(session: Session, station_id, order_number, need_setup: bool = True) -> Place:
    """The station, the order, its setup for the station's step and the open loads."""
    station = _station(session, station_id)
    order = find_order(session, order_number)
    product = session.get(Product, order.product_id)
    step = station.type
    setup = find_setup(session, product.id, step) \
        if is_placement(step) and step in product.route else None
    if setup is None and need_setup:
        raise NoFeederSetup(order=order.number, station=station.id, step=step)
    slots = slots_of(session, setup.id) if setup else []
    return Place(station, order, product, setup, slots, open_loads(session, station.id))


def judge(s: FeederSlot, load: FeederLoad | None, reel: Reel | None, now) -> tuple[str, str | None]:
    """A slot's state (verified, alternate, wrong, empty, unloaded) and its problem's code."""
    if load is None or reel is None:
        return "unloaded", None
    if load.verdict not in GOOD:
        return ("empty" if load.verdict == "REEL_EMPTY" else "wrong"), load.verdict
    if reel.part != s.part and reel.part not in s.alternates:
        return "wrong", "WRONG_PART"  # the setup was revised since the reel was loaded
    if reel.quantity <= 0:
        return "empty", "REEL_EMPTY"
    if expired(reel, now):
        return "wrong", "MSD_EXPIRED"
    return ("verified" if reel.part == s.part else "alternate"), None


def _refusal(s: FeederSlot, reel: Reel, now) -> StationError | None:
    """Why this reel may not go on this slot, or None."""
    if reel.part != s.part and reel.part not in s.alternates:
        return WrongPart(reel=reel.id, part=reel.part, slot=s.slot, part_needed=s.part,
                         alternates=list(s.alternates))
    if reel.quantity <= 0:
        return ReelEmpty(reel=reel.id, slot=s.slot)
    if expired(reel, now):
        return MsdExpired(reel=reel.id, msl=reel.msl)
    return None


def _refuse(session: Session, by: User, p: Place, s: FeederSlot | None, reel_id, error,
            mark: bool):
    """Keep the refused attempt (an event; a known reel turns the slot red), then refuse."""
    session.rollback()
    now = utcnow()
    if mark:
        # The operator may already have put the wrong reel on: the slot is not verified until
        # a right reel is scanned onto it.
        if (current := p.loads.get(s.slot)) is not None:
            current.unloaded_at = now
            session.add(current)
        session.add(FeederLoad(station_id=p.station.id, order_id=p.order.id, slot=s.slot,
                               reel_id=reel_id, verdict=error.code, loaded_at=now,
                               user_id=by.id))
    events.record(session, "feeder.refused", f"station:{p.station.id}",
                  {"station": p.station.id, "order": p.order.number,
                   "slot": s.slot if s else None, "reel": reel_id, "code": error.code,
                   "part_needed": s.part if s else None}, by, p.station.id)
    session.commit()
    raise error


def load(session: Session, by: User, station_id, order_number, slot, reel_id) -> dict:
    """Load (or splice) a reel on a slot: PASS, ALTERNATE, or refused, every attempt an event."""
    people.require(by, "floor")
    p = place(session, station_id, order_number)
    s = p.slot(slot)
    reel = session.get(Reel, reel_id) if isinstance(reel_id, str) else None
    if reel is None:
        _refuse(session, by, p, s, reel_id if isinstance(reel_id, str) else repr(reel_id),
                UnknownReel(reel=reel_id), mark=False)
    current, now = p.loads.get(s.slot), utcnow()
    if current is not None and current.reel_id == reel.id and current.verdict in GOOD \
            and _refusal(s, reel, now) is None:
        return _answer(s, reel, current.verdict, False)  # scanned again: nothing changes
    if (error := _refusal(s, reel, now)) is not None:
        _refuse(session, by, p, s, reel.id, error, mark=True)
    elsewhere = session.exec(select(FeederLoad).where(
        FeederLoad.reel_id == reel.id, col(FeederLoad.unloaded_at).is_(None),
        col(FeederLoad.verdict).in_(GOOD))).first()
    if elsewhere is not None and (elsewhere.station_id, elsewhere.slot) != (p.station.id, s.slot):
        _refuse(session, by, p, s, reel.id, ReelInUse(reel=reel.id, slot=elsewhere.slot,
                                                      station=elsewhere.station_id), mark=False)
    verdict = "PASS" if reel.part == s.part else "ALTERNATE"
    previous = current.reel_id if current is not None and current.verdict in GOOD else None
    if current is not None:
        current.unloaded_at = now  # a splice: the old reel stays traced to what it fed
        session.add(current)
    session.add(FeederLoad(station_id=p.station.id, order_id=p.order.id, slot=s.slot,
                           reel_id=reel.id, verdict=verdict, loaded_at=now, user_id=by.id))
    events.record(session, "feeder.loaded", f"station:{p.station.id}",
                  {"station": p.station.id, "order": p.order.number, "slot": s.slot,
                   "part": reel.part, "reel": reel.id, "lot": reel.lot,
                   "quantity": reel.quantity, "verdict": verdict,
                   "spliced": previous is not None, "previous_reel": previous},
                  by, p.station.id)
    session.commit()
    return _answer(s, reel, verdict, previous is not None)


def _answer(s: FeederSlot, reel: Reel, verdict: str, spliced: bool) -> dict:
    return {"verdict": verdict, "slot": s.slot, "part": reel.part, "slot_part": s.part,
            "reel": reel.id, "spliced": spliced}


def unload(session: Session, by: User, station_id, slot, order_number=None) -> dict:
    """Take the reel off a slot: the slot is free (and not verified) again."""
    people.require(by, "floor")
    station = _station(session, station_id)
    loads = open_loads(session, station.id)
    name = slot.strip().upper() if isinstance(slot, str) else None
    current = next((ld for key, ld in loads.items() if key.upper() == name), None)
    if current is None:
        raise NotLoaded(slot=slot, station=station.id)
    order = find_order(session, order_number) if order_number is not None \
        else session.get(WorkOrder, current.order_id)
    reel = session.get(Reel, current.reel_id)
    current.unloaded_at = utcnow()
    session.add(current)
    left = reel.quantity if reel else None
    events.record(session, "feeder.unloaded", f"station:{station.id}",
                  {"station": station.id, "order": order.number, "slot": current.slot,
                   "reel": current.reel_id, "quantity_left": left}, by, station.id)
    session.commit()
    return {"slot": current.slot, "reel": current.reel_id, "quantity_left": left}


def _reels(session: Session, loads) -> dict[str, Reel]:
    ids = [ld.reel_id for ld in loads]
    if not ids:
        return {}
    return {r.id: r for r in session.exec(select(Reel).where(col(Reel.id).in_(ids)))}


def slot_states(session: Session, p: Place, now=None) -> list[dict]:
    """Every slot of the setup with the reel on it and its state."""
    now = now or utcnow()
    reels = _reels(session, p.loads.values())
    out = []
    for s in p.slots:
        ld = p.loads.get(s.slot)
        reel = reels.get(ld.reel_id) if ld else None
        state, problem = judge(s, ld, reel, now)
        out.append({"slot": s.slot, "part": s.part, "alternates": s.alternates,
                    "designators": s.designators, "reel": ld.reel_id if ld else None,
                    "reel_part": reel.part if reel else None, "state": state,
                    "problem": problem, "quantity": reel.quantity if reel else None,
                    "floor_left_h": floor_left_h(reel, now) if reel else None})
    return out


def status(session: Session, station_id, order_number) -> dict:
    """The station's slots for the order's setup, each with its state; verified when all are."""
    if not isinstance(order_number, str) or not order_number:
        raise InvalidInput(N_("order must be the order's number"))
    p = place(session, station_id, order_number, need_setup=False)
    slots = slot_states(session, p)
    return {"station": p.station.id, "order": p.order.number, "step": p.station.type,
            "setup": p.setup.id if p.setup else None,
            "verified": all(s["state"] in ("verified", "alternate") for s in slots),
            "slots": slots}


def judge_station(session: Session, station_id: str, setup: FeederSetup) -> tuple:
    """The setup's slots at a station: (slot, load, reel) of those verified, the names of the
    wrong or unloaded ones, and the (slot, reel) of those whose right reel ran empty."""
    slots, loads = slots_of(session, setup.id), open_loads(session, station_id)
    reels, now = _reels(session, loads.values()), utcnow()
    fed, bad, empty = [], [], []
    for s in slots:
        ld = loads.get(s.slot)
        reel = reels.get(ld.reel_id) if ld else None
        state, problem = judge(s, ld, reel, now)
        if state in ("verified", "alternate"):
            fed.append((s, ld, reel))
        elif problem == "REEL_EMPTY" and ld.verdict in GOOD:
            empty.append((s, reel))
        else:
            bad.append(s.slot)
    return fed, bad, empty


def _fed(session: Session, station_id: str, order, step: str) -> list[tuple] | None:
    """The setup's slots with their verified loads and reels, or the refusal; None: no setup."""
    setup = find_setup(session, order.product_id, step)
    if setup is None:
        return None
    fed, bad, empty = judge_station(session, station_id, setup)
    if bad:
        raise SetupNotVerified(station=station_id, slots=bad + [s.slot for s, _ in empty])
    if empty:
        s, reel = empty[0]
        raise ReelEmpty(reel=reel.id, slot=s.slot, slots=[s.slot for s, _ in empty])
    return fed


def check_verified(session: Session, station_id: str, order, step: str) -> None:
    """Refuse a board at a placement step while a slot of its setup is not verified (no setup:
    the step is not interlocked)."""
    _fed(session, station_id, order, step)


def consume(session: Session, station_id: str, order, step: str, board_ids: list[int],
            user: User | None = None) -> list[Text]:
    """Take each board's parts from the loaded reels and trace them; warnings for low reels."""
    fed = _fed(session, station_id, order, step)
    if not fed:
        return []
    count, now, warnings, used = len(board_ids), utcnow(), [], []
    for s, _ld, reel in fed:
        need = len(s.designators) * count
        if reel.quantity - need < 0:
            raise ReelEmpty(N_("Reel {reel} on slot {slot} has {left} parts left; these boards "
                               "need {need}."), reel=reel.id, slot=s.slot, left=reel.quantity,
                            need=need)
    for s, _ld, reel in fed:
        need = len(s.designators) * count
        reel.quantity -= need
        session.add(reel)
        session.add_all(BoardMaterial(board_id=b, step=step, slot=s.slot, part=reel.part,
                                      reel_id=reel.id, lot=reel.lot, date_code=reel.date_code,
                                      designators=list(s.designators), at=now)
                        for b in board_ids)
        used.append({"slot": s.slot, "reel": reel.id, "used": need, "left": reel.quantity})
        if reel.quantity <= reel.initial_quantity * LOW_PCT / 100:
            warnings.append(Text(N_("Reel {reel} on slot {slot} has {left} of {initial} parts "
                                    "left: get the next reel ready to splice."), reel=reel.id,
                                 slot=s.slot, left=reel.quantity,
                                 initial=reel.initial_quantity))
    events.record(session, "material.consumed", f"station:{station_id}",
                  {"station": station_id, "order": order.number, "step": step,
                   "boards": count, "reels": used}, user, station_id)
    return warnings



def readiness_item(session: Session, order: WorkOrder, route: list[str]) -> dict | None:
    """Readiness's fifth item: every placement step's setup verified at one of its stations
    (shown, not gating the order; None where the route places nothing)."""
    steps = [step for step in route if is_placement(step)]
    if not steps:
        return None
    item = {"item": "feeder_setup", "ready": True, "code": None, "todo": "", "info": False}
    todo = Text(N_("At the placement station scan each slot, then the reel it holds."))
    with_setup, red = [], []
    for step in steps:
        setup = find_setup(session, order.product_id, step)
        if setup is None:
            continue
        with_setup.append(step)
        stations = session.exec(select(Station.id).where(Station.type == step)
                                .order_by(Station.id)).all()
        judged = [(sid, judge_station(session, sid, setup)) for sid in stations]
        if not any(not bad and not empty for _sid, (_fed, bad, empty) in judged):
            sid, (_fed, bad, empty) = judged[0] if judged else (step, ([], ["-"], []))
            red.append(Text(N_("{step} at {station}: slots {slots} not verified."), step=step,
                            station=sid, slots=", ".join(bad + [s.slot for s, _r in empty])))
    if not with_setup:
        # A product without a feeder setup is not interlocked: information, not a red tile.
        return {**item, "info": True, "severity": "info",
                "message": Text(N_("No feeder setup: material is not verified for this "
                                   "product."))}
    if red:
        message = red[0]
        for sentence in red[1:]:
            message = Text(SENTENCES, sentence=message, next=sentence)
        return {**item, "ready": False, "code": "SETUP_NOT_VERIFIED", "message": message,
                "todo": todo}
    return {**item, "message": Text(N_("Feeder setup verified: {steps}."),
                                    steps=", ".join(with_setup))}
