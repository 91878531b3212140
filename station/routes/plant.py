"""The plant board: a row per line, each station's state, the hour's output and the top defects.

Every line of this database, and every line the broker holds retained states for (the other
PCs of the plant), each built by the line dashboard's own `line_view`.
"""

from flask import Blueprint, jsonify, render_template
from sqlmodel import Session, select

from station.db import get_session
from station.errors import NotFound
from station.line.state import slug
from station.models import Line
from station.routes.api import endpoint
from station.routes.line import api_view, hub, line_view, wait_for_retained
from station.routes.web import login_required

bp = Blueprint("plant", __name__)
api = Blueprint("plant_api", __name__, url_prefix="/api/v1")

POLL_S = 2


def plant_lines(session: Session, feed) -> list[str]:
    """The ids of this database's lines and of the lines only the broker's states name."""
    ids = list(session.exec(select(Line.id)))
    if feed is not None and feed.connected:
        known = {slug(i) for i in ids}
        ids += [name if slug(name) == seg else seg
                for seg, name in feed.lines().items() if seg not in known]
    return sorted(ids, key=lambda i: (slug(i), i))


def line_online(feed, line_id: str, tiles: list[dict]) -> bool | None:
    """The line node's retained status; without one, offline when every station says offline."""
    if feed is None or not feed.connected:
        return None
    own = feed.online(slug(line_id))
    if own is not None:
        return own
    said = [t["online"] for t in tiles if t.get("online") is not None]
    return any(said) if said else None


def plant_view(session: Session) -> dict:
    """Every line's dashboard view with its online flag, in line order."""
    feed = hub().feed()
    rows = []
    for line_id in plant_lines(session, feed):
        try:
            view = line_view(session, line_id)
        except NotFound:  # its retained states were cleared since the list was made
            continue
        rows.append({**view, "online": line_online(feed, line_id, view["tiles"])})
    return {"lines": rows, "live": feed is not None and feed.connected,
            "configured": hub().cfg.configured}


@bp.get("/plant")
@login_required()
def show_plant():
    """The plant board for a wall screen; it polls its board fragment every POLL_S seconds."""
    wait_for_retained(hub().feed())
    return render_template("plant.html", view=plant_view(get_session()), poll_s=POLL_S)


@bp.get("/plant/board")
@login_required()
def show_board():
    """The board fragment, polled: a short read of the feed's retained cache, holding no thread.

    Polling rather than the line dashboard's event stream: a stream holds a waitress thread for
    as long as it is open and its slots are few ([mqtt] dashboard_streams), kept for the line
    dashboards; a stream for every line would wake on each change anywhere in the plant and
    rebuild them all. Every 2 s is live enough for a screen read from across the floor, and a
    poll survives broker and app restarts with nothing to reconnect.
    """
    return render_template("_plant_board.html", view=plant_view(get_session()))


@api.get("/plant")
@endpoint
def get_plant(user):
    """The plant board as JSON: each line's dashboard with its online flag."""
    view = plant_view(get_session())
    return jsonify({"live": view["live"], "configured": view["configured"],
                    "lines": [{**api_view(v), "online": v["online"]} for v in view["lines"]]})
