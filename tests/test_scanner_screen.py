"""The same understanding on the keyboard-wedge path: what lands in the station's scan box."""

import re

import pytest
from conftest import build_line, make_app
from sqlmodel import Session, func, select

from station.line.desk import desk_of
from station.models import BoardStep

STATION = "T-PRINT"
HX = {"HX-Request": "true"}
GTIN = "07032069804988"
BADGES = {"operator": "10001", "qa": "10002", "supervisor": "10004"}


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    app = make_app(tmp_path_factory.mktemp("screen"))
    yield app
    app.extensions["engine"].dispose()


@pytest.fixture(scope="module")
def line(app):
    with Session(app.extensions["engine"], expire_on_commit=False) as s:
        return build_line(s, boards=20, tokens=False)


@pytest.fixture(scope="module")
def serials(line):
    return iter(line.serials)


def signed_in(app, role="operator", station=STATION, pin=True):
    client = app.test_client()
    data = {"badge": BADGES[role], "pin": "1234"} if pin else \
        {"name": role, "password": f"{role}-pw"}
    assert client.post("/login", data=data).status_code == 302
    assert client.get(f"/station/{station}").status_code == 200
    return client


def scan(client, code, station=STATION):
    r = client.post(f"/station/{station}/scan", data={"code": code}, headers=HX)
    assert r.status_code == 200
    return r.get_data(as_text=True)


def outcome(html):
    return re.search(r'id="result" class="result (\w+)"', html).group(1)


def steps(app):
    with Session(app.extensions["engine"]) as s:
        return s.exec(select(func.count()).select_from(BoardStep)).one()


def test_a_gs1_label_with_stand_ins_scans_its_serial_on_the_screen(app, line, serials):
    client = signed_in(app)
    serial = next(serials)
    html = scan(client, f"]C101{GTIN}10LOT99{{GS}}21{serial}")
    assert outcome(html) == "accepted" and f"OK · {serial}" in html
    assert 'data-via="screen"' in html


def test_a_wedge_that_lost_the_gs_is_told_so(app, line, serials):
    client = signed_in(app)
    before = steps(app)
    html = scan(client, f"]C101{GTIN}10LOT9921{next(serials)}")
    assert outcome(html) == "refused" and "INVALID_CODE" in html
    assert "GS separator seems to be missing" in html and steps(app) == before


def test_a_stencil_on_the_station_screen_is_refused_by_name(app, line):
    client = signed_in(app)
    before = steps(app)
    html = scan(client, "ST-PCB-A-WO-1")
    assert outcome(html) == "refused" and "WRONG_KIND" in html
    assert "ST-PCB-A-WO-1 is a stencil, not a board or panel" in html
    assert "readiness screen" in html and steps(app) == before


def test_an_ecia_label_with_stand_ins_is_a_pcb_lot_here_too(app, line):
    client = signed_in(app)
    html = scan(client, "[)>{RS}06{GS}PPCB-A{GS}Q50{GS}1TLOT-PCB-A-WO-1{RS}{EOT}")
    assert "WRONG_KIND" in html and "LOT-PCB-A-WO-1 is a PCB lot" in html


def test_caps_lock_on_the_wedge_names_the_board_it_probably_was(app, line, serials):
    client = signed_in(app)
    serial = next(serials)
    html = scan(client, serial.lower())
    assert "UNKNOWN_BOARD" in html and "Caps Lock" in html and f"{serial} is known here" in html


def test_the_screen_shows_the_stations_operator(app, line):
    client = signed_in(app)
    page = client.get(f"/station/{STATION}").get_data(as_text=True)
    assert 'id="operator"' in page and "Operator One" in page


def test_a_badge_on_the_screen_without_a_pin_sign_in_is_refused(app, line):
    signed_in(app, "supervisor", pin=False)  # signed in here, but by password
    client = signed_in(app)
    html = scan(client, BADGES["supervisor"])
    assert outcome(html) == "refused" and "BADGE_NEEDS_PIN" in html


def test_a_badge_on_the_screen_switches_to_who_signed_in_with_a_pin_here(app, line, serials):
    signed_in(app, "qa", station="T-SPI")
    client = signed_in(app, station="T-SPI")
    html = scan(client, BADGES["qa"], station="T-SPI")
    assert outcome(html) == "info" and "Qa One is signed in at T-SPI" in html
    assert 'hx-swap-oob="outerHTML:.who"' in html and "Qa One · qa" in html
    assert desk_of(app).operators.current("T-SPI").name == "Qa One"
    page = client.get("/station/T-SPI").get_data(as_text=True)
    assert re.search(r'class="who">Qa One · qa', page)  # the browser is QA's now


def test_a_badge_switch_keeps_the_pages_csrf_token(tmp_path):
    app = make_app(tmp_path, WTF_CSRF_ENABLED=True)
    with Session(app.extensions["engine"], expire_on_commit=False) as s:
        line = build_line(s, boards=2, tokens=False)

    def token(html):
        return re.search(r'"X-CSRFToken": "([^"]+)"', html).group(1)

    qa = app.test_client()
    page = qa.get("/login").get_data(as_text=True)
    login = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    qa.post("/login", data={"badge": "10002", "pin": "1234", "csrf_token": login})
    qa.get(f"/station/{STATION}")
    op = app.test_client()
    page = op.get("/login").get_data(as_text=True)
    login = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    op.post("/login", data={"badge": "10001", "pin": "1234", "csrf_token": login})
    csrf = token(op.get(f"/station/{STATION}").get_data(as_text=True))
    headers = {**HX, "X-CSRFToken": csrf}
    r = op.post(f"/station/{STATION}/scan", data={"code": "10002"}, headers=headers)
    assert "Qa One is signed in" in r.get_data(as_text=True)
    r = op.post(f"/station/{STATION}/scan", data={"code": line.serials[0]}, headers=headers)
    assert r.status_code == 200 and 'class="result accepted"' in r.get_data(as_text=True)
    with Session(app.extensions["engine"]) as s:
        assert s.exec(select(BoardStep)).one().user_id == line.users["qa"].id
    app.extensions["engine"].dispose()
