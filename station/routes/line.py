"""The line dashboard: a tile per station, live from MQTT; a station's state set by its operator.

Live updates are a text/event-stream fed by the app's MQTT subscription (feed.LineFeed). Each
open stream holds one waitress thread for as long as it is open, so at most
[mqtt] dashboard_streams (default 2) stream at once per process and each ends after
STREAM_S (the browser reconnects at once); a dashboard beyond the limit polls every 5 s.
Keep `run.py --threads` at least dashboard_streams + 4, so scans always find a thread.
"""

import queue
import time

from flask import (
    Blueprint,
    Response,
    current_app,
    g,
    jsonify,
    redirect,
    render_template,
    request,
    stream_with_context,
    url_for,
)
from sqlmodel import Session, select

from station import mqtt, people
from station.db import close_session, get_session, reader
from station.errors import NotFound, StationError
from station.line import state as line_state
from station.line.state import slug
from station.models import Line, Station, utcnow
from station.mqtt.feed import Hub
from station.routes.api import endpoint
from station.routes.web import is_htmx, json_body, login_required, rules, translate_error

bp = Blueprint("line", __name__)
api = Blueprint("line_api", __name__, url_prefix="/api/v1")

STREAM_S = 600  # a stream ends after this long; EventSource reconnects by itself
PING_S = 10  # a comment this often finds closed connections (and frees their thread)
OFFLINE_REFRESH_S = 2  # without a broker, tiles come from this database this often
POLL_S = 5


@bp.record_once
def _setup(state) -> None:
    mqtt.init_app(state.app)
    state.app.jinja_env.globals.update(outbox_status=outbox_status,
                                       station_snapshot=station_snapshot,
                                       station_states=line_state.SETTABLE)


def hub() -> Hub:
    """The app's MQTT hub."""
    return current_app.extensions["mqtt"]


def outbox_status() -> dict:
    """Broker connected, and how many events wait (templates: the banner)."""
    with Session(reader(current_app.extensions["engine"])) as s:
        return hub().status(s)


def station_snapshot(station_id: str) -> dict:
    """A station's state snapshot from this database (templates: the state form)."""
    with Session(reader(current_app.extensions["engine"])) as s:
        return line_state.snapshot(s, line_state.find_station(s, station_id), state_rules())


def state_rules() -> line_state.StateRules:
    """How states are derived, from config/station.toml."""
    return rules().state


def _online(feed, snap: dict, line_seg: str, station_seg: str) -> bool | None:
    """The station's own status, else the status of the process that publishes it."""
    if feed is None or not feed.connected:
        return None
    own = feed.online(f"{line_seg}/{station_seg}")
    return own if own is not None else feed.online(snap.get("node") or "")


def line_view(session: Session, line_id: str) -> dict:
    """Tiles from the broker's retained states (any process, any PC), else from this database."""
    feed, rules = hub().feed(), state_rules()
    line = session.get(Line, line_id)
    stations = list(session.exec(select(Station).where(Station.line == line_id)))
    seg = slug(line_id)
    live = feed is not None and feed.connected
    remote = feed.line(seg) if live else {}
    tiles, now = [], utcnow()
    for station in stations:
        retained = remote.pop(slug(station.id), None)
        if retained is not None:
            snap, source = retained.payload, "broker"
        else:
            snap, source = line_state.snapshot(session, station, rules, now), "local"
        tiles.append({**line_state.tile(snap, _online(feed, snap, seg, slug(station.id)),
                                        source), "here": True})
    for station_seg, retained in remote.items():
        tiles.append(line_state.tile(retained.payload,
                                     _online(feed, retained.payload, seg, station_seg), "broker"))
    if line is None and not tiles:
        raise NotFound(what="line", key=line_id)
    tiles.sort(key=lambda t: (line_state.flow_index(t.get("type", "")), t.get("station", "")))
    return {"line_id": line_id, "name": (line.name or line.id) if line else line_id,
            "tiles": tiles, "live": live, "configured": hub().cfg.configured,
            "summary": line_state.summary(tiles, line.hourly_target if line else 0, now,
                                          rules.timezone)}


def wait_for_retained(feed) -> None:
    """A dashboard opened just after start waits (1 s at most) for the broker's retained states."""
    if feed is not None:
        feed.wait_ready(1.0)


@bp.get("/line/<line_id>")
@login_required()
def show_line(line_id):
    """The dashboard: a tile per station, target against actual, top defects; live by SSE."""
    feed = hub().feed()
    wait_for_retained(feed)
    view = line_view(get_session(), line_id)
    streaming = feed is not None and hub().streams_free() > 0
    return render_template("line.html", view=view, streaming=streaming, poll_s=POLL_S)


@bp.get("/line/<line_id>/board")
@login_required()
def show_board(line_id):
    """The board fragment, for dashboards that poll (no stream slot, or no broker)."""
    view = line_view(get_session(), line_id)
    response = current_app.make_response(render_template("_line_board.html", view=view))
    if view["live"] and hub().streams_free() > 0 and request.args.get("polling"):
        response.headers["HX-Refresh"] = "true"  # a stream slot is free: go live
    return response


