"""Operator languages: English and Simplified Chinese, chosen per user, then per station."""

from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from flask import current_app, g, request
from flask_babel import Babel, get_locale

LANGUAGES = {"en": "English", "zh_CN": "简体中文"}
CATALOGUES = Path(__file__).resolve().parent / "translations"


def select_locale() -> str:
    """The signed-in user's language, else the station's, else ?lang=, else the site's."""
    for choice in (getattr(g.get("user"), "language", None), g.get("station_language"),
                   request.args.get("lang"), request.cookies.get("lang")):
        if choice in LANGUAGES:
            return choice
    return current_app.config["SETTINGS"].site.language


def compile_catalogues(folder: Path = CATALOGUES) -> None:
    """Compile each .po newer than its .mo, so a clean clone needs no build step."""
    for po in folder.glob("*/LC_MESSAGES/messages.po"):
        mo = po.with_suffix(".mo")
        if mo.exists() and mo.stat().st_mtime >= po.stat().st_mtime:
            continue
        with po.open("rb") as f:
            catalogue = read_po(f, locale=po.parent.parent.name)
        tmp = mo.with_suffix(".mo.tmp")
        with tmp.open("wb") as f:
            write_mo(f, catalogue)
        tmp.replace(mo)


def init_app(app) -> None:
    """Set up Flask-Babel with the station's catalogues."""
    compile_catalogues()
    Babel(app, locale_selector=select_locale, default_translation_directories=str(CATALOGUES))
    app.jinja_env.globals.update(LANGUAGES=LANGUAGES, get_locale=get_locale)
