"""The data-package report: the Gerber zip, BOM and centroid checked together into one answer.

Pure functions over bytes: no Flask, no database, no dependency beyond the standard library. Bad
input never raises: every defect becomes a problem ``{"code", "message", "severity", ...}``.
"""

from __future__ import annotations

from station.readiness.datapackage.geometry import read_geometry
from station.readiness.datapackage.layers import REQUIRED_LAYERS, board_outline, check_layers
from station.readiness.datapackage.panel import measure_panel
from station.readiness.datapackage.parts import (
    bom_checks,
    centroid_checks,
    match_parts,
    read_bom,
    read_centroid,
)
from station.readiness.datapackage.positions import part_points
from station.readiness.datapackage.problems import in_order, problem
from station.readiness.datapackage.tables import columns, read_table

_SEVERITY_RANK = {"error": 0, "warning": 1, "info": 2}


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
            "problems": [problem(
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
    files, zip_ok = check_layers(gerber_zip or b"", problems)
    layers: dict[str, list[str]] = {layer: [] for layer in REQUIRED_LAYERS}
    for f in files:
        if f.layer not in ("ignored", "unknown"):
            layers.setdefault(f.layer, []).append(f.name)
    report["layers"] = {k: in_order(v) for k, v in layers.items()}
    report["copper_layers"] = len(layers["copper"])
    report["files"] = [
        {"name": f.name, "layer": f.layer, "side": f.side, "how": f.how}
        | ({"function": f.function} if f.function else {})
        for f in files
    ]
    outline = board_outline(files)
    if outline:
        report["board_outline_mm"] = outline

    bom_table = read_table(bom, bom_name or "", "BOM", problems)
    cen_table = read_table(centroid, centroid_name or "", "centroid", problems)
    bom_data = read_bom(bom_table) if bom_table else None
    cen_parts = None
    if bom_table:
        report["bom_columns"] = columns(bom_table)
        if not bom_data.parts:
            problems.append(problem("NO_ROWS", "error", "The BOM lists no designators.",
                                    file="BOM"))
            bom_data = None
    if cen_table:
        report["centroid_columns"] = columns(cen_table)
        cen_parts, cen_dupes, file_side = read_centroid(cen_table, centroid_name or "")
        if not cen_parts:
            problems.append(problem("NO_ROWS", "error", "The centroid lists no designators.",
                                    file="centroid"))
            cen_parts = None
        else:
            centroid_checks(cen_table, cen_parts, cen_dupes, file_side, problems)
    if bom_data:
        bom_checks(bom_data, problems)
    match_parts(bom_data, cen_parts, report, problems)
    _panel(files, cen_table, centroid, centroid_name, report, problems)

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


def _panel(files, cen_table, centroid: bytes, centroid_name: str, report: dict,
           problems: list[dict]) -> None:
    """The panel measured from the geometry and the centroid's positions, when it can be read."""
    try:
        geometry, found = read_geometry(files)
    except NotImplementedError:
        return  # this branch's placeholder geometry: no panel in the report
    problems.extend(found)
    head = (centroid or b"")[:4096].decode("latin-1") if isinstance(centroid, bytes) else ""
    parts = part_points(cen_table, head, centroid_name or "") if cen_table else []
    report["panel"], panel_problems = measure_panel(geometry, parts)
    problems.extend(panel_problems)
