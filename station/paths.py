"""Where the station's own files are: in a source checkout, or inside an installed wheel."""

import sys
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
