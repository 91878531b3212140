"""The reels page: a reel registered from its label or typed fields, and the newest reels."""

from flask import Blueprint, g, redirect, render_template, request, url_for
from sqlmodel import select

from station.db import get_session
from station.errors import N_, InvalidInput, StationError
from station.line.desk import read_label
from station.material import reels
from station.models import Reel
from station.routes.web import login_required, rules, translate_error

bp = Blueprint("reels", __name__)
SHOWN = 50  # the newest reels listed under the form


@bp.route("/reels", methods=("GET", "POST"))
@login_required("floor")
def register_reel():
    """Register a reel: scan its label into the first box, or type its fields."""
    session, error = get_session(), None
    if request.method == "POST":
        f = request.form
        try:
            reels.register_reel(session, g.user, f.get("label") or None, id=f.get("id") or None,
                                part=f.get("part") or None, quantity=_whole(f.get("quantity")),
                                lot=f.get("lot") or None, date_code=f.get("date_code") or None,
                                msl=f.get("msl") or None, rules=rules().labels)
            return redirect(url_for("reels.register_reel"))
        except StationError as err:
            session.rollback()
            error = translate_error(err)
    newest = session.exec(select(Reel).order_by(Reel.created_at.desc()).limit(SHOWN)).all()
    return render_template("reels.html", reels=newest, error=error, form=request.form)


@bp.post("/reels/floor-life")
@login_required("floor")
def record_floor_life():
    """A reel scanned going into the bake oven, into dry storage, or out of it."""
    session, f = get_session(), request.form
    try:
        scan = read_label(f.get("reel", ""), rules().labels)
        reel = reels.reel_id(scan) or scan.code
        if f.get("action") == "bake":
            reels.record_bake(session, g.user, reel)
        elif f.get("action") in ("dry_in", "dry_out"):
            reels.record_dry(session, g.user, reel, f["action"] == "dry_in")
        else:
            raise InvalidInput(N_("choose bake, into dry storage or out of dry storage"))
    except StationError as err:
        session.rollback()
        newest = session.exec(select(Reel).order_by(Reel.created_at.desc()).limit(SHOWN)).all()
        return render_template("reels.html", reels=newest, error=translate_error(err), form={})
    return redirect(url_for("reels.register_reel"))


def _whole(value) -> int | None:
    """A typed quantity as a whole number (None when left empty)."""
    if value in (None, ""):
        return None
    try:
        return int(value)
    except ValueError:
        raise InvalidInput(N_("quantity must be a whole number of parts, at least 1")) from None
