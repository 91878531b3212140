"""A station's state (derived or set by its operator), its API and form, the dashboard offline."""

import re
from datetime import timedelta

import pytest
from conftest import Api, build_line, make_app, make_ready
from sqlalchemy import event
from sqlmodel import Session, select

from station import masterdata
from station.line import scanning
from station.line import state as line_state
from station.models import Event, Station, utcnow
from station.quality import holds
from station.readiness import stencils


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    # A broker that is not there: the station keeps working and says so.
    return make_app(tmp_path_factory.mktemp("line"), MQTT={"url": "mqtt://127.0.0.1:9"})


@pytest.fixture(scope="module")
def line(app):
    with Session(app.extensions["engine"], expire_on_commit=False) as s:
        return build_line(s, boards=12)


@pytest.fixture(scope="module", autouse=True)
def closed(app):
    yield
    app.extensions["mqtt"].close()


@pytest.fixture
def session(app):
    with Session(app.extensions["engine"], expire_on_commit=False) as s:
        yield s


def snap(session, station_id, **kw):
    return line_state.snapshot(session, session.get(Station, station_id), **kw)


def test_a_station_is_idle_until_a_board_passes_then_running_then_idle_again(session, line):
    assert snap(session, "T-SPI")["state"] == "idle"
    assert snap(session, "T-SPI")["state_code"] == 2202
    scanning.scan(session, "T-PRINT", line.serials[0], line.users["operator"])
    scanning.scan(session, "T-SPI", line.serials[0], line.users["operator"])
    now = snap(session, "T-SPI")
    assert (now["state"], now["state_code"], now["job"], now["boards_scanned"]) == \
        ("running", 1100, "WO-1", 1)
    later = snap(session, "T-SPI", now=utcnow() + timedelta(minutes=6))
    assert later["state"] == "idle"  # [station_state] running_minutes = 5 by default


def test_a_red_readiness_item_blocks_the_station_and_a_missing_stencil_says_2300(session, line):
    scanning.scan(session, "T-PRINT", line.serials[1], line.users["operator"])
    order = line.order
    stencil = session.exec(select(Event).where(Event.kind == "stencil.mounted")).first()
    stencils.retire(session, line.users["operator"], stencil.payload["stencil"], "worn out")
    s = snap(session, "T-PRINT")
    assert (s["state"], s["state_code"], s["red_item"], s["stencil_ready"]) == \
        ("blocked", 2300, "stencil", False)
    assert "retired" in s["red_message"]
    stencils.register_stencil(session, line.users["admin"], "ST-NEW", "PCB", "A", "top",
                              100_000, 10_000)
    stencils.record_tension(session, line.users["operator"], "ST-NEW", [40.0] * 4)
    stencils.mount(session, line.users["operator"], order, "ST-NEW")
    assert snap(session, "T-PRINT")["state"] == "running"


def test_a_hold_on_the_job_blocks_the_station_with_its_reason(session, line):
    holds.place_hold(session, line.users["qa"], line.order, "solder paste recall")
    s = snap(session, "T-PRINT")
    assert (s["state"], s["hold"], s["hold_reason"]) == ("blocked", True, "solder paste recall")
    holds.release_holds(session, line.users["qa"], line.order)
    assert snap(session, "T-PRINT")["hold"] is False


def test_the_operators_state_holds_until_a_board_passes(session, line):
    op = line.users["operator"]
    line_state.set_state(session, op, "T-PLACE", "down", "nozzle crash")
    s = snap(session, "T-PLACE")
    assert (s["state"], s["state_code"], s["state_reason"], s["state_source"]) == \
        ("down", 5000, "nozzle crash", "operator")
    line_state.set_state(session, op, "T-PLACE", "setup", "changeover to WO-2")
    assert snap(session, "T-PLACE")["state_code"] == 4500
    ev = line_state.set_state(session, op, "T-PLACE", "auto")
    assert ev.payload["new_state"] == "idle" and ev.payload["old_state"] == "setup"
    line_state.set_state(session, op, "T-PLACE", "down", "feeder jam")
    scanning.scan(session, "T-SPI", line.serials[1], op)
    scanning.scan(session, "T-PLACE", line.serials[1], op)
    assert snap(session, "T-PLACE")["state"] == "running"  # boards pass: it is not down


def test_the_job_counts_the_orders_boards_that_passed_this_step_not_other_orders(tmp_path):
    app = make_app(tmp_path)
    with Session(app.extensions["engine"], expire_on_commit=False) as s:
        line = build_line(s, boards=3)
        admin, op = line.users["admin"], line.users["operator"]
        masterdata.create_order(s, admin, "WO-2", "CUST", "PCB", "A", 4, "2.50")
        other = masterdata.add_boards(s, admin, "WO-2", count=4)
        make_ready(s, line, "WO-2")
        for serial in other[:3]:
            scanning.scan(s, "T-PRINT", serial, op)
        scanning.scan(s, "T-SPI", other[0], op)
        for serial in line.serials[:2]:
            scanning.scan(s, "T-PRINT", serial, op)
        at_print, at_spi = snap(s, "T-PRINT"), snap(s, "T-SPI")
        assert (at_print["job"], at_print["job_done"], at_print["job_total"]) == ("WO-1", 2, 3)
        assert (at_spi["job"], at_spi["job_done"], at_spi["job_total"]) == ("WO-2", 1, 4)
        scanning.scan(s, "T-PRINT", line.serials[2], op)
        done = snap(s, "T-PRINT")
        assert (done["job"], done["job_done"], done["job_total"]) == ("WO-1", 3, 3)
    app.extensions["engine"].dispose()


HISTORY = re.compile(r"^SCAN (board_step|test_attempt|event|board)\b")


