"""The factory's panel rule measured from the board's geometry, and judged with any overrides.

DESIGN.md's rule: 10 mm rails top and bottom, a 4 mm tooling hole left and right 5 mm from the
edges, 1 mm fiducials with a 3 mm clear ring set asymmetrically. The line carries a panel along its
long axis, so "top" and "bottom" are the long edges: a panel drawn taller than wide is turned a
quarter clockwise (the file's left edge becomes the top) before it is measured. The measuring is
our own code: gerbonara reads the files, but what a rail, a tooling hole or a fiducial is belongs to
the factory's rule, not to any Gerber library.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping

from station.errors import N_, Text
from station.readiness.datapackage.geometry import Geometry, Hole, Pad
from station.readiness.datapackage.problems import problem

PANEL_RAIL_MM = 10.0
PANEL_TOOLING_HOLE_MM = 4.0
PANEL_TOOLING_OFFSET_MM = 5.0
PANEL_FIDUCIAL_MM = 1.0
PANEL_FIDUCIAL_CLEAR_MM = 3.0
# Gerber and Excellon carry the designer's exact numbers, so a length is right within 0.1 mm: that
# absorbs the outline's stroke width, inch drills (5/32 in = 3.97 mm, 0.157 in = 3.99 mm) and the
# 4:4 coordinate formats, and no length of the panel rule asks for better than that.
PANEL_TOLERANCE_MM = 0.1
# A margin under 5 mm along a long edge is a board's own edge clearance (DFM guides keep parts
# 0.3-3 mm in), not a rail left for the conveyor: such an edge has no rail.
RAIL_PRESENT_MM = 5.0
# A fiducial is a bare round copper dot, 0.5-3 mm (IPC-7351, SMEMA), with no hole and a concentric
# mask opening at least 0.25 mm wider on every side; a pad's mask expansion is 0.05-0.1 mm.
FIDUCIAL_MIN_MM, FIDUCIAL_MAX_MM, FIDUCIAL_RING_MIN_MM = 0.5, 3.0, 0.25
CONCENTRIC_MM = 0.05  # centres the same CAD placed together
NAMED_MM = 0.5  # a centroid's fiducial and its copper dot: the same place, as the files round it
# A turned board whose fiducials land within 1 mm of where fiducials are expected is found by the
# placer's fiducial search window and accepted; an offset larger than that is caught.
SYMMETRY_MM = 1.0

# Values an engineer may override, as the old panel form named them. For the judgement, 0 means
# the feature was looked for and is absent, None that it was not measured.
VALUES = ("rails_top_mm", "rails_bottom_mm", "tooling_hole_diameter_mm",
          "tooling_hole_edge_offset_left_mm", "tooling_hole_edge_offset_right_mm",
          "fiducial_diameter_mm", "fiducial_clear_ring_mm", "fiducials_asymmetric")
CODES = frozenset({"NO_RAILS", "RAIL_TOO_NARROW", "RAIL_WIDER", "NO_TOOLING_HOLES",
                   "TOOLING_HOLE_SIZE", "TOOLING_HOLE_POSITION", "NO_FIDUCIALS", "FIDUCIAL_SIZE",
                   "FIDUCIAL_CLEARANCE", "FIDUCIALS_SYMMETRIC", "PANEL_NOT_MEASURED"})
# Translators: an edge of the panel, said inside the panel problems.
EDGES = {"top": N_("top edge"), "bottom": N_("bottom edge"), "left": N_("left edge"),
         "right": N_("right edge")}


class _Frame:
    """Panel coordinates: u along the long axis from the left edge, v across from the bottom."""

    def __init__(self, outline: tuple[float, float, float, float]):
        """The frame of an outline's extent."""
        self.min_x, self.min_y, self.max_x, self.max_y = outline
        self.turned = (self.max_y - self.min_y) > (self.max_x - self.min_x)
        width, height = self.max_x - self.min_x, self.max_y - self.min_y
        self.length, self.across = (height, width) if self.turned else (width, height)

    def at(self, x: float, y: float) -> tuple[float, float]:
        """A file point in panel coordinates."""
        if self.turned:
            return y - self.min_y, self.max_x - x
        return x - self.min_x, y - self.min_y

    def half_across(self, pad: Pad) -> float:
        """Half a flash's size across the long axis."""
        return (pad.width_mm if self.turned else pad.height_mm) / 2


