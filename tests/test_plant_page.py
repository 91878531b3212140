"""The plant board: a row per line, from this database or live from a real broker's retained state.

LinePC stands for another PC of the plant: it publishes its line's retained states and status
with the last will a line node has, and can be killed (its socket dropped without DISCONNECT).
"""

import json
import re
import threading

import paho.mqtt.client as mqtt
import pytest
from conftest import Api, build_line, make_app
from paho.mqtt.enums import CallbackAPIVersion
from sqlmodel import Session, select
from test_mqtt_broker import Broker, broker, needs_broker, wait_until  # noqa: F401

from station import masterdata
from station import mqtt as station_mqtt
from station.models import Line, User


class LinePC:
    """Another line's node: retained states of its stations, a status, and a last will."""

    def __init__(self, on: Broker, prefix: str, line: str):
        self.base = f"{prefix}/{line.lower()}"
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"{line}-line-pc",
                                  protocol=mqtt.MQTTv5)
        self.client.will_set(f"{self.base}/status", json.dumps({"online": False}), qos=1,
                             retain=True)
        up = threading.Event()
        self.client.on_connect = lambda *_a: up.set()
        self.client.connect("127.0.0.1", on.port, keepalive=5)
        self.client.loop_start()
        assert up.wait(5)
        self.publish("status", {"online": True})

    def publish(self, topic: str, payload: dict) -> None:
        """A retained message under the line, acknowledged by the broker."""
        self.client.publish(f"{self.base}/{topic}", json.dumps(payload), qos=1,
                            retain=True).wait_for_publish(5)

    def state(self, station: str, **snap) -> None:
        """A station's retained state, shaped as line_state.snapshot makes it."""
        self.publish(f"{station.lower()}/state", {"station": station, "type": "AOI",
                                                  "state": "idle", **snap})

    def kill(self) -> None:
        """The PC dies: no DISCONNECT, so the broker sends its last will."""
        self.client.loop_stop()
        self.client.socket().close()


def login(client, role="supervisor"):
    r = client.post("/login", data={"name": role, "password": f"{role}-pw"})
    assert r.status_code == 302


def rows(html: str) -> dict[str, str]:
    """Each line's row of the board, by line id."""
    parts = html.split('<article class="pline')[1:]
    return {re.search(r'data-line="([^"]+)"', p).group(1): p for p in parts}


def chip(row: str, station: str) -> dict:
    """A station chip's attributes and words."""
    m = re.search(rf'<li class="pchip ([^"]*)" data-station="{re.escape(station)}"\s+'
                  r'data-state="(\w+)" data-online="(\w+)" data-source="(\w+)">(.*?)</li>',
                  row, re.S)
    assert m, f"no chip for {station}"
    words = " ".join(re.sub(r"<[^>]+>", " ", m.group(5)).split())
    return {"class": m.group(1), "state": m.group(2), "online": m.group(3),
            "source": m.group(4), "words": words}


def output(row: str) -> tuple[int, int]:
    """The row's output this hour and its plan."""
    m = re.search(r'data-actual="(\d+)" data-target="(\d+)"', row)
    return int(m.group(1)), int(m.group(2))


def add_line_l2(session, line) -> None:
    """A second line of one printer, planned at 30 an hour: its output is what L2-PRINT passes."""
    masterdata.create_station(session, line.users["admin"], "L2-PRINT", "PRINT", "L2")
    l2 = session.get(Line, "L2")
    l2.name, l2.hourly_target = "Line 2", 30
    session.add(l2)
    session.commit()


@pytest.fixture
def plant(tmp_path):
    """An app without a broker: line T (eight stations) and line L2 (one printer)."""
    app = make_app(tmp_path)
    with Session(app.extensions["engine"], expire_on_commit=False) as s:
        line = build_line(s, boards=4)
        add_line_l2(s, line)
    return app, line


def test_without_a_broker_the_board_lists_every_line_of_the_database(plant):
    app, line = plant
    client = app.test_client()
    assert client.get("/plant").status_code == 302  # signed in only, as /line
    login(client)
    assert 'href="/plant"' in client.get("/").data.decode()
    page = client.get("/plant")
    assert page.status_code == 200
    html = page.data.decode()
    assert 'hx-get="/plant/board" hx-trigger="every 2s"' in html
    assert "No broker configured" in html
    board = rows(html)
    assert {"T", "L2"} <= set(board)
    assert re.search(r'class="pline-name" href="/line/L2">Line 2<', board["L2"])
    t = board["T"]
    for step in ("PRINT", "SPI", "PLACE", "REFLOW", "AOI", "FCT", "QA", "PACK"):
        c = chip(t, f"T-{step}")
        assert c["state"] == "idle" and c["source"] == "local" and "Idle" in c["words"]
    assert output(board["L2"]) == (0, 30) and output(t) == (0, 0)
    assert 'data-online="unknown"' in t and "offline" not in t

    api = Api(client, line)
    assert api.scan("L2-PRINT", line.serials[0]).status_code == 201
    assert api.scan("T-PRINT", line.serials[1]).status_code == 201
    board = rows(client.get("/plant/board").data.decode())
    assert chip(board["L2"], "L2-PRINT")["state"] == "running"
    assert "Running" in chip(board["L2"], "L2-PRINT")["words"]
    assert output(board["L2"]) == (1, 30)
    assert chip(board["T"], "T-PRINT")["state"] == "running"
    assert chip(board["T"], "T-SPI")["state"] == "idle"
    assert output(board["T"]) == (0, 0)  # a line's output is what its last station passes

    data = api.get("/api/v1/plant").get_json()
    assert data["live"] is False and data["configured"] is False
    by_line = {ln["line"]: ln for ln in data["lines"]}
    assert by_line["L2"]["summary"]["actual"] == 1 and by_line["L2"]["summary"]["target"] == 30
    assert by_line["L2"]["online"] is None
    assert [s["station"] for s in by_line["T"]["stations"]][:2] == ["T-PRINT", "T-SPI"]
    assert api.get("/api/v1/plant", role=None).status_code == 401


