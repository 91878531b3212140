"""Traceability both ways (IPC-1782 M2): a board's reels, and the boards a lot, reel or part
went onto, with their orders and customers."""

import csv
import io

from sqlmodel import Session, select

from station.errors import N_, InvalidInput, UnknownBoard
from station.models import Board, BoardMaterial, Customer, WorkOrder

CSV_COLUMNS = ("serial", "order", "customer", "step", "slot", "part", "reel", "lot",
               "date_code", "designators")


def board_materials(session: Session, serial) -> dict:
    """Per designator group, the part, reel, lot, date code and slot that fed the board."""
    board = session.exec(select(Board).where(Board.serial == serial)).first() \
        if isinstance(serial, str) else None
    if board is None:
        raise UnknownBoard(serial=serial)
    rows = session.exec(select(BoardMaterial).where(BoardMaterial.board_id == board.id)
                        .order_by(BoardMaterial.id))
    return {"serial": board.serial,
            "materials": [{"step": m.step, "slot": m.slot, "part": m.part, "reel": m.reel_id,
                           "lot": m.lot, "date_code": m.date_code,
                           "designators": m.designators} for m in rows]}


def _where(lot=None, reel=None, part=None) -> list:
    given = {"lot": lot, "reel": reel, "part": part}
    if not any(given.values()):
        raise InvalidInput(N_("name a lot, a reel or a part to trace"))
    if not all(v is None or isinstance(v, str) for v in given.values()):
        raise InvalidInput(N_("lot, reel and part must be texts"))
    columns = {"lot": BoardMaterial.lot, "reel": BoardMaterial.reel_id,
               "part": BoardMaterial.part}
    return [columns[k] == v for k, v in given.items() if v]


def trace(session: Session, lot=None, reel=None, part=None) -> dict:
    """The boards, orders and customers that got the lot, reel or part (each given must match)."""
    where = _where(lot, reel, part)
    # The index on the named column finds the board materials; boards join by their key.
    ids = select(BoardMaterial.board_id).where(*where).distinct().subquery()
    rows = session.exec(select(Board.serial, WorkOrder.number, Customer.code)
                        .join(ids, ids.c.board_id == Board.id)
                        .join(WorkOrder, WorkOrder.id == Board.order_id)
                        .join(Customer, Customer.id == WorkOrder.customer_id)).all()
    return {"boards": sorted({r[0] for r in rows}), "orders": sorted({r[1] for r in rows}),
            "customers": sorted({r[2] for r in rows})}


def trace_csv(session: Session, lot=None, reel=None, part=None) -> str:
    """The trace as CSV: one row per board and designator group that got it."""
    where = _where(lot, reel, part)
    m = BoardMaterial
    # Columns, not ORM objects: an export of 100,000 rows spent most of its time building them.
    rows = session.exec(select(Board.serial, WorkOrder.number, Customer.code, m.step, m.slot,
                               m.part, m.reel_id, m.lot, m.date_code, m.designators)
                        .join(Board, Board.id == m.board_id)
                        .join(WorkOrder, WorkOrder.id == Board.order_id)
                        .join(Customer, Customer.id == WorkOrder.customer_id)
                        .where(*where).order_by(Board.serial, m.id))
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for *head, lot_, date_code, designators in rows:
        writer.writerow([*head, lot_ or "", date_code or "", " ".join(designators)])
    return out.getvalue()
