"""ZPL for a Zebra-type printer: board, panel and box labels as the pages show them."""

import math

from station.shipping.labels import STOCKS, BoardLabel, BoxLabel, PanelLabel, Stock, sscc_hri
from station.shipping.symbols import (
    DM_QUIET_MODULES,
    FNC1,
    QUIET_MODULES,
    START,
    SWITCH,
    Bars,
    NotEncodable,
    TooLongForLabel,
    code128,
    datamatrix,
    gs1_128,
    switches,
)

FH = "_"  # the ^FH hexadecimal indicator this module sets on every field
DM_ESCAPE = "|"  # the ^BX escape character, set explicitly; never in a serial or GS1 data


def zpl_text(text: str) -> str:
    """Text as ^FH_ field data that cannot end the field or start a ZPL command."""
    # ^ ends a field and ~ starts a command even inside ^FD; they, the _ indicator itself and
    # anything not printable ASCII go as _XX of their UTF-8 bytes (^CI28 prints UTF-8).
    out = []
    for ch in text:
        if " " <= ch <= "~" and ch not in "^~" + FH:
            out.append(ch)
        else:
            out.append("".join(f"{FH}{b:02X}" for b in ch.encode("utf-8")))
    return "".join(out)


def zpl_code128_data(bars: Bars) -> str:
    """The ^BC data (mode N) of exactly these symbol values: starts, switches and FNC1 spelled."""
    # Spelling out every start and switch code (>9 >: >; >5 >6 >7 >8) makes the printer build
    # the very symbol the page shows, not one its own optimiser picks.
    charset, out = START[bars.values[0]], [{"A": ">9", "B": ">:", "C": ">;"}[START[bars.values[0]]]]
    for v in bars.values[1:]:
        if v == FNC1:
            out.append(">8")
        elif switches(v, charset):
            out.append(f">{v - 94}")  # 99 >5, 100 >6, 101 >7
            charset = SWITCH[v]
        elif charset == "C":
            out.append(f"{v:02d}")
        elif v > 95:
            raise NotEncodable(what=bars.data, symbology="ZPL Code 128",
                               reason=f"symbol value {v} in set {charset} is not supported")
        else:
            ch = chr(v + 32) if charset == "B" or v < 64 else chr(v - 64)
            out.append({">": "><", "~": ">="}.get(ch) or zpl_text(ch))
    return "".join(out)


def dots(mm: float, dpmm: int) -> int:
    """Millimetres in printer dots."""
    return round(mm * dpmm)


def _zpl_field(x: int, y: int, text: str, height: int, width: int | None = None,
               lines: int = 1, align: str = "L") -> str:
    block = f"^FB{width},{lines},0,{align},0" if width else ""
    return f"^FO{x},{y}^A0N,{height},{height}{block}^FH{FH}^FD{zpl_text(text)}^FS"


