"""Labels: printable label pages, printing them as ZPL on the station's printer, the queue."""

import threading

from flask import (
    Blueprint,
    Response,
    current_app,
    g,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)

from station import people
from station.db import get_session
from station.errors import InvalidInput, NotFound
from station.routes.api import endpoint
from station.routes.web import is_htmx, json_body, login_required, settings
from station.shipping import labels, symbols, zpl
from station.shipping.printing import Printers

bp = Blueprint("labels", __name__, url_prefix="/labels")
api = Blueprint("labels_api", __name__, url_prefix="/api/v1")
KINDS = ("board", "boards", "panel", "box")
_setup_lock = threading.Lock()


def printers() -> Printers:
    """The app's printers from config/station.toml, made on first use (workers start later)."""
    app = current_app
    with _setup_lock:
        if "printers" not in app.extensions:
            app.extensions["printers"] = Printers.from_settings(settings())
    return app.extensions["printers"]


def _symbology(value) -> str:
    if value in (None, "", "code128", "datamatrix"):
        return value or "code128"
    raise InvalidInput(detail="symbology is code128 or datamatrix")


def _positive(value, what: str, default=None, limit: int = 10**6):
    if value in (None, ""):
        return default
    try:
        number = int(value)
    except (TypeError, ValueError):
        number = 0
    if not 1 <= number <= limit:
        raise InvalidInput(detail=f"{what} must be a whole number from 1 to {limit}")
    return number


def _sheet(template: str, stock: str, **context):
    """A label page with its own stylesheet sized for the stock."""
    return render_template(template, stock=labels.STOCKS[stock], kinds=KINDS,
                           may_print=people.may(g.user, "floor"), **context)


# --- Pages ------------------------------------------------------------------------------------

@bp.get("/boards/<serial>")
@login_required()
def board_page(serial):
    """One board's label (?symbology=datamatrix for a board too small for Code 128)."""
    symbology = _symbology(request.args.get("symbology"))
    label = labels.board_label(get_session(), serial)
    return _board_sheet([label], symbology, "board", serial)


@bp.get("/orders/<number>/boards")
@login_required()
def order_boards_page(number):
    """Every board label of an order on one sheet, a label to a page."""
    symbology = _symbology(request.args.get("symbology"))
    return _board_sheet(labels.order_board_labels(get_session(), number), symbology, "boards",
                        number)


def _board_sheet(items, symbology, kind, key):
    if symbology == "datamatrix":
        pairs = [(b, symbols.matrix_svg(symbols.datamatrix(b.serial, "the serial"), 8.0))
                 for b in items]
        stock = "board-dm"
    else:
        pairs = [(b, symbols.bars_svg(symbols.code128(b.serial, "the serial"), 46.0, 12.0))
                 for b in items]
        stock = "board"
    return _sheet("labels/boards.html", stock, items=pairs, symbology=symbology, kind=kind,
                  key=key)


@bp.get("/panels/<panel_id>")
@login_required()
def panel_page(panel_id):
    """The panel's label: its id and the serial at each position."""
    items = labels.panel_labels(get_session(), panel_id)
    svg = symbols.bars_svg(symbols.code128(panel_id, "the panel id"), 60.0, 10.0, 0.33)
    return _sheet("labels/panel.html", "panel", items=items, svg=svg, kind="panel", key=panel_id)


@bp.get("/boxes/<number>/<int:box>")
@login_required()
def box_page(number, box):
    """Box `box` of an order as packed: customer, quantity, and the SSCC it got at PACK."""
    label = labels.box_label(get_session(), number, box)
    order_svg = symbols.bars_svg(symbols.code128(label.order, "the order number"), 92.0, 12.0,
                                0.33)
    sscc_svg = symbols.bars_svg(symbols.gs1_128([("00", label.sscc)]), 96.0, 32.0, 0.5, 0.25)
    return _sheet("labels/box.html", "box", label=label, order_svg=order_svg, sscc_svg=sscc_svg,
                  hri=labels.sscc_hri(label.sscc), kind="box", key=number, box=box)


