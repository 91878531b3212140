"""A board's page: its whole history, step by step."""

from flask import Blueprint, render_template
from sqlmodel import select

from station import events
from station.db import get_session
from station.errors import UnknownBoard
from station.material import trace
from station.models import Board, Product, WorkOrder
from station.quality.fct import steps_done
from station.routes.fct import board_tests_view, fct_rules
from station.routes.web import login_required

bp = Blueprint("boards", __name__)


@bp.get("/boards/<serial>")
@login_required()
def show_board(serial):
    """Every event of the board, oldest first, and where it stands on its route."""
    session = get_session()
    board = session.exec(select(Board).where(Board.serial == serial)).first()
    if board is None:
        raise UnknownBoard(serial=serial)
    order = session.get(WorkOrder, board.order_id)
    route = session.get(Product, order.product_id).route
    return render_template("board.html", board=board, order=order, route=route,
                           done=steps_done(session, board), tests=board_tests_view(session, board),
                           history=events.history(session, f"board:{serial}"),
                           materials=trace.board_materials(session, serial)["materials"],
                           defects=fct_rules().defect_codes)
