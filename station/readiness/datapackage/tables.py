"""BOM and centroid uploads read as tables: CSV / TXT (comma, semicolon, tab, whitespace), XLSX.

The header row is found by its column names (the role names here); text is split by the csv module,
or by the hand-written whitespace (Altium Pick Place, KiCad .pos) and Eagle .mnt readers; XLSX rows
come from xlsx.py.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
from dataclasses import dataclass

from station.errors import N_, Text
from station.readiness.datapackage.problems import Unreadable, problem, size_text
from station.readiness.datapackage.xlsx import xlsx_rows

# Limits against oversized uploads (module constants: tests lower them).
MAX_TEXT_BYTES = 5 * 1024 * 1024  # a CSV/TXT BOM or centroid
MAX_XLSX_BYTES = 25 * 1024 * 1024  # an XLSX BOM or centroid (pictures make them big)
MAX_ROWS = 20000  # table rows read from a BOM or centroid
MAX_COLUMNS = 256  # columns looked at in a table row


@dataclass
class Table:
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


def norm_header(cell: str) -> str:
    """A header cell lower-cased, without BOM mark, '#', spaces or punctuation."""
    return re.sub(r"[\W_]+", "", cell.replace("\ufeff", "").lower())


def _roles(header: list[str]) -> dict[str, list[int]]:
    """Which column holds what: role -> column indexes, best-named first."""
    exact: dict[str, list[int]] = {}
    bare: dict[str, list[int]] = {}
    for i, cell in enumerate(header[:MAX_COLUMNS]):
        name = norm_header(str(cell or ""))
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


def cell_text(row: list[str], index: int | None) -> str:
    """The stripped text of one cell ('' when the row is short)."""
    if index is None or index >= len(row) or row[index] is None:
        return ""
    return str(row[index]).strip()


def first_cell(row: list[str], roles: dict[str, list[int]], role: str) -> str:
    """The first non-empty cell of the row among the columns of a role."""
    for index in roles.get(role, []):
        value = cell_text(row, index)
        if value:
            return value
    return ""


def _table_from_rows(rows: list[list[str]], fmt: str) -> Table | None:
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
    return Table(fmt, rows[start], data, roles, score, truncated)


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


def _fit_whitespace(table: Table) -> Table:
    """Align whitespace rows to the header: extra fields join the last column (a description)."""
    header = table.header[1:] if table.header and table.header[0] == "#" else table.header
    width = len(header)
    rows = []
    for row in table.rows:
        if len(row) > width:
            row = row[: width - 1] + [" ".join(row[width - 1:])]
        rows.append(row)
    return Table(table.fmt, header, rows, _roles(header), table.score, table.truncated)


_MOUNTSMD = re.compile(r"^\s*(\S+)\s+([-+]?\d+(?:\.\d+)?)\s+([-+]?\d+(?:\.\d+)?)\s+"
                       r"([-+]?\d+(?:\.\d+)?)\s*(.*)$")


def _mountsmd_table(text: str) -> Table | None:
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
    return Table("eagle-mnt", header, rows, roles, len(roles))


def _decode(data: bytes) -> str:
    """Bytes of a text table to str: BOM-marked UTF-8/16, UTF-8, else Windows-1252."""
    if data.startswith(codecs.BOM_UTF8):
        return data[3:].decode("utf-8", "replace")
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return data.decode("utf-16", "replace")
    head = data[:8192]
    controls = sum(1 for b in head if b < 32 and b not in (9, 10, 12, 13))
    if b"\x00" in head or controls > len(head) * 0.02:
        raise Unreadable("NOT_TEXT", N_("{file} is binary, not a text or spreadsheet table."))
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("cp1252", "replace")


def _table_from_text(text: str, name: str) -> tuple[Table | None, list[str]]:
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


# How a problem names the upload (what: "BOM" or "centroid"), with its file name and without.
LABELS = {"BOM": (N_("The BOM file {name}"), N_("The BOM file")),
          "centroid": (N_("The centroid file {name}"), N_("The centroid file"))}


def read_table(data: bytes, name: str, what: str, problems: list[dict]) -> Table | None:
    """Read a BOM or centroid upload as a table; on failure add a problem and return None."""
    named, unnamed = LABELS[what]
    label = Text(named, name=name) if name else Text(unnamed)
    if isinstance(data, str):
        data = data.encode("utf-8")
    if not data or not data.strip():
        problems.append(problem("EMPTY_FILE", "error", Text(N_("{file} is empty."), file=label),
                                file=what))
        return None
    try:
        if data.startswith(b"\xd0\xcf\x11\xe0"):
            raise Unreadable("UNSUPPORTED_FORMAT",
                             N_("{file} is an old Excel .xls workbook: save it as .xlsx or .csv."))
        if data.startswith(b"PK\x03\x04") or name.lower().endswith((".xlsx", ".xlsm")):
            if len(data) > MAX_XLSX_BYTES:
                raise Unreadable("FILE_TOO_LARGE", N_("{file} is larger than {size}."),
                                 size=size_text(MAX_XLSX_BYTES))
            rows = xlsx_rows(data, MAX_ROWS + 200)
            table = _table_from_rows(rows, "xlsx")
            first = next((r for r in rows if any(c.strip() for c in r)), [])
            seen = [", ".join(c for c in first if c)[:200]]
        else:
            text = _decode(data)
            if len(data) > MAX_TEXT_BYTES:
                raise Unreadable("FILE_TOO_LARGE", N_("{file} is larger than {size}."),
                                 size=size_text(MAX_TEXT_BYTES))
            table, seen = _table_from_text(text, name)
    except Unreadable as exc:
        problems.append(problem(exc.code, "error", exc.text(label), file=what))
        return None
    if table is None:
        if seen and seen[0]:
            said = Text(N_("{file} has no designator column (Designator, Reference, Ref, RefDes, "
                           "Parts) (first line: {line})."), file=label, line=repr(seen[0]))
        else:
            said = Text(N_("{file} has no designator column (Designator, Reference, Ref, RefDes, "
                           "Parts)."), file=label)
        problems.append(problem("NO_DESIGNATOR_COLUMN", "error", said, file=what))
        return None
    if table.truncated:
        problems.append(problem(
            "TOO_MANY_ROWS", "warning",
            Text(N_("{file} has more than {rows} rows; the rest was not read."), file=label,
                 rows=MAX_ROWS), file=what))
    return table


def columns(table: Table) -> dict:
    """Which header was used for what, for the report."""
    used = {role: table.header[idx[0]] for role, idx in table.roles.items()
            if idx and idx[0] < len(table.header)}
    return {"format": table.fmt, **{k: v.lstrip("\ufeff#").strip() for k, v in used.items()}}
