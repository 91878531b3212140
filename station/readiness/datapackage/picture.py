"""A picture of the board: one side rendered from its Gerber layers, with the parts marked.

Pure: bytes in, SVG text out; no Flask, no database. gerbonara draws the layers
(LayerStack.to_pretty_svg; the bottom mirrored, as seen from below). The stack is built from the
files layers.py identified, not by gerbonara's LayerStack.open: that one finds files by name only,
misses Altium's .GM outline and .TXT drill files, refuses ambiguous names, and unpacks the zip to
a temporary folder outside layers.py's zip limits.

Hand-written here, because no library does it: the overlay (each part's centroid marked SMT or
DIP with its designator, fiducials and tooling holes ringed, rails shaded, from the stored report
and the centroid file), and the pass that makes the SVG safe to inline in a page (elements and
attributes from a list, references only inside the picture, ids prefixed by the side so the two
pictures of one page do not share ids). The pass parses gerbonara's output with the standard
library's ElementTree and writes it back with ElementTree, which escapes every text.
"""

from __future__ import annotations

import re
import warnings
import xml.etree.ElementTree as ET

from gerbonara import ExcellonFile, GerberFile, LayerStack
from gerbonara.utils import MM

from station.readiness.datapackage.layers import check_layers

PICTURE_VERSION = 1  # part of the cache key: a new drawing is not served from an old cache
SIDES = ("top", "bottom")
SVG_NS = "http://www.w3.org/2000/svg"
XLINK_NS = "http://www.w3.org/1999/xlink"
COLOURS = {"smt": "#1e88e5", "dip": "#e53935", "fiducial": "#fdd835", "tooling": "#fb8c00",
           "rail": "#8e24aa"}
MARK_MM = 0.6  # radius of a part's centroid mark

# The bare board as made: copper, mask, legend, holes. Paste is the stencil's, not the board's.
_USES = {"copper": "copper", "soldermask": "mask", "silkscreen": "silk"}
_ALLOWED = {"svg", "g", "path", "circle", "ellipse", "rect", "line", "polyline", "polygon",
            "use", "defs", "filter", "feFlood", "feBlend", "feColorMatrix", "feComposite",
            "title", "desc"}
_LOCAL_REF = re.compile(r"url\(#([^)]*)\)")
_NUMBER = re.compile(r"^\s*([-+]?(?:\d+(?:[.,]\d*)?|[.,]\d+)(?:e[-+]?\d+)?)\s*([a-z]*)\s*$", re.I)
_UNIT_MM = {"mm": 1.0, "mil": 0.0254, "mils": 0.0254, "in": 25.4, "inch": 25.4, "": None}

# gerbonara warns on every odd line of a customer's file (one warning each, thousands for some
# Eagle outlines); the report's problems say what matters, so its warnings stay out of the log.
warnings.filterwarnings("ignore", module=r"gerbonara\.")
ET.register_namespace("", SVG_NS)
ET.register_namespace("xlink", XLINK_NS)


def _q(name: str) -> str:
    """An SVG element's qualified name for ElementTree."""
    return f"{{{SVG_NS}}}{name}"


def _layer_key(f) -> tuple[str, str] | None:
    """The gerbonara (side, use) of an identified file, for the outer layers a picture needs."""
    if f.layer == "outline":
        return "mechanical", "outline"
    if f.layer in _USES and f.side in SIDES:
        return f.side, _USES[f.layer]
    return None


def _parse(f, drill: bool):
    """One layer file read by gerbonara, or None when gerbonara cannot read it."""
    text = f.data.decode("latin-1")
    try:
        if drill and not text.lstrip().startswith("%"):
            return ExcellonFile.from_string(text, filename=f.name)
        return GerberFile.from_string(text, filename=f.name)
    except Exception:  # a file gerbonara cannot read leaves its layer out of the picture
        return None


