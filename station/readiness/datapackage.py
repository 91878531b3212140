"""Data-package check: Gerber layers, BOM and centroid read and matched, SMT/DIP split, panel rules.

Pure functions over bytes: no Flask, no database, no dependency beyond the standard library. Bad
input never raises: every defect becomes a problem ``{"code", "message", "severity", ...}``.
"""

from __future__ import annotations

import codecs
import csv
import io
import math
import re
import zipfile
import zlib
from dataclasses import dataclass, field
from xml.etree import ElementTree as ET

# Limits against zip bombs and oversized uploads (module constants: tests lower them).
MAX_ZIP_BYTES = 150 * 1024 * 1024  # the uploaded Gerber zip itself
MAX_ZIP_MEMBERS = 300  # files looked at inside the zip
MAX_MEMBER_BYTES = 40 * 1024 * 1024  # uncompressed bytes read from one member
MAX_TOTAL_BYTES = 200 * 1024 * 1024  # uncompressed bytes read from the whole zip
MAX_TEXT_BYTES = 5 * 1024 * 1024  # a CSV/TXT BOM or centroid
MAX_XLSX_BYTES = 25 * 1024 * 1024  # an XLSX BOM or centroid (pictures make them big)
MAX_XLSX_PART_BYTES = 40 * 1024 * 1024  # uncompressed sheet or shared-strings XML
MAX_ROWS = 20000  # table rows read from a BOM or centroid
MAX_OUTLINE_BYTES = 4 * 1024 * 1024  # an outline layer larger than this is not measured
MAX_COLUMNS = 256  # columns looked at in a table row
MAX_RANGE = 1000  # the widest designator range expanded ("R1-R1000")
MAX_LISTED = 20  # designators named in one message
HEAD_BYTES = 64 * 1024  # where X2 attributes and format headers are looked for

REQUIRED_LAYERS = ("copper", "drill", "silkscreen", "soldermask")
_SEVERITY_RANK = {"error": 0, "warning": 1, "info": 2}

# The panel rule of DESIGN.md; every length is checked with the same tolerance.
PANEL_RAIL_MM = 10.0
PANEL_TOOLING_HOLE_MM = 4.0
PANEL_TOOLING_OFFSET_MM = 5.0
PANEL_FIDUCIAL_MM = 1.0
PANEL_FIDUCIAL_CLEAR_MM = 3.0
PANEL_TOLERANCE_MM = 0.1


def _problem(code: str, severity: str, message: str, **extra) -> dict:
    """One problem of the report."""
    return {"code": code, "message": message, "severity": severity, **extra}


def _natural_key(text: str) -> list:
    """Sort key that puts R2 before R10."""
    return [int(t) if t.isdigit() else t.lower() for t in re.split(r"(\d+)", text)]


def _sorted(names) -> list[str]:
    """Names in natural order, without duplicates."""
    return sorted(set(names), key=_natural_key)


def _size(n: int) -> str:
    """A byte count for a message: '5 MB', '40 kB', '900 bytes'."""
    if n >= 1048576:
        return f"{n / 1048576:.0f} MB"
    return f"{n / 1024:.0f} kB" if n >= 1024 else f"{n} bytes"


def _listed(names: list[str]) -> str:
    """A short, readable list of designators or file names for a message."""
    names = list(names)
    shown = ", ".join(names[:MAX_LISTED])
    more = len(names) - MAX_LISTED
    return f"{shown} and {more} more" if more > 0 else shown


# --------------------------------------------------------------------------------------------
# Gerber zip: which file is which layer
# --------------------------------------------------------------------------------------------


@dataclass
class _LayerFile:
    """One file of the Gerber zip and the layer it was taken for."""

    name: str
    layer: str  # copper, drill, silkscreen, soldermask, paste, outline, other, ignored, unknown
    side: str | None = None  # top, bottom, inner
    how: str | None = None  # X2, name, content
    function: str | None = None  # the raw X2 FileFunction value
    data: bytes = b""
    expected: str | None = None  # what the name promised when the content is not Gerber


_X2_FUNCTION = re.compile(
    rb"(?:%TF\.FileFunction,([^*%\r\n]*)\*%|#@!\s*TF\.FileFunction,([^*\r\n]*))"
)
_GERBER_SIGN = re.compile(rb"%FS[LTD]?[AI]?X\d\dY\d\d|%MO(?:MM|IN)\*%")
_EXCELLON_TOOL = re.compile(rb"^T\d+[^\r\n]*C\d*\.?\d+", re.M)

# File-name conventions when there is no X2 attribute: (pattern on the lower-case stem, layer).
# KiCad: <board>-F_Cu, -B_Mask, -F_SilkS / -F_Silkscreen, -F_Paste, -Edge_Cuts, -In1_Cu ...
_KICAD_STEMS = [
    (re.compile(r"(?:^|[-_.])([fb])[._]cu$"), "copper"),
    (re.compile(r"(?:^|[-_.])in\d+[._]cu$"), "copper"),
    (re.compile(r"(?:^|[-_.])([fb])[._]mask$"), "soldermask"),
    (re.compile(r"(?:^|[-_.])([fb])[._]silks(?:creen)?$"), "silkscreen"),
    (re.compile(r"(?:^|[-_.])([fb])[._]paste$"), "paste"),
    (re.compile(r"(?:^|[-_.])edge[._]cuts$"), "outline"),
    (re.compile(r"drl[._]map$"), "other"),
    (re.compile(r"(?:^|[-_.])([fb])[._](?:fab|courtyard|crtyd|adhes|adhesive)$"), "other"),
    (re.compile(r"(?:^|[-_.])(?:user[._]\w+|dwgs[._]user|cmts[._]user|eco\d[._]user|margin)$"),
     "other"),
]
# Extensions: Altium/Protel (.GTL .GBL .G1 .GTS .GBS .GTO .GBO .GTP .GBP .GKO .GM1 .TXT), Eagle
# (.cmp .sol .stc .sts .plc .pls .crc .crs .dim .drd .xln) and other CAM jobs seen in the field
# (.L1-.Ln .top .bot .smt .smb .slk .bsk .sst .ssb .tsp .bsp .oln .out).
_EXTENSIONS = {
    "gtl": ("copper", "top"), "gbl": ("copper", "bottom"),
    "cmp": ("copper", "top"), "sol": ("copper", "bottom"),
    "top": ("copper", "top"), "bot": ("copper", "bottom"),
    "gts": ("soldermask", "top"), "gbs": ("soldermask", "bottom"),
    "stc": ("soldermask", "top"), "sts": ("soldermask", "bottom"),
    "smt": ("soldermask", "top"), "smb": ("soldermask", "bottom"),
    "gto": ("silkscreen", "top"), "gbo": ("silkscreen", "bottom"),
    "plc": ("silkscreen", "top"), "pls": ("silkscreen", "bottom"),
    "slk": ("silkscreen", "top"), "bsk": ("silkscreen", "bottom"),
    "sst": ("silkscreen", "top"), "ssb": ("silkscreen", "bottom"),
    "gtp": ("paste", "top"), "gbp": ("paste", "bottom"),
    "crc": ("paste", "top"), "crs": ("paste", "bottom"),
    "tsp": ("paste", "top"), "bsp": ("paste", "bottom"),
    "spt": ("paste", "top"), "spb": ("paste", "bottom"),
    "gko": ("outline", None), "gm": ("outline", None), "gm1": ("outline", None),
    "gml": ("outline", None), "dim": ("outline", None), "oln": ("outline", None),
    "out": ("outline", None), "outline": ("outline", None), "bor": ("outline", None),
}
_DRILL_EXTENSIONS = {"drl", "xln", "drd", "txt", "nc", "exc", "tap", "drill", "cnc", "ncd"}
_SIDE_FILE_EXTENSIONS = {
    "rep", "extrep", "apr", "apr_lib", "drr", "ldp", "rul", "dri", "gpi", "gbrjob", "pdf", "md",
    "json", "html", "htm", "jpg", "jpeg", "png", "svg", "csv", "xlsx", "xls", "pos", "ipc",
    "step", "stp", "kicad_pcb", "brd", "sch", "pcbdoc", "zip", "rar", "7z", "log", "cam", "gvp",
}
_INNER_EXTENSION = re.compile(r"^(?:g|gp|ly|l|in)(\d+)$")
_MECHANICAL_EXTENSION = re.compile(r"^(?:gm\d+|gd\d+|gg\d+|gpt|gpb)$")


def _is_gerber(head: bytes) -> bool:
    """Whether the bytes look like RS-274X Gerber."""
    return bool(_GERBER_SIGN.search(head[:16384]))


