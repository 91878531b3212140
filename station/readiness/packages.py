"""Data packages per product revision: checked on upload; an engineer may override the panel."""

import hashlib
import math
import threading
from collections import OrderedDict

from sqlmodel import Session, select

from station import events, people
from station.errors import N_, InvalidInput, NotFound, Text
from station.masterdata import find_product
from station.models import DataPackage, DataPackageFile, Product, User, iso, utcnow
from station.readiness.datapackage import check_package
from station.readiness.datapackage.panel import CODES as PANEL_CODES
from station.readiness.datapackage.panel import VALUES, apply_overrides
from station.readiness.datapackage.picture import PICTURE_VERSION, SIDES, board_picture

MAX_FILE = 50 * 1024 * 1024


def _ready(report: dict) -> bool:
    """Complete, and no problem of severity error."""
    return bool(report.get("complete")) and not any(
        p.get("severity", "error") == "error" for p in report.get("problems", []))


def upload(session: Session, by: User, code, revision, gerber: bytes, bom: bytes, bom_name: str,
           centroid: bytes, centroid_name: str) -> DataPackage:
    """Check and store a data package (Gerber zip, BOM, centroid) for a product revision."""
    people.require(by, "master_data")
    return store(session, by, find_product(session, code, revision), gerber, bom, bom_name,
                 centroid, centroid_name)


def store(session: Session, by: User, product: Product, gerber: bytes, bom: bytes,
          bom_name: str, centroid: bytes, centroid_name: str, commit: bool = True) -> DataPackage:
    """The check and storage of `upload`, for a caller that checked the role (an enquiry)."""
    for name, blob in (("gerber", gerber), ("bom", bom), ("centroid", centroid)):
        if blob is None:
            raise InvalidInput(detail=f"the {name} file is missing")
        if len(blob) > MAX_FILE:
            raise InvalidInput(detail=f"the {name} file is over {MAX_FILE // 2**20} MB")
    report = check_package(gerber, bom, bom_name or "bom", centroid, centroid_name or "centroid")
    files = {name: hashlib.sha256(blob).hexdigest()
             for name, blob in (("gerber", gerber), ("bom", bom), ("centroid", centroid))}
    pkg = DataPackage(product_id=product.id, report=report, complete=bool(report["complete"]),
                      ready=_ready(report), files=files, user_id=by.id)
    session.add(pkg)
    session.flush()
    for role, blob, name in (("gerber", gerber, "gerber.zip"), ("bom", bom, bom_name or "bom"),
                             ("centroid", centroid, centroid_name or "centroid")):
        session.add(DataPackageFile(package_id=pkg.id, role=role, name=(name or role)[:255],
                                    sha256=files[role], data=blob))
    events.record(session, "data_package.checked", f"product:{product.code}/{product.revision}",
                  {"package": pkg.id, "complete": pkg.complete, "ready": pkg.ready,
                   "problems": [p["code"] for p in report.get("problems", [])], **files}, by)
    if commit:
        session.commit()
    return pkg


def latest(session: Session, product: Product) -> DataPackage | None:
    """The product revision's newest data package, which is the one that counts."""
    return session.exec(select(DataPackage).where(DataPackage.product_id == product.id)
                        .order_by(DataPackage.id.desc())).first()


def _entered(key: str, raw):
    """The overriding value: a length in mm ('4,0' too), or yes/no for the fiducials' asymmetry."""
    if key == "fiducials_asymmetric":
        if isinstance(raw, str):
            raw = {"true": True, "yes": True, "1": True, "false": False, "no": False,
                   "0": False}.get(raw.strip().lower(), raw)
        if raw is True or raw is False:
            return raw
        raise InvalidInput(N_("{value} must be yes or no, not {raw}"), value=key, raw=repr(raw))
    try:
        if isinstance(raw, bool):
            raise ValueError
        value = float(raw.strip().replace(",", ".")) if isinstance(raw, str) else float(raw)
    except (TypeError, ValueError, AttributeError):
        value = float("nan")
    if not math.isfinite(value) or value < 0:
        raise InvalidInput(N_("{value} must be a length in mm, not {raw}"), value=key,
                           raw=repr(raw)[:40])
    return value


