"""A quotation drafted from a data package report: the lines a contract manufacturer prices.

Pure functions: config/quoting.toml is read once at start into `Rates`; `draft` turns a report
and the quantities asked into lines per quantity. Money is Decimal throughout.

Rounding rule: a line's rate is the configured rate times the quantity break's multiplier,
rounded half-up to 4 places (the rate printed); its amount is count times that rate, rounded
half-up to the cent. A quantity's total is the exact sum of its lines; its per-board price is the
total divided by the quantity, rounded half-up to the cent, so per_board x quantity differs from
the total by at most quantity x 0.005.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from pathlib import Path

from station.errors import N_, Text
from station.paths import ROOT

DEFAULT_RATES = ROOT / "config" / "quoting.toml"
CENT, RATE_PLACES = Decimal("0.01"), Decimal("0.0001")
CLASSES = ("0201_0402", "chip", "fine_pitch_ic", "bga", "other")  # "other": no word matched
SIDES = ("top", "bottom")

# The line codes in the order a quotation lists them; SMT_<SIDE>_<CLASS> in CLASSES' order.
ONE_OFF = ("SETUP", "PROGRAMMING", "STENCIL_TOP", "STENCIL_BOTTOM", "LOADING")

TEXTS = {
    "SETUP": N_("Set-up (engineering, one-off)"),
    "PROGRAMMING": N_("Placement programming (one-off)"),
    "STENCIL_TOP": N_("Stencil, top side"),
    "STENCIL_BOTTOM": N_("Stencil, bottom side"),
    "THT_JOINTS": N_("Through-hole joints"),
    "LOADING": N_("Feeder loading per distinct part"),
    "FCT": N_("Functional test per board"),
    "PCB": N_("Bare PCB ({layers} layers, {area} cm² per board)"),
    "SMT": N_("SMT placements, {side} side, {size}"),
}
SIDE_TEXTS = {"top": N_("top"), "bottom": N_("bottom")}
CLASS_TEXTS = {"0201_0402": N_("0201/0402"), "chip": N_("chips"),
               "fine_pitch_ic": N_("fine-pitch ICs"), "bga": N_("BGAs"), "other": N_("other parts")}


@dataclass(frozen=True)
class Rates:
    """config/quoting.toml, checked: every amount a Decimal."""

    version: int
    currency: str
    setup: Decimal
    programming: Decimal
    stencil_per_side: Decimal
    placement: dict[str, dict[str, Decimal]]  # side -> class -> per placement
    tht_joint: Decimal
    tht_joints_per_part: int
    loading_per_part: Decimal
    fct_per_board: Decimal
    pcb_per_cm2: dict[int, Decimal]  # copper layers -> per cm²
    breaks: tuple[tuple[int, Decimal], ...]  # (from quantity, multiplier), ascending
    classes: tuple[tuple[str, tuple[str, ...]], ...]  # (class, upper-case words), in order

    def multiplier(self, quantity: int) -> Decimal:
        """The quantity break's multiplier for a quantity (1 below the first break)."""
        found = Decimal(1)
        for start, factor in self.breaks:
            if quantity >= start:
                found = factor
        return found

    def size_class(self, footprint: str, value: str = "") -> str:
        """A part's size class from the words of its footprint, then its value."""
        for text in (footprint, value):
            upper = (text or "").upper()
            for name, words in self.classes:
                if upper and any(w in upper for w in words):
                    return name
        return "other"


def _amount(raw, where: str) -> Decimal:
    """A non-negative decimal from a TOML string or integer (a float would carry its error)."""
    if isinstance(raw, bool) or not isinstance(raw, str | int):
        raise ValueError(f"{where} must be a decimal string such as \"0.05\", not {raw!r}")
    try:
        value = Decimal(str(raw))
    except InvalidOperation:
        raise ValueError(f"{where} must be a decimal such as \"0.05\", not {raw!r}") from None
    if not value.is_finite() or value < 0 or value.as_tuple().exponent < -4:
        raise ValueError(f"{where} must be a decimal of at least 0 with at most 4 places")
    return value


