"""Through-hole parts told from the drill file: plated holes in copper pads under a part.

A component lead goes through a plated hole that sits in a copper pad ring on the outer layers.
Vias are plated holes too, but too small for a lead (a lead hole is the lead plus clearance:
0.5 mm and up); a via in an SMD pad, or a via array in a QFN's thermal pad, is therefore no pin.
Pin holes of one drill size that follow each other closely are one part's pins; the group goes to
the part nearest its middle among those whose centroid lies within its extent (parts whose
centroids lie among the pins themselves, side by side, split it, each hole to the nearest). A
part is through-hole when its centroid lies within the extent of its pin holes' pads, grown by
one pad (a footprint reaches at least a pad beyond its outer pins: a header, a DIP, a resistor
between its leads, a right-angle header whose centroid is just off its pin row), or on a pin
(KiCad puts a header's origin on pin 1). A group no centroid lies in belongs to no part (a
mounting hole, a shield tab); so a part whose pins or board locks lie far off its centroid (a
right-angle header's body middle) is missed, and a group whose own part is missing from the
centroid file may be taken by a neighbour: either way the contradiction with the part's words
is reported.

The centroid's frame is fitted to the Gerber's: the coordinate unit (mm, mil, inch) when the
file does not say it, and the origin (shared; the board's lower-left corner, as Eagle's board
coordinates are; the board's middle), chosen as the one that brings the parts closest to the
copper pads. Hand-written: no library of the field matches placements to pads.
"""

from __future__ import annotations

import math

from station.readiness.datapackage.geometry import Geometry, Hole, Pad

MIN_LEAD_HOLE_MM = 0.5  # below this a plated hole takes no component lead: a via
RING_TOLERANCE_MM = 0.05  # a pad ring is centred on its hole within this
LINK_MM = 3.0  # pin holes this close (a 2.54 mm row) are one part's, ...
LINK_PADS = 2.5  # ... and so are big pads (XT60, terminal blocks) within this many pad sizes
FIT_CAP_MM = 5.0  # a part further than this from every pad counts this much in the fit
UNITS_MM = {"mm": 1.0, "mil": 0.0254, "inch": 25.4}


class _Grid:
    """Points in square cells, for nearest-point look-ups without a library."""

    def __init__(self, points, cell: float):
        """Index the (x, y, item) points by cell."""
        self.cell = cell
        self.cells: dict[tuple[int, int], list] = {}
        for x, y, item in points:
            self.cells.setdefault(self._key(x, y), []).append((x, y, item))

    def _key(self, x: float, y: float) -> tuple[int, int]:
        """The cell of a point."""
        return math.floor(x / self.cell), math.floor(y / self.cell)

    def near(self, x: float, y: float, reach: float):
        """The points within `reach` of (x, y), as (distance, item)."""
        cx, cy = self._key(x, y)
        n = math.ceil(reach / self.cell)
        for i in range(cx - n, cx + n + 1):
            for j in range(cy - n, cy + n + 1):
                for px, py, item in self.cells.get((i, j), ()):
                    d = math.hypot(px - x, py - y)
                    if d <= reach:
                        yield d, item


def _ring(hole: Hole, pads: _Grid) -> Pad | None:
    """The copper pad ring centred on a hole and larger than it, if there is one."""
    for _, pad in pads.near(hole.x_mm, hole.y_mm, RING_TOLERANCE_MM):
        if min(pad.width_mm, pad.height_mm) > hole.diameter_mm:
            return pad
    return None


def pin_holes(geometry: Geometry) -> list[tuple[Hole, Pad]]:
    """Holes a lead can go through: plated (or of unknown plating) in a pad ring on outer copper."""
    copper = [p for side in ("top", "bottom") for p in geometry.copper.get(side, ())]
    pads = _Grid(((p.x_mm, p.y_mm, p) for p in copper), 2.0)
    out = []
    for hole in geometry.holes:
        if hole.plated is False or hole.diameter_mm < MIN_LEAD_HOLE_MM:
            continue
        ring = _ring(hole, pads)
        if ring is not None:  # an unplated-looking hole with no ring is a tooling or NPTH hole
            out.append((hole, ring))
    return out


def _score(points: list[tuple[float, float]], pads: _Grid,
           box: tuple[float, float, float, float] | None) -> float:
    """Mean distance from the placed points to their nearest pad (capped): lower fits better.

    A reading that puts parts off the board, or heaps them in a corner of it (a centroid in
    inch read as mil), does not fit at all."""
    if box and len(points) >= 5:
        inside = sum(1 for x, y in points
                     if box[0] - 1 <= x <= box[2] + 1 and box[1] - 1 <= y <= box[3] + 1)
        xs, ys = [p[0] for p in points], [p[1] for p in points]
        spread = max(max(xs) - min(xs), max(ys) - min(ys))
        if inside < 0.8 * len(points) or spread < 0.25 * max(box[2] - box[0], box[3] - box[1]):
            return math.inf
    total = 0.0
    for x, y in points:
        total += min((d for d, _ in pads.near(x, y, FIT_CAP_MM)), default=FIT_CAP_MM)
    return total / len(points)