def _is_excellon(data: bytes) -> bool:
    """Whether the bytes look like an Excellon drill file (M48 header, or tools and M30)."""
    head = data[:8192]
    for line in head.splitlines():
        s = line.strip()
        if not s or s.startswith(b";") or s == b"%":
            continue
        if s.upper().startswith(b"M48"):
            return True
        break
    return bool(_EXCELLON_TOOL.search(head)) and b"M30" in data[-4096:]


def _side_word(text: str) -> str | None:
    """Top or bottom from words in a file name."""
    if re.search(r"(?:^|[^a-z])(top|front)(?:[^a-z]|$)", text):
        return "top"
    if re.search(r"(?:^|[^a-z])(bottom|bot|back)(?:[^a-z]|$)", text):
        return "bottom"
    return None


def _from_x2(function: str) -> tuple[str, str | None]:
    """Layer and side from an X2 %TF.FileFunction value (Copper,L1,Top / Soldermask,Bot ...)."""
    fields = [f.strip() for f in function.split(",")]
    kind = fields[0].lower()
    sides = {"top": "top", "bot": "bottom", "inr": "inner"}
    if kind == "copper":
        return "copper", sides.get(fields[2].lower()) if len(fields) > 2 else None
    if kind in ("plated", "nonplated", "mixedplating"):
        return "drill", None
    side = sides.get(fields[1].lower()) if len(fields) > 1 else None
    named = {"soldermask": "soldermask", "legend": "silkscreen", "paste": "paste",
             "profile": "outline"}
    return named.get(kind, "other"), side


def _from_keywords(stem: str) -> tuple[str, str | None] | None:
    """Last resort for a Gerber file: words in its name (copper_top, silkscreen_bot, profile)."""
    side = _side_word(stem)
    if "mask" in stem and "paste" not in stem:
        return "soldermask", side
    if any(w in stem for w in ("silk", "legend", "overlay")):
        return "silkscreen", side
    if any(w in stem for w in ("paste", "cream", "stencil")):
        return "paste", side
    if any(w in stem for w in ("outline", "edge", "profile", "border", "dimension")):
        return "outline", None
    if "copper" in stem or re.search(r"(top|bottom|bot)[ _-]?layer", stem):
        return "copper", side
    if "drill" in stem:
        return "other", None  # a drill drawing in Gerber, not the drill data
    return None


def _by_name(stem: str, ext: str) -> tuple[str, str | None] | None:
    """Layer and side from the KiCad, Altium/Protel, Eagle and common CAM naming conventions."""
    for pattern, layer in _KICAD_STEMS:
        match = pattern.search(stem)
        if match:
            if layer != "other" and match.groups():
                return layer, "top" if match.group(1) == "f" else "bottom"
            return layer, "inner" if layer == "copper" else None
    if ext in _DRILL_EXTENSIONS or ("drill" in stem and ext == "drl"):
        return "drill", None
    if ext in _EXTENSIONS:
        return _EXTENSIONS[ext]
    if _INNER_EXTENSION.match(ext):
        return "copper", "inner"
    if _MECHANICAL_EXTENSION.match(ext):
        return "other", None
    return None


def _identify(name: str, data: bytes) -> _LayerFile:
    """Which layer one file of the zip is: X2 attribute first, then the file-name conventions."""
    low = name.rsplit("/", 1)[-1].lower()
    stem, _, ext = low.rpartition(".")
    if not stem:
        stem, ext = low, ""
    head = data[:HEAD_BYTES]
    gerber, excellon = _is_gerber(head), _is_excellon(data)
    found = _X2_FUNCTION.search(head)
    if found and (gerber or excellon):
        function = (found.group(1) or found.group(2)).decode("ascii", "replace").strip()
        layer, side = _from_x2(function)
        return _LayerFile(name, layer, side, "X2", function, data)
    if ext in _SIDE_FILE_EXTENSIONS or low.endswith(".apr_lib"):
        return _LayerFile(name, "ignored", data=data)
    named = _by_name(stem, ext)
    if named and named[0] == "drill":
        if excellon or (gerber and ext != "txt"):
            return _LayerFile(name, "drill", None, "name", data=data)
        if ext in ("txt", "nc", "tap", "cnc"):
            return _LayerFile(name, "ignored", data=data)  # a read-me, not a drill file
        return _LayerFile(name, "unknown", None, "name", data=data,
                          expected="an Excellon drill file")
    if named and gerber:
        return _LayerFile(name, named[0], named[1], "name", data=data)
    if named and not excellon and named[0] != "other":
        return _LayerFile(name, "unknown", named[1], "name", data=data,
                          expected=f"a {named[0]} layer")
    if excellon:
        return _LayerFile(name, "drill", None, "content", data=data)
    if gerber:
        guessed = _from_keywords(stem)
        if guessed:
            return _LayerFile(name, guessed[0], guessed[1], "name", data=data)
        return _LayerFile(name, "unknown", data=data)
    return _LayerFile(name, "ignored", data=data)


def _number_copper(files: list[_LayerFile]) -> None:
    """Copper named .L1..Ln (no side in the name): L1 is top, the highest number is bottom."""
    numbered = []
    for f in files:
        m = re.search(r"\.l(\d+)$", f.name.lower())
        if f.layer == "copper" and f.how == "name" and m:
            numbered.append((int(m.group(1)), f))
    last = max((n for n, _ in numbered), default=0)
    for n, f in numbered:
        f.side = "top" if n == 1 else "bottom" if n == last else "inner"


def _zip_members(blob: bytes, problems: list[dict]) -> list[tuple[str, bytes]] | None:
    """The files of the Gerber zip, read within the byte and file-count limits."""
    if not blob:
        problems.append(_problem("EMPTY_FILE", "error", "The Gerber zip is empty.", file="gerber"))
        return None
    if len(blob) > MAX_ZIP_BYTES:
        problems.append(_problem(
            "FILE_TOO_LARGE", "error",
            f"The Gerber zip is {_size(len(blob))}: more than the {_size(MAX_ZIP_BYTES)} "
            "accepted.", file="gerber"))
        return None
    try:
        archive = zipfile.ZipFile(io.BytesIO(blob))
        infos = archive.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, EOFError) as exc:
        problems.append(_problem(
            "BAD_ZIP", "error",
            f"The Gerber file is not a readable zip archive ({exc}). Send the Gerber and drill "
            "files in one .zip.", file="gerber"))
        return None
    infos = [i for i in infos if not i.is_dir() and "__MACOSX/" not in i.filename
             and not i.filename.rsplit("/", 1)[-1].startswith("._")]
    if not infos:
        problems.append(_problem("EMPTY_ZIP", "error", "The Gerber zip holds no files.",
                                 file="gerber"))
        return None
    if len(infos) > MAX_ZIP_MEMBERS:
        problems.append(_problem(
            "ZIP_TOO_MANY_FILES", "warning",
            f"The Gerber zip holds {len(infos)} files; only the first {MAX_ZIP_MEMBERS} were read.",
            file="gerber"))
        infos = infos[:MAX_ZIP_MEMBERS]
    members, total = [], 0
    for info in infos:
        cap = min(MAX_MEMBER_BYTES, MAX_TOTAL_BYTES - total)
        try:
            with archive.open(info) as handle:
                data = handle.read(cap + 1)
        except (zipfile.BadZipFile, RuntimeError, NotImplementedError, OSError, EOFError,
                zlib.error, ValueError) as exc:
            problems.append(_problem(
                "BAD_ZIP_MEMBER", "warning",
                f"{info.filename} in the Gerber zip cannot be read ({exc}).",
                file="gerber", name=info.filename))
            continue
        if len(data) > cap and cap < MAX_MEMBER_BYTES:
            problems.append(_problem(
                "ZIP_TOO_LARGE", "warning",
                f"The Gerber zip unpacks to more than {_size(MAX_TOTAL_BYTES)}; "
                f"{info.filename} and the files after it were not read.", file="gerber"))
            break
        if len(data) > cap:
            problems.append(_problem(
                "FILE_TOO_LARGE", "warning",
                f"{info.filename} unpacks to more than {_size(cap)} and was not read.",
                file="gerber", name=info.filename))
            total += len(data)
            continue
        total += len(data)
        members.append((info.filename, data))
    return members


def _ends_properly(f: _LayerFile) -> bool:
    """Whether a layer file has its end code (M02 for Gerber, M30/M00 for Excellon)."""
    tail = f.data[-512:].upper()
    if f.layer == "drill" and not _is_gerber(f.data[:HEAD_BYTES]):
        return b"M30" in tail or b"M00" in tail
    return b"M02" in tail


