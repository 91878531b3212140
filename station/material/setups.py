"""Feeder setups: per product revision and placement step, the part each slot must hold."""

import csv
import io
import re

from sqlmodel import Session, delete, select

from station import events, people
from station.errors import N_, InvalidInput, StationError, Text
from station.masterdata import find_product
from station.models import DataPackage, DataPackageFile, FeederSetup, FeederSlot, Product, User
from station.readiness.datapackage.parts import read_bom
from station.readiness.datapackage.tables import norm_header, read_table

SLOT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/:-]{0,31}$")
PART = re.compile(r"^[^\s\x00-\x1f][^\x00-\x1f]{0,63}$")
BOTTOM_SUFFIXES = ("-B", "-BOT")
MPN_HEADERS = {"mpn", "manufacturerpartnumber", "mfrpn", "mfrpartnumber", "partnumber", "pn",
               "料号", "物料编码", "型号"}
CSV_HEADER = ("slot", "part", "alternates", "designators")


class SetupInvalid(StationError):
    code, status = "SETUP_INVALID", 400
    message = N_("The feeder setup is refused: {reason}")
    todo = N_("Correct the setup so every SMT designator of the side is fed by exactly one slot.")

    def extra(self):
        return {"designators": self.params.get("designators", []),
                "problems": self.params.get("problems", {})}


def is_placement(step: str) -> bool:
    """True for a route step where parts are placed from feeders (PLACE, PLACE-B ...)."""
    return isinstance(step, str) and step.startswith("PLACE")


def side_of(step: str) -> str:
    """The board side a placement step places: its name ends in -B or -BOT for the bottom."""
    return "bottom" if step.upper().endswith(BOTTOM_SUFFIXES) else "top"


def _strings(value, what: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) and PART.match(v.strip())
                                              for v in value):
        raise InvalidInput(N_("{what} must be a list of texts"), what=what)
    return [v.strip() for v in value]


def _slots(slots) -> list[dict]:
    """The slots as given, checked for shape: names, parts, alternates, designators."""
    if not isinstance(slots, list) or not slots or len(slots) > 500:
        raise InvalidInput(N_("slots must be a list of 1 to 500 slots"))
    out, names = [], set()
    for s in slots:
        if not isinstance(s, dict):
            raise InvalidInput(N_("each slot must be an object with slot, part, designators"))
        name, part = s.get("slot"), s.get("part")
        if not isinstance(name, str) or not SLOT.match(name.strip()):
            raise InvalidInput(N_("slot must be 1 to 32 letters, digits, '.', '_', '/', ':' or "
                                  "'-': {slot}"), slot=repr(name))
        if not isinstance(part, str) or not PART.match(part.strip()):
            raise InvalidInput(N_("slot {slot} needs a part number"), slot=name)
        name = name.strip()
        if name.upper() in names:
            raise InvalidInput(N_("slot {slot} is listed twice"), slot=name)
        names.add(name.upper())
        designators = _strings(s.get("designators"), "designators")
        if not designators:
            raise InvalidInput(N_("slot {slot} feeds no designator"), slot=name)
        alternates = [a for a in _strings(s.get("alternates") or [], "alternates")
                      if a != part.strip()]
        out.append({"slot": name, "part": part.strip(), "alternates": alternates,
                    "designators": designators})
    return out


def side_designators(session: Session, product: Product, step: str) -> list[str] | None:
    """The SMT designators of the step's side in the product's newest data package (None: none)."""
    pkg = session.exec(select(DataPackage).where(DataPackage.product_id == product.id)
                       .order_by(DataPackage.id.desc())).first()
    if pkg is None:
        return None
    key = "smt_bottom" if side_of(step) == "bottom" else "smt_top"
    return list(pkg.report.get("placement", {}).get(key, []))


def check_designators(slots: list[dict], known: list[str]) -> None:
    """Every designator of the side fed by exactly one slot, none fed that is not of the side."""
    known_up = {d.upper(): d for d in known}
    fed: dict[str, list[str]] = {}
    for s in slots:
        for d in s["designators"]:
            fed.setdefault(d.upper(), []).append(s["slot"])
    doubled = [d for d, where in fed.items() if len(where) > 1]
    unknown = [d for d in fed if d not in known_up]
    missing = [known_up[d] for d in known_up if d not in fed]
    if doubled or unknown or missing:
        problems = {"doubled": doubled, "missing": missing, "unknown": unknown}
        said = []
        if doubled:
            said.append(Text(N_("fed by more than one slot: {names}."), names=", ".join(doubled)))
        if missing:
            said.append(Text(N_("fed by no slot: {names}."), names=", ".join(missing)))
        if unknown:
            said.append(Text(N_("not SMT designators of this side in the data package: "
                                "{names}."), names=", ".join(unknown)))
        raise SetupInvalid(reason=said, designators=doubled + missing + unknown,
                           problems=problems)


def _step_of(product: Product, step) -> str:
    if not isinstance(step, str) or not is_placement(step) or step not in product.route:
        raise InvalidInput(N_("step must be a placement step (PLACE...) of the route {route}"),
                           route=" → ".join(product.route))
    return step


