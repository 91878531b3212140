"""Barcode symbols: Code 128, GS1-128 and DataMatrix, each decoded back before it is printed,
drawn as SVG in millimetres. Pure: no database.

python-barcode 0.16.1 drops a leading "99" from Code 128 data, so every symbol is decoded back
from its own values and refused unless it says exactly what was asked.
"""

from dataclasses import dataclass

from barcode.charsets import code128 as c128
from barcode.codex import Code128, Gs1_128
from ppf.datamatrix import DataMatrix

from station.errors import N_, StationError

START = {103: "A", 104: "B", 105: "C"}
SWITCH = {99: "C", 100: "B", 101: "A"}
FNC1 = 102
GS = "\x1d"  # what a scanner sends for an FNC1 inside GS1 data
QUIET_MODULES = 10  # Code 128 wants at least ten modules of white each side
DM_QUIET_MODULES = 1  # DataMatrix wants one module all round
MAX_DATAMATRIX = 64  # the longest serial; keeps the symbol at most 36 x 36 modules


class NotEncodable(StationError):
    code, status = "NOT_ENCODABLE", 400
    message = N_("{what} cannot be printed as {symbology}: {reason}.")
    todo = N_("Correct the data: barcodes take letters, digits and plain ASCII signs only.")


class TooLongForLabel(StationError):
    code, status = "TOO_LONG_FOR_LABEL", 400
    message = N_("{data} needs {need_mm} mm as {symbology} at the smallest readable module; "
                 "the label has {have_mm} mm.")
    todo = N_("Print a DataMatrix label, or use wider label stock.")


# --- Code 128 ---------------------------------------------------------------------------------

class _Code128(Code128):
    """python-barcode's Code 128 without its 0.16.1 bug that drops a leading "99"."""

    def _try_to_optimize(self, encoded: list[int]) -> list[int]:
        # The library starts in set C and folds "START C, CODE x" into "START x". After START C
        # a 99 is always the digit pair 99 (set C has no CODE C switch), so only 100 and 101 fold.
        if encoded[1] in (100, 101):
            encoded[:2] = [c128.TO[encoded[1]]]
        return encoded


class _Gs1_128(Gs1_128, _Code128):  # noqa: N801
    """GS1-128 through the same guarded encoder."""


@dataclass(frozen=True)
class Bars:
    """A Code 128 symbol: the text a scanner reads, its symbol values and its bars."""

    data: str                # as scanned: for GS1-128, a GS between fields, no leading FNC1
    values: tuple[int, ...]  # start code and data values, without the check value
    gs1: bool = False
    hri: str = ""            # the human-readable line under the bars

    @property
    def check(self) -> int:
        """The modulo 103 check value."""
        return (self.values[0] + sum(i * v for i, v in enumerate(self.values[1:], 1))) % 103

    @property
    def modules(self) -> str:
        """The symbol's modules, '1' dark and '0' light, from start to stop, no quiet zones."""
        return "".join(c128.CODES[v] for v in (*self.values, self.check)) + c128.STOP + "11"

    @property
    def width(self) -> int:
        """The symbol's width in modules, without quiet zones."""
        return len(self.modules)


def check_ascii(data, what: str, symbology: str, extra_bad: str = "") -> str:
    """The data when every character is printable ASCII, else NOT_ENCODABLE naming the first."""
    if not isinstance(data, str) or not data:
        raise NotEncodable(what=what, symbology=symbology, reason="it is empty")
    for ch in data:
        if not " " <= ch <= "~" or ch in extra_bad:
            kind = "not ASCII" if ord(ch) > 127 else "not allowed here" if ch in extra_bad \
                else "a control character"
            raise NotEncodable(what=what, symbology=symbology,
                               reason=f"character U+{ord(ch):04X} ({kind}) in {data!r}")
    return data


def decode_values(values) -> tuple[str, bool]:
    """The text that Code 128 symbol values (from the start code, no check) stand for."""
    charset, out, gs1 = START[values[0]], [], False
    for i, v in enumerate(values[1:], 1):
        if v == FNC1:
            if i == 1:
                gs1 = True
            else:
                out.append(GS)
        elif switches(v, charset):
            charset = SWITCH[v]
        elif charset == "C":
            out.append(f"{v:02d}")
        elif v in (96, 97, 98, 100, 101):  # FNC2-4 and SHIFT: never made here, never accepted
            out.append("\ufffd")
        elif charset == "B" or v < 64:
            out.append(chr(v + 32))
        else:
            out.append(chr(v - 64))
    return "".join(out), gs1


