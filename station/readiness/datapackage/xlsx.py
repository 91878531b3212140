"""The first sheet of an XLSX workbook as rows of text, read from its XML parts.

Hand-written over zipfile and ElementTree (DTDs refused, part sizes capped) so the checker needs
nothing beyond the standard library; a later issue replaces it with openpyxl behind xlsx_rows.
"""

from __future__ import annotations

import io
import re
import zipfile
import zlib
from xml.etree import ElementTree as ET

from station.readiness.datapackage.problems import Unreadable, natural_key

MAX_XLSX_PART_BYTES = 40 * 1024 * 1024  # uncompressed sheet or shared-strings XML


def _xml(data: bytes) -> ET.Element:
    """Parse XLSX XML, refusing DTDs (no entity expansion)."""
    if b"<!DOCTYPE" in data[:4096].upper() or b"<!ENTITY" in data.upper():
        raise Unreadable("BAD_XLSX", "holds a DTD, which is not accepted")
    return ET.fromstring(data)


def _xlsx_part(archive: zipfile.ZipFile, name: str) -> bytes:
    """One XML part of the workbook, within the size limit."""
    with archive.open(name) as handle:
        data = handle.read(MAX_XLSX_PART_BYTES + 1)
    if len(data) > MAX_XLSX_PART_BYTES:
        raise Unreadable("FILE_TOO_LARGE", f"has a {name} larger than the limit")
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
                    key=natural_key)
    if not sheets:
        raise Unreadable("BAD_XLSX", "has no worksheet")
    return sheets[0]


def xlsx_rows(data: bytes, max_rows: int) -> list[list[str]]:
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
    except Unreadable:
        raise
    except (zipfile.BadZipFile, KeyError, ET.ParseError, OSError, EOFError, zlib.error,
            RuntimeError, NotImplementedError, ValueError) as exc:
        raise Unreadable("BAD_XLSX", f"is not a readable XLSX workbook ({exc})") from exc
    rows = []
    for row in root.iter():
        if not row.tag.endswith("}row"):
            continue
        if len(rows) > max_rows:
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