def _zpl_bars(bars: Bars, x: int, y: int, width: int, height: int, dpmm: int,
              preferred_mm: float, smallest_mm: float) -> str:
    """^BY and ^BC for bars centred in `width` dots, or TOO_LONG_FOR_LABEL."""
    total = bars.width + 2 * QUIET_MODULES
    module = min(max(1, dots(preferred_mm, dpmm)), width // total)
    if module < max(1, math.ceil(smallest_mm * dpmm)):
        raise TooLongForLabel(data=bars.hri or bars.data, symbology="Code 128",
                              have_mm=f"{width / dpmm:g}",
                              need_mm=f"{total * math.ceil(smallest_mm * dpmm) / dpmm:.1f}")
    left = x + (width - bars.width * module) // 2
    return (f"^BY{module},3,{height}^FO{left},{y}^BCN,{height},N,N,N"
            f"^FH{FH}^FD{zpl_code128_data(bars)}^FS")


def _zpl_matrix(data: str, x: int, y: int, size: int, dpmm: int) -> str:
    matrix = datamatrix(data)
    total = max(matrix.size) + 2 * DM_QUIET_MODULES
    module = min(dots(0.5, dpmm), size // total)
    if module < max(1, math.ceil(0.25 * dpmm)):
        raise TooLongForLabel(data=data, symbology="DataMatrix", have_mm=f"{size / dpmm:g}",
                              need_mm=f"{total * 0.25:.1f}")
    return (f"^FO{x + module},{y + module}^BXN,{module},200,,,,{DM_ESCAPE}"
            f"^FH{FH}^FD{zpl_text(data)}^FS")


def _zpl_label(stock: Stock, dpmm: int, body: str, copies: int = 1) -> str:
    return (f"^XA^CI28^PW{dots(stock.width_mm, dpmm)}^LL{dots(stock.height_mm, dpmm)}^LH0,0"
            f"{body}^PQ{copies}^XZ\n")


def board_zpl(label: BoardLabel, dpmm: int = 8, symbology: str = "code128",
              copies: int = 1) -> str:
    """A board label as ZPL: Code 128 on 50 x 25 mm, or DataMatrix on 25 x 10 mm."""
    d = lambda mm: dots(mm, dpmm)  # noqa: E731
    where = f"{label.order} {label.product}/{label.revision}"
    if label.panel:
        where += f" {label.panel}/{label.position}"
    if symbology == "datamatrix":
        stock = STOCKS["board-dm"]
        body = (_zpl_matrix(label.serial, d(1), d(1), d(8), dpmm)
                + _zpl_field(d(10), d(1.5), label.serial, d(2.2), d(14.5), 2)
                + _zpl_field(d(10), d(6.5), label.order, d(1.6), d(14.5)))
        return _zpl_label(stock, dpmm, body, copies)
    stock = STOCKS["board"]
    body = (_zpl_bars(code128(label.serial, "the serial"), d(1), d(1.5), d(48), d(12), dpmm,
                      0.25, 0.19)
            + _zpl_field(d(2), d(15), label.serial, d(3.5), d(46), 1, "C")
            + _zpl_field(d(2), d(20), where, d(2.2), d(46), 1, "C"))
    return _zpl_label(stock, dpmm, body, copies)


def panel_zpl(label: PanelLabel, dpmm: int = 8, copies: int = 1) -> str:
    """A panel label as ZPL: its id in Code 128 and its positions in three columns."""
    d = lambda mm: dots(mm, dpmm)  # noqa: E731
    head = f"{label.order} {label.product}/{label.revision}"
    if label.parts > 1:
        head += f"  {label.part}/{label.parts}"
    body = (_zpl_bars(code128(label.panel, "the panel id"), d(2), d(2), d(60), d(10), dpmm,
                      0.33, 0.19)
            + _zpl_field(d(64), d(3), label.panel, d(3.5), d(34), 2)
            + _zpl_field(d(64), d(11), head, d(2.2), d(34), 2))
    for i, (position, serial) in enumerate(label.positions):
        col, row = divmod(i, 6)
        body += _zpl_field(d(2 + 33 * col), d(17 + 5.2 * row), f"{position or '-'}  {serial}",
                           d(2.6), d(32))
    return _zpl_label(STOCKS["panel"], dpmm, body, copies)


def box_zpl(label: BoxLabel, dpmm: int = 8, copies: int = 1) -> str:
    """A 100 x 150 mm shipping label as ZPL, the SSCC in GS1-128 at the foot."""
    d = lambda mm: dots(mm, dpmm)  # noqa: E731
    body = (_zpl_field(d(4), d(4), "CUSTOMER", d(2.5))
            + _zpl_field(d(4), d(8), f"{label.customer} ({label.customer_code})", d(5), d(92), 2)
            + _zpl_field(d(4), d(22), "ORDER", d(2.5))
            + _zpl_field(d(4), d(26), label.order, d(6), d(92))
            + _zpl_bars(code128(label.order, "the order number"), d(4), d(34), d(92), d(12),
                        dpmm, 0.33, 0.19)
            + _zpl_field(d(4), d(50), "PRODUCT", d(2.5))
            + _zpl_field(d(4), d(54), f"{label.product} rev {label.revision}", d(4.5), d(92))
            + _zpl_field(d(4), d(64), "QUANTITY", d(2.5))
            + _zpl_field(d(4), d(68), f"{label.quantity} pcs", d(8))
            + _zpl_field(d(54), d(64), "BOX", d(2.5))
            + _zpl_field(d(54), d(68), f"{label.box} of {label.boxes}", d(8))
            + f"^FO{d(4)},{d(80)}^GB{d(92)},{d(0.5)},{d(0.5)}^FS"
            + _zpl_field(d(4), d(83), "SSCC", d(2.5))
            + _zpl_field(d(4), d(87), sscc_hri(label.sscc), d(4.5), d(92))
            + _zpl_bars(gs1_128([("00", label.sscc)]), d(2), d(96), d(96), d(32), dpmm,
                        0.5, 0.25)
            + _zpl_field(d(4), d(131), sscc_hri(label.sscc), d(4), d(92), 1, "C"))
    return _zpl_label(STOCKS["box"], dpmm, body, copies)
