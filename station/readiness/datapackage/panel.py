"""The factory's panel rule checked on the values an engineer entered on the design page."""

from __future__ import annotations

import math

from station.readiness.datapackage.problems import problem

# The panel rule of DESIGN.md; every length is checked with the same tolerance.
PANEL_RAIL_MM = 10.0
PANEL_TOOLING_HOLE_MM = 4.0
PANEL_TOOLING_OFFSET_MM = 5.0
PANEL_FIDUCIAL_MM = 1.0
PANEL_FIDUCIAL_CLEAR_MM = 3.0
PANEL_TOLERANCE_MM = 0.1


def _panel_number(entered: dict, key: str, problems: list[dict]) -> float | None:
    """A non-negative finite number from the form (numbers or numeric strings, '4,0' too)."""
    raw = entered.get(key)
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        problems.append(problem("PANEL_VALUE_MISSING", "error", f"{key} is not entered.",
                                field=key))
        return None
    try:
        if isinstance(raw, bool):
            raise ValueError
        value = float(raw.strip().replace(",", ".")) if isinstance(raw, str) else float(raw)
    except (TypeError, ValueError):
        value = float("nan")
    if not math.isfinite(value) or value < 0:
        problems.append(problem("PANEL_VALUE_INVALID", "error",
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
        return [problem("PANEL_VALUE_INVALID", "error", "The panel values are not a form.")]
    tol = PANEL_TOLERANCE_MM
    problems: list[dict] = []
    for key, where in (("rails_top_mm", "top"), ("rails_bottom_mm", "bottom")):
        rail = _panel_number(entered, key, problems)
        if rail is None:
            continue
        if rail == 0:
            problems.append(problem(
                "NO_RAILS", "error", f"No rail at the {where}: the line needs {PANEL_RAIL_MM:g} mm "
                "rails top and bottom.", field=key, value=rail, expected=PANEL_RAIL_MM))
        elif rail < PANEL_RAIL_MM - tol:
            problems.append(problem(
                "RAIL_TOO_NARROW", "error", f"The {where} rail is {rail:g} mm: it must be "
                f"{PANEL_RAIL_MM:g} mm.", field=key, value=rail, expected=PANEL_RAIL_MM))
        elif rail > PANEL_RAIL_MM + tol:
            problems.append(problem(
                "RAIL_WIDER", "info", f"The {where} rail is {rail:g} mm, wider than the "
                f"{PANEL_RAIL_MM:g} mm standard (fine for the line, costs board).",
                field=key, value=rail, expected=PANEL_RAIL_MM))
    hole = _panel_number(entered, "tooling_hole_diameter_mm", problems)
    if hole == 0:
        problems.append(problem(
            "NO_TOOLING_HOLES", "error",
            f"No tooling holes: the line needs {PANEL_TOOLING_HOLE_MM:g} mm holes left and right, "
            f"{PANEL_TOOLING_OFFSET_MM:g} mm from the edges.", field="tooling_hole_diameter_mm",
            value=hole, expected=PANEL_TOOLING_HOLE_MM))
    elif hole is not None:
        if abs(hole - PANEL_TOOLING_HOLE_MM) > tol + 1e-9:
            problems.append(problem(
                "TOOLING_HOLE_SIZE", "error", f"Tooling holes are {hole:g} mm: they must be "
                f"{PANEL_TOOLING_HOLE_MM:g} ± {tol:g} mm.", field="tooling_hole_diameter_mm",
                value=hole, expected=PANEL_TOOLING_HOLE_MM))
        for key, raw in _offsets(entered).items():
            offset = _panel_number({key: raw}, key, problems)
            if offset is not None and abs(offset - PANEL_TOOLING_OFFSET_MM) > tol + 1e-9:
                side = "left" if "left" in key else "right"
                problems.append(problem(
                    "TOOLING_HOLE_POSITION", "error",
                    f"The {side} tooling hole is {offset:g} mm from the edge: it must be "
                    f"{PANEL_TOOLING_OFFSET_MM:g} ± {tol:g} mm.", field=key, value=offset,
                    expected=PANEL_TOOLING_OFFSET_MM))
    fiducial = _panel_number(entered, "fiducial_diameter_mm", problems)
    if fiducial == 0:
        problems.append(problem(
            "NO_FIDUCIALS", "error", f"No fiducials: the line needs {PANEL_FIDUCIAL_MM:g} mm "
            "fiducials set asymmetrically on the diagonal.", field="fiducial_diameter_mm",
            value=fiducial, expected=PANEL_FIDUCIAL_MM))
    elif fiducial is not None:
        if abs(fiducial - PANEL_FIDUCIAL_MM) > tol + 1e-9:
            problems.append(problem(
                "FIDUCIAL_SIZE", "error", f"Fiducials are {fiducial:g} mm: they must be "
                f"{PANEL_FIDUCIAL_MM:g} ± {tol:g} mm.", field="fiducial_diameter_mm",
                value=fiducial, expected=PANEL_FIDUCIAL_MM))
        ring = _panel_number(entered, "fiducial_clear_ring_mm", problems)
        if ring is not None and ring < PANEL_FIDUCIAL_CLEAR_MM - tol - 1e-9:
            problems.append(problem(
                "FIDUCIAL_CLEARANCE", "error", f"The clear ring around the fiducials is {ring:g} "
                f"mm: it must be at least {PANEL_FIDUCIAL_CLEAR_MM:g} mm.",
                field="fiducial_clear_ring_mm", value=ring, expected=PANEL_FIDUCIAL_CLEAR_MM))
        asym = entered.get("fiducials_asymmetric")
        if isinstance(asym, str):
            asym = {"true": True, "yes": True, "on": True, "1": True, "false": False,
                    "no": False, "off": False, "0": False}.get(asym.strip().lower(), asym)
        if asym is None:
            problems.append(problem("PANEL_VALUE_MISSING", "error",
                                    "fiducials_asymmetric is not entered.",
                                    field="fiducials_asymmetric"))
        elif asym is not True and asym is not False:
            problems.append(problem("PANEL_VALUE_INVALID", "error",
                                    f"fiducials_asymmetric is not yes/no: {asym!r}.",
                                    field="fiducials_asymmetric", value=asym))
        elif asym is False:
            problems.append(problem(
                "FIDUCIALS_SYMMETRIC", "error",
                "The fiducials are symmetric: set them asymmetrically on the diagonal so a board "
                "turned 180° is caught.", field="fiducials_asymmetric", value=False))
    return problems
