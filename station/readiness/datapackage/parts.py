"""Parts of the BOM and centroid: designators read and matched, SMT top / bottom / DIP split.

Also the checks of each file alone and the BOM/centroid footprint comparison (as a person reads
them: case, separators and invisible characters aside). Do-not-place, not-a-part and the words'
through-hole are hand-written rules over the columns, footprint and text (no library knows the
EDA tools' words); with a drill file, throughhole.py's holes decide and the words confirm.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field

from station.errors import N_, Text
from station.readiness.datapackage.problems import in_order, joined, listed, problem
from station.readiness.datapackage.tables import Table, cell_text, first_cell, norm_header

MAX_RANGE = 1000  # the widest designator range expanded ("R1-R1000")


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
    xy: tuple[float, float] | None = None  # as the centroid writes it (centroid only)
    unit: str | None = None  # "mm", "mil" or "inch" when the cells say it

    def text(self) -> str:
        """Everything a heuristic may read about the part."""
        return " ".join((self.value, self.footprint, self.description))


@dataclass
class _Bom:
    """The BOM's parts by designator, its lines, and what the line-level checks found."""

    parts: dict[str, _Part] = field(default_factory=dict)  # upper-case designator -> part
    lines: list[list[str]] = field(default_factory=list)  # designators of each BOM line
    duplicates: list[str] = field(default_factory=list)
    quantity_mismatch: list[Text] = field(default_factory=list)
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
        if cell_text(row, index).lower() not in _FALSY:
            return True
    for index in roles.get("populate", []):
        cell = cell_text(row, index).lower()
        if cell in ("0", "no", "n", "false", "dnp", "dnf", "否"):
            return True
    low = value.strip().lower()
    return low in _DNP_VALUES or bool(_DNP_WORD.search(low))


def _row_mount(row: list[str], roles: dict[str, list[int]]) -> tuple[str | None, bool]:
    """Explicit mount type and DNP flag from the row's mount/type/attribute columns."""
    for index in roles.get("mount", []):
        mount, dnp = _mount_value(cell_text(row, index))
        if mount or dnp:
            return mount, dnp
    return None, False


def read_bom(table: Table) -> _Bom:
    """The BOM's parts, one per designator, with the line-level checks."""
    bom = _Bom()
    roles = table.roles
    for number, row in enumerate(table.rows, start=1):
        cell = first_cell(row, roles, "designator")
        if not cell:
            continue
        names = _expand(cell, bom.big_ranges)
        if not names:
            continue
        value = first_cell(row, roles, "value")
        mount, mount_dnp = _row_mount(row, roles)
        dnp = mount_dnp or _row_dnp(row, roles, value)
        quantity = first_cell(row, roles, "quantity")
        try:
            qty = float(quantity.replace(",", ".")) if quantity else None
        except ValueError:
            qty = None
        if qty is not None and qty != len(names) and not (dnp and qty == 0):
            bom.quantity_mismatch.append(Text(N_("{designators} (quantity {quantity}, {count} "
                                                 "listed)"), designators=cell,
                                              quantity=quantity, count=len(names)))
        if value.strip().lower() in _UNDECIDED:
            bom.undecided.extend(names)
        bom.lines.append(names)
        for name in names:
            key = name.upper()
            if key in bom.parts:
                bom.duplicates.append(name)
                continue
            bom.parts[key] = _Part(
                name, number, value, first_cell(row, roles, "footprint"),
                first_cell(row, roles, "description"), mount, dnp)
    return bom


_SIDES = {"top": "top", "t": "top", "toplayer": "top", "front": "top", "f": "top", "fcu": "top",
          "1": "top", "topside": "top", "component": "top", "componentside": "top",
          "顶层": "top", "正面": "top",
          "bottom": "bottom", "bot": "bottom", "b": "bottom", "bottomlayer": "bottom",
          "back": "bottom", "bcu": "bottom", "2": "bottom", "bottomside": "bottom",
          "solder": "bottom", "solderside": "bottom", "底层": "bottom", "反面": "bottom"}