def switches(value: int, charset: str) -> bool:
    """True when the value switches code set here (in C 99 is digits; in B 100, in A 101: FNC4)."""
    return value in SWITCH and SWITCH[value] != charset


def code128(data, what: str = "the data") -> Bars:
    """Plain Code 128 of printable ASCII, checked by decoding what the encoder produced."""
    check_ascii(data, what, "Code 128")
    if len(data) > 80:
        raise NotEncodable(what=what, symbology="Code 128", reason="it is over 80 characters")
    values = tuple(_Code128(data)._build())
    if decode_values(values) != (data, False):  # the guard against encoder bugs like "99"
        raise NotEncodable(what=what, symbology="Code 128",
                           reason="the barcode encoder produced different data; not printed")
    return Bars(data, values, hri=data)


# GS1 application identifiers of fixed length (AI -> length of the value); others are variable
# and need an FNC1 after them unless they come last.
GS1_FIXED = {"00": 18, "01": 14, "02": 14, "11": 6, "12": 6, "13": 6, "15": 6, "16": 6,
             "17": 6, "20": 2}
GS1_VARIABLE = {"10": 20, "21": 20, "240": 30, "241": 30, "400": 30, "401": 30, "37": 8}
GS1_CHARS = set("!\"%&'()*+,-./0123456789:;<=>?ABCDEFGHIJKLMNOPQRSTUVWXYZ_"
                "abcdefghijklmnopqrstuvwxyz")


def gs1_128(fields: list[tuple[str, str]]) -> Bars:
    """GS1-128 of (AI, value) pairs: FNC1 first, and after each variable field but the last."""
    if not fields:
        raise NotEncodable(what="the GS1 data", symbology="GS1-128", reason="it is empty")
    text, hri = "", []
    for i, (ai, value) in enumerate(fields):
        if ai in GS1_FIXED:
            if len(value) != GS1_FIXED[ai] or not value.isdigit():
                raise NotEncodable(what=f"AI ({ai})", symbology="GS1-128",
                                   reason=f"it takes {GS1_FIXED[ai]} digits, not {value!r}")
        elif ai in GS1_VARIABLE:
            if not 0 < len(value) <= GS1_VARIABLE[ai] or not set(value) <= GS1_CHARS:
                raise NotEncodable(what=f"AI ({ai})", symbology="GS1-128",
                                   reason=f"it takes 1 to {GS1_VARIABLE[ai]} of GS1's "
                                          f"82 characters, not {value!r}")
        else:
            raise NotEncodable(what=f"AI ({ai})", symbology="GS1-128", reason="unknown AI")
        text += ai + value
        if ai not in GS1_FIXED and i < len(fields) - 1:
            text += Gs1_128.FNC1_CHAR
        hri.append(f"({ai}){value}")
    values = tuple(_Gs1_128(text)._build())
    expected = text.replace(Gs1_128.FNC1_CHAR, GS)
    if decode_values(values) != (expected, True):
        raise NotEncodable(what="the GS1 data", symbology="GS1-128",
                           reason="the barcode encoder produced different data; not printed")
    return Bars(expected, values, gs1=True, hri=" ".join(hri))


def module_for(modules: int, width_mm: float, data: str, symbology: str,
               preferred_mm: float, smallest_mm: float) -> float:
    """The module width that fits `modules` into `width_mm`, or TOO_LONG_FOR_LABEL."""
    module = min(preferred_mm, width_mm / modules)
    if module < smallest_mm:
        raise TooLongForLabel(data=data, symbology=symbology, have_mm=f"{width_mm:g}",
                              need_mm=f"{modules * smallest_mm:.1f}")
    return module


def runs(row: str):
    """(start, length) of each run of '1' in a string of modules."""
    start = None
    for i, m in enumerate(row + "0"):
        if m == "1" and start is None:
            start = i
        elif m != "1" and start is not None:
            yield start, i - start
            start = None


