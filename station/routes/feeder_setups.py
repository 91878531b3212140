"""The admin's feeder setup page: a placement step's slots from a CSV, or drafted from the
data package; the rules are station.material.setups'."""

import csv
import io

from flask import Blueprint, g, redirect, render_template, request, url_for

from station.db import get_session
from station.errors import N_, InvalidInput, StationError
from station.masterdata import find_product
from station.material import setups
from station.routes.web import login_required, translate_error

bp = Blueprint("feeder_setups", __name__)


def placement_steps(route: list[str]) -> list[str]:
    """The route's steps that place parts from feeders (PLACE, PLACE-B)."""
    return [step for step in route if setups.is_placement(step)]


def setup_csv(slots: list[dict]) -> str:
    """Slots as the page's CSV: lists of alternates and designators space-separated."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(setups.CSV_HEADER)
    for s in slots:
        writer.writerow([s.get("slot") or "", s.get("part") or "",
                         " ".join(s.get("alternates") or []), " ".join(s.get("designators") or [])])
    return out.getvalue()


@bp.route("/products/<code>/<revision>/feeder-setups", methods=("GET", "POST"))
@login_required("master_data")
def edit_feeder_setup(code, revision):
    """A placement step's setup: its slots now, a CSV to create it, a draft from the package."""
    session = get_session()
    product = find_product(session, code, revision)
    steps = placement_steps(product.route)
    step = request.values.get("step") or (steps[0] if steps else "")
    text, error = "", None
    if request.method == "POST":
        text = _sent_csv()
        try:
            if request.form.get("action") == "draft":
                text = setup_csv(setups.draft_from_package(session, code, revision, step))
            else:
                setups.create_setup(session, g.user, code, revision, step,
                                    setups.setup_from_csv(text))
                return redirect(url_for("feeder_setups.edit_feeder_setup", code=code,
                                        revision=revision, step=step))
        except StationError as err:
            session.rollback()
            error = translate_error(err)
            error["designators"] = err.params.get("designators")
    setup = setups.find_setup(session, product.id, step) if step else None
    slots = setups.slots_of(session, setup.id) if setup else []
    return render_template("feeder_setup.html", product=product, steps=steps, step=step,
                           setup=setup, slots=slots, text=text, error=error)


def _sent_csv() -> str:
    """The CSV the admin sent: the uploaded file if one was chosen, else the text box."""
    upload = request.files.get("file")
    if upload is not None and upload.filename:
        try:
            return upload.read().decode("utf-8-sig")
        except UnicodeDecodeError:
            raise InvalidInput(N_("the CSV file must be UTF-8 text")) from None
    return request.form.get("csv", "")
