"""Gerber (RS-274X) and Excellon content: what a file's bytes are, and a Gerber's drawn extent.

Hand-written over the standard library: the format signs, the X2 FileFunction attribute, and the
bounding box of the drawn lines and arcs (%FS, %MO/G70/G71, G01-G03, G74/G75). A later issue
replaces this parsing with gerbonara behind is_gerber, is_excellon, X2_FUNCTION and gerber_bbox_mm.
"""

from __future__ import annotations

import math
import re

X2_FUNCTION = re.compile(
    rb"(?:%TF\.FileFunction,([^*%\r\n]*)\*%|#@!\s*TF\.FileFunction,([^*\r\n]*))"
)
_GERBER_SIGN = re.compile(rb"%FS[LTD]?[AI]?X\d\dY\d\d|%MO(?:MM|IN)\*%")
_EXCELLON_TOOL = re.compile(rb"^T\d+[^\r\n]*C\d*\.?\d+", re.M)


def is_gerber(head: bytes) -> bool:
    """Whether the bytes look like RS-274X Gerber."""
    return bool(_GERBER_SIGN.search(head[:16384]))


def is_excellon(data: bytes) -> bool:
    """Whether the bytes look like an Excellon drill file (M48 header, or tools and M30)."""
    head = data[:8192]
    for line in head.splitlines():
        s = line.strip()
        if not s or s.startswith(b";") or s == b"%":
            continue
        if s.upper().startswith(b"M48"):
            return True
        break
    return bool(_EXCELLON_TOOL.search(head)) and b"M30" in data[-4096:]


_FORMAT = re.compile(r"%FS([LTD]?)([AI]?)X(\d)(\d)Y(\d)(\d)")
_UNITS = re.compile(r"%MO(MM|IN)")
_WORD_COORD = re.compile(r"([XYIJ])([-+]?[\d.]+)")


def _coordinate(text: str, decimals: int, digits: int, zeros: str) -> float:
    """One Gerber coordinate in file units, per the %FS format."""
    if "." in text:
        return float(text)
    sign = -1.0 if text.startswith("-") else 1.0
    body = text.lstrip("+-")
    if zeros == "T":
        body = body.ljust(digits, "0")
    return sign * int(body or "0") / 10**decimals


def _arc_points(start, end, centre, clockwise: bool) -> list[tuple[float, float]]:
    """The extreme points of a multi-quadrant arc (endpoints and crossed axis points)."""
    cx, cy = centre
    r = math.hypot(start[0] - cx, start[1] - cy)
    a0 = math.atan2(start[1] - cy, start[0] - cx)
    a1 = math.atan2(end[1] - cy, end[0] - cx)
    sweep = ((a0 - a1) if clockwise else (a1 - a0)) % (2 * math.pi)
    if sweep < 1e-9:
        sweep = 2 * math.pi  # start == end: a full circle
    points = [start, end]
    for k in range(4):
        theta = k * math.pi / 2
        delta = ((a0 - theta) if clockwise else (theta - a0)) % (2 * math.pi)
        if delta <= sweep + 1e-12:
            points.append((cx + r * math.cos(theta), cy + r * math.sin(theta)))
    return points


def gerber_bbox_mm(data: bytes) -> tuple[float, float, float, float] | None:
    """Bounding box (mm) of the drawn lines and arcs of a Gerber file, per its %FS and %MO."""
    text = data.decode("ascii", "replace")
    fmt = _FORMAT.search(text)
    if not fmt:
        return None
    zeros = "T" if fmt.group(1) == "T" else "L"
    xd, yd = int(fmt.group(4)), int(fmt.group(6))
    xn, yn = int(fmt.group(3)) + xd, int(fmt.group(5)) + yd
    units = _UNITS.search(text)
    scale = None
    if units:
        scale = 25.4 if units.group(1) == "IN" else 1.0
    elif "G70" in text:
        scale = 25.4
    elif "G71" in text:
        scale = 1.0
    if scale is None:
        return None
    body = re.sub(r"%[^%]*%", "", text)
    x = y = 0.0
    mode, multi, dcode = 1, False, 2
    points: list[tuple[float, float]] = []
    for word in body.split("*"):
        word = word.strip()
        if not word or word.startswith("G04") or word.startswith("G4 "):
            continue
        for g in re.findall(r"G0?(\d+)", word):
            g = int(g)
            if g in (1, 2, 3):
                mode = g
            elif g == 74:
                multi = False
            elif g == 75:
                multi = True
        d = re.search(r"D0?(\d+)$", word)
        if d:
            code = int(d.group(1))
            if code >= 10:
                continue  # aperture selection
            dcode = code
        coords = dict(_WORD_COORD.findall(word))
        if not coords:
            continue
        nx = _coordinate(coords["X"], xd, xn, zeros) if "X" in coords else x
        ny = _coordinate(coords["Y"], yd, yn, zeros) if "Y" in coords else y
        if dcode == 1:
            if mode in (2, 3) and multi and ("I" in coords or "J" in coords):
                ci = _coordinate(coords.get("I", "0"), xd, xn, zeros)
                cj = _coordinate(coords.get("J", "0"), yd, yn, zeros)
                points.extend(_arc_points((x, y), (nx, ny), (x + ci, y + cj), mode == 2))
            else:
                points.extend([(x, y), (nx, ny)])
        x, y = nx, ny
    if not points:
        return None
    xs = [p[0] * scale for p in points]
    ys = [p[1] * scale for p in points]
    return min(xs), min(ys), max(xs), max(ys)
