"""Operator languages: English and Simplified Chinese, chosen per user, then per station."""

from flask import current_app, g, request
from flask_babel import Babel

LANGUAGES = {"en": "English", "zh_CN": "简体中文"}


def select_locale() -> str:
    """The signed-in user's language, else the station's, else ?lang=, else the site's."""
    for choice in (getattr(g.get("user"), "language", None), g.get("station_language"),
                   request.args.get("lang"), request.cookies.get("lang")):
        if choice in LANGUAGES:
            return choice
    return current_app.config["SETTINGS"].get("site", {}).get("language", "en")


def init_app(app) -> None:
    """Set up Flask-Babel with the station's catalogues."""
    Babel(app, locale_selector=select_locale,
          default_translation_directories=str(app.root_path + "/translations"))
    app.jinja_env.globals["LANGUAGES"] = LANGUAGES