def _check_layers(blob: bytes, problems: list[dict]) -> tuple[list[_LayerFile], bool]:
    """Identify every file of the Gerber zip; report missing, empty and truncated layers."""
    members = _zip_members(blob, problems)
    if members is None:
        return [], False
    files = []
    for name, data in members:
        if name.lower().endswith(".zip"):
            problems.append(_problem(
                "NESTED_ZIP", "warning",
                f"{name} is a zip inside the Gerber zip and was not opened: put the layer files "
                "themselves in the zip.", file="gerber", name=name))
            files.append(_LayerFile(name, "ignored"))
            continue
        if not data.strip():
            problems.append(_problem("EMPTY_LAYER_FILE", "warning", f"{name} is empty.",
                                     file="gerber", name=name))
            files.append(_LayerFile(name, "ignored"))
            continue
        files.append(_identify(name, data))
    _number_copper(files)
    truncated = [f.name for f in files
                 if f.layer not in ("ignored", "unknown") and not _ends_properly(f)]
    if truncated:
        problems.append(_problem(
            "TRUNCATED_LAYER", "warning",
            f"No end code (M02 / M30) at the end of {_listed(truncated)}: the file may be cut off.",
            file="gerber", names=truncated))
    for f in files:
        if f.expected:
            problems.append(_problem(
                "NOT_GERBER", "warning",
                f"{f.name} is named as {f.expected} but its content is not Gerber or Excellon.",
                file="gerber", name=f.name))
    unknown = [f.name for f in files if f.layer == "unknown"]
    present = {f.layer for f in files}
    for layer in REQUIRED_LAYERS:
        if layer in present:
            continue
        hint = {
            "copper": "a copper Gerber (KiCad -F_Cu, Altium .GTL/.GBL, Eagle .cmp/.sol, or X2 "
                      "Copper)",
            "drill": "an Excellon drill file (.drl, .txt, .xln, .drd)",
            "silkscreen": "a silkscreen (legend) Gerber (-F_SilkS, .GTO, .plc)",
            "soldermask": "a solder-mask Gerber (-F_Mask, .GTS, .stc)",
        }[layer]
        extra = f" Files whose layer could not be told: {_listed(unknown)}." if unknown else ""
        problems.append(_problem(
            "MISSING_LAYER", "error",
            f"No {layer} layer in the Gerber zip: add {hint}.{extra}", layer=layer))
    if "paste" not in present and present & set(REQUIRED_LAYERS):
        problems.append(_problem(
            "NO_PASTE_LAYER", "warning",
            "No paste (stencil) layer in the Gerber zip: the stencil must be made from another "
            "file."))
    if "outline" not in present and present & set(REQUIRED_LAYERS):
        problems.append(_problem(
            "NO_OUTLINE", "warning",
            "No board outline (profile) layer in the Gerber zip: the board size is unknown."))
    if unknown:
        problems.append(_problem(
            "UNKNOWN_LAYER_FILE", "info",
            f"Files whose layer could not be told: {_listed(unknown)}.", names=unknown))
    return files, True


# --------------------------------------------------------------------------------------------
# Board outline: bounding box of the profile layer
# --------------------------------------------------------------------------------------------

_FORMAT = re.compile(r"%FS([LTD]?)([AI]?)X(\d)(\d)Y(\d)(\d)")
_UNITS = re.compile(r"%MO(MM|IN)")
_WORD_COORD = re.compile(r"([XYIJ])([-+]?[\d.]+)")


def _coordinate(text: str, decimals: int, digits: int, zeros: str) -> float:
    """One Gerber coordinate in file units, per the %FS format."""
    if "." in text:
        return float(text)
    sign = -1.0 if text.startswith("-") else 1.0
    body = text.lstrip("+-")
    if zeros == "T":
        body = body.ljust(digits, "0")
    return sign * int(body or "0") / 10**decimals


def _arc_points(start, end, centre, clockwise: bool) -> list[tuple[float, float]]:
    """The extreme points of a multi-quadrant arc (endpoints and crossed axis points)."""
    cx, cy = centre
    r = math.hypot(start[0] - cx, start[1] - cy)
    a0 = math.atan2(start[1] - cy, start[0] - cx)
    a1 = math.atan2(end[1] - cy, end[0] - cx)
    sweep = ((a0 - a1) if clockwise else (a1 - a0)) % (2 * math.pi)
    if sweep < 1e-9:
        sweep = 2 * math.pi  # start == end: a full circle
    points = [start, end]
    for k in range(4):
        theta = k * math.pi / 2
        delta = ((a0 - theta) if clockwise else (theta - a0)) % (2 * math.pi)
        if delta <= sweep + 1e-12:
            points.append((cx + r * math.cos(theta), cy + r * math.sin(theta)))
    return points


def _gerber_bbox_mm(data: bytes) -> tuple[float, float, float, float] | None:
    """Bounding box (mm) of the drawn lines and arcs of a Gerber file, per its %FS and %MO."""
    text = data.decode("ascii", "replace")
    fmt = _FORMAT.search(text)
    if not fmt:
        return None
    zeros = "T" if fmt.group(1) == "T" else "L"
    xd, yd = int(fmt.group(4)), int(fmt.group(6))
    xn, yn = int(fmt.group(3)) + xd, int(fmt.group(5)) + yd
    units = _UNITS.search(text)
    scale = None
    if units:
        scale = 25.4 if units.group(1) == "IN" else 1.0
    elif "G70" in text:
        scale = 25.4
    elif "G71" in text:
        scale = 1.0
    if scale is None:
        return None
    body = re.sub(r"%[^%]*%", "", text)
    x = y = 0.0
    mode, multi, dcode = 1, False, 2
    points: list[tuple[float, float]] = []
    for word in body.split("*"):
        word = word.strip()
        if not word or word.startswith("G04") or word.startswith("G4 "):
            continue
        for g in re.findall(r"G0?(\d+)", word):
            g = int(g)
            if g in (1, 2, 3):
                mode = g
            elif g == 74:
                multi = False
            elif g == 75:
                multi = True
        d = re.search(r"D0?(\d+)$", word)
        if d:
            code = int(d.group(1))
            if code >= 10:
                continue  # aperture selection
            dcode = code
        coords = dict(_WORD_COORD.findall(word))
        if not coords:
            continue
        nx = _coordinate(coords["X"], xd, xn, zeros) if "X" in coords else x
        ny = _coordinate(coords["Y"], yd, yn, zeros) if "Y" in coords else y
        if dcode == 1:
            if mode in (2, 3) and multi and ("I" in coords or "J" in coords):
                ci = _coordinate(coords.get("I", "0"), xd, xn, zeros)
                cj = _coordinate(coords.get("J", "0"), yd, yn, zeros)
                points.extend(_arc_points((x, y), (nx, ny), (x + ci, y + cj), mode == 2))
            else:
                points.extend([(x, y), (nx, ny)])
        x, y = nx, ny
    if not points:
        return None
    xs = [p[0] * scale for p in points]
    ys = [p[1] * scale for p in points]
    return min(xs), min(ys), max(xs), max(ys)


def _board_outline(files: list[_LayerFile]) -> dict | None:
    """Width and height (mm) of the board from its outline layer, when it can be measured."""
    outlines = sorted((f for f in files if f.layer == "outline"), key=lambda f: f.how != "X2")
    for f in outlines:
        if len(f.data) > MAX_OUTLINE_BYTES:
            continue
        try:
            box = _gerber_bbox_mm(f.data)
        except (ValueError, OverflowError, ZeroDivisionError):
            box = None
        if box and box[2] > box[0] and box[3] > box[1]:
            return {"width": round(box[2] - box[0], 2), "height": round(box[3] - box[1], 2),
                    "file": f.name}
    return None


# --------------------------------------------------------------------------------------------
# BOM and centroid tables: CSV / TXT (comma, semicolon, tab, whitespace) and XLSX
# --------------------------------------------------------------------------------------------


class _Unreadable(Exception):
    """A BOM or centroid file that cannot be read as a table: carries the problem code."""

    def __init__(self, code: str, message: str):
        """Keep the problem code and the message (which follows the file's name)."""
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass
class _Table:
    """A BOM or centroid read as rows under a header, with the header's column roles."""

    fmt: str
    header: list[str]
    rows: list[list[str]]
    roles: dict[str, list[int]]
    score: int = 0
    truncated: bool = False


