"""The operator's station screen and the scan API: one scan rule behind both."""

import re

from flask import Blueprint, current_app, g, jsonify, render_template, request

from station import scanning
from station.db import get_session
from station.errors import InvalidInput, StationError, UnknownStation
from station.models import Station, utcnow
from station.routes.api import endpoint
from station.routes.web import json_body, login_required, readiness_rules, translate_error
from station.shifts import shift_start

bp = Blueprint("scans", __name__)
api = Blueprint("scans_api", __name__, url_prefix="/api/v1")


def scan_rules() -> scanning.ScanRules:
    """The configured length cap and allowlist for scanned codes, and the readiness limits."""
    cfg = current_app.config["SETTINGS"].get("scanning", {})
    return scanning.ScanRules(max_length=cfg.get("max_length", 64),
                              allowed=re.compile(cfg.get("allowed", r"^[A-Za-z0-9._/-]+$")),
                              ready_rules=readiness_rules())


@api.post("/scans")
@endpoint
def create_scan(user):
    """Scan a board (or panel) at a station: 201 with its next step, or the floor's refusal."""
    data = json_body()
    if not isinstance(data.get("station"), str):
        # A list would be taken for a primary-key tuple and an object would crash the lookup.
        raise InvalidInput(detail="station must be a station id such as L1-AOI-1")
    answer = scanning.scan(get_session(), data.get("station"), data.get("code"), user,
                           data.get("scan_id"), scan_rules())
    return jsonify(answer), 201


def _station(station_id: str) -> Station:
    station = get_session().get(Station, station_id)
    if station is None:
        raise UnknownStation(station=station_id)
    g.station_language = station.language
    return station


def _screen_context(station: Station) -> dict:
    """What the station screen shows around the result: shift count and last scans."""
    settings = current_app.config["SETTINGS"]
    since = shift_start(utcnow(), settings["site"].get("timezone", "UTC"),
                        settings.get("shifts", {}).get("starts", ["00:00"]))
    session = get_session()
    return {"station": station, "shift_count": scanning.shift_count(session, station.id, since),
            "recent": scanning.last_scans(session, station.id)}


@bp.get("/station/<station_id>")
@login_required("floor")
def show_station(station_id):
    """The scan screen: scan box, full-width result, next step, shift count, last three scans."""
    station = _station(station_id)
    return render_template("station.html", **_screen_context(station))


@bp.post("/station/<station_id>/scan")
@login_required("floor")
def scan_at_station(station_id):
    """A wedge scan typed into the screen: the result fragment, plus counts swapped out of band."""
    station = _station(station_id)
    raw = request.form.get("code", "")
    try:
        answer = scanning.scan(get_session(), station.id, raw, g.user,
                               request.form.get("scan_id") or None, scan_rules())
        result = {"outcome": "accepted", **answer}
    except StationError as err:
        get_session().rollback()
        result = {"outcome": "warning" if err.code == "ALREADY_DONE" else "refused",
                  "code_scanned": raw.strip()[:64], **translate_error(err)}
    return render_template("_scan_result.html", result=result, **_screen_context(station))
