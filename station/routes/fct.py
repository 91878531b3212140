"""Functional test: results from testers and files, repairs, scrap, QA review and sign-off."""

from flask import Blueprint, current_app, g, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext

from station.db import get_session
from station.errors import N_, InvalidInput, StationError, UnknownStation
from station.line.desk import read_label
from station.masterdata import find_order
from station.models import Station, iso
from station.quality import fct, qa
from station.routes.api import endpoint
from station.routes.web import json_body, login_required, rules, settings, translate_error

bp = Blueprint("fct", __name__)
api = Blueprint("fct_api", __name__, url_prefix="/api/v1")


def fct_rules() -> fct.FctRules:
    """The retest limit and defect codes of config/station.toml [fct]."""
    return rules().fct


def attempt_view(a) -> dict:
    """One test attempt as the API shows it."""
    return {"id": a.id, "station": a.station_id, "outcome": a.outcome, "program": a.program,
            "program_version": a.program_version, "fixture": a.fixture,
            "started_at": iso(a.started_at), "ended_at": iso(a.ended_at),
            "measurements": a.measurements, "defect_code": a.defect_code, "source": a.source,
            "sha256": a.file_sha256, "recorded_at": iso(a.at)}


def board_tests_view(session, board) -> dict:
    """A board's test state, attempts and repairs."""
    state = fct.test_state(session, board)
    return {"serial": board.serial, "state": state["state"],
            "fails_since_repair": state["fails_since_repair"],
            "scrapped": state["scrap"].reason if state["scrap"] else None,
            "attempts": [attempt_view(a) for a in fct.attempts(session, board)],
            "repairs": [{"id": r.id, "defect_code": r.defect_code, "location": r.location,
                         "action": r.action, "at": iso(r.at)} for r in fct.repairs(session,
                                                                                    board)]}


@api.post("/tests")
@endpoint
def create_test(user):
    """A tester posts one attempt's result (every attempt is kept)."""
    d = json_body()
    attempt = fct.record_result(
        get_session(), user, d.get("serial"), d.get("station"), d.get("outcome"),
        program=d.get("program"), program_version=d.get("program_version"),
        fixture=d.get("fixture"), started_at=d.get("started_at"), ended_at=d.get("ended_at"),
        measurements=d.get("measurements"), defect_code=d.get("defect_code"), rules=fct_rules())
    session = get_session()
    board = fct.find_board(session, d.get("serial"))
    return jsonify({**attempt_view(attempt), "serial": board.serial,
                    "state": fct.test_state(session, board)["state"]}), 201


def _upload() -> tuple[bytes, str]:
    upload = request.files.get("file")
    if upload is None:
        raise InvalidInput(N_("send the record as the multipart field `file`"))
    return upload.read(), request.form.get("station", "")


@api.post("/tests/openhtf")
@endpoint
def import_openhtf(user):
    """Import an OpenHTF JSON test record (multipart `file`, `station`)."""
    data, station = _upload()
    attempt = fct.import_openhtf(get_session(), user, data, station, fct_rules())
    return jsonify(attempt_view(attempt)), 201


@api.post("/tests/csv")
@endpoint
def import_csv(user):
    """Import a CSV of results (multipart `file`, `station`): all rows or none."""
    data, station = _upload()
    attempts = fct.import_csv(get_session(), user, data, station, fct_rules())
    return jsonify(attempts=[attempt_view(a) for a in attempts]), 201


@api.get("/boards/<serial>/tests")
@endpoint
def get_board_tests(user, serial):
    """A board's test state, every attempt and every repair."""
    session = get_session()
    return jsonify(board_tests_view(session, fct.find_board(session, serial)))


@api.post("/boards/<serial>/repairs")
@endpoint
def repair_board(user, serial):
    """Record a repair: defect code, location (reference designator), action."""
    d = json_body()
    repair = fct.record_repair(get_session(), user, serial, d.get("defect_code"),
                               d.get("action"), d.get("location", ""), fct_rules())
    return jsonify(id=repair.id, serial=serial, defect_code=repair.defect_code), 201


