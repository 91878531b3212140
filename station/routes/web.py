"""What every route shares: who is signed in, errors at the edge, htmx, JSON bodies."""

import time
from functools import wraps

from flask import (
    current_app,
    g,
    jsonify,
    make_response,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask.sessions import SecureCookieSessionInterface
from flask_babel import get_locale, gettext

from station import db, people
from station.config import Settings, StationRules
from station.db import get_session
from station.errors import N_, DatabaseBusy, InvalidInput, StationError, Unauthenticated, say
from station.line.codes import BIDI
from station.models import User
from station.readiness import interlock


def is_htmx() -> bool:
    """True when htmx sent the request (it wants a fragment, not a page)."""
    return request.headers.get("HX-Request") == "true"


def translate_error(err: StationError) -> dict:
    """The error's message and advice in the reader's language; a screen lists its reasons
    (NOT_READY's red items) one per line under its headline."""
    reasons = [say(r, gettext) for r in err.reasons()]
    return {"code": err.code, "message": err.headline(gettext) if reasons else err.text(gettext),
            "reasons": reasons, "todo": err.advice(gettext),
            "severity": "warning" if err.code == "ALREADY_DONE" else err.severity}


def json_body() -> dict:
    """The request's JSON object, or INVALID_INPUT."""
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        raise InvalidInput(N_("the body must be a JSON object"))
    return data


def sign_in(user: User) -> None:
    """Start a new web session for the user (a fresh cookie, so no fixation)."""
    session.clear()
    session.update(uid=user.id, epoch=user.session_epoch, seen=int(time.time()))
    g.user = user


def web_user() -> User | None:
    """The user of the session cookie, unless it was ended or sat idle too long."""
    uid = session.get("uid")
    if uid is None:
        return None
    idle = settings().security.idle_minutes * 60
    user = get_session().get(User, uid)
    if user is None or session.get("epoch") != user.session_epoch or \
            time.time() - session.get("seen", 0) > idle:
        session.clear()
        return None
    if request.headers.get("X-Poll") != "1":  # a screen polling by itself is not a person
        session["seen"] = int(time.time())
    return user


def api_user() -> User:
    """The user of the request's bearer token, or UNAUTHENTICATED."""
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    user = None
    if scheme.lower() == "bearer":
        user = people.user_for_token(get_session(), token.strip())
    if user is None:
        raise Unauthenticated()
    g.user = user
    people.require(user, people.API_ACTIONS.get(request.endpoint, "read"))  # before its body
    return user


def login_required(action: str = "read"):
    """A page that needs a signed-in user whose role may do `action`."""
    def wrap(view):
        @wraps(view)
        def inner(*args, **kwargs):
            user = g.get("user")
            if user is None:
                return redirect(url_for("auth.login", next=request.full_path))
            people.require(user, action)
            return view(*args, **kwargs)
        return inner
    return wrap


def api_error(err: StationError):
    """An API error as JSON, with the floor's code."""
    return jsonify(err.body(gettext)), err.status


def handle_error(err: StationError):
    """Domain errors become 4xx at the edge: JSON for the API, a page or fragment otherwise."""
    get_locale()  # chosen before the rollback expires the user it is read from
    get_session().rollback()
    if request.path.startswith("/api/"):
        return api_error(err)
    error = translate_error(err)
    template = "_error.html" if is_htmx() else "error.html"
    status = 200 if is_htmx() else err.status  # htmx swaps only 2xx answers
    return render_template(template, error=error), status


RETRY_AFTER_S = 2  # how long a client told DATABASE_BUSY waits before it tries again


def handle_busy(exc: Exception):
    """A lock the database could not get in time: 503 DATABASE_BUSY with a Retry-After, as
    JSON for the API and as an error page on screens; any other database error goes on."""
    if not db.is_busy(exc):
        raise exc
    get_session().rollback()  # a failed flush leaves the session unusable until rolled back
    response = make_response(handle_error(DatabaseBusy()))
    response.headers["Retry-After"] = str(RETRY_AFTER_S)
    return response


class CookieSessions(SecureCookieSessionInterface):
    """Signed-cookie sessions for the pages; the API authenticates by bearer token alone, so
    its requests get no session (and the cost of opening one is saved on every scan)."""

    def open_session(self, app, request):
        if request.path.startswith("/api/"):
            return self.make_null_session(app)
        return super().open_session(app, request)


def load_user() -> None:
    """Before each request: who is signed in (by cookie; the API checks its token itself)."""
    g.user = None if request.path.startswith(("/api/", "/static/")) else web_user()


SAFETY_HEADERS = (("Vary", "HX-Request"), ("X-Frame-Options", "SAMEORIGIN"),
                  ("X-Content-Type-Options", "nosniff"),
                  ("Content-Security-Policy",
                   "default-src 'self'; img-src 'self' data:; frame-ancestors 'self'"))


def add_headers(response):
    """Pages that serve both a page and a fragment vary on HX-Request; no page is framed."""
    present = {name.lower() for name, _ in response.headers}
    response.headers.extend([(k, v) for k, v in SAFETY_HEADERS if k.lower() not in present])
    return response


def printable(text: str) -> str:
    """Scanned text with control and direction characters shown as U+XXXX, for display."""
    return "".join(ch if ch.isprintable() and ch not in BIDI else f"<U+{ord(ch):04X}>"
                   for ch in text)


def settings() -> Settings:
    """The station's settings, checked at start (config/station.toml and the environment)."""
    return current_app.config["SETTINGS"]


def rules() -> StationRules:
    """The floor's rules the settings made at start."""
    return current_app.extensions["rules"]


def readiness_rules() -> interlock.Rules:
    """The readiness limits of config/station.toml ([readiness], and [reflow] validity_hours)."""
    return rules().ready
