"""Job readiness: the API for stencils, PCB lots, data packages; the order's readiness screen."""

from flask import Blueprint, Response, g, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext

from station.db import get_session
from station.errors import N_, InvalidInput, StationError
from station.i18n import tr
from station.line.desk import read_label
from station.masterdata import find_order, find_product
from station.models import PcbLot, Product, ProfileBoard, Stencil, iso, utcnow
from station.people import require
from station.readiness import interlock, packages, pcb_lots, stencils
from station.readiness.datapackage.panel import VALUES as PANEL_VALUES
from station.readiness.datapackage.picture import problem_designators
from station.readiness.datapackage.problems import said
from station.routes.api import endpoint
from station.routes.auth import _safe_next
from station.routes.web import json_body, login_required, readiness_rules, rules, translate_error

bp = Blueprint("readiness", __name__)
api = Blueprint("readiness_api", __name__, url_prefix="/api/v1")


def readiness_view(session, order) -> dict:
    """The order's readiness as the API shows it."""
    items = interlock.assess(session, order, readiness_rules(), material=True)
    # Material (feeder_setup) is shown but gates only its placement step, not the order.
    gated = [i for i in items if i["item"] != "feeder_setup"]
    return {"order": order.number, "ready": all(i["ready"] for i in gated), "items": items}


def stencil_view(s: Stencil) -> dict:
    """A stencil as the API shows it."""
    return {"id": s.id, "side": s.side, "life_prints": s.life_prints, "prints": s.prints,
            "clean_interval_prints": s.clean_interval_prints,
            "prints_since_cleaning": s.prints - s.prints_at_clean, "damaged": s.damaged,
            "retired": s.retired_at is not None, "thickness_um": s.thickness_um}


def lot_view(session, lot: PcbLot) -> dict:
    """A PCB lot as the API shows it."""
    ends = pcb_lots.floor_life_ends(lot, readiness_rules().floor_life_hours)
    return {"lot": lot.lot, "quantity": lot.quantity, "left": pcb_lots.left_in(session, lot),
            "opened_at": iso(lot.opened_at), "baked_at": iso(lot.baked_at),
            "floor_life_hours": lot.floor_life_hours, "floor_life_ends": iso(ends)}


@api.get("/orders/<number>/readiness")
@endpoint
def get_readiness(user, number):
    """The four readiness items of an order, each ready or not with its reason."""
    session = get_session()
    return jsonify(readiness_view(session, find_order(session, number)))


@api.post("/stencils")
@endpoint
def create_stencil(user):
    """Register a stencil (admin)."""
    d = json_body()
    s = stencils.register_stencil(get_session(), user, d.get("id"), d.get("product"),
                                  d.get("revision"), d.get("side"), d.get("life_prints"),
                                  d.get("clean_interval_prints"), d.get("thickness_um"))
    return jsonify(stencil_view(s)), 201


@api.get("/stencils/<stencil_id>")
@endpoint
def get_stencil(user, stencil_id):
    """One stencil with its counters."""
    return jsonify(stencil_view(stencils.find_stencil(get_session(), stencil_id)))


@api.post("/stencils/<stencil_id>/tension")
@endpoint
def measure_tension(user, stencil_id):
    """Record tension readings at several points (floor)."""
    check = stencils.record_tension(get_session(), user, stencil_id,
                                    json_body().get("readings_Ncm"), readiness_rules())
    return jsonify(stencil=stencil_id, passed=check.passed, note=check.note), 201


@api.post("/stencils/<stencil_id>/cleanings")
@endpoint
def clean_stencil(user, stencil_id):
    """Record a cleaning (floor)."""
    stencils.record_cleaning(get_session(), user, stencil_id)
    return jsonify(stencil_view(stencils.find_stencil(get_session(), stencil_id))), 201


@api.post("/stencils/<stencil_id>/inspections")
@endpoint
def inspect_stencil(user, stencil_id):
    """Record a damage inspection: {"damaged": bool, "note"} (floor)."""
    d = json_body()
    check = stencils.record_inspection(get_session(), user, stencil_id, d.get("damaged"),
                                       d.get("note", ""))
    return jsonify(stencil=stencil_id, damaged=not check.passed), 201


@api.post("/stencils/<stencil_id>/retirement")
@endpoint
def retire_stencil(user, stencil_id):
    """Retire a stencil with a reason (floor)."""
    stencils.retire(get_session(), user, stencil_id, json_body().get("reason"))
    return jsonify(stencil_view(stencils.find_stencil(get_session(), stencil_id))), 201


