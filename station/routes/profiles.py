"""Reflow profiles: profile boards, recordings uploaded or captured, the profiler screens."""

import json
from dataclasses import asdict

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
from flask_babel import gettext

from station.db import get_session
from station.devices.profiler import UnknownFormat, parse
from station.errors import N_, InvalidInput, Text
from station.readiness import profiles
from station.readiness.chart import profile_svg
from station.readiness.reflow import ROLE_NAMES, UNITS, stat_names
from station.routes.api import endpoint
from station.routes.web import json_body, login_required, settings

bp = Blueprint("profiles", __name__)
api = Blueprint("profiles_api", __name__, url_prefix="/api/v1")


def windows() -> dict:
    """The paste process windows of config/pastes.toml."""
    return current_app.extensions["pastes"]


def _store_upload(user, form, files, columns=None):
    """Record a recording sent as a multipart upload (or pasted back from the column chooser)."""
    upload = files.get("file")
    raw = upload.read() if upload else form.get("raw", "").encode()
    reflow = settings().reflow
    slope = form.get("slope_window_s") or reflow.slope_window_s
    try:
        slope = float(slope) if slope else None
    except ValueError:
        raise InvalidInput(N_("slope_window_s must be a number of seconds")) from None
    return profiles.record_run(
        get_session(), user, raw, form.get("paste") or "", windows(),
        profile_board=form.get("profile_board") or None, oven=form.get("oven") or None,
        recipe=form.get("recipe") or None, columns=columns, slope_window_s=slope,
        warn_pct=reflow.warn_pct)


@api.post("/profile-boards")
@endpoint
def create_profile_board(user):
    """Register a profile board of a product revision (admin)."""
    d = json_body()
    board = profiles.register_profile_board(get_session(), user, d.get("id"), d.get("product"),
                                            d.get("revision"), d.get("thermocouples"))
    return jsonify(id=board.id, product=d.get("product"), revision=d.get("revision"),
                   thermocouples=board.thermocouples), 201


@api.post("/profiles")
@endpoint
def create_profile(user):
    """Upload a profiler recording (multipart `file`, `paste`, optional board, oven, recipe)."""
    columns = request.form.get("columns")
    try:
        columns = json.loads(columns) if columns else None
    except ValueError:
        raise InvalidInput(N_("columns must be JSON: {example}"),
                           example='{"time": ..., "channels": [...]}') from None
    run = _store_upload(user, request.form, request.files, columns)
    return jsonify(profiles.run_view(run, gettext)), 201


@api.get("/profiles/<run_id>")
@endpoint
def get_profile(user, run_id):
    """One profile run with its statistics, PWI and verdict."""
    return jsonify(profiles.run_view(profiles.find_run(get_session(), run_id), gettext))


@api.get("/profiles/<run_id>/chart.svg")
@endpoint
def get_profile_chart(user, run_id):
    """The chart of one profile run."""
    return _chart_response(profiles.find_run(get_session(), run_id))


def _chart_response(run) -> Response:
    return Response(run_chart(run), mimetype="image/svg+xml",
                    headers={"Cache-Control": "private, max-age=3600"})


def run_chart(run) -> str:
    """The SVG of a stored run: its raw recording parsed again, its window drawn in."""
    recording = parse(run.raw, columns=run.result.get("columns"))
    window = windows().get(run.paste)
    return profile_svg(recording.times, recording.temps, asdict(window) if window else None,
                       recording.roles, gettext)


@bp.get("/profiler")
@login_required()
def show_profiler():
    """The profiler screen: each serial profiler live, the upload form, the latest runs."""
    return render_template("profiler.html", devices=current_app.extensions.get("profilers", {}),
                           pastes=sorted(windows()), runs=profiles.history(get_session(), limit=20))


@bp.get("/profiler/<name>/live")
@login_required()
def show_live(name):
    """The live partial of one serial profiler: its state and the curve growing."""
    device = current_app.extensions.get("profilers", {}).get(name)
    if device is None:
        raise InvalidInput(N_("no profiler {name}"), name=name)
    lines = device.capture.live()
    svg = None
    if lines:
        try:
            rec = parse("\n".join(lines) + "\n")
            svg = profile_svg(rec.times, rec.temps, None, rec.roles, gettext)
        except UnknownFormat:
            svg = None
    return render_template("_profiler_live.html", device=device, lines=len(lines), svg=svg)


@bp.post("/profiler/<name>/next-run")
@login_required("floor")
def arm_profiler(name):
    """Say what the next serial run is for: paste, profile board, oven and recipe."""
    device = current_app.extensions.get("profilers", {}).get(name)
    if device is None:
        raise InvalidInput(N_("no profiler {name}"), name=name)
    for key in ("paste", "profile_board", "oven", "recipe"):
        device.defaults[key] = request.form.get(key) or device.defaults.get(key)
    return redirect(url_for("profiles.show_profiler"))


@bp.post("/profiler/upload")
@login_required("floor")
def upload_profile():
    """Upload a recording; a CSV may have its columns chosen on screen first."""
    form = request.form
    if form.get("choose") and not form.get("time_column"):
        upload = request.files.get("file")
        raw = (upload.read() if upload else form.get("raw", "").encode()).decode(
            "utf-8", errors="replace")
        header = next((ln for ln in raw.splitlines() if ln.strip()), "")
        sep = max((",", ";", "\t"), key=header.count)
        return render_template("profile_columns.html", raw=raw, form=form,
                               headers=[h.strip() for h in header.split(sep)])
    columns = None
    if form.get("time_column"):
        columns = {"time": form["time_column"], "channels": form.getlist("channel"),
                   "time_unit": form.get("time_unit", "s")}
    run = _store_upload(g.user, form, request.files, columns)
    return redirect(url_for("profiles.show_run", run_id=run.id))


@bp.get("/profiles/<run_id>")
@login_required()
def show_run(run_id):
    """A run: the chart, the statistics coloured by how much window they use, PWI, verdict."""
    run = profiles.find_run(get_session(), run_id)
    r = profiles.run_view(run, gettext)
    window = windows().get(run.paste)
    levels = r["window"]
    soak = (levels.get("soak_low_C", window.soak_low_C if window else 150.0),
            levels.get("soak_high_C", window.soak_high_C if window else 200.0))
    not_measured = {(p.get("channel"), p.get("stat")): p["message"] for p in r["problems"]
                    if p["code"] == "stat_not_measured"}
    return render_template("profile_run.html", run=run, r=r, svg=run_chart(run),
                           names=stat_names(*soak), units=UNITS,
                           role_names={k: Text(v) for k, v in ROLE_NAMES.items()},
                           not_measured=not_measured)


@bp.get("/profiles")
@login_required()
def list_runs():
    """The history of runs of a profile board or an oven, with PWI over time."""
    board, oven = request.args.get("board"), request.args.get("oven")
    runs = profiles.history(get_session(), profile_board=board, oven=oven)
    return render_template("profile_history.html", runs=runs, board=board, oven=oven)