_NUMBER = re.compile(r"^[-+]?(\d+([.,]\d*)?|[.,]\d+)(e[-+]?\d+)?\s*(mm|mils?|in|inch)?$", re.I)
_UNIT_WORDS = {"mm": "mm", "mil": "mil", "mils": "mil", "in": "inch", "inch": "inch",
               "inches": "inch", "thou": "mil"}
_HEADER_UNIT = re.compile(r"(?<![a-z])(mm|mils?|thou|inch(?:es)?|in)(?![a-z])", re.I)


def _position(row: list[str], roles: dict[str, list[int]]) -> tuple[tuple | None, str | None]:
    """The row's X/Y as numbers in the file's unit, and the unit its cells name."""
    values, unit = [], None
    for axis in ("x", "y"):
        cell = first_cell(row, roles, axis)
        m = _NUMBER.match(cell)
        if not m:
            return None, None
        number = cell[: m.start(4)] if m.group(4) else cell
        values.append(float(number.strip().replace(",", ".")))
        unit = _UNIT_WORDS.get((m.group(4) or "").lower(), unit)
    return (values[0], values[1]), unit


def position_unit(table: Table, parts: dict[str, _Part]) -> str | None:
    """The unit of the centroid's X/Y: named in a cell, else in the X column's header."""
    named = {p.unit for p in parts.values() if p.unit}
    if len(named) == 1:
        return named.pop()
    index = table.roles.get("x", [None])[0]
    header = str(table.header[index]) if index is not None and index < len(table.header) else ""
    m = _HEADER_UNIT.search(header.replace("_", " "))
    return _UNIT_WORDS[m.group(1).lower()] if m else None


def positions(parts: dict[str, _Part]) -> dict[str, tuple[float, float]]:
    """The centroid's X/Y of each designator that has them, as written."""
    return {key: p.xy for key, p in parts.items() if p.xy is not None}


def read_centroid(table: Table, name: str) -> tuple[dict[str, _Part], list[str], str | None]:
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
        designator = first_cell(row, roles, "designator").strip("\"'")
        if not designator:
            continue
        value = first_cell(row, roles, "value")
        mount, mount_dnp = _row_mount(row, roles)
        if "side" in roles:
            side = _SIDES.get(norm_header(first_cell(row, roles, "side")), "?")
        else:
            side = file_side or "top"
        ok = all(_NUMBER.match(first_cell(row, roles, axis)) for axis in ("x", "y")
                 if axis in roles)
        xy, unit = _position(row, roles) if "x" in roles and "y" in roles else (None, None)
        part = _Part(designator, number, value, first_cell(row, roles, "footprint"),
                     first_cell(row, roles, "description"), mount,
                     mount_dnp or _row_dnp(row, roles, value), side, ok, xy, unit)
        key = designator.upper()
        if key in parts:
            duplicates.append(designator)
            continue
        parts[key] = part
    return parts, duplicates, file_side


def bom_checks(bom: _Bom, problems: list[dict]) -> None:
    """Problems found in the BOM alone."""
    if bom.duplicates:
        problems.append(problem(
            "DUPLICATE_DESIGNATOR", "error",
            Text(N_("The BOM lists {designators} more than once."),
                 designators=listed(in_order(bom.duplicates))),
            file="BOM", designators=in_order(bom.duplicates)))
    if bom.quantity_mismatch:
        problems.append(problem(
            "QUANTITY_MISMATCH", "warning",
            Text(N_("BOM quantity differs from the designators listed: {lines}."),
                 lines=listed(bom.quantity_mismatch)),
            file="BOM", lines=[str(line) for line in bom.quantity_mismatch]))
    if bom.undecided:
        problems.append(problem(
            "VALUE_UNDECIDED", "warning",
            Text(N_("The BOM value is not decided (TBD) for {designators}."),
                 designators=listed(in_order(bom.undecided))),
            file="BOM", designators=in_order(bom.undecided)))
    if bom.big_ranges:
        problems.append(problem(
            "RANGE_TOO_LARGE", "warning",
            Text(N_("Designator ranges too wide to expand: {ranges}."),
                 ranges=listed(bom.big_ranges)), file="BOM"))