@api.post("/orders/<number>/stencil")
@endpoint
def mount_stencil(user, number):
    """Mount a stencil for the order (floor)."""
    order = stencils.mount(get_session(), user, number, json_body().get("stencil"))
    return jsonify(order=order.number, stencil=order.stencil_id), 201


@api.post("/pcb-lots")
@endpoint
def create_lot(user):
    """Register a lot of blank PCBs (admin)."""
    d = json_body()
    lot = pcb_lots.register_lot(get_session(), user, d.get("lot"), d.get("product"),
                                d.get("revision"), d.get("quantity"), d.get("floor_life_hours"))
    return jsonify(lot_view(get_session(), lot)), 201


@api.get("/pcb-lots/<lot>")
@endpoint
def get_lot(user, lot):
    """One PCB lot with what is left and its floor life."""
    session = get_session()
    return jsonify(lot_view(session, pcb_lots.find_lot(session, lot)))


@api.post("/pcb-lots/<lot>/opened")
@endpoint
def open_lot(user, lot):
    """Record that the lot's bag was opened: its floor life starts (floor)."""
    session = get_session()
    return jsonify(lot_view(session, pcb_lots.open_lot(session, user, lot))), 201


@api.post("/pcb-lots/<lot>/bakes")
@endpoint
def bake_lot(user, lot):
    """Record a bake: {"hours", "temperature_C"}; the floor life starts again (floor)."""
    d, session = json_body(), get_session()
    row = pcb_lots.bake_lot(session, user, lot, d.get("hours"), d.get("temperature_C"))
    return jsonify(lot_view(session, row)), 201


@api.post("/orders/<number>/pcb-lots")
@endpoint
def allocate_lot(user, number):
    """Allocate boards of a lot to the order (floor)."""
    d = json_body()
    alloc = pcb_lots.allocate(get_session(), user, number, d.get("lot"), d.get("quantity"))
    return jsonify(order=number, lot=alloc.lot, quantity=alloc.quantity), 201


@api.post("/products/<code>/<revision>/data-package")
@endpoint
def upload_data_package(user, code, revision):
    """Check a data package: multipart `gerber` (zip), `bom`, `centroid` (admin)."""
    files = request.files
    missing = [n for n in ("gerber", "bom", "centroid") if n not in files]
    if missing:
        raise InvalidInput(N_("missing file(s): {files}"), files=", ".join(missing))
    pkg = packages.upload(get_session(), user, code, revision, files["gerber"].read(),
                              files["bom"].read(), files["bom"].filename or "bom",
                              files["centroid"].read(), files["centroid"].filename or "centroid")
    return jsonify(packages.package_view(pkg)), 201


@api.get("/products/<code>/<revision>/data-package")
@endpoint
def get_data_package(user, code, revision):
    """The newest data package report of a product revision."""
    session = get_session()
    pkg = packages.latest(session, find_product(session, code, revision))
    if pkg is None:
        raise InvalidInput(N_("no data package for {product} rev {revision}"), product=code,
                           revision=revision)
    return jsonify(packages.package_view(pkg))


@api.get("/products/<code>/<revision>/data-package/top.svg", defaults={"side": "top"})
@api.get("/products/<code>/<revision>/data-package/bottom.svg", defaults={"side": "bottom"})
@endpoint
def get_board_picture(user, code, revision, side):
    """The newest data package's board seen from one side, parts marked (SVG)."""
    svg = packages.picture(get_session(), code, revision, side)
    # Opened on its own, the picture may fetch and run nothing (it holds nothing to fetch or run).
    return Response(svg, mimetype="image/svg+xml",
                    headers={"Content-Security-Policy": "default-src 'none'"})


@api.post("/products/<code>/<revision>/panel")
@endpoint
def override_panel(user, code, revision):
    """Override one measured panel value: {"value", "entered", "reason"} (admin)."""
    pkg = packages.override_panel(get_session(), user, code, revision, json_body())
    view = packages.package_view(pkg)
    return jsonify(panel=view["panel"], ready=view["ready"],
                   problems=[p for p in view["problems"] if p.get("rule") == "panel"]), 201