def board_stack(files, side: str) -> tuple[LayerStack, list[str]]:
    """A gerbonara LayerStack of one side's outer layers, the outline and the drills."""
    layers: dict[tuple[str, str], GerberFile] = {}
    drills, unread = [], []
    # X2-identified files first: when two files claim a layer, the attribute beats the name.
    for f in sorted(files, key=lambda f: f.how != "X2"):
        key = _layer_key(f)
        wanted = f.layer == "drill" or (key and key[0] in (side, "mechanical"))
        if not wanted or key in layers:
            continue
        parsed = _parse(f, f.layer == "drill")
        if parsed is None:
            unread.append(f.name)
        elif f.layer == "drill":
            drills.append(parsed)
        else:
            layers[key] = parsed
    for use in ("copper", "mask", "silk", "paste"):
        layers.setdefault((side, use), GerberFile())  # gerbonara warns on a missing layer
    return LayerStack(layers, drill_layers=drills, board_name="board"), unread


def _part_sides(report: dict) -> list[tuple[str, str, str]]:
    """(designator, kind smt|dip, side) of every placed part the report counted."""
    placement = report.get("placement") or {}
    parts = [(r, "smt", "top") for r in placement.get("smt_top", [])]
    parts += [(r, "smt", "bottom") for r in placement.get("smt_bottom", [])]
    parts += [(str(d.get("ref")), "dip", d.get("side") or "top")
              for d in report.get("dip_parts") or [] if isinstance(d, dict) and d.get("ref")]
    return parts


def _sanitise(element: ET.Element, prefix: str) -> None:
    """Keep listed elements and harmless attributes; ids and local references get the prefix."""
    for child in list(element):
        if not isinstance(child.tag, str) or child.tag.rpartition("}")[2] not in _ALLOWED:
            element.remove(child)
            continue
        _sanitise(child, prefix)
    for key in list(element.attrib):
        local, value = key.rpartition("}")[2], element.attrib[key]
        if local.lower().startswith("on") or local == "style":
            del element.attrib[key]  # no handlers; no style attributes (a page's CSP refuses them)
        elif local == "id":
            element.attrib[key] = prefix + value
        elif local == "href":
            if value.startswith("#"):
                element.attrib[key] = "#" + prefix + value[1:]
            else:
                del element.attrib[key]  # nothing outside the picture is fetched
        elif "url(" in value:
            if _LOCAL_REF.fullmatch(value.strip()):
                element.attrib[key] = _LOCAL_REF.sub(lambda m: f"url(#{prefix}{m.group(1)})",
                                                     value)
            else:
                del element.attrib[key]


def _circle(parent: ET.Element, x: float, y: float, r: float, **attrs) -> ET.Element:
    """A circle in board millimetres."""
    return ET.SubElement(parent, _q("circle"), cx=f"{x:.3f}", cy=f"{y:.3f}", r=f"{r:.3f}",
                         **attrs)


def _marked(parent: ET.Element, kind: str, title: str, **data) -> ET.Element:
    """A group for one marked thing, with its class, data attributes and a hover title."""
    group = ET.SubElement(parent, _q("g"), {"class": kind, **{f"data-{k}": v
                                                              for k, v in data.items()}})
    ET.SubElement(group, _q("title")).text = title
    return group


def _rails(parent: ET.Element, panel: dict, bounds) -> None:
    """The rails top and bottom shaded, their width measured from the outline's edge."""
    (min_x, min_y), (max_x, max_y) = bounds
    rails = panel.get("rails_mm") if isinstance(panel.get("rails_mm"), dict) else {}
    for edge in ("top", "bottom"):
        width = rails.get(edge)
        if isinstance(width, (int, float)) and 0 < width < max_y - min_y:
            y = max_y - width if edge == "top" else min_y
            group = _marked(parent, "rail", f"{width:g} mm", edge=edge)
            ET.SubElement(group, _q("rect"), x=f"{min_x:.3f}", y=f"{y:.3f}",
                          width=f"{max_x - min_x:.3f}", height=f"{width:.3f}",
                          fill=COLOURS["rail"], opacity="0.25")


def _at(thing: dict) -> bool:
    """Whether a panel feature of the report has its position."""
    return isinstance(thing, dict) and all(isinstance(thing.get(k), (int, float))
                                           for k in ("x_mm", "y_mm"))


