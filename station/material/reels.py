"""Reels: registered from their label (ECIA / ISO 15434 or GS1) or typed, baked, dry-stored."""

import re
from dataclasses import replace

from sqlmodel import Session

from station import events, people
from station.errors import N_, Conflict, InvalidCode, InvalidInput, NotFound, Text
from station.line.codes import BadCode, Label, LabelRules, Scan, check_plain, understand
from station.material.floorlife import FLOOR_LIFE_H, used_s
from station.models import Reel, User, utcnow

PART = re.compile(r"^[^\s\x00-\x1f][^\x00-\x1f]{0,63}$")
FIELD = re.compile(r"^[^\x00-\x1f]{1,64}$")
# ISO/IEC 15434 data identifiers (ANSI MH10.8.2) and GS1 AIs of a reel label, best first.
LABEL_FIELDS = {"id": ("S", "3S", "21"), "part": ("P", "1P", "240"),
                "quantity": ("Q", "30", "37"), "lot": ("1T", "10"), "date_code": ("10D", "9D")}


# A reel label is known by its reel id, whatever else it carries (read before the lot label).
REEL_LABELS = (Label("reel", "S", "iso15434", ("S",), ("*",)),
               Label("reel", "3S", "iso15434", ("3S",), ("*",)),
               Label("reel", "21", "gs1", ("21",), ("*",)))


def _first(fields: dict, names) -> str | None:
    return next((fields[n] for n in names if fields.get(n)), None)


def reel_id(scan: Scan) -> str | None:
    """The reel id a scan carries: a reel label's serial field (ECIA S or 3S, GS1 21), or a
    plain code."""
    if scan.format == "plain":
        return scan.code
    return next((scan.fields[f] for f in LABEL_FIELDS["id"] if scan.fields.get(f)), None)


def read_label(label, rules: LabelRules | None = None) -> dict:
    """The reel's fields read from its scanned label, or INVALID_CODE saying why not."""
    rules = rules or LabelRules()
    scan = understand(label, replace(rules, labels=REEL_LABELS + rules.labels))
    if scan.errors:
        raise InvalidCode(reason="; ".join(scan.errors))
    got = {k: _first(scan.fields, names) for k, names in LABEL_FIELDS.items()}
    if not got["id"]:
        raise InvalidCode(reason=Text(N_("the label carries no reel id (S or 3S)")))
    quantity = got["quantity"]
    got["quantity"] = int(quantity) if quantity and quantity.isdigit() else quantity
    return got


def _msl(value) -> str | None:
    if value is None or value == "":
        return None
    text = str(value).strip().lower().removeprefix("msl").strip()
    if text not in FLOOR_LIFE_H:
        raise InvalidInput(N_("msl must be one of {levels}"), levels=", ".join(FLOOR_LIFE_H))
    return text


def _optional(value, what: str) -> str | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str) or not FIELD.match(value.strip()):
        raise InvalidInput(N_("{what} must be a text of at most 64 characters"), what=what)
    return value.strip()


def find_reel(session: Session, reel_id) -> Reel:
    """The reel, or NOT_FOUND."""
    reel = session.get(Reel, reel_id) if isinstance(reel_id, str) else None
    if reel is None:
        raise NotFound(what=Text(N_("reel")), key=reel_id)
    return reel


def register_reel(session: Session, by: User, label=None, *, id=None, part=None, quantity=None,
                  lot=None, date_code=None, msl=None, rules: LabelRules | None = None) -> Reel:
    """Register a reel from its scanned label or typed fields; it is opened (in room air) now.
    Typed fields fill what the label lacks (the MSL often comes from the part's data)."""
    people.require(by, "floor")
    if label is not None:
        read = read_label(label, rules)
        id, part, quantity = read["id"], read["part"] or part, read["quantity"] or quantity
        lot, date_code = read["lot"] or lot, read["date_code"] or date_code
    try:
        id = check_plain(id.strip()) if isinstance(id, str) else None
    except BadCode:
        id = None
    if id is None:
        raise InvalidInput(N_("id must be the reel's id: letters, digits and . _ / -"))
    if not isinstance(part, str) or not PART.match(part.strip()):
        raise InvalidInput(N_("part must be the reel's part number"))
    if isinstance(quantity, bool) or not isinstance(quantity, int) or not 1 <= quantity <= 10**7:
        raise InvalidInput(N_("quantity must be a whole number of parts, at least 1"))
    lot, date_code = _optional(lot, "lot"), _optional(date_code, "date_code")
    if date_code is not None and len(date_code) > 16:
        raise InvalidInput(N_("date_code must be at most 16 characters"))
    msl = _msl(msl)
    if session.get(Reel, id) is not None:
        raise Conflict(what=Text(N_("reel")), key=id)
    now = utcnow()
    reel = Reel(id=id, part=part.strip(), quantity=quantity, initial_quantity=quantity, lot=lot,
                date_code=date_code, msl=msl, opened_at=now, exposed_since=now, created_at=now)
    session.add(reel)
    events.record(session, "reel.registered", f"reel:{id}", reel_payload(reel), by)
    session.commit()
    return reel


def reel_payload(reel: Reel) -> dict:
    """The reel as its registration event and the API show it."""
    return {"reel": reel.id, "part": reel.part, "quantity": reel.quantity, "lot": reel.lot,
            "date_code": reel.date_code, "msl": reel.msl}


def record_bake(session: Session, by: User, reel_id) -> Reel:
    """Record a bake: the reel's floor life starts again from now."""
    people.require(by, "floor")
    reel = find_reel(session, reel_id)
    now = utcnow()
    reel.floor_used_s, reel.baked_at, reel.exposed_since = 0.0, now, now
    session.add(reel)
    events.record(session, "reel.baked", f"reel:{reel.id}", {"reel": reel.id}, by)
    session.commit()
    return reel


def record_dry(session: Session, by: User, reel_id, stored: bool) -> Reel:
    """Record the reel put into dry storage (its floor life pauses) or taken out (it runs on)."""
    people.require(by, "floor")
    reel = find_reel(session, reel_id)
    if not isinstance(stored, bool):
        raise InvalidInput(N_("stored must be true or false"))
    now = utcnow()
    if stored and reel.exposed_since is not None:
        reel.floor_used_s, reel.exposed_since = used_s(reel, now), None
    elif not stored and reel.exposed_since is None:
        reel.exposed_since = now
    session.add(reel)
    events.record(session, "reel.dry_stored" if stored else "reel.dry_removed",
                  f"reel:{reel.id}", {"reel": reel.id}, by)
    session.commit()
    return reel
