"""Labels the line scans: board, panel, box (SSCC) and traveller; Code 128, DataMatrix and ZPL."""

# Pure functions build the symbols; the `*_label` functions read what a label says from the
# database; the `*_zpl` functions turn a label into ZPL for a Zebra-type printer. The pages that
# show the same labels in a browser are templates under templates/labels/.

import math
from dataclasses import dataclass, field
from datetime import datetime

from barcode.charsets import code128 as c128
from barcode.codex import Code128, Gs1_128
from ppf.datamatrix import DataMatrix
from sqlalchemy import case, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, func, select

from station.errors import N_, InvalidInput, NotFound, StationError, UnknownBoard
from station.masterdata import find_order
from station.models import Board, Box, BoxBoard, Customer, Product, SsccCounter, WorkOrder

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


@dataclass(frozen=True)
class Stock:
    """A label stock: its name and size in millimetres."""

    name: str
    width_mm: float
    height_mm: float


STOCKS = {s.name: s for s in (
    Stock("board", 50, 25),       # the usual board label
    Stock("board-dm", 25, 10),    # a board too small for a 50 mm label: DataMatrix
    Stock("panel", 100, 50),
    Stock("box", 100, 150),       # 4 x 6 in shipping label
    Stock("a4", 210, 297),        # the order traveller, on the office printer
)}
PANEL_ROWS_PER_LABEL = 18  # positions listed on one 100 x 50 mm panel label (3 columns of 6)


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
        elif _switches(v, charset):
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


def _switches(value: int, charset: str) -> bool:
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


# --- SSCC -------------------------------------------------------------------------------------

def check_digit(digits: str) -> int:
    """The GS1 modulo 10 check digit of a GTIN, SSCC or GLN without its check digit."""
    if not digits.isascii() or not digits.isdigit():
        raise InvalidInput(detail=f"a GS1 number is digits only, not {digits!r}")
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(digits)))
    return (10 - total % 10) % 10


EXAMPLE_PREFIX = "0614141"  # GS1's example company prefix, as config/station.toml ships


@dataclass(frozen=True)
class SsccRule:
    """How this site numbers its boxes: the extension digit, its GS1 company prefix, and the
    serial reference to start from."""

    extension: int = 0
    company_prefix: str = EXAMPLE_PREFIX
    first_reference: int = 1

    @classmethod
    def from_settings(cls, labels) -> "SsccRule":
        """The rule of config/station.toml's [labels] section (station.config.Labels)."""
        return cls(labels.sscc_extension, labels.gs1_company_prefix, labels.sscc_first_reference)


def sscc(rule: SsccRule, reference: int) -> str:
    """The 18-digit SSCC: extension, company prefix, serial reference, check digit."""
    prefix = rule.company_prefix
    if not (prefix.isascii() and prefix.isdigit() and 6 <= len(prefix) <= 12):
        raise InvalidInput(detail="gs1_company_prefix in config/station.toml [labels] must be "
                                  "the 6 to 12 digits GS1 assigned to the company")
    if not 0 <= rule.extension <= 9:
        raise InvalidInput(detail="sscc_extension in config/station.toml [labels] is one digit")
    room = 16 - len(prefix)
    if not 0 <= reference < 10**room:
        raise InvalidInput(detail=f"SSCC serial references of prefix {prefix} are used up "
                                  f"({room} digits); ask GS1 for another prefix")
    body = f"{rule.extension}{prefix}{reference:0{room}d}"
    return body + str(check_digit(body))


def take_sscc(session: Session, rule: SsccRule) -> str:
    """The next SSCC of the rule, its serial reference taken in the session's transaction."""
    # The counter's row is updated before it is read: the update locks it (PostgreSQL) or the
    # transaction holds the write lock (SQLite), so two stations never get the same reference,
    # and a rolled-back box gives its reference back.
    sscc(rule, 0)  # a wrong prefix in the configuration refuses before anything is written
    key, first = f"{rule.extension}{rule.company_prefix}", max(rule.first_reference, 0)
    t, conn = SsccCounter.__table__, session.connection()
    bump = (update(t).where(t.c.prefix == key).values(last_reference=case(
        (t.c.last_reference + 1 < first, first), else_=t.c.last_reference + 1)))
    if conn.execute(bump).rowcount == 0:  # the prefix's first box: its row, unless a rival's
        # (made just before `first`, then bumped like any other: an INSERT's rowcount cannot
        # tell who made the row, psycopg reports -1)
        dialect = sqlite if conn.dialect.name == "sqlite" else postgresql
        conn.execute(dialect.insert(t).values(prefix=key, last_reference=first - 1)
                     .on_conflict_do_nothing(index_elements=["prefix"]))
        conn.execute(bump)
    reference = conn.execute(select(t.c.last_reference).where(t.c.prefix == key)).scalar_one()
    return sscc(rule, reference)


# --- What the labels say ----------------------------------------------------------------------

@dataclass
class BoardLabel:
    """A board's label: its serial and where it belongs."""

    serial: str
    order: str
    product: str
    revision: str
    panel: str | None = None
    position: int | None = None


