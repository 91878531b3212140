"""The board's geometry from its Gerber and Excellon files, read by gerbonara, in millimetres.

gerbonara parses the files (formats, units, zero suppression, arcs, apertures, macros); what stays
here is which holes are plated, because gerbonara knows only Altium's ``;TYPE=PLATED`` comment:
the X2 drill attributes (``TF.FileFunction,Plated|NonPlated``, and per tool
``TA.AperFunction,Plated|NonPlated`` as KiCad writes them) and the file names (Altium
``-Plated``/``-NonPlated``, KiCad ``-PTH``/``-NPTH``) are read by hand-written rules below.

Coordinates are the Gerber files' own. The centroid file's frame is the same in most packages
(Altium, KiCad, JLCPCB exports share the origin); parts.py fits the centroid to this frame where
it is not (Eagle's board origin, a centroid in mil or inch) and reports the shift it used.
"""

from __future__ import annotations

import math
import re
import warnings
from dataclasses import dataclass, field
from pathlib import PurePosixPath

from gerbonara.apertures import (
    CircleAperture,
    ObroundAperture,
    PolygonAperture,
    RectangleAperture,
)
from gerbonara.excellon import ExcellonFile, ExcellonParser
from gerbonara.graphic_objects import Arc, Flash, Line, Region
from gerbonara.rs274x import GerberFile
from gerbonara.utils import MM

from station.errors import N_, Text
from station.readiness.datapackage.gerber import is_gerber
from station.readiness.datapackage.problems import problem, size_text


@dataclass(frozen=True)
class Hole:
    """One drill hit (or the middle of a routed slot), in mm."""

    x_mm: float
    y_mm: float
    diameter_mm: float
    plated: bool | None


@dataclass(frozen=True)
class Pad:
    """One flash on copper or solder mask: where, its aperture's shape and size, in mm."""

    x_mm: float
    y_mm: float
    shape: str  # "circle", "rect", "obround", "polygon", "other"
    width_mm: float
    height_mm: float


@dataclass(frozen=True)
class Geometry:
    """What the fabrication files say about the board, in mm."""

    outline_mm: tuple[float, float, float, float] | None  # min_x, min_y, max_x, max_y
    holes: tuple[Hole, ...]  # every drill hit, plated and not, from all drill files
    copper: dict[str, tuple[Pad, ...]]  # "top"/"bottom" outer copper flashes
    mask: dict[str, tuple[Pad, ...]]  # "top"/"bottom" solder-mask openings (flashes)
    copper_extent_mm: dict[str, tuple[float, float, float, float]]  # bounds of all copper
    # "top"/"bottom" keep-outs a copper pour leaves around round dots (fiducials): clear
    # flashes and regions as their bounding boxes, and holes cut into a pour as circles
    clearances: dict[str, tuple[Pad, ...]] = field(default_factory=dict)


MAX_GEOMETRY_BYTES = 20 * 1024 * 1024  # a layer larger than this is not parsed (parse time)

_SHAPES = ((CircleAperture, "circle"), (RectangleAperture, "rect"), (ObroundAperture, "obround"),
           (PolygonAperture, "polygon"))
# Per-tool X2 attribute before a tool's definition (KiCad: "; #@! TA.AperFunction,Plated,PTH,..").
_TOOL_ATTRIBUTE = re.compile(r"TA\.AperFunction,\s*(Plated|NonPlated)", re.I)
_TOOL_DEFINITION = re.compile(r"^T0*(\d+)[^\r\n]*?C[-+]?[\d.]", re.I)
_FILE_FUNCTION = re.compile(r"TF\.FileFunction,\s*(Plated|NonPlated|MixedPlating)", re.I)
_NONPLATED_NAME = re.compile(r"(?<![a-z])(npth|non[-_ ]?plated|unplated)(?![a-z])")
_PLATED_NAME = re.compile(r"(?<![a-z])(pth|plated)(?![a-z])")


def _name_plating(name: str) -> bool | None:
    """Plated or not from a drill file's name: Altium -Plated/-NonPlated, KiCad -PTH/-NPTH."""
    stem = PurePosixPath(name.replace("\\", "/")).name.lower()
    if _NONPLATED_NAME.search(stem):
        return False
    if _PLATED_NAME.search(stem):
        return True
    return None


def _file_plating(text: str, function: str | None, name: str) -> bool | None:
    """Plating of a whole drill file: its X2 FileFunction, else its name, else unknown."""
    found = _FILE_FUNCTION.search(function or "") or _FILE_FUNCTION.search(text[:65536])
    if found:
        kind = found.group(1).lower()
        return True if kind == "plated" else False if kind == "nonplated" else None
    return _name_plating(name)