# Column names by role, best first (compared lower-case without spaces or punctuation).
_ROLE_NAMES = {
    "designator": ["designator", "designators", "refdes", "referencedesignator",
                   "referencedesignators", "reference", "references", "ref", "refs", "parts",
                   "part", "partreference", "component", "位号", "元件位号", "位置号"],
    "quantity": ["quantity", "qty", "qnty", "count", "数量", "用量"],
    "value": ["value", "val", "comment", "partvalue", "值", "参数"],
    "footprint": ["footprint", "package", "pack", "pattern", "case", "casepackage",
                  "pcbfootprint", "device", "封装"],
    "description": ["description", "desc", "描述", "名称"],
    "side": ["layer", "side", "tb", "placementside", "pcbside", "mountside", "boardside", "层",
             "面"],
    "mount": ["mounttype", "mount", "mountingtype", "mounting", "type", "attr", "attribute",
              "attributes", "technology", "assemblytype", "smdtht", "贴装类型", "类型"],
    "dnp": ["dnp", "dnf", "donotplace", "donotpopulate", "donotfit", "donotmount", "nopop",
            "notfitted"],
    "populate": ["populate", "populated", "fitted", "fit", "place", "install", "assemble"],
    "x": ["centerx", "centrex", "midx", "posx", "x", "xloc", "locationx", "refx", "xcoord",
          "xposition", "xpos", "padx", "中心x", "坐标x"],
    "y": ["centery", "centrey", "midy", "posy", "y", "yloc", "locationy", "refy", "ycoord",
          "yposition", "ypos", "pady", "中心y", "坐标y"],
    "rotation": ["rotation", "rot", "angle", "orientation", "旋转", "角度"],
}
_UNIT_SUFFIX = re.compile(r"(?:mm|mils?|inch(?:es)?|in)$")


def _norm_header(cell: str) -> str:
    """A header cell lower-cased, without BOM mark, '#', spaces or punctuation."""
    return re.sub(r"[\W_]+", "", cell.replace("\ufeff", "").lower())


def _roles(header: list[str]) -> dict[str, list[int]]:
    """Which column holds what: role -> column indexes, best-named first."""
    exact: dict[str, list[int]] = {}
    bare: dict[str, list[int]] = {}
    for i, cell in enumerate(header[:MAX_COLUMNS]):
        name = _norm_header(str(cell or ""))
        exact.setdefault(name, []).append(i)
        bare.setdefault(_UNIT_SUFFIX.sub("", name), []).append(i)
    roles: dict[str, list[int]] = {}
    for role, wanted in _ROLE_NAMES.items():
        found: list[int] = []
        for want in wanted:
            hits = exact.get(want, []) + (bare.get(want, []) if role in ("x", "y") else [])
            found.extend(i for i in hits if i not in found)
        if found:
            roles[role] = found
    return roles


def _cell(row: list[str], index: int | None) -> str:
    """The stripped text of one cell ('' when the row is short)."""
    if index is None or index >= len(row) or row[index] is None:
        return ""
    return str(row[index]).strip()


def _first(row: list[str], roles: dict[str, list[int]], role: str) -> str:
    """The first non-empty cell of the row among the columns of a role."""
    for index in roles.get(role, []):
        value = _cell(row, index)
        if value:
            return value
    return ""


def _table_from_rows(rows: list[list[str]], fmt: str) -> _Table | None:
    """Find the header row (the best-scoring row with a designator column) and the data below."""
    best = None
    for i, row in enumerate(rows[:80]):
        roles = _roles(row)
        if "designator" not in roles:
            continue
        score = len(roles)
        if best is None or score > best[2]:
            best = (i, roles, score)
    if best is None:
        return None
    start, roles, score = best
    data, truncated = [], False
    for row in rows[start + 1:]:
        if not any(str(c).strip() for c in row if c is not None):
            continue
        if str(row[0] if row else "").lstrip().startswith("#"):
            continue
        if len(data) >= MAX_ROWS:
            truncated = True
            break
        data.append(row)
    return _Table(fmt, rows[start], data, roles, score, truncated)


_TOKEN = re.compile(r'"((?:[^"]|"")*)"|(\S+)')


def _split_whitespace(line: str) -> list[str]:
    """Whitespace-separated fields; double-quoted fields may hold spaces ("" is empty)."""
    out = []
    for match in _TOKEN.finditer(line):
        quoted, plain = match.group(1), match.group(2)
        out.append(quoted.replace('""', '"') if quoted is not None else plain)
    return out


def _whitespace_rows(text: str) -> list[list[str]]:
    """Rows of a space-aligned table (Altium Pick Place, KiCad .pos); '#' comments are headers."""
    rows = []
    for line in text.splitlines()[: MAX_ROWS + 200]:
        stripped = line.lstrip()
        if stripped.startswith("#"):
            rows.append((["#"] + _split_whitespace(stripped.lstrip("#")))[:MAX_COLUMNS])
        else:
            rows.append(_split_whitespace(line)[:MAX_COLUMNS])
    return rows


def _fit_whitespace(table: _Table) -> _Table:
    """Align whitespace rows to the header: extra fields join the last column (a description)."""
    header = table.header[1:] if table.header and table.header[0] == "#" else table.header
    width = len(header)
    rows = []
    for row in table.rows:
        if len(row) > width:
            row = row[: width - 1] + [" ".join(row[width - 1:])]
        rows.append(row)
    return _Table(table.fmt, header, rows, _roles(header), table.score, table.truncated)


_MOUNTSMD = re.compile(r"^\s*(\S+)\s+([-+]?\d+(?:\.\d+)?)\s+([-+]?\d+(?:\.\d+)?)\s+"
                       r"([-+]?\d+(?:\.\d+)?)\s*(.*)$")


def _mountsmd_table(text: str) -> _Table | None:
    """Eagle mountsmd.ulp .mnt/.mnb: 'name x y angle value package' without a header."""
    lines = [ln for ln in text.splitlines()[:MAX_ROWS] if ln.strip() and not ln.startswith("#")]
    if not lines:
        return None
    rows = []
    for line in lines:
        m = _MOUNTSMD.match(line)
        if not m:
            return None
        rest = m.group(5).split()
        value = " ".join(rest[:-1]) if len(rest) > 1 else (rest[0] if rest else "")
        package = rest[-1] if len(rest) > 1 else ""
        rows.append([m.group(1), m.group(2), m.group(3), m.group(4), value, package])
    header = ["Name", "X", "Y", "Angle", "Value", "Package"]
    roles = {"designator": [0], "x": [1], "y": [2], "rotation": [3], "value": [4],
             "footprint": [5]}
    return _Table("eagle-mnt", header, rows, roles, len(roles))


def _decode(data: bytes) -> str:
    """Bytes of a text table to str: BOM-marked UTF-8/16, UTF-8, else Windows-1252."""
    if data.startswith(codecs.BOM_UTF8):
        return data[3:].decode("utf-8", "replace")
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return data.decode("utf-16", "replace")
    head = data[:8192]
    controls = sum(1 for b in head if b < 32 and b not in (9, 10, 12, 13))
    if b"\x00" in head or controls > len(head) * 0.02:
        raise _Unreadable("NOT_TEXT", "is binary, not a text or spreadsheet table")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("cp1252", "replace")


def _table_from_text(text: str, name: str) -> tuple[_Table | None, list[str]]:
    """The best reading of a text table; also the first row seen, for error messages."""
    candidates = []
    sample = text[:50000]
    for delimiter, fmt in ((",", "csv"), (";", "csv;"), ("\t", "tsv"), ("|", "csv|")):
        if delimiter not in sample:
            continue
        try:
            reader = csv.reader(io.StringIO(text), delimiter=delimiter)
            rows = [row for _, row in zip(range(MAX_ROWS + 200), reader, strict=False)]
        except csv.Error:
            continue
        table = _table_from_rows(rows, fmt)
        if table:
            candidates.append(table)
    table = _table_from_rows(_whitespace_rows(text), "text")
    if table:
        candidates.append(_fit_whitespace(table))
    if candidates:
        return max(candidates, key=lambda t: t.score), []
    mnt = _mountsmd_table(text)
    if mnt:
        return mnt, []
    first = next((ln for ln in text.splitlines() if ln.strip()), "")
    return None, [first[:200]]


def _xml(data: bytes) -> ET.Element:
    """Parse XLSX XML, refusing DTDs (no entity expansion)."""
    if b"<!DOCTYPE" in data[:4096].upper() or b"<!ENTITY" in data.upper():
        raise _Unreadable("BAD_XLSX", "holds a DTD, which is not accepted")
    return ET.fromstring(data)


def _xlsx_part(archive: zipfile.ZipFile, name: str) -> bytes:
    """One XML part of the workbook, within the size limit."""
    with archive.open(name) as handle:
        data = handle.read(MAX_XLSX_PART_BYTES + 1)
    if len(data) > MAX_XLSX_PART_BYTES:
        raise _Unreadable("FILE_TOO_LARGE", f"has a {name} larger than the limit")
    return data


def _column_index(ref: str) -> int | None:
    """Zero-based column of a cell reference like 'C12'."""
    letters = re.match(r"[A-Za-z]+", ref or "")
    if not letters:
        return None
    index = 0
    for ch in letters.group(0).upper():
        index = index * 26 + ord(ch) - 64
    return index - 1