def load_rates(path: str | Path | None = None) -> Rates:
    """Read and check a quoting.toml (default config/quoting.toml); ValueError names the key."""
    path = Path(path or DEFAULT_RATES)
    with path.open("rb") as f:
        data = tomllib.load(f)
    try:
        return _rates(data)
    except KeyError as exc:
        raise ValueError(f"{path.name}: missing key {exc}") from None
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{path.name}: {exc}") from None


def _rates(data: dict) -> Rates:
    version = data["version"]
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise ValueError("version must be a whole number of at least 1")
    currency = data["currency"]
    if not isinstance(currency, str) or not re.fullmatch(r"[A-Z]{3}", currency):
        raise ValueError("currency must be a three-letter ISO code such as CNY")
    placement = {}
    for side in SIDES:
        table = data["placement"][side]
        unknown = set(table) - set(CLASSES)
        if unknown:
            raise ValueError(f"placement.{side}: unknown class {sorted(unknown)[0]!r} "
                             f"(known: {', '.join(CLASSES)})")
        placement[side] = {c: _amount(table[c], f"placement.{side}.{c}") for c in CLASSES}
    pcb = {}
    for layers, rate in (data.get("pcb_per_cm2") or {}).items():
        if not str(layers).isdigit() or int(layers) < 1:
            raise ValueError(f"pcb_per_cm2: {layers!r} is not a layer count")
        pcb[int(layers)] = _amount(rate, f"pcb_per_cm2.{layers}")
    breaks = []
    for start, factor in (data.get("breaks") or {"1": "1"}).items():
        if not str(start).isdigit() or int(start) < 1:
            raise ValueError(f"breaks: {start!r} is not a quantity")
        value = _amount(factor, f"breaks.{start}")
        if value <= 0:
            raise ValueError(f"breaks.{start} must be above 0")
        breaks.append((int(start), value))
    classes = []
    for name, words in (data.get("classes") or {}).items():
        if name not in CLASSES or name == "other":
            raise ValueError(f"classes: unknown class {name!r} (known: {', '.join(CLASSES[:-1])})")
        if not isinstance(words, list) or not all(isinstance(w, str) and w for w in words):
            raise ValueError(f"classes.{name} must be a list of words")
        classes.append((name, tuple(w.upper() for w in words)))
    per_part = data.get("tht_joints_per_part", 1)
    if isinstance(per_part, bool) or not isinstance(per_part, int) or per_part < 1:
        raise ValueError("tht_joints_per_part must be a whole number of at least 1")
    return Rates(
        version=version, currency=currency, setup=_amount(data["setup"], "setup"),
        programming=_amount(data["programming"], "programming"),
        stencil_per_side=_amount(data["stencil_per_side"], "stencil_per_side"),
        placement=placement, tht_joint=_amount(data["tht_joint"], "tht_joint"),
        tht_joints_per_part=per_part,
        loading_per_part=_amount(data["loading_per_part"], "loading_per_part"),
        fct_per_board=_amount(data["fct_per_board"], "fct_per_board"),
        pcb_per_cm2=pcb, breaks=tuple(sorted(breaks)), classes=tuple(classes))


def line_text(code: str, params: dict | None = None) -> Text:
    """The sentence of a line code, for the reader's language at the edge."""
    if code.startswith("SMT_"):
        _, side, size = code.split("_", 2)
        return Text(TEXTS["SMT"], side=Text(SIDE_TEXTS[side.lower()]),
                    size=Text(CLASS_TEXTS[size.lower()]))
    return Text(TEXTS[code], **(params or {}))