def _panel_marks(parent: ET.Element, side: str, panel: dict) -> None:
    """Tooling holes (through the board: both sides) and this side's fiducials, ringed."""
    for hole in panel.get("tooling_holes") or []:
        if _at(hole):
            d = hole.get("diameter_mm") or 4.0
            group = _marked(parent, "tooling", f"Ø{d:g} mm")
            _circle(group, hole["x_mm"], hole["y_mm"], d / 2 + 0.8, fill="none",
                    stroke=COLOURS["tooling"], **{"stroke-width": "0.4"})
    for fid in panel.get("fiducials") or []:
        if _at(fid) and fid.get("side") in (side, None):
            ring = (fid.get("clear_mm") or fid.get("diameter_mm") or 1.0) / 2
            group = _marked(parent, "fiducial", f"Ø{fid.get('diameter_mm') or '?'} mm")
            _circle(group, fid["x_mm"], fid["y_mm"], max(ring, 0.5) + 0.3, fill="none",
                    stroke=COLOURS["fiducial"], **{"stroke-width": "0.3"})


def _part_marks(parent: ET.Element, side: str, report: dict) -> None:
    """Each part's centroid: SMT parts on their side; through-hole parts on both (leads far)."""
    marks = ET.SubElement(parent, _q("g"), {"class": "parts"})
    positions = report.get("positions_mm") or {}
    for ref, kind, part_side in _part_sides(report):
        at = positions.get(ref)
        if at is None or (part_side != side and kind == "smt"):
            continue
        far = part_side != side  # a through-hole part's leads, seen from the other side
        group = _marked(marks, f"part {kind}" + (" far" if far else ""), f"{ref} {kind.upper()}",
                        ref=ref, side=part_side)
        _circle(group, at[0], at[1], MARK_MM, fill="none" if far else COLOURS[kind],
                stroke=COLOURS[kind], opacity="0.85", **{"stroke-width": "0.25"})


def problem_designators(found: dict) -> list[str]:
    """The designators a report problem names, for the page to highlight on the picture."""
    refs: list[str] = []
    for field in ("designators", "bom_only", "centroid_only"):
        for item in found.get(field) or []:
            if isinstance(item, str) and item.strip():
                refs.append(item.split()[0])  # "R1 (R_0603 / R_0805)": the designator first
    groups = found.get("groups")
    if isinstance(groups, dict):
        refs += [r for members in groups.values() if isinstance(members, list)
                 for r in members if isinstance(r, str)]
    return list(dict.fromkeys(refs))


def board_picture(gerber_zip: bytes, report: dict, side: str) -> str:
    """One side of the board as SVG text, safe to inline: layers, parts, fiducials, rails.

    Every position comes from the report, in the Gerber's frame: the parts' as the report
    placed them on the pads (positions_mm), the panel's as measured.
    """
    if side not in SIDES:
        raise ValueError(f"side must be top or bottom, not {side!r}")
    files, _ = check_layers(gerber_zip or b"", [])
    stack, unread = board_stack(files, side)
    try:
        bounds = stack.board_bounds(unit=MM, default=((0, 0), (0, 0)))
        root = ET.fromstring(str(stack.to_pretty_svg(side=side, margin=2, use=False)))
    except Exception:  # geometry gerbonara cannot draw: the marks alone, on the outline's box
        unread = [f.name for f in files if _layer_key(f) or f.layer == "drill"]
        bounds = ((0, 0), (100, 100))
        root = ET.Element(_q("svg"), viewBox="-2 -2 104 104")
    _sanitise(root, f"{side}-")
    (min_x, min_y), (max_x, max_y) = bounds
    flip_x = f"translate({min_x + max_x:.4f} 0) scale(-1 1) " if side == "bottom" else ""
    layer = ET.SubElement(root, _q("g"), {
        "class": "overlay",
        "transform": f"{flip_x}translate(0 {min_y + max_y:.4f}) scale(1 -1)"})
    report = report or {}
    panel = report.get("panel") if isinstance(report.get("panel"), dict) else {}
    _rails(layer, panel, bounds)
    _panel_marks(layer, side, panel)
    _part_marks(layer, side, report)
    root.set("class", f"board-picture {side}")
    root.set("data-side", side)
    if unread:
        ET.SubElement(root, _q("desc")).text = "not drawn: " + ", ".join(unread)
    return ET.tostring(root, encoding="unicode")