def _first_sheet(archive: zipfile.ZipFile, names: set[str]) -> str:
    """Path of the first worksheet, from workbook.xml and its relationships."""
    try:
        book = _xml(_xlsx_part(archive, "xl/workbook.xml"))
        rels = _xml(_xlsx_part(archive, "xl/_rels/workbook.xml.rels"))
        sheet = next(el for el in book.iter() if el.tag.endswith("}sheet"))
        rid = next(v for k, v in sheet.attrib.items() if k.endswith("}id"))
        for rel in rels.iter():
            if rel.get("Id") == rid:
                target = rel.get("Target", "").lstrip("/")
                path = target if target.startswith("xl/") else "xl/" + target
                if path in names:
                    return path
    except (KeyError, StopIteration, ET.ParseError):
        pass
    sheets = sorted((n for n in names if re.match(r"xl/worksheets/sheet\d+\.xml$", n)),
                    key=_natural_key)
    if not sheets:
        raise _Unreadable("BAD_XLSX", "has no worksheet")
    return sheets[0]


def _xlsx_rows(data: bytes) -> list[list[str]]:
    """Rows of the first sheet of an XLSX workbook (shared strings, inline strings, numbers)."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        names = set(archive.namelist())
        shared: list[str] = []
        if "xl/sharedStrings.xml" in names:
            root = _xml(_xlsx_part(archive, "xl/sharedStrings.xml"))
            for si in root:
                if si.tag.endswith("}si"):
                    shared.append("".join(t.text or "" for t in si.iter()
                                          if t.tag.endswith("}t")))
        root = _xml(_xlsx_part(archive, _first_sheet(archive, names)))
    except _Unreadable:
        raise
    except (zipfile.BadZipFile, KeyError, ET.ParseError, OSError, EOFError, zlib.error,
            RuntimeError, NotImplementedError, ValueError) as exc:
        raise _Unreadable("BAD_XLSX", f"is not a readable XLSX workbook ({exc})") from exc
    rows = []
    for row in root.iter():
        if not row.tag.endswith("}row"):
            continue
        if len(rows) > MAX_ROWS + 200:
            break
        cells: list[str] = []
        for c in row:
            if not c.tag.endswith("}c"):
                continue
            kind = c.get("t")
            value = next((v.text or "" for v in c if v.tag.endswith("}v")), "")
            if kind == "s":
                value = shared[int(value)] if value.isdigit() and int(value) < len(shared) else ""
            elif kind == "inlineStr":
                value = "".join(t.text or "" for t in c.iter() if t.tag.endswith("}t"))
            elif kind == "b":
                value = "TRUE" if value == "1" else "FALSE"
            elif kind is None and re.fullmatch(r"-?\d+\.0+", value):
                value = value.split(".")[0]
            index = _column_index(c.get("r", ""))
            if index is None or index < len(cells):
                index = len(cells)
            if index > 16384:
                continue
            cells.extend([""] * (index - len(cells)))
            cells.append(value)
        rows.append(cells)
    return rows


def _read_table(data: bytes, name: str, what: str, problems: list[dict]) -> _Table | None:
    """Read a BOM or centroid upload as a table; on failure add a problem and return None."""
    label = f"The {what} file{f' {name}' if name else ''}"
    if isinstance(data, str):
        data = data.encode("utf-8")
    if not data or not data.strip():
        problems.append(_problem("EMPTY_FILE", "error", f"{label} is empty.", file=what))
        return None
    try:
        if data.startswith(b"\xd0\xcf\x11\xe0"):
            raise _Unreadable("UNSUPPORTED_FORMAT",
                              "is an old Excel .xls workbook: save it as .xlsx or .csv")
        if data.startswith(b"PK\x03\x04") or name.lower().endswith((".xlsx", ".xlsm")):
            if len(data) > MAX_XLSX_BYTES:
                raise _Unreadable("FILE_TOO_LARGE", f"is larger than {_size(MAX_XLSX_BYTES)}")
            rows = _xlsx_rows(data)
            table = _table_from_rows(rows, "xlsx")
            first = next((r for r in rows if any(c.strip() for c in r)), [])
            seen = [", ".join(c for c in first if c)[:200]]
        else:
            text = _decode(data)
            if len(data) > MAX_TEXT_BYTES:
                raise _Unreadable("FILE_TOO_LARGE", f"is larger than {_size(MAX_TEXT_BYTES)}")
            table, seen = _table_from_text(text, name)
    except _Unreadable as exc:
        problems.append(_problem(exc.code, "error", f"{label} {exc.message}.", file=what))
        return None
    if table is None:
        first = f" (first line: {seen[0]!r})" if seen and seen[0] else ""
        problems.append(_problem(
            "NO_DESIGNATOR_COLUMN", "error",
            f"{label} has no designator column (Designator, Reference, Ref, RefDes, Parts)"
            f"{first}.", file=what))
        return None
    if table.truncated:
        problems.append(_problem(
            "TOO_MANY_ROWS", "warning", f"{label} has more than {MAX_ROWS} rows; the rest was "
            "not read.", file=what))
    return table


def _columns(table: _Table) -> dict:
    """Which header was used for what, for the report."""
    used = {role: table.header[idx[0]] for role, idx in table.roles.items()
            if idx and idx[0] < len(table.header)}
    return {"format": table.fmt, **{k: v.lstrip("\ufeff#").strip() for k, v in used.items()}}


# --------------------------------------------------------------------------------------------
# Parts: designators, do-not-place, mount type, side
# --------------------------------------------------------------------------------------------


@dataclass
class _Part:
    """One designator as a BOM line or a centroid row describes it."""

    name: str
    line: int = 0
    value: str = ""
    footprint: str = ""
    description: str = ""
    mount: str | None = None  # "smt" or "tht" when a column says so
    dnp: bool = False
    side: str | None = None  # "top", "bottom" or "?" (centroid only)
    position_ok: bool = True

    def text(self) -> str:
        """Everything a heuristic may read about the part."""
        return " ".join((self.value, self.footprint, self.description))


@dataclass
class _Bom:
    """The BOM's parts by designator, its lines, and what the line-level checks found."""

    parts: dict[str, _Part] = field(default_factory=dict)  # upper-case designator -> part
    lines: list[list[str]] = field(default_factory=list)  # designators of each BOM line
    duplicates: list[str] = field(default_factory=list)
    quantity_mismatch: list[str] = field(default_factory=list)
    undecided: list[str] = field(default_factory=list)
    big_ranges: list[str] = field(default_factory=list)


_SPLIT_DESIGNATORS = re.compile(r"[,;\s]+")
_RANGE = re.compile(r"^([A-Za-z_]+)(\d+)-([A-Za-z_]*)(\d+)$")
_FALSY = {"", "0", "no", "n", "false", "-", "none", "否"}
_DNP_VALUES = {"dnp", "dnf", "dni", "dns", "nc", "n/c", "nf", "nopop", "no pop", "do not place",
               "do not populate", "do not fit", "do not mount", "not fitted", "not populated",
               "not placed", "not mounted", "unpopulated", "不贴", "不焊", "空贴", "不上件"}
_DNP_WORD = re.compile(r"(?<![a-z])(dnp|dnf|dni|do[ _-]?not[ _-]?(place|populate|fit|mount)"
                       r"|not[ _-]?fitted)(?![a-z])", re.I)
_UNDECIDED = {"tbd", "tbc", "?", "??", "???", "todo", "xxx", "待定"}


def _expand(cell: str, big: list[str]) -> list[str]:
    """Designators of a BOM cell: 'R1, R2 R3;R4' and simple ranges 'R1-R3' / 'R1-3'."""
    cell = re.sub(r"\s*[-\u2013\u2014~]\s*", "-", cell.strip())
    out = []
    for token in _SPLIT_DESIGNATORS.split(cell):
        token = token.strip("\"'")
        if not token or not re.search(r"[A-Za-z0-9]", token):
            continue
        m = _RANGE.match(token)
        if m and (m.group(3).upper() == m.group(1).upper() or not m.group(3)):
            low, high = int(m.group(2)), int(m.group(4))
            same_prefix = bool(m.group(3))
            if low < high or (same_prefix and low == high):
                if high - low >= MAX_RANGE:
                    big.append(token)
                    out.append(token)
                    continue
                width = len(m.group(2)) if m.group(2).startswith("0") else 0
                out.extend(f"{m.group(1)}{n:0{width}d}" for n in range(low, high + 1))
                continue
        out.append(token)
    return out


def _mount_value(text: str) -> tuple[str | None, bool]:
    """Mount type ('smt'/'tht'/None) and a do-not-place flag from a mount/type/attribute cell."""
    value = text.strip().lower()
    if value == "1":
        return "smt", False  # MacroFab XYRS Type: 1 = SMD, 2 = PTH
    if value == "2":
        return "tht", False
    words = set(re.split(r"[^a-z0-9\u4e00-\u9fff]+", value))
    dnp = bool(words & {"dnp", "dnf", "excludefrompos", "exclude"})
    if words & {"tht", "th", "pth", "through", "thru", "dip", "插件"}:
        return "tht", dnp
    if words & {"smd", "smt", "surface", "贴片"}:
        return "smt", dnp
    return None, dnp


