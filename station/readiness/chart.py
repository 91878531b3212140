"""The profile chart as SVG: thermocouples, liquidus line, soak band and peak window.

Channels not on the board (setpoint, average, cold junction, ambient) are drawn dashed and
named with their role, so nobody reads the oven's setpoint as the board's curve.
"""

from xml.sax.saxutils import escape

from station.errors import N_, Text
from station.readiness.reflow import ROLE_NAMES

PALETTE = ["#1565c0", "#c62828", "#2e7d32", "#6a1b9a", "#ef6c00", "#00838f", "#ad1457",
           "#4e342e", "#283593", "#558b2f", "#00695c", "#f9a825"]
W, H, LEFT, RIGHT, TOP, BOTTOM = 960, 440, 56, 150, 16, 40
MAX_POINTS = 1500
OFF_BOARD = {"setpoint": "#757575", "average": "#8d6e63", "cold_junction": "#00897b",
             "ambient": "#9e9d24"}  # greys and muted tones: not the board's colours


def profile_svg(times: list[float], series: dict[str, list[float | None]],
                window: dict | None = None, roles: dict[str, str] | None = None,
                translate=lambda s: s) -> str:
    """An SVG chart of the channels over time, with the paste window drawn in when given."""
    roles = roles or {}
    values = [t for v in series.values() for t in v if t is not None and t < 1000]
    t_max = max(times[-1] if times else 1.0, 1.0)
    y_max = max(max(values, default=0.0) + 20, 280.0)

    def sx(t: float) -> float:
        return LEFT + (W - LEFT - RIGHT) * t / t_max

    def sy(c: float) -> float:
        return TOP + (H - TOP - BOTTOM) * (1 - c / y_max)

    out = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {W} {H}" role="img" '
           f'class="chart" font-family="sans-serif" font-size="12">',
           f'<rect x="0" y="0" width="{W}" height="{H}" fill="#fff"/>']
    if window:
        out += _window_marks(window, sx, sy, t_max, translate)
    out += _axes(t_max, y_max, sx, sy)
    on_board = 0
    for i, (name, temps) in enumerate(series.items()):
        role = roles.get(name, "product")
        if role == "product":
            colour, dash, label = PALETTE[on_board % len(PALETTE)], "", name[:18]
            on_board += 1
        else:
            colour, dash = OFF_BOARD.get(role, "#888"), ' stroke-dasharray="6 4"'
            said = Text(ROLE_NAMES.get(role, role)).say(translate)
            label = f"{name[:10]} · {said}"
        for points in _segments(times, temps):
            coords = " ".join(f"{sx(t):.1f},{sy(c):.1f}" for t, c in points)
            out.append(f'<polyline fill="none" stroke="{colour}" stroke-width="2"{dash} '
                       f'data-role="{role}" points="{coords}"/>')
        y = TOP + 18 * i + 10
        out.append(f'<line x1="{W - RIGHT + 10}" y1="{y}" x2="{W - RIGHT + 30}" y2="{y}" '
                   f'stroke="{colour}" stroke-width="3"{dash}/>'
                   f'<text x="{W - RIGHT + 36}" y="{y + 4}" data-role="{role}">'
                   f'{escape(label)}</text>')
    out.append("</svg>")
    return "".join(out)


def _window_marks(window: dict, sx, sy, t_max: float, translate) -> list[str]:
    """The soak band, the peak window and the liquidus line."""

    def said(msgid: str, **params) -> str:
        return escape(Text(msgid, **params).say(translate))

    x0, x1 = sx(0), sx(t_max)
    marks = []
    lo, hi = window.get("soak_low_C"), window.get("soak_high_C")
    if lo is not None and hi is not None:
        label = said(N_("soak {low:g}–{high:g} °C"), low=lo, high=hi)
        marks.append(f'<rect x="{x0}" y="{sy(hi):.1f}" width="{x1 - x0:.1f}" '
                     f'height="{sy(lo) - sy(hi):.1f}" fill="#fff3c4"/>'
                     f'<text x="{x0 + 4}" y="{sy(hi) + 14:.1f}" fill="#8a6d00">'
                     f'{label}</text>')
    peak = window.get("limits", {}).get("peak_C")
    if peak:
        label = said(N_("peak {low:g}–{high:g} °C"), low=peak[0], high=peak[1])
        marks.append(f'<rect x="{x0}" y="{sy(peak[1]):.1f}" width="{x1 - x0:.1f}" '
                     f'height="{sy(peak[0]) - sy(peak[1]):.1f}" fill="#fde0e0"/>'
                     f'<text x="{x0 + 4}" y="{sy(peak[1]) + 14:.1f}" fill="#b71c1c">'
                     f'{label}</text>')
    tl = window.get("liquidus_C")
    if tl is not None:
        label = said(N_("liquidus {tl:g} °C"), tl=tl)
        marks.append(f'<line x1="{x0}" y1="{sy(tl):.1f}" x2="{x1:.1f}" y2="{sy(tl):.1f}" '
                     f'stroke="#c62828" stroke-dasharray="8 4"/>'
                     f'<text x="{x1 - 120:.1f}" y="{sy(tl) - 4:.1f}" fill="#c62828">'
                     f'{label}</text>')
    return marks


def _axes(t_max: float, y_max: float, sx, sy) -> list[str]:
    """Grid lines every minute and every 50 °C, with labels."""
    out = []
    step = 60 if t_max <= 900 else 120
    for t in range(0, int(t_max) + 1, step):
        out.append(f'<line x1="{sx(t):.1f}" y1="{TOP}" x2="{sx(t):.1f}" y2="{H - BOTTOM}" '
                   f'stroke="#eee"/><text x="{sx(t):.1f}" y="{H - BOTTOM + 16}" '
                   f'text-anchor="middle">{t} s</text>')
    for c in range(0, int(y_max) + 1, 50):
        out.append(f'<line x1="{LEFT}" y1="{sy(c):.1f}" x2="{W - RIGHT}" y2="{sy(c):.1f}" '
                   f'stroke="#eee"/><text x="{LEFT - 6}" y="{sy(c) + 4:.1f}" '
                   f'text-anchor="end">{c} °C</text>')
    return out


def _segments(times: list[float], temps: list[float | None]) -> list[list[tuple[float, float]]]:
    """Runs of good samples (a bad sample breaks the line), thinned to at most MAX_POINTS."""
    stride = max(1, len(times) // MAX_POINTS)
    segments, current = [], []
    for i in range(0, len(times), stride):
        c = temps[i] if i < len(temps) else None
        if c is None or c >= 1000:
            if len(current) > 1:
                segments.append(current)
            current = []
        else:
            current.append((times[i], c))
    if len(current) > 1:
        segments.append(current)
    return segments
