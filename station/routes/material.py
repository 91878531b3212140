"""Material on the line, the API: feeder setups, reels, loading and unloading, trace."""

import re

from flask import Blueprint, Response, jsonify, request

from station.db import get_session
from station.errors import N_, InvalidInput
from station.masterdata import find_product
from station.material import feeders, reels, setups, trace
from station.material.floorlife import floor_left_h
from station.models import Reel, iso, utcnow
from station.routes.api import endpoint
from station.routes.web import json_body, rules

api = Blueprint("material_api", __name__, url_prefix="/api/v1")


def reel_view(reel: Reel) -> dict:
    """A reel as the API shows it."""
    return {"id": reel.id, "part": reel.part, "quantity": reel.quantity,
            "initial_quantity": reel.initial_quantity, "lot": reel.lot,
            "date_code": reel.date_code, "msl": reel.msl, "opened_at": iso(reel.opened_at),
            "baked_at": iso(reel.baked_at), "dry_stored": reel.exposed_since is None,
            "floor_left_h": floor_left_h(reel, utcnow())}


@api.post("/feeder-setups")
@endpoint
def create_setup(user):
    """Create or replace the feeder setup of a product revision's placement step (admin)."""
    d, session = json_body(), get_session()
    setup = setups.create_setup(session, user, d.get("product"), d.get("revision"),
                                d.get("step"), d.get("slots"))
    view = setups.setup_view(session, setup)
    return jsonify(id=setup.id, slots=len(view["slots"]), step=setup.step,
                   setup=view["slots"]), 201


@api.get("/products/<code>/<revision>/feeder-setups/<step>")
@endpoint
def get_setup(user, code, revision, step):
    """The feeder setup of a placement step, with `?draft=1` one drafted from the package."""
    session = get_session()
    if request.args.get("draft"):
        return jsonify(step=step, draft=True,
                       slots=setups.draft_from_package(session, code, revision, step))
    setup = setups.find_setup(session, find_product(session, code, revision).id, step)
    if setup is None:
        raise InvalidInput(N_("{product} rev {revision} has no feeder setup for {step}"),
                           product=code, revision=revision, step=step)
    return jsonify(setups.setup_view(session, setup))


@api.post("/reels")
@endpoint
def register_reel(user):
    """Register a reel from its scanned label or typed fields (floor)."""
    d = json_body()
    reel = reels.register_reel(get_session(), user, d.get("label"), id=d.get("id"),
                               part=d.get("part"), quantity=d.get("quantity"), lot=d.get("lot"),
                               date_code=d.get("date_code"), msl=d.get("msl"),
                               rules=rules().labels)
    return jsonify(reel_view(reel)), 201


@api.get("/reels/<reel_id>")
@endpoint
def get_reel(user, reel_id):
    """One reel: what is left and its floor life."""
    return jsonify(reel_view(reels.find_reel(get_session(), reel_id)))


@api.post("/reels/<reel_id>/bakes")
@endpoint
def bake_reel(user, reel_id):
    """Record a bake of the reel: its floor life starts again (floor)."""
    return jsonify(reel_view(reels.record_bake(get_session(), user, reel_id))), 201


@api.post("/reels/<reel_id>/dry-storage")
@endpoint
def dry_store_reel(user, reel_id):
    """Record the reel put into (`{"stored": true}`) or taken out of dry storage (floor)."""
    reel = reels.record_dry(get_session(), user, reel_id, json_body().get("stored", True))
    return jsonify(reel_view(reel)), 201


@api.post("/stations/<station_id>/feeders")
@endpoint
def load_feeder(user, station_id):
    """Load (or splice) a reel on a slot of a placement station: `{"order", "slot", "reel"}`."""
    d = json_body()
    answer = feeders.load(get_session(), user, station_id, d.get("order"), d.get("slot"),
                          d.get("reel"))
    return jsonify(answer), 201


@api.delete("/stations/<station_id>/feeders/<slot>")
@endpoint
def unload_feeder(user, station_id, slot):
    """Unload a slot of a placement station (floor)."""
    return jsonify(feeders.unload(get_session(), user, station_id, slot,
                                  request.args.get("order")))


@api.get("/stations/<station_id>/feeders")
@endpoint
def feeder_status(user, station_id):
    """The station's slots for `?order=N`, each with its reel and state."""
    return jsonify(feeders.status(get_session(), station_id, request.args.get("order")))


@api.get("/boards/<serial>/materials")
@endpoint
def board_materials(user, serial):
    """The reels, lots and slots that fed the board at its placement scan."""
    return jsonify(trace.board_materials(get_session(), serial))


@api.get("/trace")
@endpoint
def trace_material(user):
    """The boards, orders and customers that got `?lot=`, `?reel=` or `?part=`; `format=csv`."""
    a = request.args
    found = {"lot": a.get("lot"), "reel": a.get("reel"), "part": a.get("part")}
    if a.get("format") == "csv":
        text = trace.trace_csv(get_session(), **found)
        name = re.sub(r"[^A-Za-z0-9._-]", "_", "-".join(v for v in found.values() if v))
        return Response(text, mimetype="text/csv", headers={
            "Content-Disposition": f'attachment; filename="trace-{name[:60]}.csv"'})
    return jsonify(trace.trace(get_session(), **found))