def _row_dnp(row: list[str], roles: dict[str, list[int]], value: str) -> bool:
    """Whether a BOM or centroid row says do not place (DNP column, Populate 0, value DNP)."""
    for index in roles.get("dnp", []):
        if _cell(row, index).lower() not in _FALSY:
            return True
    for index in roles.get("populate", []):
        cell = _cell(row, index).lower()
        if cell in ("0", "no", "n", "false", "dnp", "dnf", "否"):
            return True
    low = value.strip().lower()
    return low in _DNP_VALUES or bool(_DNP_WORD.search(low))


def _row_mount(row: list[str], roles: dict[str, list[int]]) -> tuple[str | None, bool]:
    """Explicit mount type and DNP flag from the row's mount/type/attribute columns."""
    for index in roles.get("mount", []):
        mount, dnp = _mount_value(_cell(row, index))
        if mount or dnp:
            return mount, dnp
    return None, False


def _read_bom(table: _Table) -> _Bom:
    """The BOM's parts, one per designator, with the line-level checks."""
    bom = _Bom()
    roles = table.roles
    for number, row in enumerate(table.rows, start=1):
        cell = _first(row, roles, "designator")
        if not cell:
            continue
        names = _expand(cell, bom.big_ranges)
        if not names:
            continue
        value = _first(row, roles, "value")
        mount, mount_dnp = _row_mount(row, roles)
        dnp = mount_dnp or _row_dnp(row, roles, value)
        quantity = _first(row, roles, "quantity")
        try:
            qty = float(quantity.replace(",", ".")) if quantity else None
        except ValueError:
            qty = None
        if qty is not None and qty != len(names) and not (dnp and qty == 0):
            bom.quantity_mismatch.append(f"{cell} (quantity {quantity}, {len(names)} listed)")
        if value.strip().lower() in _UNDECIDED:
            bom.undecided.extend(names)
        bom.lines.append(names)
        for name in names:
            key = name.upper()
            if key in bom.parts:
                bom.duplicates.append(name)
                continue
            bom.parts[key] = _Part(
                name, number, value, _first(row, roles, "footprint"),
                _first(row, roles, "description"), mount, dnp)
    return bom


_SIDES = {"top": "top", "t": "top", "toplayer": "top", "front": "top", "f": "top", "fcu": "top",
          "1": "top", "topside": "top", "component": "top", "componentside": "top",
          "顶层": "top", "正面": "top",
          "bottom": "bottom", "bot": "bottom", "b": "bottom", "bottomlayer": "bottom",
          "back": "bottom", "bcu": "bottom", "2": "bottom", "bottomside": "bottom",
          "solder": "bottom", "solderside": "bottom", "底层": "bottom", "反面": "bottom"}
_NUMBER = re.compile(r"^[-+]?(\d+([.,]\d*)?|[.,]\d+)(e[-+]?\d+)?\s*(mm|mils?|in|inch)?$", re.I)


def _read_centroid(table: _Table, name: str) -> tuple[dict[str, _Part], list[str], str | None]:
    """The centroid's parts by designator, duplicates, and the side taken from the file name."""
    parts: dict[str, _Part] = {}
    duplicates = []
    roles = table.roles
    low = name.lower()
    file_side = None
    if "side" not in roles:
        if low.endswith(".mnb") or re.search(r"(?:^|[^a-z])(bottom|bot|back)(?:[^a-z]|$)", low):
            file_side = "bottom"
        elif low.endswith(".mnt") or re.search(r"(?:^|[^a-z])(top|front)(?:[^a-z]|$)", low):
            file_side = "top"
    for number, row in enumerate(table.rows, start=1):
        designator = _first(row, roles, "designator").strip("\"'")
        if not designator:
            continue
        value = _first(row, roles, "value")
        mount, mount_dnp = _row_mount(row, roles)
        if "side" in roles:
            side = _SIDES.get(_norm_header(_first(row, roles, "side")), "?")
        else:
            side = file_side or "top"
        ok = all(_NUMBER.match(_first(row, roles, axis)) for axis in ("x", "y")
                 if axis in roles)
        part = _Part(designator, number, value, _first(row, roles, "footprint"),
                     _first(row, roles, "description"), mount,
                     mount_dnp or _row_dnp(row, roles, value), side, ok)
        key = designator.upper()
        if key in parts:
            duplicates.append(designator)
            continue
        parts[key] = part
    return parts, duplicates, file_side


# Not a part to buy or place: fiducials, mounting holes, bare test pads / test vias, the bare board.
_FIDUCIAL = re.compile(r"^(FID|FD|FIDUCIAL)\d*$", re.I)
_MOUNTING = re.compile(r"^MH\d*$", re.I)
_BOARD = re.compile(r"^PCB\d*$", re.I)
_TEXT_FIDUCIAL = re.compile(r"fiducial", re.I)
_TEXT_MOUNTING = re.compile(r"mounting[\s_-]?hole", re.I)
_TEXT_TESTPAD = re.compile(r"testpoint_(?:pad|thtpad|plated_hole|bridge)|test[\s_-]?via|tp_via",
                           re.I)


def _not_a_part(name: str, text: str) -> str | None:
    """Why a designator is not a part to count (fiducial, mounting hole, test pad, board)."""
    if _FIDUCIAL.match(name) or _TEXT_FIDUCIAL.search(text):
        return "fiducial"
    if _MOUNTING.match(name) or _TEXT_MOUNTING.search(text):
        return "mounting hole"
    if _TEXT_TESTPAD.search(text):
        return "test pad"
    if _BOARD.match(name):
        return "bare board"
    return None


# Through-hole heuristic, in order: an explicit mount column (smd/smt/tht/th/1/2); then an SMD
# word (SMD, SMT, surface mount) in the footprint; a THT word (THT, PTH, "TH", through hole,
# DIP-n, TO-92/220, Axial, Radial, KiCad PinHeader_/PinSocket_) in the footprint; the same words
# in value/description; a connector/header of 2.54 mm pitch; otherwise SMT.
_SMD_WORD = re.compile(r"(?<![a-z])(smd|smt|surface[\s_-]?mount)(?![a-z])", re.I)
_THT_WORD = re.compile(
    r"(?<![a-z])(tht|pth|through[\s_-]?hole|thru[\s_-]?hole|p?dip[\s_-]?\d*|to[\s_-]?"
    r"(?:92|220|247|126|3p)|axial|radial)(?![a-z])|pin_?header|pin_?socket", re.I)
_TH_ALONE = re.compile(r"(?<![A-Za-z0-9])TH(?![A-Za-z0-9])")
_HEADER_254 = re.compile(r"(conn|header|hdr|socket|terminal)", re.I)
_PITCH_254 = re.compile(r"2\.54\s*mm|p2\.54|0\.1\s*(\"|in)|100\s*mil", re.I)


def _tht_by_text(footprint: str, other: str) -> tuple[bool, bool]:
    """(through-hole, decided) from footprint first, then value/description, then 2.54 headers."""
    for text in (footprint, other):
        if _SMD_WORD.search(text):
            return False, True
        if _THT_WORD.search(text) or _TH_ALONE.search(text):
            return True, True
    both = f"{footprint} {other}"
    if _HEADER_254.search(both) and _PITCH_254.search(both):
        return True, True
    return False, False


def _is_tht(*parts: _Part | None) -> tuple[bool, str]:
    """Whether a part is through-hole, and how that was decided ('column' or 'text')."""
    known = [p for p in parts if p is not None]
    for p in known:
        if p.mount:
            return p.mount == "tht", "column"
    footprint = " ".join(p.footprint for p in known)
    other = " ".join(f"{p.value} {p.description}" for p in known)
    tht, _ = _tht_by_text(footprint, other)
    return tht, "text"


