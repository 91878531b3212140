"""The station's settings: defaults, then config/station.toml, then the environment."""

import os
import sys
import tomllib
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent
# templates/, static/, migrations/ and config/: beside station/ in a source checkout (an
# editable install included), inside it as station/_project/ when installed from a wheel.
INSTALLED = (PACKAGE / "_project" / "templates").is_dir()
ROOT = PACKAGE / "_project" if INSTALLED else PACKAGE.parent
# Where instance/ (the database file, secrets) lives: the project folder of a checkout; for an
# installed station, Flask's place for an installed app's instance folder, under the prefix.
HOME = Path(sys.prefix) / "var" / "station" if INSTALLED else ROOT
DEFAULT_CONFIG = ROOT / "config" / "station.toml"


def load_settings(path: str | os.PathLike | None = None) -> dict:
    """Read a station.toml (STATION_CONFIG or the default) and apply environment overrides."""
    path = Path(path or os.environ.get("STATION_CONFIG") or DEFAULT_CONFIG)
    with path.open("rb") as f:
        settings = tomllib.load(f)
    settings.setdefault("database", {})
    settings.setdefault("mqtt", {})
    if os.environ.get("DATABASE_URL"):
        settings["database"]["url"] = os.environ["DATABASE_URL"]
    if "MQTT_URL" in os.environ:
        settings["mqtt"]["url"] = os.environ["MQTT_URL"]
    settings["database"]["url"] = resolve_sqlite_path(settings["database"].get("url", ""))
    return settings


def resolve_sqlite_path(url: str) -> str:
    """Make a relative SQLite path absolute under the project folder (HOME), creating its
    folder."""
    prefix = "sqlite:///"
    if not url.startswith(prefix) or url == prefix or url.startswith("sqlite:////"):
        return url
    rel = url[len(prefix) :]
    if rel.startswith(":memory:") or Path(rel).is_absolute():
        return url
    path = HOME / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    return prefix + path.as_posix()