def test_a_stations_state_and_screen_read_its_own_rows_never_the_whole_history(session, line):
    """Every query of the snapshot, the last scans and the shift count finds its rows by an
    index: none walks a table (or a whole index) that grows with every board ever made."""
    op = line.users["operator"]
    scanning.scan(session, "T-PRINT", line.serials[6], op)
    engine = session.get_bind()
    statements = []

    def seen(_conn, _cursor, statement, parameters, _context, _many):
        if statement.lstrip().upper().startswith("SELECT"):
            statements.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", seen)
    try:
        for station in ("T-PRINT", "T-FCT", "T-AOI"):
            snap(session, station)
            scanning.last_scans(session, station)
            scanning.shift_count(session, station, utcnow() - timedelta(hours=8))
    finally:
        event.remove(engine, "before_cursor_execute", seen)
    assert len(statements) > 20  # the hook saw them
    conn = session.connection()
    walks, operator = {}, []
    for statement, parameters in statements:
        plan = [row[-1] for row in conn.exec_driver_sql("EXPLAIN QUERY PLAN " + statement,
                                                        parameters)]
        walks.update({" ".join(statement.split())[:120]: step for step in plan
                      if HISTORY.match(step)})
        if "station.state_set" in statement:
            operator += plan
    assert walks == {}
    # The operator's latest state: over the state events only, not back through every event
    # of a station whose operator never set one.
    assert operator and all("ix_event_state_set" in step for step in operator)


def test_every_value_of_the_snapshot_is_a_flat_scalar(session):
    for value in snap(session, "T-FCT").values():
        assert isinstance(value, str | int | float | bool)


def test_the_api_sets_and_reads_a_state_for_floor_roles_only(app, line):
    api = Api(app.test_client(), line)
    r = api.post("/api/v1/stations/T-REFLOW/state", {"state": "down", "reason": "conveyor"})
    assert r.status_code == 201 and r.get_json()["state"] == "down"
    assert api.get("/api/v1/stations/T-REFLOW/state", "finance").get_json()["state"] == "down"
    assert api.post("/api/v1/stations/T-REFLOW/state", {"state": "down", "reason": "x"},
                    "finance").status_code == 403
    assert api.post("/api/v1/stations/T-REFLOW/state", {"state": "asleep", "reason": "x"}) \
        .status_code == 400
    assert api.post("/api/v1/stations/T-REFLOW/state", {"state": "down"}).status_code == 400
    assert api.post("/api/v1/stations/NOPE/state", {"state": "down", "reason": "x"}) \
        .status_code == 404
    assert api.post("/api/v1/stations/T-REFLOW/state", {"state": "auto"}).status_code == 201


def login(client, role="supervisor"):
    r = client.post("/login", data={"name": role, "password": f"{role}-pw"})
    assert r.status_code == 302


def test_the_state_page_sets_the_state_with_a_reason(app, line):
    client = app.test_client()
    login(client)
    page = client.get("/line/T/stations/T-AOI/state")
    assert page.status_code == 200 and b'name="reason"' in page.data
    r = client.post("/line/T/stations/T-AOI/state", data={"state": "setup", "reason": "new job"})
    assert r.status_code == 302
    assert b"In setup" in client.get(r.headers["Location"]).data
    r = client.post("/line/T/stations/T-AOI/state", data={"state": "down", "reason": ""},
                    headers={"HX-Request": "true"})
    assert b"say why" in r.data  # refused, in the partial
    assert client.get("/line/L9/stations/T-AOI/state").status_code == 404
    finance = app.test_client()
    login(finance, "finance")
    assert finance.get("/line/T/stations/T-AOI/state").status_code == 403


def test_without_a_broker_the_dashboard_shows_the_database_and_says_so(app, line):
    client = app.test_client()
    login(client)
    page = client.get("/line/T")
    assert page.status_code == 200
    html = page.data.decode()
    assert html.count('class="ltile') == 8 and 'data-station="T-PRINT"' in html
    assert "Broker offline" in html and "events waiting" in html
    assert 'data-live="stream"' in html  # a broker is configured: it streams (and says so)
    board = client.get("/line/T/board").data.decode()
    assert "tiles from this station" in board
    data = Api(client, line).get("/api/v1/lines/T").get_json()
    assert data["live"] is False and len(data["stations"]) == 8
    assert data["stations"][0]["station"] == "T-PRINT"  # in the line's flow
    assert client.get("/line/NOPE").status_code == 404
    out = Api(client, line).get("/api/v1/outbox").get_json()
    assert out["configured"] and not out["connected"] and out["waiting"] > 0
    banner = client.get("/line/banner").data.decode()
    assert f"Broker offline, {out['waiting']} events waiting" in banner


def test_with_no_broker_configured_the_dashboard_polls_and_shows_no_banner(tmp_path):
    app = make_app(tmp_path)
    with Session(app.extensions["engine"], expire_on_commit=False) as s:
        build_line(s, boards=1, ready=False)
    client = app.test_client()
    login(client)
    html = client.get("/line/T").data.decode()
    assert 'data-live="poll"' in html and "No broker configured" in html
    assert "Broker offline" not in html
    assert client.get("/line/T/stream").status_code == 204


def test_the_state_form_can_be_included_with_just_the_station(app, line, session):
    from flask import render_template_string

    station = session.get(Station, "T-QA")
    with app.test_request_context("/"):
        html = render_template_string('{% include "_line_state_form.html" %}', station=station)
        banner = render_template_string('{% include "_line_banner.html" %}')
    assert 'data-state="idle"' in html and 'name="reason"' in html and "csrf_token" in html
    assert "Broker offline" in banner and 'hx-trigger="every 10s"' in banner