def _match_parts(bom: _Bom | None, centroid: dict[str, _Part] | None, report: dict,
                 problems: list[dict]) -> None:
    """Match designators, split SMT top / bottom / DIP, and add the consistency problems."""
    placement = {"smt_top": [], "smt_bottom": [], "dip": []}
    dnp, not_parts, bom_only, centroid_only, dip_unplaced = [], {}, [], [], []
    unknown_side, guessed_tht = [], []
    bom_parts = bom.parts if bom else {}
    cen_parts = centroid or {}
    for key in _sorted(list(bom_parts) + list(cen_parts)):
        b, c = bom_parts.get(key), cen_parts.get(key)
        name = (b or c).name
        text = " ".join(p.text() for p in (b, c) if p)
        why = _not_a_part(name, text)
        if why:
            not_parts.setdefault(why, []).append(name)
            continue
        if (b and b.dnp) or (c and c.dnp):
            dnp.append(name)
            continue
        if c is None:  # in the BOM only: DIP when the BOM says so, else it cannot be placed
            tht, how = _is_tht(b)
            if tht:
                placement["dip"].append(name)
                guessed_tht += [name] if how == "text" else []
                dip_unplaced += [name] if centroid is not None else []
            elif centroid is not None:
                bom_only.append(name)
            continue
        if b is None and bom is not None:
            centroid_only.append(name)
            continue
        tht, how = _is_tht(c, b)
        if tht:
            placement["dip"].append(name)
            if how == "text":
                guessed_tht.append(name)
        elif c.side == "bottom":
            placement["smt_bottom"].append(name)
        else:
            placement["smt_top"].append(name)
            if c.side == "?":
                unknown_side.append(name)
    report["parts"] = {k: len(v) for k, v in placement.items()}
    report["placement"] = {k: _sorted(v) for k, v in placement.items()}
    report["designators"] = {
        "bom": len(bom_parts), "centroid": len(cen_parts),
        "bom_only": _sorted(bom_only), "centroid_only": _sorted(centroid_only),
        "dnp": _sorted(dnp), "not_parts": {k: _sorted(v) for k, v in not_parts.items()},
        "dip_not_in_centroid": _sorted(dip_unplaced),
    }
    if bom_only or centroid_only:
        said = []
        if bom_only:
            said.append(f"only in the BOM: {_listed(_sorted(bom_only))}")
        if centroid_only:
            said.append(f"only in the centroid: {_listed(_sorted(centroid_only))}")
        problems.append(_problem(
            "DESIGNATOR_MISMATCH", "error",
            f"BOM and centroid designators differ; {'; '.join(said)}.",
            bom_only=_sorted(bom_only), centroid_only=_sorted(centroid_only)))
    if dnp:
        problems.append(_problem(
            "DNP", "info", f"Do not place (allowed to differ): {_listed(_sorted(dnp))}.",
            designators=_sorted(dnp)))
    if not_parts:
        said = "; ".join(f"{why}: {_listed(_sorted(names))}" for why, names in not_parts.items())
        problems.append(_problem(
            "NOT_A_PART", "info", f"Not counted as parts ({said}).",
            designators=_sorted(n for names in not_parts.values() for n in names)))
    if dip_unplaced:
        problems.append(_problem(
            "DIP_NOT_IN_CENTROID", "info",
            f"Through-hole parts in the BOM only (hand or wave soldered): "
            f"{_listed(_sorted(dip_unplaced))}.", designators=_sorted(dip_unplaced)))
    if unknown_side:
        problems.append(_problem(
            "UNKNOWN_SIDE", "warning",
            f"The centroid's side/layer is not Top or Bottom for {_listed(unknown_side)}: "
            "counted as top.", designators=unknown_side))
    if guessed_tht:
        problems.append(_problem(
            "MOUNT_TYPE_GUESSED", "info",
            f"No mount-type column for {_listed(_sorted(guessed_tht))}: through-hole was told "
            "from the footprint and description; check the DIP list.",
            designators=_sorted(guessed_tht)))
    _line_checks(bom, cen_parts, problems)


def _line_checks(bom: _Bom | None, centroid: dict[str, _Part], problems: list[dict]) -> None:
    """BOM lines that mix values, footprints that differ between BOM and centroid."""
    if not bom or not centroid:
        return
    mixed = []
    for names in bom.lines:
        groups: dict[str, list[str]] = {}
        for name in names:
            c = centroid.get(name.upper())
            if c:
                label = (c.value or c.description).strip()
                if label:
                    groups.setdefault(label, []).append(name)
        if len(groups) > 1:
            mixed.append({label: _sorted(members) for label, members in groups.items()})
    for groups in mixed:
        said = "; ".join(f"{_listed(m)}: {label}" for label, m in groups.items())
        problems.append(_problem(
            "MIXED_BOM_LINE", "warning",
            f"One BOM line holds parts the centroid calls different things ({said}).",
            groups=groups))
    differ = []
    for key, b in bom.parts.items():
        c = centroid.get(key)
        if c and b.footprint and c.footprint:
            fb, fc = (f.split(":")[-1].strip().lower() for f in (b.footprint, c.footprint))
            if fb != fc:
                differ.append(f"{b.name} ({b.footprint} / {c.footprint})")
    if differ:
        problems.append(_problem(
            "FOOTPRINT_MISMATCH", "warning",
            f"BOM and centroid footprints differ: {_listed(differ)}.", designators=differ))


# --------------------------------------------------------------------------------------------
# The report
# --------------------------------------------------------------------------------------------


def check_package(gerber_zip: bytes, bom: bytes, bom_name: str, centroid: bytes,
                  centroid_name: str) -> dict:
    """Check a data package (Gerber zip, BOM, centroid) and return the report; never raises."""
    try:
        return _check(gerber_zip, bom, bom_name, centroid, centroid_name)
    except Exception as exc:  # an upload must get a report, not a server error
        return {
            "complete": False, "ready": False,
            "layers": {layer: [] for layer in REQUIRED_LAYERS},
            "parts": {"smt_top": 0, "smt_bottom": 0, "dip": 0},
            "problems": [_problem(
                "CHECK_FAILED", "error",
                f"The data package could not be checked ({type(exc).__name__}: {exc}).")],
        }


def _check(gerber_zip: bytes, bom: bytes, bom_name: str, centroid: bytes,
           centroid_name: str) -> dict:
    """The report of check_package (complete: four layers, BOM and centroid all readable)."""
    problems: list[dict] = []
    report: dict = {}
    if isinstance(gerber_zip, str):
        gerber_zip = gerber_zip.encode("utf-8")
    files, zip_ok = _check_layers(gerber_zip or b"", problems)
    layers: dict[str, list[str]] = {layer: [] for layer in REQUIRED_LAYERS}
    for f in files:
        if f.layer not in ("ignored", "unknown"):
            layers.setdefault(f.layer, []).append(f.name)
    report["layers"] = {k: _sorted(v) for k, v in layers.items()}
    report["copper_layers"] = len(layers["copper"])
    report["files"] = [
        {"name": f.name, "layer": f.layer, "side": f.side, "how": f.how}
        | ({"function": f.function} if f.function else {})
        for f in files
    ]
    outline = _board_outline(files)
    if outline:
        report["board_outline_mm"] = outline

    bom_table = _read_table(bom, bom_name or "", "BOM", problems)
    cen_table = _read_table(centroid, centroid_name or "", "centroid", problems)
    bom_data = _read_bom(bom_table) if bom_table else None
    cen_parts = None
    if bom_table:
        report["bom_columns"] = _columns(bom_table)
        if not bom_data.parts:
            problems.append(_problem("NO_ROWS", "error", "The BOM lists no designators.",
                                     file="BOM"))
            bom_data = None
    if cen_table:
        report["centroid_columns"] = _columns(cen_table)
        cen_parts, cen_dupes, file_side = _read_centroid(cen_table, centroid_name or "")
        if not cen_parts:
            problems.append(_problem("NO_ROWS", "error", "The centroid lists no designators.",
                                     file="centroid"))
            cen_parts = None
        else:
            _centroid_checks(cen_table, cen_parts, cen_dupes, file_side, problems)
    if bom_data:
        _bom_checks(bom_data, problems)
    _match_parts(bom_data, cen_parts, report, problems)

    four = all(layers[layer] for layer in REQUIRED_LAYERS)
    complete = zip_ok and four and bom_data is not None and cen_parts is not None
    problems.sort(key=lambda p: _SEVERITY_RANK.get(p["severity"], 3))
    ordered = {
        "complete": complete,
        "ready": complete and not any(p["severity"] == "error" for p in problems),
        "layers": report.pop("layers"),
        "parts": report.pop("parts"),
        "problems": problems,
    }
    ordered.update(report)
    return ordered


def _bom_checks(bom: _Bom, problems: list[dict]) -> None:
    """Problems found in the BOM alone."""
    if bom.duplicates:
        problems.append(_problem(
            "DUPLICATE_DESIGNATOR", "error",
            f"The BOM lists {_listed(_sorted(bom.duplicates))} more than once.",
            file="BOM", designators=_sorted(bom.duplicates)))
    if bom.quantity_mismatch:
        problems.append(_problem(
            "QUANTITY_MISMATCH", "warning",
            f"BOM quantity differs from the designators listed: {_listed(bom.quantity_mismatch)}.",
            file="BOM", lines=bom.quantity_mismatch))
    if bom.undecided:
        problems.append(_problem(
            "VALUE_UNDECIDED", "warning",
            f"The BOM value is not decided (TBD) for {_listed(_sorted(bom.undecided))}.",
            file="BOM", designators=_sorted(bom.undecided)))
    if bom.big_ranges:
        problems.append(_problem(
            "RANGE_TOO_LARGE", "warning",
            f"Designator ranges too wide to expand: {_listed(bom.big_ranges)}.", file="BOM"))