def _near(ax: float, ay: float, bx: float, by: float, within: float) -> bool:
    """Two points within a distance."""
    return math.hypot(ax - bx, ay - by) <= within


def _fiducials(geometry: Geometry, named: list[tuple[float, float]] = ()
               ) -> list[tuple[Pad, dict]]:
    """Round copper dots without a hole inside a concentric, clearly wider mask opening, or at
    a fiducial the centroid names (FID1...).

    The clear ring is what the camera sees free of copper and mask around the dot: the solder
    mask's opening, or the keep-out a copper pour leaves around it, whichever is wider. A pour's
    keep-out alone does not make a dot a fiducial: the pour leaves one around round pads too.
    """
    found = []
    for side, pads in geometry.copper.items():
        openings = [m for m in geometry.mask.get(side, ()) if m.shape == "circle"]
        opened = len(openings)  # the mask's own; the pour's keep-outs follow
        openings += [c for c in geometry.clearances.get(side, ())
                     if abs(c.width_mm - c.height_mm) <= CONCENTRIC_MM]  # round keep-outs
        for pad in pads:
            size = pad.width_mm
            if pad.shape != "circle" or not FIDUCIAL_MIN_MM <= size <= FIDUCIAL_MAX_MM:
                continue
            if any(_near(h.x_mm, h.y_mm, pad.x_mm, pad.y_mm, size / 2) for h in geometry.holes):
                continue
            mask = max((m.width_mm for m in openings[:opened]
                        if _near(m.x_mm, m.y_mm, pad.x_mm, pad.y_mm, CONCENTRIC_MM)), default=0)
            clear = max((m.width_mm for m in openings
                         if _near(m.x_mm, m.y_mm, pad.x_mm, pad.y_mm, CONCENTRIC_MM)), default=0)
            if mask >= size + 2 * FIDUCIAL_RING_MIN_MM or \
                    any(_near(x, y, pad.x_mm, pad.y_mm, NAMED_MM) for x, y in named):
                found.append((pad, {"x_mm": round(pad.x_mm, 3), "y_mm": round(pad.y_mm, 3),
                                    "diameter_mm": round(size, 3), "clear_mm": round(clear, 3),
                                    "side": side}))
    return found


def _plated(hole: Hole, geometry: Geometry) -> bool:
    """Plated as the drill file says; unsaid, plated when a copper land surrounds it."""
    if hole.plated is not None:
        return hole.plated
    return any(p.width_mm > hole.diameter_mm and p.height_mm > hole.diameter_mm
               and _near(p.x_mm, p.y_mm, hole.x_mm, hole.y_mm, CONCENTRIC_MM)
               for pads in geometry.copper.values() for p in pads)


def _symmetric(points: list[tuple[float, float]], length: float, across: float) -> bool:
    """Whether the pattern maps onto itself turned 180° about the centre, or mirrored."""
    turns = (lambda u, v: (length - u, across - v), lambda u, v: (length - u, v),
             lambda u, v: (u, across - v))
    return any(all(any(_near(*turn(u, v), pu, pv, SYMMETRY_MM) for pu, pv in points)
                   for u, v in points) for turn in turns)


def _worst(values: list[float], wanted: float) -> float:
    """The value farthest from what the rule wants (0 when there is none)."""
    return max(values, key=lambda v: abs(v - wanted), default=0.0)


def _best(values: list[float], wanted: float) -> float:
    """The value closest to what the rule wants (0 when there is none)."""
    return min(values, key=lambda v: abs(v - wanted), default=0.0)


