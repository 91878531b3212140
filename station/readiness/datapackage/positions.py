"""Where the centroid places each part, in mm: the unit read from the header, cells or preamble.

Hand-written because a centroid's unit is written differently by each EDA tool (Altium's
"Center-X(mil)" header, Eagle's "Measurements are in inches." comment, a "12.5mm" cell, MacroFab's
XYRS defined in mils) and no table library knows these conventions.
"""

from __future__ import annotations

import re

from station.readiness.datapackage.tables import Table, first_cell

_MM = {"mm": 1.0, "mil": 0.0254, "mils": 0.0254, "in": 25.4, "inch": 25.4, "inches": 25.4}
_UNIT_IN_HEADER = re.compile(r"[(\[_\s-](mm|mils?|inch(?:es)?|in)[)\]]?\s*$", re.I)
_UNIT_IN_TEXT = re.compile(r"\b(?:units?(?:\s+used)?\s*[:=]?|measurements\s+are\s+in|in)\s*"
                           r"(mm|millimet(?:er|re)s?|mils?|inch(?:es)?)\b", re.I)
_NUMBER = re.compile(r"^\s*([-+]?(?:\d+(?:[.,]\d*)?|[.,]\d+)(?:e[-+]?\d+)?)\s*([a-z]*)\s*$", re.I)


def _unit(word: str) -> float:
    """mm per unit of a unit word."""
    word = word.lower()
    return 1.0 if word.startswith("millimet") else _MM.get(word, 1.0)


def centroid_unit(table: Table, head: str = "", name: str = "") -> float:
    """mm per centroid unit: the X column's header, else the preamble text, else mm."""
    for index in table.roles.get("x", [])[:1]:
        found = _UNIT_IN_HEADER.search(str(table.header[index] or ""))
        if found:
            return _unit(found.group(1))
    found = _UNIT_IN_TEXT.search(head)
    if found:
        return _unit(found.group(1))
    return _MM["mil"] if name.lower().endswith(".xyrs") else 1.0


def part_points(table: Table, head: str = "", name: str = "") -> list[dict]:
    """Each centroid row's designator and position in mm (rows without numbers are left out)."""
    if "x" not in table.roles or "y" not in table.roles:
        return []
    scale = centroid_unit(table, head, name)
    points = []
    for row in table.rows:
        xy = []
        for axis in ("x", "y"):
            found = _NUMBER.match(first_cell(row, table.roles, axis))
            if not found:
                break
            unit = _unit(found.group(2)) if found.group(2) else scale
            xy.append(float(found.group(1).replace(",", ".")) * unit)
        if len(xy) == 2:
            points.append({"ref": first_cell(row, table.roles, "designator"), "x_mm": xy[0],
                           "y_mm": xy[1]})
    return points