def fit_frame(raw: dict[str, tuple[float, float]], unit: str | None,
              geometry: Geometry) -> dict | None:
    """How centroid numbers map onto the Gerber: {"unit", "offset_mm", "how", "fit_mm"}."""
    pads_list = [p for side in ("top", "bottom") for p in geometry.copper.get(side, ())]
    pads_list += [p for side in ("top", "bottom") for p in geometry.mask.get(side, ())]
    if not raw or not pads_list:
        return None
    pads = _Grid(((p.x_mm, p.y_mm, p) for p in pads_list), FIT_CAP_MM)
    sample = list(raw.values())[:400]
    box = geometry.outline_mm
    origins = [(0.0, 0.0)]
    if box:
        origins += [(box[0], box[1]), ((box[0] + box[2]) / 2, (box[1] + box[3]) / 2)]
    units = [unit] if unit else list(UNITS_MM)
    best = None
    for u in units:
        scale = UNITS_MM[u]
        for dx, dy in origins:
            score = _score([(x * scale + dx, y * scale + dy) for x, y in sample], pads, box)
            if best is None or score < best[0] - 1e-9:
                best = (score, u, dx, dy)
    declared = _score([(x * UNITS_MM[unit or "mm"], y * UNITS_MM[unit or "mm"])
                       for x, y in sample], pads, box)
    score, u, dx, dy = best
    if math.isinf(score):
        return None  # no reading puts the parts on the board
    if (u, dx, dy) != (unit or "mm", 0.0, 0.0) and score > declared / 2:
        score, u, dx, dy = declared, unit or "mm", 0.0, 0.0  # not clearly better: as written
    how = "as written" if (dx, dy) == (0.0, 0.0) and (unit or u == "mm") else "fitted"
    return {"unit": u, "offset_mm": [round(dx, 3), round(dy, 3)], "how": how,
            "fit_mm": round(score, 3)}


def placed_mm(raw: dict[str, tuple[float, float]], frame: dict) -> dict[str, tuple[float, float]]:
    """Centroid positions in the Gerber's frame, in mm."""
    scale = UNITS_MM[frame["unit"]]
    dx, dy = frame["offset_mm"]
    return {k: (x * scale + dx, y * scale + dy) for k, (x, y) in raw.items()}


def _clusters(pins: list[tuple[Hole, Pad]]) -> list[list[tuple[Hole, Pad]]]:
    """Pin holes grouped as one part's pins: same drill, each within a few pads of the next."""
    grid = _Grid(((h.x_mm, h.y_mm, i) for i, (h, _) in enumerate(pins)), LINK_MM)
    parent = list(range(len(pins)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i, (hole, ring) in enumerate(pins):
        reach = max(LINK_MM, LINK_PADS * max(ring.width_mm, ring.height_mm))
        for _, j in grid.near(hole.x_mm, hole.y_mm, reach):
            if abs(pins[j][0].diameter_mm - hole.diameter_mm) < 0.05:
                parent[root(i)] = root(j)
    groups: dict[int, list[tuple[Hole, Pad]]] = {}
    for i, pin in enumerate(pins):
        groups.setdefault(root(i), []).append(pin)
    return list(groups.values())


def _extent(pins: list[tuple[Hole, Pad]], grow: bool = True) -> tuple[float, float, float, float]:
    """The box of the pins' pads grown by one pad: where the footprint's centroid may be."""
    grow = max(max(r.width_mm, r.height_mm) for _, r in pins) if grow else 0.0
    return (min(h.x_mm - r.width_mm / 2 for h, r in pins) - grow,
            min(h.y_mm - r.height_mm / 2 for h, r in pins) - grow,
            max(h.x_mm + r.width_mm / 2 for h, r in pins) + grow,
            max(h.y_mm + r.height_mm / 2 for h, r in pins) + grow)


def _within(x: float, y: float, box: tuple[float, float, float, float]) -> bool:
    """Whether a point lies in a box."""
    return box[0] <= x <= box[2] and box[1] <= y <= box[3]


def drilled_parts(placed: dict[str, tuple[float, float]], geometry: Geometry) -> dict[str, int]:
    """Parts with pin holes under them -> how many pin holes; the rest are surface-mount."""
    if not placed:
        return {}
    centroids = _Grid(((x, y, key) for key, (x, y) in placed.items()), 5.0)
    owned: dict[str, list[tuple[Hole, Pad]]] = {}
    for cluster in _clusters(pin_holes(geometry)):
        box = _extent(cluster)
        reach = math.hypot(box[2] - box[0], box[3] - box[1]) / 2
        mx = sum(h.x_mm for h, _ in cluster) / len(cluster)
        my = sum(h.y_mm for h, _ in cluster) / len(cluster)
        inside = [key for _, key in centroids.near(mx, my, reach) if _within(*placed[key], box)]
        if not inside:  # no part's footprint reaches it: a mounting or shield hole
            continue
        tight = _extent(cluster, grow=False)
        sharing = [key for key in inside if _within(*placed[key], tight)]
        if len(sharing) < 2:  # the group is one part's: the one nearest its middle
            sharing = [min(inside, key=lambda k: math.hypot(placed[k][0] - mx,
                                                             placed[k][1] - my))]
        for hole, ring in cluster:  # parts side by side in one group: each hole to the nearest
            key = min(sharing, key=lambda k: math.hypot(placed[k][0] - hole.x_mm,
                                                         placed[k][1] - hole.y_mm))
            owned.setdefault(key, []).append((hole, ring))
    out = {}
    for key, pins in owned.items():
        x, y = placed[key]
        on_pin = any(math.hypot(h.x_mm - x, h.y_mm - y) <= max(r.width_mm, r.height_mm) / 2
                     for h, r in pins)
        if on_pin or (len(pins) >= 2 and _within(x, y, _extent(pins))):
            out[key] = len(pins)
    return out