def _centroid_checks(table: _Table, parts: dict[str, _Part], duplicates: list[str],
                     file_side: str | None, problems: list[dict]) -> None:
    """Problems found in the centroid alone."""
    if duplicates:
        problems.append(_problem(
            "DUPLICATE_DESIGNATOR", "error",
            f"The centroid lists {_listed(_sorted(duplicates))} more than once.",
            file="centroid", designators=_sorted(duplicates)))
    if "side" not in table.roles and file_side is None:
        problems.append(_problem(
            "NO_SIDE_COLUMN", "warning",
            "The centroid has no side/layer column: every part is taken as top side.",
            file="centroid"))
    if "x" not in table.roles or "y" not in table.roles:
        problems.append(_problem(
            "NO_POSITION_COLUMNS", "warning",
            "The centroid has no X/Y position columns.", file="centroid"))
    else:
        bad = _sorted(p.name for p in parts.values() if not p.position_ok)
        if bad:
            problems.append(_problem(
                "BAD_POSITION", "warning", f"No usable X/Y position for {_listed(bad)}.",
                file="centroid", designators=bad))


# --------------------------------------------------------------------------------------------
# Panel rules, entered by the engineer on the design page
# --------------------------------------------------------------------------------------------


def _panel_number(entered: dict, key: str, problems: list[dict]) -> float | None:
    """A non-negative finite number from the form (numbers or numeric strings, '4,0' too)."""
    raw = entered.get(key)
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        problems.append(_problem("PANEL_VALUE_MISSING", "error", f"{key} is not entered.",
                                 field=key))
        return None
    try:
        if isinstance(raw, bool):
            raise ValueError
        value = float(raw.strip().replace(",", ".")) if isinstance(raw, str) else float(raw)
    except (TypeError, ValueError):
        value = float("nan")
    if not math.isfinite(value) or value < 0:
        problems.append(_problem("PANEL_VALUE_INVALID", "error",
                                 f"{key} is not a length in mm: {raw!r}.", field=key, value=raw))
        return None
    return value


def _offsets(entered: dict) -> dict[str, object]:
    """Left and right tooling-hole edge offsets from the accepted input shapes."""
    both = entered.get("tooling_hole_edge_offset_mm")
    left = entered.get("tooling_hole_edge_offset_left_mm")
    right = entered.get("tooling_hole_edge_offset_right_mm")
    if isinstance(both, dict):
        left = both.get("left", left)
        right = both.get("right", right)
    elif isinstance(both, (list, tuple)):
        left = both[0] if len(both) > 0 else left
        right = both[1] if len(both) > 1 else right
    elif both is not None:
        left = both if left is None else left
        right = both if right is None else right
    return {"tooling_hole_edge_offset_left_mm": left, "tooling_hole_edge_offset_right_mm": right}


# The panel rule (tolerance PANEL_TOLERANCE_MM = 0.1 mm on every length): rails at least 10 mm at
# top and bottom (wider is fine: info); tooling holes 4 mm, 5 mm from the left and right edges;
# fiducials 1 mm with a clear (mask-free) area of at least 3 mm diameter, set asymmetrically on the
# diagonal. 0 means the feature is absent. The edge offset may be one number for both sides,
# [left, right], {"left", "right"}, or the keys tooling_hole_edge_offset_left_mm / _right_mm.
def check_panel(entered: dict) -> list[dict]:
    """Check the panel values an engineer entered against the factory's panel rule."""
    if not isinstance(entered, dict):
        return [_problem("PANEL_VALUE_INVALID", "error", "The panel values are not a form.")]
    tol = PANEL_TOLERANCE_MM
    problems: list[dict] = []
    for key, where in (("rails_top_mm", "top"), ("rails_bottom_mm", "bottom")):
        rail = _panel_number(entered, key, problems)
        if rail is None:
            continue
        if rail == 0:
            problems.append(_problem(
                "NO_RAILS", "error", f"No rail at the {where}: the line needs {PANEL_RAIL_MM:g} mm "
                "rails top and bottom.", field=key, value=rail, expected=PANEL_RAIL_MM))
        elif rail < PANEL_RAIL_MM - tol:
            problems.append(_problem(
                "RAIL_TOO_NARROW", "error", f"The {where} rail is {rail:g} mm: it must be "
                f"{PANEL_RAIL_MM:g} mm.", field=key, value=rail, expected=PANEL_RAIL_MM))
        elif rail > PANEL_RAIL_MM + tol:
            problems.append(_problem(
                "RAIL_WIDER", "info", f"The {where} rail is {rail:g} mm, wider than the "
                f"{PANEL_RAIL_MM:g} mm standard (fine for the line, costs board).",
                field=key, value=rail, expected=PANEL_RAIL_MM))
    hole = _panel_number(entered, "tooling_hole_diameter_mm", problems)
    if hole == 0:
        problems.append(_problem(
            "NO_TOOLING_HOLES", "error",
            f"No tooling holes: the line needs {PANEL_TOOLING_HOLE_MM:g} mm holes left and right, "
            f"{PANEL_TOOLING_OFFSET_MM:g} mm from the edges.", field="tooling_hole_diameter_mm",
            value=hole, expected=PANEL_TOOLING_HOLE_MM))
    elif hole is not None:
        if abs(hole - PANEL_TOOLING_HOLE_MM) > tol + 1e-9:
            problems.append(_problem(
                "TOOLING_HOLE_SIZE", "error", f"Tooling holes are {hole:g} mm: they must be "
                f"{PANEL_TOOLING_HOLE_MM:g} ± {tol:g} mm.", field="tooling_hole_diameter_mm",
                value=hole, expected=PANEL_TOOLING_HOLE_MM))
        for key, raw in _offsets(entered).items():
            offset = _panel_number({key: raw}, key, problems)
            if offset is not None and abs(offset - PANEL_TOOLING_OFFSET_MM) > tol + 1e-9:
                side = "left" if "left" in key else "right"
                problems.append(_problem(
                    "TOOLING_HOLE_POSITION", "error",
                    f"The {side} tooling hole is {offset:g} mm from the edge: it must be "
                    f"{PANEL_TOOLING_OFFSET_MM:g} ± {tol:g} mm.", field=key, value=offset,
                    expected=PANEL_TOOLING_OFFSET_MM))
    fiducial = _panel_number(entered, "fiducial_diameter_mm", problems)
    if fiducial == 0:
        problems.append(_problem(
            "NO_FIDUCIALS", "error", f"No fiducials: the line needs {PANEL_FIDUCIAL_MM:g} mm "
            "fiducials set asymmetrically on the diagonal.", field="fiducial_diameter_mm",
            value=fiducial, expected=PANEL_FIDUCIAL_MM))
    elif fiducial is not None:
        if abs(fiducial - PANEL_FIDUCIAL_MM) > tol + 1e-9:
            problems.append(_problem(
                "FIDUCIAL_SIZE", "error", f"Fiducials are {fiducial:g} mm: they must be "
                f"{PANEL_FIDUCIAL_MM:g} ± {tol:g} mm.", field="fiducial_diameter_mm",
                value=fiducial, expected=PANEL_FIDUCIAL_MM))
        ring = _panel_number(entered, "fiducial_clear_ring_mm", problems)
        if ring is not None and ring < PANEL_FIDUCIAL_CLEAR_MM - tol - 1e-9:
            problems.append(_problem(
                "FIDUCIAL_CLEARANCE", "error", f"The clear ring around the fiducials is {ring:g} "
                f"mm: it must be at least {PANEL_FIDUCIAL_CLEAR_MM:g} mm.",
                field="fiducial_clear_ring_mm", value=ring, expected=PANEL_FIDUCIAL_CLEAR_MM))
        asym = entered.get("fiducials_asymmetric")
        if isinstance(asym, str):
            asym = {"true": True, "yes": True, "on": True, "1": True, "false": False,
                    "no": False, "off": False, "0": False}.get(asym.strip().lower(), asym)
        if asym is None:
            problems.append(_problem("PANEL_VALUE_MISSING", "error",
                                     "fiducials_asymmetric is not entered.",
                                     field="fiducials_asymmetric"))
        elif asym is not True and asym is not False:
            problems.append(_problem("PANEL_VALUE_INVALID", "error",
                                     f"fiducials_asymmetric is not yes/no: {asym!r}.",
                                     field="fiducials_asymmetric", value=asym))
        elif asym is False:
            problems.append(_problem(
                "FIDUCIALS_SYMMETRIC", "error",
                "The fiducials are symmetric: set them asymmetrically on the diagonal so a board "
                "turned 180° is caught.", field="fiducials_asymmetric", value=False))
    return problems
