"""The SMT line station: a Flask app over the floor's rules."""

import os
import secrets
from pathlib import Path

from flask import Flask
from flask_wtf.csrf import CSRFProtect
from sqlmodel import Session

from station import config, db, i18n
from station.config import load_settings
from station.paths import HOME, ROOT
from station.readiness.reflow import load_windows
from station.shipping.quoting import load_rates

csrf = CSRFProtect()


def create_app(test_config: dict | None = None) -> Flask:
    """Build the station app from config/station.toml, the environment and `test_config`."""
    test_config = test_config or {}
    app = Flask(__name__, template_folder=str(ROOT / "templates"),
                static_folder=str(ROOT / "static"),
                instance_path=str(test_config.get("INSTANCE_PATH", HOME / "instance")))
    settings = load_settings(test_config.get("STATION_CONFIG"))
    app.config.from_mapping(
        DATABASE_URL=settings.database.url,
        MQTT_URL=settings.mqtt.url,
        SECRET_KEY=os.environ.get("SECRET_KEY") or _instance_secret(app, "secret_key"),
        PIN_PEPPER=os.environ.get("PIN_PEPPER") or _instance_secret(app, "pin_pepper"),
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        WTF_CSRF_TIME_LIMIT=None,
        WTF_CSRF_HEADERS=["X-CSRFToken"],
    )
    app.config.update(test_config)
    config.install(app, settings)  # the one place routes read them from: routes.web.settings()
    db.init_app(app)
    app.extensions["pastes"] = load_windows(ROOT / settings.reflow.pastes)
    app.extensions["quoting"] = load_rates(ROOT / settings.shipping.quoting)
    i18n.init_app(app)
    csrf.init_app(app)

    from station import cli, masterdata, routes

    routes.init_app(app)
    cli.init_app(app)
    with Session(app.extensions["engine"]) as session:
        masterdata.sync_config(session, settings)
    return app


def _instance_secret(app: Flask, name: str) -> str:
    """A random secret kept in the instance folder, so sessions and PINs survive restarts."""
    path = Path(app.instance_path) / name
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_hex(32))
    return path.read_text().strip()