def _tool_platings(text: str) -> dict[int, bool]:
    """Tool number -> plated, from the per-tool X2 attribute comment before each definition."""
    out, pending = {}, None
    for line in text.splitlines()[:5000]:
        s = line.strip()
        attr = _TOOL_ATTRIBUTE.search(s) if s.startswith(";") else None
        if attr:
            pending = attr.group(1).lower() == "plated"
            continue
        tool = _TOOL_DEFINITION.match(s)
        if tool and pending is not None:
            out[int(tool.group(1))] = pending
            pending = None
        if s.upper() in ("%", "M95"):
            break  # end of the header
    return out


def _excellon_holes(text: str, name: str, function: str | None) -> list[Hole]:
    """Holes of an Excellon file: hits and slot middles, with their plating."""
    parser = ExcellonParser()
    parser.do_parse(text, filename=name)
    drill = ExcellonFile(objects=parser.objects, import_settings=parser.settings)
    by_tool = {id(tool): number for number, tool in parser.tools.items()}
    per_tool = _tool_platings(text)
    whole = _file_plating(text, function, name)
    holes = []
    for obj in drill.objects:
        tool = obj.tool
        plated = tool.plated
        if plated is None:
            plated = per_tool.get(by_tool.get(id(tool), -1), whole)
        diameter = tool.equivalent_width(MM)
        if isinstance(obj, Flash):
            x, y = MM(obj.x, obj.unit), MM(obj.y, obj.unit)
        else:  # a routed slot: its middle stands for it
            x, y = MM((obj.x1 + obj.x2) / 2, obj.unit), MM((obj.y1 + obj.y2) / 2, obj.unit)
        holes.append(Hole(round(x, 4), round(y, 4), round(diameter, 4), plated))
    return holes


def _pad(flash: Flash) -> Pad:
    """A flash as a pad: centre, shape and aperture size in mm."""
    aperture = flash.aperture
    shape = next((label for kind, label in _SHAPES if isinstance(aperture, kind)), "other")
    (x0, y0), (x1, y1) = aperture.bounding_box(MM)
    return Pad(round(MM(flash.x, flash.unit), 4), round(MM(flash.y, flash.unit), 4), shape,
               round(x1 - x0, 4), round(y1 - y0, 4))


def _box_pad(box) -> Pad:
    """A bounding box ((x0, y0), (x1, y1)) as a Pad of shape "other"."""
    (x0, y0), (x1, y1) = box
    return Pad((x0 + x1) / 2, (y0 + y1) / 2, "other", x1 - x0, y1 - y0)


DOT_MM = (0.5, 3.0)  # round dots this size may be fiducials: their pour keep-outs are measured


def _pour_holes(layer: GerberFile, pads: tuple[Pad, ...]) -> tuple[Pad, ...]:
    """The hole a copper pour leaves around each round dot inside its outline, as a circle."""
    dots = [p for p in pads if p.shape == "circle" and DOT_MM[0] <= p.width_mm <= DOT_MM[1]]
    found = []
    for region in (o for o in layer.objects if isinstance(o, Region) and o.polarity_dark):
        (x0, y0), (x1, y1) = region.bounding_box(MM)
        inside = [d for d in dots if x0 < d.x_mm < x1 and y0 < d.y_mm < y1]
        if not inside:
            continue
        k = MM.convert_from(region.unit, 1.0) if region.unit else 1.0
        points = [(x * k, y * k) for x, y in region.outline]
        edges = list(zip(points, points[1:] + points[:1], strict=True))
        for d in inside:
            if not _in_polygon(d.x_mm, d.y_mm, edges):  # in a hole of the pour
                r = min(_to_segment(d.x_mm, d.y_mm, a, b) for a, b in edges)
                found.append(Pad(d.x_mm, d.y_mm, "circle", 2 * r, 2 * r))
    return tuple(found)


def _in_polygon(x: float, y: float, edges) -> bool:
    """Even-odd rule: a pour's cut-outs (its outline runs around them too) are outside."""
    inside = False
    for (ax, ay), (bx, by) in edges:
        if (ay > y) != (by > y) and x < ax + (y - ay) * (bx - ax) / (by - ay):
            inside = not inside
    return inside


def _to_segment(x: float, y: float, a, b) -> float:
    """The distance from a point to the segment a-b."""
    (ax, ay), (bx, by) = a, b
    dx, dy = bx - ax, by - ay
    t = 0.0 if dx == dy == 0 else max(0.0, min(1.0, ((x - ax) * dx + (y - ay) * dy)
                                                  / (dx * dx + dy * dy)))
    return math.hypot(x - ax - t * dx, y - ay - t * dy)


def _gerber(text: str, name: str) -> GerberFile:
    """A Gerber file parsed by gerbonara."""
    return GerberFile.from_string(text, filename=name)