def _sse(event: str, html: str) -> str:
    data = "\n".join(f"data: {line}" for line in (html.splitlines() or [""]))
    return f"event: {event}\n{data}\n\n"


def _parts(view: dict) -> dict[str, str]:
    return {"banner": render_template("_line_banner.html", poll=False),
            "summary": render_template("_line_summary.html", view=view),
            "tiles": render_template("_line_tiles.html", view=view)}


@bp.get("/line/<line_id>/stream")
@login_required()
def stream(line_id):
    """text/event-stream of the board's parts, sent when the broker (or a local commit) says."""
    h = hub()
    feed = h.feed()
    if feed is None:
        return Response(status=204)  # no broker configured: the page polls
    if not h.take_stream():
        return Response("Too many live dashboards on this station; this one polls.",
                        status=503, headers={"Retry-After": "30"})
    engine = current_app.extensions["engine"]
    close_session()  # hold no read transaction open for the stream's life (WAL checkpoints)
    listener = feed.listen(slug(line_id))

    def generate():
        try:
            yield f"retry: 3000\n: {line_id}\n\n"
            sent: dict[str, str] = {}
            deadline = time.monotonic() + STREAM_S
            first = True
            while time.monotonic() < deadline:
                if not first:
                    try:
                        listener.queue.get(timeout=PING_S if feed.connected
                                           else OFFLINE_REFRESH_S)
                    except queue.Empty:
                        if feed.connected:
                            yield ": ping\n\n"
                            continue
                    while not listener.queue.empty():  # coalesce a burst into one update
                        listener.queue.get_nowait()
                first = False
                with Session(reader(engine), expire_on_commit=False) as s:
                    try:
                        view = line_view(s, line_id)
                    except StationError:
                        return
                for name, html in _parts(view).items():
                    if sent.get(name) != html:
                        sent[name] = html
                        yield _sse(name, html)
        finally:
            feed.unlisten(listener)
            h.give_stream()

    return Response(stream_with_context(generate()), mimetype="text/event-stream",
                    headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})


@bp.get("/line/banner")
@login_required()
def show_banner():
    """The "broker offline, N events waiting" banner, refreshed by itself where included."""
    return render_template("_line_banner.html", poll=True)


@bp.route("/line/<line_id>/stations/<station_id>/state", methods=("GET", "POST"))
@login_required("floor")
def station_state(line_id, station_id):
    """The operator says the station is down, in setup... with a reason; "auto" hands back."""
    session = get_session()
    station = line_state.find_station(session, station_id)
    if station.line != line_id:
        raise NotFound(what="station", key=f"{station_id} on line {line_id}")
    result = None
    if request.method == "POST":
        try:
            ev = line_state.set_state(session, g.user, station.id, request.form.get("state"),
                                      request.form.get("reason", ""), state_rules())
            result = {"outcome": "accepted", "state": ev.payload["new_state"]}
        except StationError as err:
            session.rollback()
            result = {"outcome": "refused", **translate_error(err)}
        if result["outcome"] == "accepted" and not is_htmx():
            return redirect(url_for("line.station_state", line_id=line_id,
                                    station_id=station.id, done=result["state"]))
    snap = line_state.snapshot(session, station, state_rules())
    template = "_line_state_form.html" if is_htmx() else "line_state.html"
    return render_template(template, station=station, snap=snap, result=result,
                           states=line_state.SETTABLE, done=request.args.get("done"))


def api_view(view: dict) -> dict:
    """A line view as the API answers it (the plant's API too)."""
    return {"line": view["line_id"], "name": view["name"], "live": view["live"],
            "summary": {**view["summary"], "defects": [
                {"code": c, "count": n} for c, n in view["summary"]["defects"]]},
            "stations": view["tiles"]}


@api.get("/lines/<line_id>")
@endpoint
def get_line(user, line_id):
    """The dashboard as JSON: every station's state snapshot, online flag and the summary."""
    return jsonify(api_view(line_view(get_session(), line_id)))


@api.get("/stations/<station_id>/state")
@endpoint
def get_station_state(user, station_id):
    """The station's state snapshot, from this database."""
    session = get_session()
    station = line_state.find_station(session, station_id)
    return jsonify(line_state.snapshot(session, station, state_rules()))


@api.post("/stations/<station_id>/state")
@endpoint
def set_station_state(user, station_id):
    """Set the station's state: {"state", "reason"} (floor roles)."""
    d, session = json_body(), get_session()
    line_state.set_state(session, user, station_id, d.get("state"), d.get("reason", ""),
                         state_rules())
    station = line_state.find_station(session, station_id)
    return jsonify(line_state.snapshot(session, station, state_rules())), 201


@api.get("/outbox")
@endpoint
def get_outbox(user):
    """The MQTT outbox: broker connected, events waiting, the relay's cursor."""
    people.require(user, "read")
    return jsonify(outbox_status())
