"""Operator languages: English and Simplified Chinese, chosen per user, then per station."""

import logging
from pathlib import Path

from flask import current_app, g, request
from flask_babel import Babel, get_locale, gettext

from station.errors import say

LANGUAGES = {"en": "English", "zh_CN": "简体中文"}
CATALOGUES = Path(__file__).resolve().parent / "translations"
log = logging.getLogger(__name__)


def select_locale() -> str:
    """The signed-in user's language, else the station's, else ?lang=, else the site's."""
    for choice in (getattr(g.get("user"), "language", None), g.get("station_language"),
                   request.args.get("lang"), request.cookies.get("lang")):
        if choice in LANGUAGES:
            return choice
    return current_app.config["SETTINGS"].site.language


def tr(value):
    """A domain Text (or a list of them) in the reader's language; any other value as it is."""
    return say(value, gettext)


def missing_catalogues(folder: Path = CATALOGUES) -> list[Path]:
    """The catalogues whose compiled .mo is missing or older than the .po."""
    missing = []
    for po in sorted(folder.glob("*/LC_MESSAGES/messages.po")):
        mo = po.with_suffix(".mo")
        if not mo.exists() or mo.stat().st_mtime < po.stat().st_mtime:
            missing.append(po)
    return missing


def init_app(app) -> None:
    """Set up Flask-Babel with the station's catalogues (compiled at install: make install)."""
    for po in missing_catalogues():
        # Compiled by `make install` (pybabel compile); without it the screens fall back to
        # English rather than writing into the installed package at start-up.
        log.warning("translations: %s is not compiled (or older than its .po); %s screens "
                    "show English until `make install` (pybabel compile -d station/translations) "
                    "runs", po, po.parent.parent.name)
    Babel(app, locale_selector=select_locale, default_translation_directories=str(CATALOGUES))
    app.jinja_env.globals.update(LANGUAGES=LANGUAGES, get_locale=get_locale)
    app.jinja_env.filters["tr"] = tr