def measure_panel(geometry: Geometry, parts: Iterable[Mapping],
                  fiducial_refs: Iterable[str] = ()) -> tuple[dict, list[dict]]:
    """The panel measured from the geometry (parts: the centroid's {"ref", "x_mm", "y_mm"};
    fiducial_refs: the designators the centroid's fiducials have), judged."""
    parts, refs = list(parts), set(fiducial_refs)
    fiducials = _fiducials(geometry, [(p["x_mm"], p["y_mm"]) for p in parts
                                      if p.get("ref") in refs])
    fiducial_pads = {id(pad) for pad, _ in fiducials}
    panel: dict = {"size_mm": None, "rails_mm": None, "tooling_holes": [],
                   "fiducials": [f for _, f in fiducials]}
    if geometry.outline_mm is None:
        panel |= {"kind": None, "values": dict.fromkeys(VALUES)}
        return panel, [_problem("PANEL_NOT_MEASURED", "warning", N_(
            "The panel could not be measured: the files have no board outline."), None)]
    frame = _Frame(geometry.outline_mm)
    panel["size_mm"] = [round(frame.max_x - frame.min_x, 3), round(frame.max_y - frame.min_y, 3)]
    non_plated = [h for h in geometry.holes if not _plated(h, geometry)]
    spans = []  # the board features across the long axis: pads, plated holes, parts
    for pads in geometry.copper.values():
        for pad in pads:
            if id(pad) not in fiducial_pads:
                v = frame.at(pad.x_mm, pad.y_mm)[1]
                spans.append((v - frame.half_across(pad), v + frame.half_across(pad)))
    for hole in geometry.holes:
        if _plated(hole, geometry):
            v = frame.at(hole.x_mm, hole.y_mm)[1]
            spans.append((v - hole.diameter_mm / 2, v + hole.diameter_mm / 2))
    for part in parts:
        x, y = part["x_mm"], part["y_mm"]
        if not any(_near(x, y, f["x_mm"], f["y_mm"], f["clear_mm"] / 2) for _, f in fiducials) \
                and not any(_near(x, y, h.x_mm, h.y_mm, h.diameter_mm / 2) for h in non_plated):
            v = frame.at(x, y)[1]
            spans.append((v, v))
    values: dict = dict.fromkeys(VALUES)
    low = max(0.0, min((s[0] for s in spans), default=0.0))
    high = min(frame.across, max((s[1] for s in spans), default=frame.across))
    if spans:
        panel["rails_mm"] = {"top": round(frame.across - high, 3), "bottom": round(low, 3)}
        values["rails_top_mm"], values["rails_bottom_mm"] = (panel["rails_mm"]["top"],
                                                             panel["rails_mm"]["bottom"])
    edges: dict[str, list[float]] = {"left": [], "right": []}
    for hole in non_plated:
        u, v = frame.at(hole.x_mm, hole.y_mm)
        if spans and low <= v <= high:
            continue  # a hole among the boards' features is the board's own, not a tooling hole
        edge, offset = ("left", u) if u < frame.length / 2 else ("right", frame.length - u)
        edges[edge].append(round(offset, 3))
        panel["tooling_holes"].append({
            "x_mm": round(hole.x_mm, 3), "y_mm": round(hole.y_mm, 3),
            "diameter_mm": round(hole.diameter_mm, 3), "edge": edge, "edge_mm": round(offset, 3)})
    values["tooling_hole_diameter_mm"] = _worst(
        [h["diameter_mm"] for h in panel["tooling_holes"]], PANEL_TOOLING_HOLE_MM)
    if panel["tooling_holes"]:
        values["tooling_hole_edge_offset_left_mm"] = _best(edges["left"], PANEL_TOOLING_OFFSET_MM)
        values["tooling_hole_edge_offset_right_mm"] = _best(edges["right"],
                                                            PANEL_TOOLING_OFFSET_MM)
    found = panel["fiducials"]
    values["fiducial_diameter_mm"] = _worst([f["diameter_mm"] for f in found], PANEL_FIDUCIAL_MM)
    if found:
        values["fiducial_clear_ring_mm"] = min(f["clear_mm"] for f in found)
        values["fiducials_asymmetric"] = not any(
            _symmetric([frame.at(f["x_mm"], f["y_mm"]) for f in found if f["side"] == side],
                       frame.length, frame.across) for side in {f["side"] for f in found})
    rails = {"bottom": low, "top": frame.across - high}

    def in_rail(v: float) -> bool:  # outside the boards' features, in a margin wide as a rail
        return (v < low and rails["bottom"] >= RAIL_PRESENT_MM) or \
            (v > high and rails["top"] >= RAIL_PRESENT_MM)

    in_rails = spans and any(in_rail(frame.at(f["x_mm"], f["y_mm"])[1]) for f in found)
    panel["fiducials_in_rails"] = bool(in_rails)
    panel["values"] = values
    panel["kind"] = panel_kind(values, panel["fiducials_in_rails"])
    return panel, judge_panel(values, panel["kind"])


