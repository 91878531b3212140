"""The printable label pages: sized in mm for their stock, bars that read back, clear errors."""

import re

import pytest
from conftest import build_line
from test_labels import read_code128, read_datamatrix

from station import masterdata


@pytest.fixture
def signed_in(client, session):
    """A signed-in operator on a line of 5 boards on panels of 4 (WO-1-P0001, WO-1-P0002)."""
    line = build_line(session, boards=5, panel_size=4)
    client.post("/login", data={"badge": "10001", "pin": "1234"})
    client.line = line
    return client


def svgs(html: str) -> list[str]:
    return re.findall(r"<svg .*?</svg>", html, re.S)


def test_pages_need_a_signed_in_user(client, line):
    r = client.get("/labels/boards/WO-1-00001")
    assert r.status_code == 302 and "/login" in r.headers["Location"]


def test_a_board_label_is_50_by_25_mm_and_its_bars_read_back(signed_in):
    r = signed_in.get("/labels/boards/WO-1-00001")
    html = r.get_data(as_text=True)
    assert r.status_code == 200
    assert '<link rel="stylesheet" href="/labels/sheet/board.css">' in html
    css = signed_in.get("/labels/sheet/board.css")
    assert css.mimetype == "text/css"
    text = css.get_data(as_text=True)
    assert "@page { size: 50mm 25mm; margin: 0; }" in text
    assert ".label { width: 50mm; height: 25mm;" in text
    (svg,) = svgs(html)
    assert 'height="12mm"' in svg and re.search(r'width="[\d.]+mm"', svg)
    assert read_code128(svg) == ("WO-1-00001", False)
    assert "WO-1 · PCB/A · WO-1-P0001/1" in html
    assert 'name="label" value="board"' in html  # operators may print it on the printer


def test_a_board_serial_starting_99_prints_correctly(signed_in, session):
    masterdata.add_boards(session, signed_in.line.users["admin"], "WO-1",
                          serials=["9912345678", "99-0007"])
    for serial in ("9912345678", "99-0007"):
        (svg,) = svgs(signed_in.get(f"/labels/boards/{serial}").get_data(as_text=True))
        assert read_code128(svg) == (serial, False)


def test_a_datamatrix_board_label_is_25_by_10_mm(signed_in):
    html = signed_in.get("/labels/boards/WO-1-00002?symbology=datamatrix").get_data(as_text=True)
    assert "/labels/sheet/board-dm.css" in html
    assert "size: 25mm 10mm" in signed_in.get("/labels/sheet/board-dm.css").get_data(as_text=True)
    (svg,) = svgs(html)
    assert 'width="8mm"' in svg  # 16 modules (14 + quiet zone) of 0.5 mm
    rows = [[0] * 14 for _ in range(14)]
    for x, y, w in re.findall(r'<rect x="(\d+)" y="(\d+)" width="(\d+)" height="1"/>', svg):
        for i in range(int(w)):
            rows[int(y) - 1][int(x) - 1 + i] = 1
    assert read_datamatrix(rows) == "WO-1-00002"


def test_every_board_of_an_order_on_one_sheet_a_page_each(signed_in):
    html = signed_in.get("/labels/orders/WO-1/boards").get_data(as_text=True)
    assert html.count('class="label board"') == 5
    assert [read_code128(s)[0] for s in svgs(html)] == [f"WO-1-0000{i}" for i in range(1, 6)]
    css = signed_in.get("/labels/sheet/board.css").get_data(as_text=True)
    assert "break-after: page" in css and "@media print" in css


def test_a_panel_label_lists_its_positions(signed_in):
    html = signed_in.get("/labels/panels/WO-1-P0001").get_data(as_text=True)
    assert "/labels/sheet/panel.css" in html
    assert read_code128(svgs(html)[0]) == ("WO-1-P0001", False)
    for i in range(1, 5):
        assert f"<li><b>{i}</b> WO-1-0000{i}</li>" in html
    assert "WO-1-00005" not in html
    assert "size: 100mm 50mm" in signed_in.get("/labels/sheet/panel.css").get_data(as_text=True)
    assert signed_in.get("/labels/panels/NOPE").status_code == 404


def pack_boxes(session, per_box: int, count: int | None = None) -> list:
    """Pack WO-1's boards (the first `count`) into boxes of `per_box`, as PACK does."""
    from sqlmodel import select

    from station.models import Board, WorkOrder
    from station.shipping import gate

    order = session.exec(select(WorkOrder).where(WorkOrder.number == "WO-1")).one()
    boards = list(session.exec(select(Board).where(Board.order_id == order.id)
                               .order_by(Board.id)))[:count]
    boxes = [gate.pack(session, order.id, [b.id], capacity=per_box) for b in boards]
    session.commit()
    return boxes