def test_a_chinese_user_sees_the_board_in_chinese(plant):
    app, _line = plant
    with Session(app.extensions["engine"]) as s:
        sup = s.exec(select(User).where(User.name == "supervisor")).one()
        sup.language = "zh_CN"
        s.add(sup)
        s.commit()
    client = app.test_client()
    login(client)
    html = client.get("/plant").data.decode()
    for words in ("工厂看板", "本小时（", "：产量 / 计划", "本班主要缺陷", "空闲",
                  "未配置服务器"):
        assert words in html, words
    assert "Idle" not in html and "Plant board" not in html
    assert "工厂看板" in client.get("/").data.decode()

    # A wall screen signed in as someone of no language says so in its URL, and polls in it.
    screen = app.test_client()
    login(screen, "operator")
    html = screen.get("/plant?lang=zh_CN").data.decode()
    assert 'hx-get="/plant/board?lang=zh_CN"' in html and "工厂看板" in html
    assert "空闲" in screen.get("/plant/board?lang=zh_CN").data.decode()
    assert "Idle" in screen.get("/plant/board").data.decode()


@pytest.fixture
def live(tmp_path, broker):  # noqa: F811
    """The app as a line node relaying to a real Mosquitto, and its dashboard feed."""
    app = make_app(tmp_path, MQTT={"url": broker.url, "reconnect_max_s": 1})
    with Session(app.extensions["engine"], expire_on_commit=False) as s:
        line = build_line(s, boards=4)
        add_line_l2(s, line)
    relay = station_mqtt.start_relay(app)
    wait_until(lambda: relay.connected, 5)
    yield app, line, broker
    app.extensions["mqtt"].close()


@needs_broker
def test_lines_only_the_broker_knows_appear_and_a_dead_line_pc_says_offline(live):
    app, line, broker = live  # noqa: F811
    prefix = app.extensions["mqtt"].cfg.prefix
    other = LinePC(broker, prefix, "L9")
    other.state("L9-AOI-1", line="L9", state="down", state_code=5000, passed_this_hour=7,
                hourly_target=40, defect_1="BRIDGE", defect_1_count=3)
    client = app.test_client()
    login(client)

    def board():
        return rows(client.get("/plant/board").data.decode())

    html = client.get("/plant").data.decode()
    assert "Live from the broker" in html or wait_until(
        lambda: "Live from the broker" in client.get("/plant/board").data.decode())
    l9 = wait_until(lambda: board().get("L9"))
    assert re.search(r'class="pline-name" href="/line/L9">L9<', l9)
    c = chip(l9, "L9-AOI-1")
    assert c["state"] == "down" and c["source"] == "broker" and "Down" in c["words"]
    assert output(l9) == (7, 40) and "<b>BRIDGE</b> × 3" in l9
    assert 'data-online="online"' in l9[:200] and "● online" in l9

    other.kill()
    l9 = wait_until(lambda: 'data-online="offline"' in board()["L9"] and board()["L9"], 5)
    assert l9.startswith(' offline"') and "○ offline" in l9  # greyed, and says it in words
    assert {"T", "L2"} <= set(board())

    # The local lines come back from the broker too, and follow a scan.
    wait_until(lambda: chip(board()["T"], "T-PRINT")["source"] == "broker")
    api = Api(client, line)
    assert api.scan("L2-PRINT", line.serials[0]).status_code == 201
    assert api.scan("T-PRINT", line.serials[1]).status_code == 201
    wait_until(lambda: chip(board()["T"], "T-PRINT")["state"] == "running", 3)
    wait_until(lambda: output(board()["L2"]) == (1, 30), 3)
    assert chip(board()["L2"], "L2-PRINT") == {**chip(board()["L2"], "L2-PRINT"),
                                               "state": "running", "source": "broker"}
    assert chip(board()["T"], "T-PRINT")["online"] == "online"

    data = Api(client, line).get("/api/v1/plant").get_json()
    by_line = {ln["line"]: ln for ln in data["lines"]}
    assert data["live"] is True and by_line["L9"]["online"] is False
    assert by_line["L9"]["summary"]["defects"] == [{"code": "BRIDGE", "count": 3}]
