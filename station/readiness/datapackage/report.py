"""The data-package report: the Gerber zip, BOM and centroid checked together into one answer.

Pure functions over bytes: no Flask, no database; gerbonara reads the geometry, openpyxl the XLSX
tables. Bad input never raises: every defect becomes a problem ``{"code", "message", "severity",
...}``.
"""

from __future__ import annotations

from station.errors import N_, Text
from station.readiness.datapackage.geometry import Geometry, read_geometry
from station.readiness.datapackage.layers import REQUIRED_LAYERS, check_layers
from station.readiness.datapackage.panel import measure_panel
from station.readiness.datapackage.parts import (
    bom_checks,
    centroid_checks,
    match_parts,
    position_unit,
    positions,
    read_bom,
    read_centroid,
)
from station.readiness.datapackage.problems import in_order, problem
from station.readiness.datapackage.tables import Table, columns, read_table
from station.readiness.datapackage.throughhole import (
    UNITS_MM,
    drilled_parts,
    fit_frame,
    placed_mm,
)

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
            "parts": {"smt_top": 0, "smt_bottom": 0, "dip": 0, "dip_top": 0, "dip_bottom": 0},
            "problems": [problem(
                "CHECK_FAILED", "error",
                Text(N_("The data package could not be checked ({error})."),
                     error=f"{type(exc).__name__}: {exc}"))],
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
    geometry, geometry_problems = read_geometry(files)
    problems.extend(geometry_problems)
    outline = _outline(files, geometry)
    if outline:
        report["board_outline_mm"] = outline

    bom_table = read_table(bom, bom_name or "", "BOM", problems)
    cen_table = read_table(centroid, centroid_name or "", "centroid", problems)
    bom_data = read_bom(bom_table) if bom_table else None
    cen_parts = None
    if bom_table:
        report["bom_columns"] = columns(bom_table)
        if not bom_data.parts:
            problems.append(problem("NO_ROWS", "error",
                                    Text(N_("The BOM lists no designators.")), file="BOM"))
            bom_data = None
    if cen_table:
        report["centroid_columns"] = columns(cen_table)
        cen_parts, cen_dupes, file_side = read_centroid(cen_table, centroid_name or "")
        if not cen_parts:
            problems.append(problem("NO_ROWS", "error",
                                    Text(N_("The centroid lists no designators.")),
                                    file="centroid"))
            cen_parts = None
        else:
            centroid_checks(cen_table, cen_parts, cen_dupes, file_side, problems)
    if bom_data:
        bom_checks(bom_data, problems)
    placed = _placed(geometry, cen_table, cen_parts, report, problems) if cen_parts else None
    drilled = drilled_parts(placed, geometry) if placed is not None else None
    match_parts(bom_data, cen_parts, report, problems, drilled)
    if placed is None and cen_parts:  # not fitted to the pads: as written, in its own unit
        scale = UNITS_MM[position_unit(cen_table, cen_parts) or "mm"]
        placed = {k: (x * scale, y * scale) for k, (x, y) in positions(cen_parts).items()}
    if placed:  # where the board picture marks each part
        report["positions_mm"] = {k: [round(x, 3), round(y, 3)] for k, (x, y) in placed.items()}
    _panel(geometry, placed or {}, report, problems)

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


def _outline(files, geometry: Geometry) -> dict | None:
    """Width and height (mm) of the board from its outline layer, when it could be measured."""
    box = geometry.outline_mm
    if box is None:
        return None
    name = min((f for f in files if f.layer == "outline"), key=lambda f: f.how != "X2").name
    return {"width": round(box[2] - box[0], 2), "height": round(box[3] - box[1], 2),
            "file": name}


def _placed(geometry: Geometry, table: Table, parts: dict, report: dict,
            problems: list[dict]) -> dict[str, tuple[float, float]] | None:
    """The parts' positions on the Gerber (mm), or None when the drill file and pads cannot
    tell where they are (then the words alone tell through-hole parts)."""
    raw = positions(parts)
    frame = fit_frame(raw, position_unit(table, parts), geometry) if geometry.holes else None
    if frame is None:
        why = (N_("there is no readable drill file") if not geometry.holes else
               N_("the centroid has no X/Y positions") if not raw else
               N_("the Gerber has no copper pads"))
        problems.append(problem(
            "THROUGH_HOLE_FROM_WORDS", "info",
            Text(N_("Through-hole parts were told from the BOM's and centroid's words only: "
                    "{why}."), why=Text(why)), file="gerber"))
        return None
    report["centroid_frame"] = frame
    if frame["how"] == "fitted":
        problems.append(problem(
            "CENTROID_FRAME_FITTED", "info",
            Text(N_("The centroid's positions were read as {unit} and moved by {dx} mm, {dy} mm "
                    "to lie on the Gerber's pads."), unit=frame["unit"],
                 dx=frame["offset_mm"][0], dy=frame["offset_mm"][1]), file="centroid"))
    return placed_mm(raw, frame)


def _panel(geometry: Geometry, placed: dict[str, tuple[float, float]], report: dict,
           problems: list[dict]) -> None:
    """The panel measured from the files: outline, drill hits, pads, and the parts placed."""
    parts = [{"ref": ref, "x_mm": x, "y_mm": y} for ref, (x, y) in placed.items()]
    named = report.get("designators", {}).get("not_parts", {}).get("fiducial", [])
    report["panel"], found = measure_panel(geometry, parts, named)
    problems.extend(found)