def _screen_scan(session, order, raw: str) -> dict:
    """A label scanned on the readiness screen: a stencil mounts, a PCB lot is allocated."""
    code = read_label(raw, rules().labels).code
    if session.get(Stencil, code):
        stencils.mount(session, g.user, order.number, code)
        return {"outcome": "accepted", "message": gettext("Stencil %(code)s mounted.", code=code)}
    if session.get(PcbLot, code):
        alloc = pcb_lots.allocate(session, g.user, order.number, code)
        return {"outcome": "accepted", "message": gettext(
            "%(n)d boards of lot %(lot)s allocated.", n=alloc.quantity, lot=code)}
    if session.get(ProfileBoard, code):
        item = interlock.profile_item(interlock.facts(session, order.id), readiness_rules(),
                                      utcnow())
        return {"outcome": "accepted" if item["ready"] else "refused",
                "message": gettext("Profile board %(board)s: %(state)s", board=code,
                                   state=tr(item["message"]))}
    return {"outcome": "refused", "message": gettext(
        "%(code)s is no stencil, PCB lot or profile board known here.", code=code[:64])}


@bp.route("/orders/<number>/readiness", methods=("GET", "POST"))
@login_required()
def show_readiness(number):
    """Four large tiles, green or red with what to do; scanning a label here acts on it."""
    session = get_session()
    order = find_order(session, number)
    result = None
    if request.method == "POST":
        require(g.user, "floor")
        try:
            result = _screen_scan(session, order, request.form.get("code", ""))
        except StationError as err:
            session.rollback()
            result = {"outcome": "refused", **translate_error(err)}
        order = find_order(session, number)
    view = readiness_view(session, order)
    template = "_readiness_tiles.html" if request.headers.get("HX-Request") else "readiness.html"
    return render_template(template, order=order, view=view, result=result,
                           product=session.get(Product, order.product_id))


@bp.post("/stencils/<stencil_id>/checks")
@login_required("floor")
def record_stencil_check(stencil_id):
    """Tension, cleaning or inspection of a stencil from the readiness screen."""
    session, f = get_session(), request.form
    kind = f.get("kind")
    if kind == "tension":
        try:
            readings = [float(x) for x in f.get("readings", "").replace(",", " ").split()]
        except ValueError:
            raise InvalidInput(N_("tension readings must be numbers in N/cm")) from None
        stencils.record_tension(session, g.user, stencil_id, readings, readiness_rules())
    elif kind == "cleaning":
        stencils.record_cleaning(session, g.user, stencil_id)
    elif kind == "inspection":
        stencils.record_inspection(session, g.user, stencil_id, f.get("damaged") == "1",
                                   f.get("note", ""))
    return redirect(_safe_next(request.form.get("next")))  # a local path only



@bp.route("/products/<code>/<revision>/data-package", methods=("GET", "POST"))
@login_required()
def show_data_package(code, revision):
    """The data package report: what was found, what is missing, what disagrees; upload."""
    session, error = get_session(), None
    product = find_product(session, code, revision)
    if request.method == "POST":
        require(g.user, "master_data")
        files = request.files
        try:
            if any(n not in files or not files[n].filename for n in ("gerber", "bom", "centroid")):
                raise InvalidInput(N_("choose the Gerber zip, the BOM and the centroid file"))
            packages.upload(session, g.user, code, revision, files["gerber"].read(),
                                files["bom"].read(), files["bom"].filename,
                                files["centroid"].read(), files["centroid"].filename)
            return redirect(url_for("readiness.show_data_package", code=code,
                                    revision=revision))
        except StationError as err:
            session.rollback()
            error = translate_error(err)
    return _data_package_page(session, product, error)


@bp.post("/products/<code>/<revision>/data-package/panel")
@login_required("master_data")
def override_panel_value(code, revision):
    """An engineer's override of one measured panel value, with the reason, from the page."""
    session, f = get_session(), request.form
    try:
        packages.override_panel(session, g.user, code, revision, {
            "value": f.get("value"), "entered": f.get("entered"), "reason": f.get("reason")})
    except StationError as err:
        session.rollback()
        return _data_package_page(session, find_product(session, code, revision),
                                  translate_error(err))
    return redirect(url_for("readiness.show_data_package", code=code, revision=revision))


def _data_package_page(session, product, error):
    """The data package page of a product revision, its problems in the reader's language."""
    pkg = packages.latest(session, product)
    view = packages.package_view(pkg) if pkg else None
    if view:
        view["problems"] = [_said(p) for p in view["problems"]]
    return render_template("data_package.html", product=product, error=error, pkg=view,
                           panel_values=PANEL_VALUES,
                           pictures=packages.pictures(session, pkg) if pkg else {},
                           designators=problem_designators)


def _said(p: dict) -> dict:
    """A stored problem in the reader's language, when it kept its message id and parameters."""
    return {**p, "message": tr(said(p))}