def create_setup(session: Session, by: User, product, revision, step, slots) -> FeederSetup:
    """Create (or replace) the feeder setup of a placement step of a product revision (admin)."""
    people.require(by, "master_data")
    prod = find_product(session, product, revision)
    step = _step_of(prod, step)
    checked = _slots(slots)
    known = side_designators(session, prod, step)
    if known is None:
        raise SetupInvalid(reason=Text(N_("{product} rev {revision} has no data package to "
                                          "check its designators against."),
                                       product=prod.code, revision=prod.revision),
                           designators=[])
    check_designators(checked, known)
    setup = find_setup(session, prod.id, step)
    replaced = setup is not None
    if setup is None:
        setup = FeederSetup(product_id=prod.id, step=step, user_id=by.id)
        session.add(setup)
        session.flush()
    else:
        # A revised setup replaces the slots; loads are judged again against the new ones.
        session.exec(delete(FeederSlot).where(FeederSlot.setup_id == setup.id))
        setup.user_id = by.id
        session.add(setup)
    for s in checked:
        session.add(FeederSlot(setup_id=setup.id, **s))
    events.record(session, "feeder_setup.created", f"product:{prod.code}/{prod.revision}",
                  {"setup": setup.id, "product": prod.code, "revision": prod.revision,
                   "step": step, "slots": checked, "replaced": replaced}, by)
    session.commit()
    return setup


def find_setup(session: Session, product_id: int, step: str) -> FeederSetup | None:
    """The feeder setup of a product revision's placement step, if it has one."""
    return session.exec(select(FeederSetup).where(FeederSetup.product_id == product_id,
                                                  FeederSetup.step == step)).first()


def slots_of(session: Session, setup_id: int) -> list[FeederSlot]:
    """A setup's slots in their names' order."""
    return list(session.exec(select(FeederSlot).where(FeederSlot.setup_id == setup_id)
                             .order_by(FeederSlot.slot)))


def setup_view(session: Session, setup: FeederSetup) -> dict:
    """A setup as the API shows it."""
    return {"id": setup.id, "step": setup.step,
            "slots": [{"slot": s.slot, "part": s.part, "alternates": s.alternates,
                       "designators": s.designators} for s in slots_of(session, setup.id)]}


def _split(cell: str) -> list[str]:
    return [v for v in re.split(r"[\s;,|]+", cell or "") if v]


def setup_from_csv(text: str) -> list[dict]:
    """The slots of a setup CSV: slot,part,alternates,designators (lists split by space or ;)."""
    if not isinstance(text, str) or not text.strip():
        raise InvalidInput(N_("the setup CSV is empty"))
    rows = list(csv.reader(io.StringIO(text.lstrip("\ufeff"))))
    header = [norm_header(c) for c in rows[0]]
    if not {"slot", "part", "designators"} <= set(header):
        raise InvalidInput(N_("the setup CSV needs the columns slot, part, alternates, "
                              "designators"))
    col = {name: header.index(name) for name in CSV_HEADER if name in header}
    slots = []
    for row in rows[1:]:
        if not any(c.strip() for c in row):
            continue
        cell = {name: row[i].strip() if i < len(row) else "" for name, i in col.items()}
        slots.append({"slot": cell["slot"], "part": cell["part"],
                      "alternates": _split(cell.get("alternates", "")),
                      "designators": _split(cell["designators"])})
    return slots


def _bom_parts(session: Session, pkg: DataPackage) -> dict[str, str]:
    """Upper-case designator -> part number (MPN column, else value and footprint) of the BOM."""
    f = session.exec(select(DataPackageFile).where(DataPackageFile.package_id == pkg.id,
                                                   DataPackageFile.role == "bom")).first()
    if f is None:
        return {}
    table = read_table(f.data, f.name, "BOM", [])
    if table is None:
        return {}
    mpn = next((i for i, c in enumerate(table.header) if norm_header(str(c or "")) in MPN_HEADERS),
               None)
    bom = read_bom(table)
    parts = {}
    for key, p in bom.parts.items():
        row = table.rows[p.line - 1] if 0 < p.line <= len(table.rows) else []
        number = str(row[mpn]).strip() if mpn is not None and mpn < len(row) and row[mpn] else ""
        parts[key] = number or " ".join(v for v in (p.value, p.footprint) if v) or "?"
    return parts


def draft_from_package(session: Session, product, revision, step) -> list[dict]:
    """A draft setup from the newest data package: one slot per distinct part of the side, the
    slot names left to fill in."""
    prod = find_product(session, product, revision)
    step = _step_of(prod, step)
    known = side_designators(session, prod, step)
    if known is None:
        raise InvalidInput(N_("{product} rev {revision} has no data package"),
                           product=prod.code, revision=prod.revision)
    pkg = session.exec(select(DataPackage).where(DataPackage.product_id == prod.id)
                       .order_by(DataPackage.id.desc())).first()
    parts = _bom_parts(session, pkg)
    by_part: dict[str, list[str]] = {}
    for d in known:
        by_part.setdefault(parts.get(d.upper(), "?"), []).append(d)
    return [{"slot": "", "part": part, "alternates": [], "designators": names}
            for part, names in by_part.items()]