@api.post("/boards/<serial>/scrap")
@endpoint
def scrap_board(user, serial):
    """QA scraps a board with a reason."""
    row = fct.scrap(get_session(), user, serial, json_body().get("reason"))
    return jsonify(serial=serial, reason=row.reason, scrapped_at=iso(row.at)), 201


def _sign(user, number, form) -> dict:
    row = qa.sign(get_session(), user, number, form.get("badge"), form.get("pin"),
                  form.get("meaning"), pepper=current_app.config["PIN_PEPPER"],
                  lock_after=settings().security.badge_lock_after,
                  reviewed_hash=form.get("results_hash") or None)
    return {"signed_by": row.printed_name, "signed_at": iso(row.signed_at),
            "meaning": row.meaning, "results_hash": row.results_hash}


@api.post("/orders/<number>/signoff")
@endpoint
def sign_off(user, number):
    """QA signs the order's results off with badge and PIN again."""
    return jsonify(_sign(user, number, json_body())), 201


@api.get("/orders/<number>/review")
@endpoint
def get_review(user, number):
    """The QA review of an order: states, yields, failures, retests, signature."""
    session = get_session()
    return jsonify(qa.review(session, find_order(session, number)))


def _fct_station(station_id: str) -> Station:
    station = get_session().get(Station, station_id)
    if station is None or station.type != "FCT":
        raise UnknownStation(station=station_id)
    g.station_language = station.language
    return station


@bp.get("/fct/<station_id>")
@login_required("floor")
def show_fct(station_id):
    """The FCT station screen: scan a board, see its attempts, pass or fail it by hand."""
    return render_template("fct.html", station=_fct_station(station_id), board=None,
                           defects=fct_rules().defect_codes)


@bp.post("/fct/<station_id>/board")
@login_required("floor")
def fct_board(station_id):
    """A board scanned (or a result entered by hand) at the FCT station."""
    station, session = _fct_station(station_id), get_session()
    result, board = None, None
    try:
        serial = read_label(request.form.get("code", ""), rules().labels).code
        board = fct.find_board(session, serial)
        if request.form.get("outcome"):
            fct.record_result(session, g.user, serial, station.id, request.form["outcome"],
                              program="manual", defect_code=request.form.get("defect_code")
                              or None, source="manual", rules=fct_rules())
            result = {"outcome": "accepted", "message": gettext(
                "%(serial)s: %(outcome)s recorded.", serial=serial,
                outcome=request.form["outcome"].upper())}
    except StationError as err:
        session.rollback()
        result = {"outcome": "refused", **translate_error(err)}
    view = board_tests_view(session, board) if board is not None else None
    return render_template("_fct_board.html", station=station, board=view, result=result,
                           defects=fct_rules().defect_codes)


@bp.route("/orders/<number>/review", methods=("GET", "POST"))
@login_required()
def show_review(number):
    """QA's review of an order, with the sign-off box (badge and PIN again)."""
    session, error = get_session(), None
    if request.method == "POST":
        try:
            _sign(g.user, number, request.form)
        except StationError as err:
            session.rollback()
            error = translate_error(err)
        else:
            # Redirect after signing: reloading the page must not send badge and PIN again and
            # sign results that changed since (the signature shows at the top of the page).
            return redirect(url_for("fct.show_review", number=number))
    order = find_order(session, number)
    return render_template("review.html", order=order, review=qa.review(session, order),
                           meanings=qa.MEANINGS, error=error, signed=None)


@bp.post("/boards/<serial>/repairs")
@login_required("floor")
def repair_from_page(serial):
    """A repair entered on the board's page."""
    f = request.form
    fct.record_repair(get_session(), g.user, serial, f.get("defect_code"), f.get("action"),
                      f.get("location", ""), fct_rules())
    return redirect(url_for("boards.show_board", serial=serial))


@bp.post("/boards/<serial>/scrap")
@login_required("scrap")
def scrap_from_page(serial):
    """QA scraps a board from its page."""
    fct.scrap(get_session(), g.user, serial, request.form.get("reason"))
    return redirect(url_for("boards.show_board", serial=serial))
