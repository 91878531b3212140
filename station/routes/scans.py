"""The operator's station screen and the scan API: one scan rule behind both.

The screen takes wedge scans typed into its box, and polls its station's feed for what the
station's serial scanners read (station.line.desk), so both show the same way.
"""

import time

from flask import Blueprint, current_app, g, jsonify, render_template, request, session, url_for
from flask_babel import gettext

from station import people
from station.db import get_session
from station.errors import InvalidInput, UnknownStation
from station.line import scanning
from station.line.codes import LabelRules
from station.line.desk import ScanDesk, desk_of, init_desk, take_scan
from station.line.feeding import grid, is_placement
from station.line.shifts import shift_start
from station.models import Station, User, utcnow
from station.routes.web import (
    api_user,
    is_htmx,
    json_body,
    login_required,
    rules,
    sign_in,
    translate_error,
)

bp = Blueprint("scans", __name__)
api = Blueprint("scans_api", __name__, url_prefix="/api/v1")
FEED_POLL_MS = 400  # how often a station screen with serial scanners asks for their results
SEEN_STEP_S = 60  # serial work moves the session's idle clock on in steps of this, at most
MAX_WAIT_S = 1.0  # the longest a feed request may wait for news


def scan_rules() -> scanning.ScanRules:
    """The configured length cap and allowlist for scanned codes, the readiness limits, and
    how PACK fills and numbers boxes."""
    return rules().scan


def label_rules() -> LabelRules:
    """How labels are read: config/station.toml's [scanning] with its kinds and label types."""
    return rules().labels


@bp.record_once
def _set_up(state) -> None:
    init_desk(state.app, lambda: (scan_rules(), label_rules()))


def _desk() -> ScanDesk:
    return desk_of(current_app)


@bp.after_app_request
def note_sign_ins(response):
    """Note a badge + PIN sign-in in the session; forget a signed-out user at every station."""
    # A badge scanned later may switch a station only to someone who signed in with a PIN.
    if request.method == "POST" and g.get("user") is not None:
        if request.endpoint == "auth.login" and response.status_code == 302 and \
                request.form.get("badge"):
            session["pin_at"] = int(time.time())
        elif request.endpoint == "auth.logout":
            _desk().operators.leave(g.user.id)
    return response


@api.post("/scans")
def create_scan():
    """Scan a board (or panel) at a station: 201 with its next step, or the floor's refusal."""
    user = api_user()
    data = json_body()
    if not isinstance(data.get("station"), str):
        # A list would be taken for a primary-key tuple and an object would crash the lookup.
        raise InvalidInput(detail="station must be a station id such as L1-AOI-1")
    answer = scanning.scan(get_session(), data["station"], data.get("code"), user,
                           data.get("scan_id"), scan_rules())
    return jsonify(answer), 201


def _station(station_id: str) -> Station:
    station = get_session().get(Station, station_id)
    if station is None:
        raise UnknownStation(station=station_id)
    g.station_language = station.language
    return station


def _screen_context(station: Station) -> dict:
    """What the screen shows around the result: counts, last scans, operator and scanners."""
    state = rules().state
    since = shift_start(utcnow(), state.timezone, state.shift_starts)
    session, desk = get_session(), _desk()
    return {"station": station, "shift_count": scanning.shift_count(session, station.id, since),
            "recent": scanning.last_scans(session, station.id),
            "operator": desk.operators.current(station.id), "scanners": desk.states(station.id),
            "feeders": grid(session, station, desk.loading) if is_placement(station) else None}


def present(result: dict) -> dict:
    """A scan's result in the reader's language: its error or notice translated."""
    shown = {k: v for k, v in result.items() if k not in ("error", "notice")}
    if "error" in result:
        shown.update(translate_error(result["error"]))
    if "notice" in result:
        template, params = result["notice"]
        shown["message"] = gettext(template).format(**params)
    return shown


@bp.get("/station/<station_id>")
@login_required("floor")
def show_station(station_id):
    """The scan screen: scan box, full-width result, next step, shift count, last three scans."""
    station = _station(station_id)
    _desk().operators.opened(station.id, g.user, session.get("pin_at"))
    return render_template("station.html", feed_after=_desk().feed.last_seq(),
                           feed_poll_ms=FEED_POLL_MS, **_screen_context(station))