def centroid_checks(table: Table, parts: dict[str, _Part], duplicates: list[str],
                    file_side: str | None, problems: list[dict]) -> None:
    """Problems found in the centroid alone."""
    if duplicates:
        problems.append(problem(
            "DUPLICATE_DESIGNATOR", "error",
            Text(N_("The centroid lists {designators} more than once."),
                 designators=listed(in_order(duplicates))),
            file="centroid", designators=in_order(duplicates)))
    if "side" not in table.roles and file_side is None:
        problems.append(problem(
            "NO_SIDE_COLUMN", "warning",
            Text(N_("The centroid has no side/layer column: every part is taken as top side.")),
            file="centroid"))
    if "x" not in table.roles or "y" not in table.roles:
        problems.append(problem(
            "NO_POSITION_COLUMNS", "warning",
            Text(N_("The centroid has no X/Y position columns.")), file="centroid"))
    else:
        bad = in_order(p.name for p in parts.values() if not p.position_ok)
        if bad:
            problems.append(problem(
                "BAD_POSITION", "warning",
                Text(N_("No usable X/Y position for {designators}."), designators=listed(bad)),
                file="centroid", designators=bad))


# Not a part to buy or place: fiducials, mounting holes, bare test pads / test vias, the bare board.
_FIDUCIAL = re.compile(r"^(FID|FD|FIDUCIAL)\d*$", re.I)
_MOUNTING = re.compile(r"^MH\d*$", re.I)
_BOARD = re.compile(r"^PCB\d*$", re.I)
_TEXT_FIDUCIAL = re.compile(r"fiducial", re.I)
_TEXT_MOUNTING = re.compile(r"mounting[\s_-]?hole", re.I)
_TEXT_TESTPAD = re.compile(r"testpoint_(?:pad|thtpad|plated_hole|bridge)|test[\s_-]?via|tp_via",
                           re.I)
