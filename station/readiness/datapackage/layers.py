"""Which file of the Gerber zip is which layer, and the layers missing.

The zip is read within byte and file-count limits; a file's layer comes from its X2 attribute, else
from the KiCad, Altium/Protel, Eagle and common CAM naming conventions (hand-written tables here).
gerbonara's own guess (gerbonara.layers) misses Altium's .GM outline and .TXT drill files and the
Eagle CAM extensions, so the naming tables stay here. Formats are told by gerber.py; the geometry
is read by gerbonara in geometry.py.
"""

from __future__ import annotations

import io
import re
import zipfile
import zlib
from dataclasses import dataclass

from station.errors import N_, SENTENCES, Text
from station.readiness.datapackage.gerber import X2_FUNCTION, is_excellon, is_gerber
from station.readiness.datapackage.problems import listed, problem, size_text

# Limits against zip bombs and oversized uploads (module constants: tests lower them).
MAX_ZIP_BYTES = 150 * 1024 * 1024  # the uploaded Gerber zip itself
MAX_ZIP_MEMBERS = 300  # files looked at inside the zip
MAX_MEMBER_BYTES = 40 * 1024 * 1024  # uncompressed bytes read from one member
MAX_TOTAL_BYTES = 200 * 1024 * 1024  # uncompressed bytes read from the whole zip
HEAD_BYTES = 64 * 1024  # where X2 attributes and format headers are looked for

REQUIRED_LAYERS = ("copper", "drill", "silkscreen", "soldermask")
# Translators: a layer of the Gerber zip, said in "No {layer} layer in the Gerber zip".
LAYER_NAMES = {"copper": N_("copper"), "drill": N_("drill"), "silkscreen": N_("silkscreen"),
               "soldermask": N_("soldermask")}
# What a file's name promised when its content is not Gerber: "{file} is named as {expected}".
EXPECTED = {"drill": N_("an Excellon drill file"), "copper": N_("a copper layer"),
            "soldermask": N_("a soldermask layer"), "silkscreen": N_("a silkscreen layer"),
            "paste": N_("a paste layer"), "outline": N_("an outline layer")}
LAYER_HINTS = {  # what to add when a layer is missing
    "copper": N_("a copper Gerber (KiCad -F_Cu, Altium .GTL/.GBL, Eagle .cmp/.sol, or X2 Copper)"),
    "drill": N_("an Excellon drill file (.drl, .txt, .xln, .drd)"),
    "silkscreen": N_("a silkscreen (legend) Gerber (-F_SilkS, .GTO, .plc)"),
    "soldermask": N_("a solder-mask Gerber (-F_Mask, .GTS, .stc)"),
}


@dataclass
class _LayerFile:
    """One file of the Gerber zip and the layer it was taken for."""

    name: str
    layer: str  # copper, drill, silkscreen, soldermask, paste, outline, other, ignored, unknown
    side: str | None = None  # top, bottom, inner
    how: str | None = None  # X2, name, content
    function: str | None = None  # the raw X2 FileFunction value
    data: bytes = b""
    expected: str | None = None  # the layer the name promised when the content is not Gerber


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
    gerber, excellon = is_gerber(head), is_excellon(data)
    found = X2_FUNCTION.search(head)
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
        return _LayerFile(name, "unknown", None, "name", data=data, expected="drill")
    if named and gerber:
        return _LayerFile(name, named[0], named[1], "name", data=data)
    if named and not excellon and named[0] != "other":
        return _LayerFile(name, "unknown", named[1], "name", data=data, expected=named[0])
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
        problems.append(problem("EMPTY_FILE", "error", Text(N_("The Gerber zip is empty.")),
                                file="gerber"))
        return None
    if len(blob) > MAX_ZIP_BYTES:
        problems.append(problem(
            "FILE_TOO_LARGE", "error",
            Text(N_("The Gerber zip is {size}: more than the {limit} accepted."),
                 size=size_text(len(blob)), limit=size_text(MAX_ZIP_BYTES)), file="gerber"))
        return None
    try:
        archive = zipfile.ZipFile(io.BytesIO(blob))
        infos = archive.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, EOFError) as exc:
        problems.append(problem(
            "BAD_ZIP", "error",
            Text(N_("The Gerber file is not a readable zip archive ({error}). Send the Gerber "
                    "and drill files in one .zip."), error=str(exc)), file="gerber"))
        return None
    infos = [i for i in infos if not i.is_dir() and "__MACOSX/" not in i.filename
             and not i.filename.rsplit("/", 1)[-1].startswith("._")]
    if not infos:
        problems.append(problem("EMPTY_ZIP", "error", Text(N_("The Gerber zip holds no files.")),
                                file="gerber"))
        return None
    if len(infos) > MAX_ZIP_MEMBERS:
        problems.append(problem(
            "ZIP_TOO_MANY_FILES", "warning",
            Text(N_("The Gerber zip holds {count} files; only the first {limit} were read."),
                 count=len(infos), limit=MAX_ZIP_MEMBERS), file="gerber"))
        infos = infos[:MAX_ZIP_MEMBERS]
    members, total = [], 0
    for info in infos:
        cap = min(MAX_MEMBER_BYTES, MAX_TOTAL_BYTES - total)
        try:
            with archive.open(info) as handle:
                data = handle.read(cap + 1)
        except (zipfile.BadZipFile, RuntimeError, NotImplementedError, OSError, EOFError,
                zlib.error, ValueError) as exc:
            problems.append(problem(
                "BAD_ZIP_MEMBER", "warning",
                Text(N_("{file} in the Gerber zip cannot be read ({error})."),
                     file=info.filename, error=str(exc)),
                file="gerber", name=info.filename))
            continue
        if len(data) > cap and cap < MAX_MEMBER_BYTES:
            problems.append(problem(
                "ZIP_TOO_LARGE", "warning",
                Text(N_("The Gerber zip unpacks to more than {limit}; {file} and the files "
                        "after it were not read."), limit=size_text(MAX_TOTAL_BYTES),
                     file=info.filename), file="gerber"))
            break
        if len(data) > cap:
            problems.append(problem(
                "FILE_TOO_LARGE", "warning",
                Text(N_("{file} unpacks to more than {limit} and was not read."),
                     file=info.filename, limit=size_text(cap)),
                file="gerber", name=info.filename))
            total += len(data)
            continue
        total += len(data)
        members.append((info.filename, data))
    return members


