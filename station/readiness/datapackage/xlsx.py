"""The first sheet of an XLSX workbook as rows of text, read by openpyxl.

One guard stays hand-written: openpyxl parses the sheet XML with the standard library's expat,
which expands entities declared in a DTD (the "billion laughs" bomb) unless defusedxml is
installed, so a workbook whose parts declare a DTD is refused before openpyxl opens it. And a
workbook whose style sheet openpyxl rejects (Altium's BOM export writes an ``xxid`` attribute
there) is read again without its style sheet: a BOM's values do not depend on it.
"""

from __future__ import annotations

import io
import zipfile
import zlib
from datetime import date, datetime, time

from openpyxl import load_workbook

from station.errors import N_
from station.readiness.datapackage.problems import Unreadable

MAX_XLSX_PART_BYTES = 40 * 1024 * 1024  # uncompressed sheet or shared-strings XML
MAX_XLSX_COLUMNS = 16384  # Excel's own last column


def _refuse_dtd(data: bytes) -> None:
    """Refuse a workbook whose XML parts declare a DTD or are larger than the limit."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        for info in archive.infolist():
            if not info.filename.endswith((".xml", ".rels")):
                continue
            if info.file_size > MAX_XLSX_PART_BYTES:
                raise Unreadable("FILE_TOO_LARGE",
                                 N_("{file} has a part {part} larger than the limit."),
                                 part=info.filename)
            with archive.open(info) as handle:
                part = handle.read(MAX_XLSX_PART_BYTES + 1)
            if b"<!DOCTYPE" in part[:4096].upper() or b"<!ENTITY" in part.upper():
                raise Unreadable("BAD_XLSX", N_("{file} holds a DTD, which is not accepted."))
    except (zipfile.BadZipFile, OSError, EOFError, zlib.error, RuntimeError,
            NotImplementedError, ValueError) as exc:
        raise Unreadable("BAD_XLSX", N_("{file} is not a readable XLSX workbook ({error})."),
                         error=str(exc)) from exc


def _text(value) -> str:
    """A cell's value as the text a person sees in the sheet."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    return str(value)


def _without_styles(data: bytes) -> bytes:
    """The workbook again, without its style sheet."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(out, "w") as dst:
        for info in src.infolist():
            if info.filename != "xl/styles.xml":
                dst.writestr(info, src.read(info))
    return out.getvalue()


def _open(data: bytes):
    """The workbook opened by openpyxl for reading values."""
    try:
        return load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except TypeError:  # a style sheet attribute openpyxl does not know
        return load_workbook(io.BytesIO(_without_styles(data)), read_only=True, data_only=True)


def xlsx_rows(data: bytes, max_rows: int) -> list[list[str]]:
    """Rows of the first sheet of an XLSX workbook, every cell as text."""
    _refuse_dtd(data)
    try:
        book = _open(data)
        try:
            sheet = book.worksheets[0]
            rows = []
            for row in sheet.iter_rows(values_only=True, max_col=MAX_XLSX_COLUMNS):
                if len(rows) > max_rows:
                    break
                cells = [_text(v) for v in row]
                while cells and cells[-1] == "":
                    cells.pop()
                rows.append(cells)
        finally:
            book.close()
    except Unreadable:
        raise
    except Exception as exc:  # openpyxl raises many kinds (KeyError, ValueError, ...) on a bad file
        raise Unreadable("BAD_XLSX", N_("{file} is not a readable XLSX workbook ({error})."),
                         error=str(exc)) from exc
    return rows
