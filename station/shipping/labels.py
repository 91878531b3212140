"""Labels the line scans: board, panel, box (SSCC) and traveller: what each says, read from the
database, and the SSCC numbers boxes take. The symbols are drawn by station.shipping.symbols,
the pages by templates/labels/, the printer's ZPL by station.shipping.zpl.
"""

import math
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import case, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, func, select

from station.errors import InvalidInput, NotFound, UnknownBoard
from station.masterdata import find_order
from station.models import Board, Box, BoxBoard, Customer, Product, SsccCounter, WorkOrder


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