def _ends_properly(f: _LayerFile) -> bool:
    """Whether a layer file has its end code (M02 for Gerber, M30/M00 for Excellon)."""
    tail = f.data[-512:].upper()
    if f.layer == "drill" and not is_gerber(f.data[:HEAD_BYTES]):
        return b"M30" in tail or b"M00" in tail
    return b"M02" in tail


def _unknown_files(unknown: list[str]) -> Text:
    """The sentence naming the files whose layer could not be told."""
    return Text(N_("Files whose layer could not be told: {files}."), files=listed(unknown))


def check_layers(blob: bytes, problems: list[dict]) -> tuple[list[_LayerFile], bool]:
    """Identify every file of the Gerber zip; report missing, empty and truncated layers."""
    members = _zip_members(blob, problems)
    if members is None:
        return [], False
    files = []
    for name, data in members:
        if name.lower().endswith(".zip"):
            problems.append(problem(
                "NESTED_ZIP", "warning",
                Text(N_("{file} is a zip inside the Gerber zip and was not opened: put the "
                        "layer files themselves in the zip."), file=name),
                file="gerber", name=name))
            files.append(_LayerFile(name, "ignored"))
            continue
        if not data.strip():
            problems.append(problem("EMPTY_LAYER_FILE", "warning",
                                    Text(N_("{file} is empty."), file=name),
                                    file="gerber", name=name))
            files.append(_LayerFile(name, "ignored"))
            continue
        files.append(_identify(name, data))
    _number_copper(files)
    truncated = [f.name for f in files
                 if f.layer not in ("ignored", "unknown") and not _ends_properly(f)]
    if truncated:
        problems.append(problem(
            "TRUNCATED_LAYER", "warning",
            Text(N_("No end code (M02 / M30) at the end of {files}: the file may be cut off."),
                 files=listed(truncated)),
            file="gerber", names=truncated))
    for f in files:
        if f.expected:
            problems.append(problem(
                "NOT_GERBER", "warning",
                Text(N_("{file} is named as {expected} but its content is not Gerber or "
                        "Excellon."), file=f.name, expected=Text(EXPECTED[f.expected])),
                file="gerber", name=f.name))
    unknown = [f.name for f in files if f.layer == "unknown"]
    present = {f.layer for f in files}
    for layer in REQUIRED_LAYERS:
        if layer in present:
            continue
        missing = Text(N_("No {layer} layer in the Gerber zip: add {hint}."),
                       layer=Text(LAYER_NAMES[layer]), hint=Text(LAYER_HINTS[layer]))
        if unknown:
            missing = Text(SENTENCES, sentence=missing, next=_unknown_files(unknown))
        problems.append(problem("MISSING_LAYER", "error", missing, layer=layer))
    if "paste" not in present and present & set(REQUIRED_LAYERS):
        problems.append(problem(
            "NO_PASTE_LAYER", "warning",
            Text(N_("No paste (stencil) layer in the Gerber zip: the stencil must be made from "
                    "another file."))))
    if "outline" not in present and present & set(REQUIRED_LAYERS):
        problems.append(problem(
            "NO_OUTLINE", "warning",
            Text(N_("No board outline (profile) layer in the Gerber zip: the board size is "
                    "unknown."))))
    if unknown:
        problems.append(problem("UNKNOWN_LAYER_FILE", "info", _unknown_files(unknown),
                                names=unknown))
    return files, True