@bp.post("/station/<station_id>/scan")
@login_required("floor")
def scan_at_station(station_id):
    """A wedge scan typed into the screen: the result fragment, plus counts swapped out of band."""
    station, desk = _station(station_id), _desk()
    desk.operators.opened(station.id, g.user, session.get("pin_at"))
    taken = take_scan(get_session(), station.id, request.form.get("code", ""), g.user,
                      rules=scan_rules(), labels=label_rules(), operators=desk.operators,
                      scan_id=request.form.get("scan_id") or None, via="screen",
                      loading=desk.loading)
    if taken.signed_in is not None:
        _become(taken.signed_in, desk.operators.current(station.id))
    if not is_htmx():  # a scan sent before the page's scripts ran: the whole screen, with it
        return render_template("station.html", result=present(taken.result),
                               feed_after=desk.feed.last_seq(), feed_poll_ms=FEED_POLL_MS,
                               **_screen_context(station))
    return render_template("_scan_result.html", result=present(taken.result), swap_status=True,
                           became=taken.signed_in, **_screen_context(station))


@bp.get("/station/<station_id>/feed")
def station_feed(station_id):
    """The station's serial-scan results after `after`, one at a time; 204 while nothing is new."""
    # The marker it returns asks again at once while more results wait. With `wait` (seconds,
    # at most MAX_WAIT_S) the answer waits that long for news first.
    user = _feed_user(station_id)
    if user is None:
        response = current_app.response_class(status=200)
        response.headers["HX-Redirect"] = url_for("auth.login", next=f"/station/{station_id}")
        return response
    desk = _desk()
    became = _follow_badge(station_id, user, desk)
    after = request.args.get("after", 0, type=int)
    if after > desk.feed.last_seq():  # a page of an earlier run of the station: all is news
        after = 0
    wait = min(max(request.args.get("wait", 0.0, type=float), 0.0), MAX_WAIT_S)
    if wait and became is None:
        get_session().close()  # no transaction held open while waiting
        desk.feed.wait(station_id, after, wait)
    new = desk.feed.since(station_id, after)
    if not new and became is None:
        return "", 204
    station = _station(station_id)
    results = [e for e in new if e.kind == "result"]
    shown = results[0] if results else None
    more = len(results) > 1
    seq = shown.seq if more else (new[-1].seq if new else after)
    return render_template(
        "_scan_result.html", result=present(shown.data) if shown else None, swap_status=True,
        became=became, feed={"seq": seq, "more": more, "poll_ms": FEED_POLL_MS},
        **_screen_context(station))


def _feed_user(station_id: str) -> User | None:
    """Whose screen polls the feed, or None when their session is over."""
    # Polling is no activity: the session's idle clock runs from the operator's own last action,
    # on the screen or on the station's scanner, so the cookie is left as the browser sent it.
    sent = current_app.session_interface.open_session(current_app, request) or {}
    uid = sent.get("uid")
    if uid is None:
        return None
    operators = _desk().operators
    seen = sent.get("seen", 0)
    active = max(seen, operators.last_active(station_id, uid) or 0)
    user = g.user if g.get("user") is not None and g.user.id == uid else \
        get_session().get(User, uid)
    if user is None or sent.get("epoch") != user.session_epoch or not people.may(user, "floor") \
            or time.time() - active > operators.idle_s:
        session.clear()
        return None
    session.clear()
    session.update(sent)
    if active - seen > SEEN_STEP_S:
        session["seen"] = int(active)
    else:
        session.modified = False  # the cookie stays as the browser sent it: no Set-Cookie
    g.user = user
    operators.seen(station_id, user, sent.get("pin_at"), active)
    return user


def _follow_badge(station_id: str, user: User, desk) -> User | None:
    """Sign this screen in as whom a badge on the station's scanner switched to; them, or None."""
    presence = desk.operators.current(station_id)
    if presence is None or presence.via != "badge" or presence.user_id == user.id:
        return None
    other = get_session().get(User, presence.user_id)
    if other is None or other.session_epoch != presence.epoch:
        return None
    _become(other, presence)
    return other


def _become(user: User, presence) -> None:
    """Sign this browser in as `user`, keeping its CSRF token (the page's forms stay valid)."""
    token = session.get("csrf_token")
    sign_in(user)
    if token:
        session["csrf_token"] = token
    if presence is not None and presence.pin_at:
        session["pin_at"] = int(presence.pin_at)
