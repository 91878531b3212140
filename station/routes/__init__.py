"""The station's blueprints, one per floor concept."""

from station import db
from station.errors import StationError
from station.routes import (
    api,
    auth,
    boards,
    enquiries,
    enquiries_pages,
    fct,
    feeder_setups,
    labels,
    line,
    masterdata,
    material,
    orders,
    plant,
    profiles,
    readiness,
    reels,
    scans,
    shipping,
    web,
)

# One blueprint module per floor concept: `bp` for its pages, `api` for its /api/v1 part.
MODULES = (api, auth, scans, boards, orders, masterdata, profiles, readiness, fct, labels,
           shipping, line, plant, material, feeder_setups, reels, enquiries, enquiries_pages)


def init_app(app) -> None:
    """Register every blueprint and the edge's error handling."""
    from station import csrf

    for module in MODULES:
        if hasattr(module, "bp"):
            app.register_blueprint(module.bp)
        if hasattr(module, "api"):
            csrf.exempt(module.api)  # the API authenticates by bearer token, never by cookie
            app.register_blueprint(module.api)
    app.session_interface = web.CookieSessions()
    app.register_error_handler(StationError, web.handle_error)
    for busy in db.busy_errors():
        app.register_error_handler(busy, web.handle_busy)
    app.before_request(web.load_user)
    app.after_request(web.add_headers)
    app.jinja_env.filters["printable"] = web.printable
    app.register_error_handler(404, api.not_found)
    app.register_error_handler(405, api.not_allowed)