@bp.get("/orders/<number>/traveller")
@login_required()
def traveller_page(number):
    """The order's traveller on A4: what to build and the route to sign step by step."""
    t = labels.traveller(get_session(), number)
    svg = symbols.bars_svg(symbols.code128(t.order, "the order number"), 80.0, 12.0, 0.33)
    return _sheet("labels/traveller.html", "a4", t=t, svg=svg)


@bp.get("/sheet/<stock>.css")
def sheet_css(stock):
    """The stylesheet of a label page: @page and the label sized in mm for the stock."""
    if stock not in labels.STOCKS:
        raise NotFound(what="label stock", key=stock)
    css = render_template("labels/_sheet_css.html", stock=labels.STOCKS[stock])
    return Response(css, mimetype="text/css",
                    headers={"Cache-Control": "public, max-age=3600"})


# --- Printing ---------------------------------------------------------------------------------

def queue_print(user, d) -> dict:
    """Build the label's ZPL for the chosen printer and queue it; the answer is the job."""
    people.require(user, "floor")
    kind, key = d.get("label"), d.get("key")
    if kind not in KINDS or not isinstance(key, str) or not key:
        raise InvalidInput(detail=f"label is one of {', '.join(KINDS)} and key names it")
    symbology = _symbology(d.get("symbology"))
    copies = _positive(d.get("copies"), "copies", 1, 20)
    station = d.get("station") or None
    printer = printers().choose(d.get("printer") or None, station)
    dpmm, session = printer.cfg.dpmm, get_session()
    if kind == "board":
        code = zpl.board_zpl(labels.board_label(session, key), dpmm, symbology, copies)
        title = f"board {key}"
    elif kind == "boards":
        code = "".join(zpl.board_zpl(b, dpmm, symbology, copies)
                      for b in labels.order_board_labels(session, key))
        title = f"boards of order {key}"
    elif kind == "panel":
        code = "".join(zpl.panel_zpl(p, dpmm, copies) for p in labels.panel_labels(session, key))
        title = f"panel {key}"
    else:
        box = _positive(d.get("box"), "box", 1)
        code = zpl.box_zpl(labels.box_label(session, key, box), dpmm, copies)
        title = f"box {box} of order {key}"
    if not code:
        raise InvalidInput(detail=f"{title}: nothing to print")
    return printer.submit(code, title, by=user.name, station=station).view()


@bp.post("/print")
@login_required("floor")
def print_label():
    """Queue a label on the station's printer (form fields as the API's body); answers at once."""
    job = queue_print(g.user, request.form)
    if is_htmx():
        return render_template("labels/_job.html", job=job)
    return redirect(url_for("labels.printers_page", job=job["id"]))


@bp.get("/printers")
@login_required()
def printers_page():
    """The printers and their recent jobs: queued, sent or failed with the reason."""
    return render_template("labels/printers.html", printers=printers().view(),
                           highlight=request.args.get("job", type=int))


@bp.get("/printers/jobs")
@login_required()
def printers_jobs():
    """The printers' part of the page, for htmx to poll."""
    return render_template("labels/_printers.html", printers=printers().view(),
                           highlight=request.args.get("job", type=int))


# --- API --------------------------------------------------------------------------------------

@api.get("/printers")
@endpoint
def list_printers(user):
    """Every printer with its state and recent jobs."""
    return jsonify(printers=printers().view())


@api.post("/print-jobs")
@endpoint
def create_print_job(user):
    """Queue a label on a printer (floor roles); 202 with the job, which goes on by itself."""
    return jsonify(queue_print(user, json_body())), 202


@api.get("/print-jobs/<int:job_id>")
@endpoint
def get_print_job(user, job_id):
    """One print job: queued, sending, sent, or failed with the reason."""
    return jsonify(printers().job(job_id).view())