@dataclass
class PanelLabel:
    """A panel's label: its id and the serial at each position, maybe over several labels."""

    panel: str
    order: str
    product: str
    revision: str
    positions: list[tuple[int | None, str]]
    part: int = 1
    parts: int = 1


@dataclass
class BoxLabel:
    """A shipping box's label: order, customer, quantity and its SSCC."""

    order: str
    customer_code: str
    customer: str
    product: str
    revision: str
    box: int
    boxes: int
    quantity: int
    sscc: str


@dataclass
class Traveller:
    """The order's traveller: what it is, its route to sign step by step, its boards."""

    order: str
    customer_code: str
    customer: str
    product: str
    revision: str
    quantity: int
    paste: str
    side: str
    stencil: str | None
    due: datetime | None
    route: list[str]
    boards: int
    panels: list[tuple[str, int]] = field(default_factory=list)  # panel id, boards on it
    first_serial: str | None = None
    last_serial: str | None = None


def _order_parts(session: Session, order: WorkOrder) -> tuple[Customer, Product]:
    return session.get(Customer, order.customer_id), session.get(Product, order.product_id)


def _board_label(session: Session, board: Board, order: WorkOrder | None = None) -> BoardLabel:
    order = order or session.get(WorkOrder, board.order_id)
    product = session.get(Product, order.product_id)
    return BoardLabel(board.serial, order.number, product.code, product.revision,
                      board.panel_id, board.panel_position)


def board_label(session: Session, serial: str) -> BoardLabel:
    """The label of one board, or UNKNOWN_BOARD."""
    board = session.exec(select(Board).where(Board.serial == serial)).first()
    if board is None:
        raise UnknownBoard(serial=serial)
    return _board_label(session, board)


def order_board_labels(session: Session, number: str) -> list[BoardLabel]:
    """The labels of every board of an order, in the order they were registered."""
    order = find_order(session, number)
    boards = session.exec(select(Board).where(Board.order_id == order.id).order_by(Board.id))
    return [_board_label(session, b, order) for b in boards]


def panel_labels(session: Session, panel_id: str) -> list[PanelLabel]:
    """The panel's label(s): its positions, PANEL_ROWS_PER_LABEL to a label; NOT_FOUND if none."""
    boards = list(session.exec(select(Board).where(Board.panel_id == panel_id)
                               .order_by(Board.panel_position, Board.id)))
    if not boards:
        raise NotFound(what="panel", key=panel_id)
    first = _board_label(session, boards[0])
    rows = [(b.panel_position, b.serial) for b in boards]
    chunks = [rows[i:i + PANEL_ROWS_PER_LABEL] for i in range(0, len(rows),
                                                              PANEL_ROWS_PER_LABEL)]
    return [PanelLabel(panel_id, first.order, first.product, first.revision, chunk, i,
                       len(chunks)) for i, chunk in enumerate(chunks, 1)]


def box_label(session: Session, number: str, box: int) -> BoxLabel:
    """Box `box` of an order as packed at PACK, with the SSCC it was given when it opened."""
    order = find_order(session, number)
    packed = session.exec(select(Box).where(Box.order_id == order.id, Box.number == box)).first()
    if packed is None:  # a label never gives out an SSCC: the box gets one at PACK
        raise NotFound(what="box", key=f"{box} of order {number} (a box and its SSCC begin "
                                       "with its first board scanned at PACK)")
    if packed.sscc is None:
        raise NotFound(what="SSCC", key=f"of box {box} of order {number} (packed before "
                                        "boxes kept their SSCC)")
    quantity = session.exec(select(func.count()).select_from(BoxBoard)
                            .where(BoxBoard.box_id == packed.id)).one()
    boxes = max(math.ceil(order.quantity / packed.capacity), session.exec(
        select(func.max(Box.number)).where(Box.order_id == order.id)).one())
    customer, product = _order_parts(session, order)
    return BoxLabel(order.number, customer.code, customer.name, product.code, product.revision,
                    box, boxes, quantity, packed.sscc)


def traveller(session: Session, number: str) -> Traveller:
    """The order's traveller."""
    order = find_order(session, number)
    customer, product = _order_parts(session, order)
    boards = list(session.exec(select(Board.serial, Board.panel_id).where(
        Board.order_id == order.id).order_by(Board.id)))
    panels: dict[str, int] = {}
    for _serial, panel in boards:
        if panel:
            panels[panel] = panels.get(panel, 0) + 1
    return Traveller(order.number, customer.code, customer.name, product.code, product.revision,
                     order.quantity, order.paste, order.side, order.stencil_id, order.due_date,
                     list(product.route), len(boards), list(panels.items()),
                     boards[0][0] if boards else None, boards[-1][0] if boards else None)


def sscc_hri(code: str) -> str:
    """An SSCC as people read it under the bars."""
    return f"(00) {code}"


# --- ZPL --------------------------------------------------------------------------------------

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
        elif _switches(v, charset):
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