# Translators: why a designator is not counted as a part, said in "Not counted as parts (...)".
NOT_A_PART_REASONS = {"fiducial": N_("fiducial"), "mounting hole": N_("mounting hole"),
                      "test pad": N_("test pad"), "bare board": N_("bare board")}


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
# in value/description; a connector/header of 2.54 mm pitch; otherwise SMT. With a drill file these
# words only confirm or contradict what the holes say (throughhole.py).
_SMD_WORD = re.compile(r"(?<![a-z])(smd|smt|surface[\s_-]?mount)(?![a-z])", re.I)
_THT_WORD = re.compile(
    r"(?<![a-z])(tht|pth|hdr|through[\s_-]?hole|thru[\s_-]?hole|p?dip[\s_-]?\d*|to[\s_-]?"
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


def _is_tht(*parts: _Part | None) -> tuple[bool, str, bool]:
    """Whether the words call a part through-hole, how ('column' or 'text'), and whether they
    say it at all (an SMD or THT word) rather than default to SMT."""
    known = [p for p in parts if p is not None]
    for p in known:
        if p.mount:
            return p.mount == "tht", "column", True
    footprint = " ".join(p.footprint for p in known)
    other = " ".join(f"{p.value} {p.description}" for p in known)
    tht, decided = _tht_by_text(footprint, other)
    return tht, "text", decided


def match_parts(bom: _Bom | None, centroid: dict[str, _Part] | None, report: dict,
                problems: list[dict], drilled: dict[str, int] | None = None) -> None:
    """Match designators, split SMT top / bottom / DIP, and add the consistency problems.

    `drilled` holds the parts with plated pin holes under them (upper-case designator -> holes)
    when the drill file and the centroid's positions could tell; without it the words decide."""
    placement = {"smt_top": [], "smt_bottom": [], "dip": []}
    dnp, not_parts, bom_only, centroid_only, dip_unplaced = [], {}, [], [], []
    unknown_side, guessed_tht, dip_sides = [], [], {}
    drilled_not_said, said_not_drilled = [], []
    described, pins = {}, {}  # placed part -> (value, footprint); drilled part -> pin holes
    bom_parts = bom.parts if bom else {}
    cen_parts = centroid or {}
    for key in in_order(list(bom_parts) + list(cen_parts)):
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
            tht, how, _ = _is_tht(b)
            if tht:
                placement["dip"].append(name)
                dip_sides[name] = None
                described[name] = (b.value, b.footprint)
                guessed_tht += [name] if how == "text" else []
                dip_unplaced += [name] if centroid is not None else []
            elif centroid is not None:
                bom_only.append(name)
            continue
        if b is None and bom is not None:
            centroid_only.append(name)
            continue
        tht, how, decided = _is_tht(c, b)
        if drilled is not None and c.xy is not None:
            # The holes outweigh footprint and description words; a mount-type column is the
            # CAD's own attribute, which knows a plastic peg's plated hole from a lead's.
            holes = key in drilled
            if decided and tht != holes:
                (drilled_not_said if holes else said_not_drilled).append(name)
            if how != "column":
                tht, how = holes, "drill"
        described[name] = (b.value if b and b.value else c.value,
                           b.footprint if b and b.footprint else c.footprint)
        if drilled is not None and key in drilled:
            pins[name] = drilled[key]
        if tht:
            placement["dip"].append(name)
            dip_sides[name] = c.side if c.side in ("top", "bottom") else None
            if how == "text":
                guessed_tht.append(name)
        elif c.side == "bottom":
            placement["smt_bottom"].append(name)
        else:
            placement["smt_top"].append(name)
            if c.side == "?":
                unknown_side.append(name)
    report["parts"] = {k: len(v) for k, v in placement.items()}
    report["parts"]["dip_top"] = sum(1 for side in dip_sides.values() if side == "top")
    report["parts"]["dip_bottom"] = sum(1 for side in dip_sides.values() if side == "bottom")
    report["dip_parts"] = [{"ref": name, "side": dip_sides[name]}
                           for name in in_order(placement["dip"])]
    report["placement"] = {k: in_order(v) for k, v in placement.items()}
    # What a quotation prices by: each placed part's value and footprint (the BOM's where it
    # says them), and the through-hole parts' pin holes where the drill file told them.
    report["footprints"] = {k: described[k][1] for k in in_order(described)}
    report["values"] = {k: described[k][0] for k in in_order(described)}
    report["pins"] = {k: pins[k] for k in in_order(pins) if k in dip_sides}
    report["designators"] = {
        "bom": len(bom_parts), "centroid": len(cen_parts),
        "bom_only": in_order(bom_only), "centroid_only": in_order(centroid_only),
        "dnp": in_order(dnp), "not_parts": {k: in_order(v) for k, v in not_parts.items()},
        "dip_not_in_centroid": in_order(dip_unplaced),
    }
    if bom_only or centroid_only:
        said = []
        if bom_only:
            said.append(Text(N_("only in the BOM: {designators}"),
                             designators=listed(in_order(bom_only))))
        if centroid_only:
            said.append(Text(N_("only in the centroid: {designators}"),
                             designators=listed(in_order(centroid_only))))
        problems.append(problem(
            "DESIGNATOR_MISMATCH", "error",
            Text(N_("BOM and centroid designators differ; {which}."), which=joined(said)),
            bom_only=in_order(bom_only), centroid_only=in_order(centroid_only)))
    if dnp:
        problems.append(problem(
            "DNP", "info", Text(N_("Do not place (allowed to differ): {designators}."),
                                designators=listed(in_order(dnp))),
            designators=in_order(dnp)))
    if not_parts:
        said = joined([Text(N_("{why}: {designators}"), why=Text(NOT_A_PART_REASONS[why]),
                            designators=listed(in_order(names)))
                       for why, names in not_parts.items()])
        problems.append(problem(
            "NOT_A_PART", "info", Text(N_("Not counted as parts ({which})."), which=said),
            designators=in_order(n for names in not_parts.values() for n in names)))
    if dip_unplaced:
        problems.append(problem(
            "DIP_NOT_IN_CENTROID", "info",
            Text(N_("Through-hole parts in the BOM only (hand or wave soldered): "
                    "{designators}."), designators=listed(in_order(dip_unplaced))),
            designators=in_order(dip_unplaced)))
    if unknown_side:
        problems.append(problem(
            "UNKNOWN_SIDE", "warning",
            Text(N_("The centroid's side/layer is not Top or Bottom for {designators}: "
                    "counted as top."), designators=listed(unknown_side)),
            designators=unknown_side))
    if guessed_tht:
        problems.append(problem(
            "MOUNT_TYPE_GUESSED", "info",
            Text(N_("No mount-type column for {designators}: through-hole was told from the "
                    "footprint and description; check the DIP list."),
                 designators=listed(in_order(guessed_tht))),
            designators=in_order(guessed_tht)))
    if drilled_not_said or said_not_drilled:
        _contradiction(in_order(drilled_not_said), in_order(said_not_drilled), problems)
    _line_checks(bom, cen_parts, problems)


def _contradiction(drilled: list[str], said: list[str], problems: list[dict]) -> None:
    """The info problem when the drill file and the BOM's or centroid's words disagree."""
    sentences = []
    if drilled:
        sentences.append(Text(N_("Plated holes under the pads of {parts}, whose mount type, "
                                 "footprint or description says surface-mount."),
                              parts=listed(drilled)))
    if said:
        sentences.append(Text(N_("No plated holes under {parts}, which are called "
                                 "through-hole."), parts=listed(said)))
    message = Text(N_("The drill file and the part words disagree; a mount-type column decides, "
                      "else the holes do: check the DIP list. {sentences}"),
                   sentences=sentences)
    problems.append(problem("MOUNT_TYPE_CONTRADICTED", "info", message,
                            designators=in_order(drilled + said), drilled=drilled,
                            not_drilled=said))


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
            mixed.append({label: in_order(members) for label, members in groups.items()})
    for groups in mixed:
        said = joined([Text(N_("{designators}: {label}"), designators=listed(m), label=label)
                       for label, m in groups.items()])
        problems.append(problem(
            "MIXED_BOM_LINE", "warning",
            Text(N_("One BOM line holds parts the centroid calls different things ({groups})."),
                 groups=said),
            groups=groups))
    differ, pairs = [], []
    for key, b in bom.parts.items():
        c = centroid.get(key)
        if (c and b.footprint and c.footprint
                and footprint_key(b.footprint) != footprint_key(c.footprint)):
            differ.append(f"{b.name} ({b.footprint} / {c.footprint})")
            pairs.append({"ref": b.name, "bom": b.footprint, "centroid": c.footprint})
    if differ:
        problems.append(problem(
            "FOOTPRINT_MISMATCH", "warning",
            Text(N_("BOM and centroid footprints differ: {parts}."), parts=listed(differ)),
            designators=differ, footprints=pairs))


_INVISIBLE = {"Cf", "Cc", "Zl", "Zp"}  # U+200B/E/F, U+FEFF, soft hyphen, controls
_SEPARATORS = re.compile(r"[\s_\-\u2010-\u2015]+")


def footprint_key(text: str) -> str:
    """A footprint as a person compares it: the library prefix ('Lib:'), case, spaces,
    underscores, dashes, a dot at either end and invisible characters do not count; digits,
    letters and inner dots (0.5 mm against 05) do."""
    text = unicodedata.normalize("NFKC", text)  # NBSP and full-width forms to plain ones
    text = "".join(ch for ch in text if unicodedata.category(ch) not in _INVISIBLE)
    text = text.split(":")[-1].casefold()
    return _SEPARATORS.sub("", text).strip(".")