def panel_kind(values: Mapping, fiducials_in_rails: bool = False) -> str:
    """A panel made for the line (it has tooling holes or fiducials in its rails), or a single
    board."""
    # Margins alone do not tell: a single board with no parts near its edges has wide ones.
    if fiducials_in_rails or (values.get("tooling_hole_diameter_mm") or 0) > 0:
        return "panel"
    return "single_board"


def _problem(code: str, severity: str, msgid: str, field: str | None, **params) -> dict:
    """A panel problem: its sentence as a Text and as id and parameters (kept in the database)."""
    return problem(code, severity, Text(msgid, **params), rule="panel", field=field)


def judge_panel(values: Mapping, kind: str) -> list[dict]:
    """The panel rule over measured (or overridden) values: a panel errs, a single board warns.

    A single board gets warnings because the factory adds rails, tooling holes and fiducials when
    it panelises it; a panel made for the line must have them right.
    """
    bad = "error" if kind == "panel" else "warning"
    tol = PANEL_TOLERANCE_MM
    problems: list[dict] = []
    for key, edge in (("rails_top_mm", "top"), ("rails_bottom_mm", "bottom")):
        rail = values.get(key)
        if rail is None:
            continue
        # A single board's margins are no rails: it has none until the factory panelises it.
        if rail < RAIL_PRESENT_MM or (kind != "panel" and rail < PANEL_RAIL_MM - tol):
            problems.append(_problem("NO_RAILS", bad, N_(
                "No rail along the {edge}: {measured:g} mm between the edge and the nearest board "
                "feature; the line needs {required:g} mm rails top and bottom."), key,
                edge=EDGES[edge], measured=rail, required=PANEL_RAIL_MM))
        elif rail < PANEL_RAIL_MM - tol:
            problems.append(_problem("RAIL_TOO_NARROW", bad, N_(
                "The rail along the {edge} is {measured:g} mm: it must be {required:g} mm."), key,
                edge=EDGES[edge], measured=rail, required=PANEL_RAIL_MM))
        elif rail > PANEL_RAIL_MM + tol:
            problems.append(_problem("RAIL_WIDER", "info", N_(
                "The rail along the {edge} is {measured:g} mm, wider than the {required:g} mm "
                "standard (fine for the line, costs board)."), key, edge=EDGES[edge], measured=rail,
                required=PANEL_RAIL_MM))
    problems += _tooling_problems(values, bad)
    problems += _fiducial_problems(values, bad)
    return problems


# The sized features: value, size wanted, (code, sentence) when absent and when of another size.
_HOLES = ("tooling_hole_diameter_mm", PANEL_TOOLING_HOLE_MM, ("NO_TOOLING_HOLES", N_(
    "No tooling holes: the line needs {required:g} mm holes left and right, {offset:g} mm from "
    "the edges.")), ("TOOLING_HOLE_SIZE", N_(
    "A tooling hole is {measured:g} mm: they must be {required:g} ± {tolerance:g} mm.")))
_DOTS = ("fiducial_diameter_mm", PANEL_FIDUCIAL_MM, ("NO_FIDUCIALS", N_(
    "No fiducials: the line needs {required:g} mm fiducials with a {clear:g} mm clear ring, set "
    "asymmetrically on the diagonal.")), ("FIDUCIAL_SIZE", N_(
    "A fiducial is {measured:g} mm: they must be {required:g} ± {tolerance:g} mm.")))