def test_a_box_label_carries_order_customer_quantity_and_sscc(signed_in, session):
    packed = pack_boxes(session, per_box=2)  # 5 boards: 2 + 2 + 1
    html = signed_in.get("/labels/boxes/WO-1/2").get_data(as_text=True)
    assert "/labels/sheet/box.css" in html
    assert "Customer Ltd (CUST)" in html and "2 of 3" in html and "2 pcs" in html
    order_svg, sscc_svg = svgs(html)
    assert read_code128(order_svg) == ("WO-1", False)
    code, gs1 = read_code128(sscc_svg)
    assert gs1 and code.startswith("00") and len(code) == 20
    sscc = code[2:]
    assert sscc.startswith("00614141") and f"(00) {sscc}" in html
    assert sscc == packed[2].sscc  # the SSCC the box got when it opened at PACK
    assert 'height="32mm"' in sscc_svg
    assert "size: 100mm 150mm" in signed_in.get("/labels/sheet/box.css").get_data(as_text=True)
    # the same box keeps its SSCC; the next box got the next one
    again = svgs(signed_in.get("/labels/boxes/WO-1/2").get_data(as_text=True))[1]
    assert read_code128(again)[0] == code
    third = read_code128(svgs(signed_in.get("/labels/boxes/WO-1/3")
                              .get_data(as_text=True))[1])[0]
    assert int(third[-10:-1]) == int(sscc[-10:-1]) + 1
    last = signed_in.get("/labels/boxes/WO-1/3").get_data(as_text=True)
    assert "1 pcs" in last  # 5 boards: 2 + 2 + 1
    assert signed_in.get("/labels/boxes/WO-1/4").status_code == 404


def test_a_box_label_never_gives_out_an_sscc(signed_in, session):
    from sqlmodel import func, select

    from station.models import SsccCounter

    r = signed_in.get("/labels/boxes/WO-1/1")  # nothing packed yet: no box, no number
    assert r.status_code == 404 and "PACK" in r.get_data(as_text=True)
    assert session.exec(select(func.count()).select_from(SsccCounter)).one() == 0


def test_a_packed_box_shows_the_boards_really_in_it(signed_in, session):
    from sqlmodel import select

    from station.models import Board, WorkOrder
    from station.shipping import gate

    order = session.exec(select(WorkOrder).where(WorkOrder.number == "WO-1")).one()
    boards = list(session.exec(select(Board).where(Board.order_id == order.id)
                               .order_by(Board.id)))
    # Box 1 holds 3 of its 4 so far.
    gate.pack(session, order.id, [b.id for b in boards[:3]], capacity=4)
    session.commit()
    html = signed_in.get("/labels/boxes/WO-1/1?per_box=1").get_data(as_text=True)
    assert "3 pcs" in html and "1 of 2" in html  # the packed box's capacity, whatever is asked


def test_the_traveller_is_a4_with_the_route_to_sign(signed_in):
    html = signed_in.get("/labels/orders/WO-1/traveller").get_data(as_text=True)
    assert "/labels/sheet/a4.css" in html
    css = signed_in.get("/labels/sheet/a4.css").get_data(as_text=True)
    assert "@page { size: 210mm 297mm; margin: 12mm; }" in css
    assert read_code128(svgs(html)[0]) == ("WO-1", False)
    for step in ("PRINT", "SPI", "PLACE", "REFLOW", "AOI", "FCT", "QA", "PACK"):
        assert f"<td>{step}</td>" in html
    assert "WO-1-00001 … WO-1-00005" in html and "WO-1-P0001 (4), WO-1-P0002 (1)" in html


def test_a_serial_too_long_for_the_label_says_what_to_do(signed_in, session):
    long = "ACME-PCB-2024-000123-XYZ-LONG"
    masterdata.add_boards(session, signed_in.line.users["admin"], "WO-1", serials=[long])
    r = signed_in.get(f"/labels/boards/{long}")
    html = r.get_data(as_text=True)
    assert r.status_code == 400 and "TOO_LONG_FOR_LABEL" in html and "DataMatrix" in html
    assert signed_in.get(f"/labels/boards/{long}?symbology=datamatrix").status_code == 200


def test_unknown_things_and_bad_parameters(signed_in):
    assert signed_in.get("/labels/boards/NOPE-1").status_code == 404
    assert signed_in.get("/labels/orders/NOPE/traveller").status_code == 404
    assert signed_in.get("/labels/boards/WO-1-00001?symbology=qr").status_code == 400
    assert signed_in.get("/labels/sheet/poster.css").status_code == 404


def test_label_pages_keep_the_strict_content_security_policy(signed_in):
    r = signed_in.get("/labels/boards/WO-1-00001")
    assert "unsafe-inline" not in r.headers["Content-Security-Policy"]
    assert "<style" not in r.get_data(as_text=True) and "style=" not in r.get_data(as_text=True)