@dataclass(frozen=True)
class Svg:
    """An SVG symbol sized in millimetres, for inline use in a label page."""

    markup: str
    width_mm: float
    height_mm: float

    def __html__(self) -> str:
        return self.markup


def bars_svg(bars: Bars, width_mm: float, height_mm: float, preferred_mm: float = 0.25,
             smallest_mm: float = 0.19) -> Svg:
    """The bars and quiet zones as SVG at most `width_mm` wide, a rect a bar in module units."""
    total = bars.width + 2 * QUIET_MODULES
    module = module_for(total, width_mm, bars.hri or bars.data, "Code 128", preferred_mm,
                        smallest_mm)
    units = round(height_mm / module, 3)
    rects = "".join(f'<rect x="{QUIET_MODULES + x}" y="0" width="{w}" height="{units:g}"/>'
                    for x, w in runs(bars.modules))
    w_mm = round(total * module, 3)
    markup = (f'<svg xmlns="http://www.w3.org/2000/svg" class="bars" role="img" '
              f'aria-label="{_xml(bars.hri or bars.data)}" width="{w_mm:g}mm" '
              f'height="{height_mm:g}mm" viewBox="0 0 {total} {units:g}" '
              f'preserveAspectRatio="none" shape-rendering="crispEdges">'
              f'<rect width="{total}" height="{units:g}" fill="#fff"/>'
              f'<g fill="#000">{rects}</g></svg>')
    return Svg(markup, w_mm, height_mm)


def _xml(text: str) -> str:
    return (text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
            .replace('"', "&quot;").replace(GS, " "))


# --- DataMatrix -------------------------------------------------------------------------------

@dataclass(frozen=True)
class Matrix:
    """A DataMatrix ECC 200 symbol: rows of 1 (dark) and 0, finder pattern included."""

    data: str
    rows: tuple[tuple[int, ...], ...]

    @property
    def size(self) -> tuple[int, int]:
        """(rows, columns) of modules: the symbol's size class."""
        return len(self.rows), len(self.rows[0])


def datamatrix(data, what: str = "the data") -> Matrix:
    """A square DataMatrix of printable ASCII (ASCII encodation: digit pairs packed)."""
    check_ascii(data, what, "DataMatrix", extra_bad="|")
    if len(data) > MAX_DATAMATRIX:
        raise NotEncodable(what=what, symbology="DataMatrix",
                           reason=f"it is over {MAX_DATAMATRIX} characters")
    # ASCII encodation only: the library's C40/Text/X12/EDIFACT encoders are beta, and ASCII
    # packs the digits of a serial two to a codeword anyway.
    rows = DataMatrix(data, codecs=["ascii"]).matrix
    return Matrix(data, tuple(tuple(r) for r in rows))


def matrix_svg(matrix: Matrix, size_mm: float, preferred_mm: float = 0.5,
               smallest_mm: float = 0.25) -> Svg:
    """The symbol with its quiet zone as SVG, at most `size_mm` square, in module units."""
    n_rows, n_cols = matrix.size
    total = max(n_rows, n_cols) + 2 * DM_QUIET_MODULES
    module = module_for(total, size_mm, matrix.data, "DataMatrix", preferred_mm, smallest_mm)
    q = DM_QUIET_MODULES
    rects = "".join(f'<rect x="{q + x}" y="{q + y}" width="{w}" height="1"/>'
                    for y, row in enumerate(matrix.rows)
                    for x, w in runs("".join(map(str, row))))
    w_units, h_units = n_cols + 2 * q, n_rows + 2 * q
    markup = (f'<svg xmlns="http://www.w3.org/2000/svg" class="matrix" role="img" '
              f'aria-label="{_xml(matrix.data)}" width="{w_units * module:g}mm" '
              f'height="{h_units * module:g}mm" viewBox="0 0 {w_units} {h_units}" '
              f'shape-rendering="crispEdges"><rect width="{w_units}" height="{h_units}" '
              f'fill="#fff"/><g fill="#000">{rects}</g></svg>')
    return Svg(markup, round(w_units * module, 3), round(h_units * module, 3))