def _sized(values: Mapping, bad: str, feature: tuple, **absent_params) -> list[dict]:
    """One sized feature's problems: absent (0), or not the size the rule wants."""
    key, required, absent, wrong = feature
    size = values.get(key)
    if size == 0:
        return [_problem(absent[0], bad, absent[1], key, measured=0, required=required,
                         **absent_params)]
    if size is not None and abs(size - required) > PANEL_TOLERANCE_MM + 1e-9:
        return [_problem(wrong[0], bad, wrong[1], key, measured=size, required=required,
                         tolerance=PANEL_TOLERANCE_MM)]
    return []


def _tooling_problems(values: Mapping, bad: str) -> list[dict]:
    """Tooling holes: present, 4 mm, one left and one right 5 mm from the edge."""
    tol = PANEL_TOLERANCE_MM
    problems = _sized(values, bad, _HOLES, offset=PANEL_TOOLING_OFFSET_MM)
    if values.get("tooling_hole_diameter_mm") == 0:
        return problems
    for edge in ("left", "right"):
        key = f"tooling_hole_edge_offset_{edge}_mm"
        offset = values.get(key)
        if offset == 0:
            problems.append(_problem("NO_TOOLING_HOLES", bad, N_(
                "No tooling hole near the {edge}: the line needs one {offset:g} mm from the edge."),
                key, edge=EDGES[edge], measured=0, offset=PANEL_TOOLING_OFFSET_MM))
        elif offset is not None and abs(offset - PANEL_TOOLING_OFFSET_MM) > tol + 1e-9:
            problems.append(_problem("TOOLING_HOLE_POSITION", bad, N_(
                "The tooling hole near the {edge} is {measured:g} mm from it: it must be "
                "{required:g} ± {tolerance:g} mm."), key, edge=EDGES[edge], measured=offset,
                required=PANEL_TOOLING_OFFSET_MM, tolerance=tol))
    return problems


def _fiducial_problems(values: Mapping, bad: str) -> list[dict]:
    """Fiducials: present, 1 mm, a 3 mm clear ring, set asymmetrically."""
    tol = PANEL_TOLERANCE_MM
    problems = _sized(values, bad, _DOTS, clear=PANEL_FIDUCIAL_CLEAR_MM)
    if values.get("fiducial_diameter_mm") == 0:
        return problems
    ring = values.get("fiducial_clear_ring_mm")
    if ring is not None and ring < PANEL_FIDUCIAL_CLEAR_MM - tol - 1e-9:
        problems.append(_problem("FIDUCIAL_CLEARANCE", bad, N_(
            "The clear ring around a fiducial is {measured:g} mm: it must be at least "
            "{required:g} mm."), "fiducial_clear_ring_mm", measured=ring,
            required=PANEL_FIDUCIAL_CLEAR_MM))
    if values.get("fiducials_asymmetric") is False:
        problems.append(_problem("FIDUCIALS_SYMMETRIC", bad, N_(
            "The fiducials are symmetric: turned 180° or mirrored they land within {within:g} mm "
            "of each other, so a board loaded the wrong way round is accepted; move one."),
            "fiducials_asymmetric", measured=False, within=SYMMETRY_MM))
    return problems


def apply_overrides(panel: Mapping | None, overrides: Mapping[str, Mapping]) -> list[dict]:
    """The panel problems once the engineer's overrides replace the measured values."""
    panel = panel or {}
    values = {**dict.fromkeys(VALUES), **(panel.get("values") or {})}
    values.update({key: o["entered"] for key, o in overrides.items()})
    # An engineer who enters a rail's width says the panel has rails.
    kind = "panel" if {"rails_top_mm", "rails_bottom_mm"} & set(overrides) else \
        panel_kind(values, bool(panel.get("fiducials_in_rails")))
    problems = judge_panel(values, kind)
    for p in problems:
        if p["field"] in overrides:
            p["overridden"] = True
    return problems