def override_panel(session: Session, by: User, code, revision, body) -> DataPackage:
    """Override one measured panel value of the newest package: value, number, reason."""
    people.require(by, "master_data")
    product = find_product(session, code, revision)
    pkg = latest(session, product)
    if pkg is None:
        raise NotFound(what="data package for", key=f"{product.code} rev {product.revision}")
    if not isinstance(body, dict):
        raise InvalidInput(N_("a panel override is an object: value, entered, reason"))
    key, reason = body.get("value"), body.get("reason")
    if key not in VALUES:
        raise InvalidInput(N_("the value to override must be one of {values}"),
                           values=", ".join(VALUES))
    if not isinstance(reason, str) or not reason.strip():
        raise InvalidInput(N_("say why the measurement is overridden (reason)"))
    entered = _entered(key, body.get("entered"))
    report = dict(pkg.report)
    measured = ((report.get("panel") or {}).get("values") or {}).get(key)
    overrides = dict((pkg.panel or {}).get("overrides") or {})
    overrides[key] = {"measured": measured, "entered": entered, "reason": reason.strip()[:500],
                      "by": by.name, "at": iso(utcnow())}
    panel_problems = apply_overrides(report.get("panel"), overrides)
    # The measured panel problems give way to the judged ones; "not measured" stays true.
    report["problems"] = [p for p in report.get("problems", [])
                          if p.get("code") not in PANEL_CODES or p["code"] == "PANEL_NOT_MEASURED"
                          ] + panel_problems
    pkg.report, pkg.panel = report, {"overrides": overrides}
    pkg.ready = _ready(report)
    session.add(pkg)
    events.record(session, "data_package.panel_overridden",
                  f"product:{product.code}/{product.revision}",
                  {"package": pkg.id, "value": key, "measured": measured, "entered": entered,
                   "reason": overrides[key]["reason"], "ready": pkg.ready,
                   "problems": [p["code"] for p in panel_problems]}, by)
    session.commit()
    return pkg


def panel_view(pkg: DataPackage) -> dict | None:
    """The panel as measured, with each override beside the value it replaced."""
    measured = pkg.report.get("panel")
    overrides = (pkg.panel or {}).get("overrides") or {}
    if measured is None and not overrides:
        return None
    return {**(measured or {}), "overrides": [{"value": k, **o} for k, o in overrides.items()]}


def package_view(pkg: DataPackage) -> dict:
    """A data package as the API shows it: the report, readiness, panel checks, file hashes."""
    return {**pkg.report, "id": pkg.id, "ready": pkg.ready, "panel": panel_view(pkg),
            "files_sha256": pkg.files, "checked_at": iso(pkg.at)}


# Drawn pictures by (file hashes, side, picture version): the same files draw the same board.
PICTURE_CACHE_SIZE = 16
_pictures: OrderedDict[tuple, str] = OrderedDict()
_pictures_lock = threading.Lock()


def _package_of(session: Session, code, revision) -> DataPackage:
    """The product revision's newest data package, or NOT_FOUND."""
    product = find_product(session, code, revision)
    pkg = latest(session, product)
    if pkg is None:
        raise NotFound(what=Text(N_("data package for")),
                       key=f"{product.code} rev {product.revision}")
    return pkg


def _draw(session: Session, pkg: DataPackage, side: str) -> str | None:
    """One side of a package's board as SVG, cached per file hashes; None without kept files."""
    key = (tuple(sorted(pkg.files.items())), side, PICTURE_VERSION)
    with _pictures_lock:
        if key in _pictures:
            _pictures.move_to_end(key)
            return _pictures[key]
    kept = {f.role: f for f in session.exec(
        select(DataPackageFile).where(DataPackageFile.package_id == pkg.id))}
    if "gerber" not in kept:
        return None  # checked before the files were kept (migration 0009)
    svg = board_picture(kept["gerber"].data, pkg.report, side)
    with _pictures_lock:
        _pictures[key] = svg
        while len(_pictures) > PICTURE_CACHE_SIZE:
            _pictures.popitem(last=False)
    return svg


def picture(session: Session, code, revision, side: str) -> str:
    """The newest data package's board seen from one side, as SVG (cached per package hash)."""
    if side not in SIDES:
        raise InvalidInput(N_("the side must be top or bottom"))
    pkg = _package_of(session, code, revision)
    svg = _draw(session, pkg, side)
    if svg is None:
        raise NotFound(what=Text(N_("Gerber files kept for data package")), key=pkg.id)
    return svg


def pictures(session: Session, pkg: DataPackage) -> dict[str, str]:
    """Both sides of a package's board for its report page (none when its files were not kept)."""
    drawn = {side: _draw(session, pkg, side) for side in SIDES}
    return {side: svg for side, svg in drawn.items() if svg is not None}
