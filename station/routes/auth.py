"""Signing in and out: badge + PIN for the floor, name + password for the office."""

from flask import Blueprint, current_app, g, redirect, render_template, request, url_for

from station import people
from station.db import get_session
from station.errors import StationError
from station.routes.web import settings, sign_in, translate_error

bp = Blueprint("auth", __name__)


def _safe_next(target: str | None) -> str:
    """Only follow a local path after signing in (no open redirect)."""
    # Browsers read "/\\host" as "//host" and drop tabs and newlines from URLs.
    if target and target.startswith("/") and not target.startswith("//") and \
            "\\" not in target and target.isprintable():
        return target
    return url_for("auth.home")


@bp.route("/login", methods=("GET", "POST"))
def login():
    """Sign in with a badge and PIN, or with a name and password."""
    error = None
    if request.method == "POST":
        f, session = request.form, get_session()
        try:
            if f.get("badge"):
                user = people.check_badge(session, f["badge"].strip(), f.get("pin", ""),
                                          pepper=current_app.config["PIN_PEPPER"],
                                          lock_after=settings().security.badge_lock_after)
            else:
                user = people.check_password(session, f.get("name", ""), f.get("password", ""))
        except StationError as err:
            error = translate_error(err)
        else:
            sign_in(user)
            return redirect(_safe_next(f.get("next")))
    return render_template("login.html", error=error,
                           next=request.values.get("next", "")), 401 if error else 200


@bp.post("/logout")
def logout():
    """Sign out here and end the session everywhere it was copied."""
    if g.user is not None:
        people.end_sessions(get_session(), g.user)
    return redirect(url_for("auth.login"))


@bp.get("/")
def home():
    """The start page: the stations of each line, and the pages a role may open."""
    if g.user is None:
        return redirect(url_for("auth.login"))
    from sqlmodel import select

    from station.models import Station

    stations = get_session().exec(select(Station).order_by(Station.line, Station.id)).all()
    return render_template("home.html", stations=stations)