def counts(report: dict, rates: Rates) -> dict:
    """What the package counts for pricing: placements per side and class, joints, parts."""
    placement = report.get("placement") or {}
    footprints, values = report.get("footprints") or {}, report.get("values") or {}
    smt = {side: dict.fromkeys(CLASSES, 0) for side in SIDES}
    for side in SIDES:
        refs = placement.get(f"smt_{side}")
        if refs is None:  # an old report without names: its counts, unclassed
            smt[side]["other"] = int((report.get("parts") or {}).get(f"smt_{side}", 0))
            continue
        for ref in refs:
            smt[side][rates.size_class(footprints.get(ref, ""), values.get(ref, ""))] += 1
    pins = report.get("pins") or {}
    dip = placement.get("dip")
    if dip is None:
        dip = [d["ref"] for d in report.get("dip_parts") or [] if isinstance(d, dict)]
    joints = sum(int(pins.get(ref) or rates.tht_joints_per_part) for ref in dip)
    distinct = {(values.get(ref, ""), footprints.get(ref, "").upper())
                for refs in placement.values() for ref in refs} if footprints else set()
    if not distinct:  # no values kept: each placed part its own
        distinct = set(range(sum(len(v) for v in placement.values())))
    area = None
    outline = report.get("board_outline_mm") or {}
    sides = [outline.get(k) for k in ("width", "height")] if isinstance(outline, dict) else []
    if len(sides) == 2 and all(isinstance(v, int | float) and v > 0 for v in sides):
        # cm² to the hundredth, from the outline's mm as stored (two decimals)
        area = (Decimal(str(sides[0])) * Decimal(str(sides[1])) / 100).quantize(
            CENT, ROUND_HALF_UP)
    return {"smt": smt, "tht_parts": len(dip), "tht_joints": joints, "distinct": len(distinct),
            "layers": int(report.get("copper_layers") or 0), "area_cm2": area}


def line(code: str, count: int, rate: Decimal, params: dict | None = None,
         text: str | None = None) -> dict:
    """One line: count times the rate (to 4 places), rounded half-up to the cent."""
    rate = rate.quantize(RATE_PLACES, ROUND_HALF_UP)
    row = {"code": code, "text": text or line_text(code, params), "count": count, "rate": rate,
           "amount": (Decimal(count) * rate).quantize(CENT, ROUND_HALF_UP)}
    if params:
        row["params"] = params  # the text's parameters, for the reader's language
    return row


def draft(report: dict, quantities: list[int], rates: Rates) -> list[dict]:
    """The quotation's lines for each quantity: one-off charges, then per-board work."""
    found = counts(report, rates)
    out = []
    for quantity in quantities:
        k = rates.multiplier(quantity)
        lines = [line("SETUP", 1, rates.setup), line("PROGRAMMING", 1, rates.programming)]
        for side in SIDES:
            if sum(found["smt"][side].values()):
                lines.append(line(f"STENCIL_{side.upper()}", 1, rates.stencil_per_side))
        for side in SIDES:
            for size in CLASSES:
                n = found["smt"][side][size]
                if n:
                    lines.append(line(f"SMT_{side.upper()}_{size.upper()}", n * quantity,
                                       rates.placement[side][size] * k))
        if found["tht_joints"]:
            lines.append(line("THT_JOINTS", found["tht_joints"] * quantity,
                               rates.tht_joint * k))
        if found["distinct"]:
            lines.append(line("LOADING", found["distinct"], rates.loading_per_part))
        lines.append(line("FCT", quantity, rates.fct_per_board * k))
        pcb = rates.pcb_per_cm2.get(found["layers"])
        if pcb is not None and found["area_cm2"]:
            lines.append(line("PCB", quantity, pcb * found["area_cm2"] * k,
                              {"layers": found["layers"], "area": str(found["area_cm2"])}))
        out.append(priced(quantity, lines))
    return out


def priced(quantity: int, lines: list[dict]) -> dict:
    """A quantity's lines with their total and the price per board (the rounding rule above)."""
    total = sum((row["amount"] for row in lines), Decimal("0.00"))
    per_board = (total / quantity).quantize(CENT, ROUND_HALF_UP)
    return {"quantity": quantity, "lines": lines, "total": total, "per_board": per_board}


def as_json(quantities: list[dict]) -> list[dict]:
    """The drafted quantities with money as decimal strings, as stored and as the API says."""
    return [{**q, "total": str(q["total"]), "per_board": str(q["per_board"]),
             "lines": [{**row, "text": str(row["text"]), "rate": str(row["rate"]),
                        "amount": str(row["amount"])} for row in q["lines"]]}
            for q in quantities]


def from_json(quantities: list[dict]) -> list[dict]:
    """Stored quantities back to Decimal money."""
    return [{**q, "total": Decimal(q["total"]), "per_board": Decimal(q["per_board"]),
             "lines": [{**row, "rate": Decimal(row["rate"]), "amount": Decimal(row["amount"])}
                       for row in q["lines"]]} for q in quantities]