def _gerber_holes(layer: GerberFile, name: str, function: str | None) -> list[Hole]:
    """Holes of a drill file written as Gerber (X2 Plated/NonPlated): its flashes."""
    plated = _file_plating("", function, name)
    return [Hole(p.x_mm, p.y_mm, round(min(p.width_mm, p.height_mm), 4), plated)
            for p in (_pad(o) for o in layer.objects if isinstance(o, Flash))]


def _bounds(boxes) -> tuple[float, float, float, float] | None:
    """The box around ((x0, y0), (x1, y1)) boxes, as (min_x, min_y, max_x, max_y)."""
    boxes = list(boxes)
    if not boxes:
        return None
    return (round(min(b[0][0] for b in boxes), 4), round(min(b[0][1] for b in boxes), 4),
            round(max(b[1][0] for b in boxes), 4), round(max(b[1][1] for b in boxes), 4))


def _centre_line_box(obj):
    """An outline object's extent along its drawn centre line (the board edge)."""
    (x0, y0), (x1, y1) = obj.bounding_box(MM)
    if isinstance(obj, Line | Arc) and obj.aperture is not None:
        try:
            half = obj.aperture.equivalent_width(MM) / 2
        except ValueError:  # a non-circular aperture drawing: no defined width
            half = 0.0
        return (x0 + half, y0 + half), (x1 - half, y1 - half)
    return (x0, y0), (x1, y1)


def _outline(layer: GerberFile) -> tuple[float, float, float, float] | None:
    """The outline's extent: drawn lines, arcs and regions, without the line width."""
    box = _bounds(_centre_line_box(o) for o in layer.objects
                  if isinstance(o, Line | Arc | Region) and o.polarity_dark)
    if box and box[2] > box[0] and box[3] > box[1]:
        return box
    return None


def read_geometry(files) -> tuple[Geometry, list[dict]]:
    """The geometry of the identified layer files; a file that cannot be read is a problem."""
    problems: list[dict] = []
    outline = None
    holes: list[Hole] = []
    copper: dict[str, tuple[Pad, ...]] = {}
    mask: dict[str, tuple[Pad, ...]] = {}
    extent: dict[str, tuple[float, float, float, float]] = {}
    clear: dict[str, tuple[Pad, ...]] = {}
    wanted = [f for f in files if f.layer == "drill" or f.layer == "outline"
              or (f.layer in ("copper", "soldermask") and f.side in ("top", "bottom"))]
    wanted.sort(key=lambda f: (f.layer != "outline" or f.how != "X2"))
    for f in wanted:
        if len(f.data) > MAX_GEOMETRY_BYTES:
            problems.append(problem(
                "LAYER_NOT_MEASURED", "info",
                Text(N_("{file} is larger than {size}: its holes and pads are not checked."),
                     file=f.name, size=size_text(MAX_GEOMETRY_BYTES)),
                file="gerber", name=f.name))
            continue
        text = f.data.decode("latin-1")
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # gerbonara warns on every oddity it forgives
                if f.layer == "drill" and not is_gerber(f.data):
                    holes.extend(_excellon_holes(text, f.name, f.function))
                    continue
                layer = _gerber(text, f.name)
        except Exception as exc:  # gerbonara raises many kinds on a broken file
            problems.append(problem(
                "UNREADABLE_LAYER", "warning",
                Text(N_("{file} cannot be read as {kind} ({error}): its holes and pads are "
                        "not checked."), file=f.name,
                     kind="Excellon" if f.layer == "drill" else "Gerber",
                     error=str(exc)[:200]),
                file="gerber", name=f.name))
            continue
        if f.layer == "drill":
            holes.extend(_gerber_holes(layer, f.name, f.function))
        elif f.layer == "outline":
            outline = outline or _outline(layer)
        elif f.layer == "copper":
            pads = tuple(_pad(o) for o in layer.objects
                         if isinstance(o, Flash) and o.polarity_dark)
            copper[f.side] = copper.get(f.side, ()) + pads
            cut = tuple(_box_pad(o.bounding_box(MM)) for o in layer.objects
                        if isinstance(o, Flash | Region) and not o.polarity_dark)
            clear[f.side] = clear.get(f.side, ()) + cut + _pour_holes(layer, pads)
            box = _bounds(o.bounding_box(MM) for o in layer.objects if o.polarity_dark)
            if box:
                old = extent.get(f.side)
                extent[f.side] = box if old is None else (
                    min(old[0], box[0]), min(old[1], box[1]), max(old[2], box[2]),
                    max(old[3], box[3]))
        else:
            pads = tuple(_pad(o) for o in layer.objects if isinstance(o, Flash))
            mask[f.side] = mask.get(f.side, ()) + pads
    return Geometry(outline, tuple(holes), copper, mask, extent, clear), problems

