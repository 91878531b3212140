"""Whole station processes (run.py under waitress, each with its own database) on one broker.

The broker runs config/mosquitto/acl with a password per station, as a plant would: each
station speaks for itself only, and a station killed with SIGKILL shows offline by its will.
"""

import http.client
import json
import os
import signal
import uuid
from pathlib import Path

import pytest
from conftest import build_line, make_app
from run_py import SITE, RunPy
from sqlmodel import Session
from test_mqtt_broker import MOSQUITTO, Broker, Consumer, needs_broker, wait_until

pytestmark = needs_broker
ROOT = Path(__file__).resolve().parent.parent
PREFIX = "acme/plant1/smt"
USERS = {"t-print": "pw-print", "t-spi": "pw-spi", "dashboard": "pw-dash"}

CONFIG = SITE + """
[mqtt]
url = "{url}"
station = "{station}"
username = "{user}"
password = "{password}"
client_id = "{client_id}"
line_events = false
keepalive_s = 2
reconnect_max_s = 1

[[lines]]
id = "T"
name = "Test line"
hourly_target = 30
"""


class StationProcess(RunPy):
    """`python run.py` for one station, on its own SQLite database made by build_line."""

    def __init__(self, folder: Path, broker: Broker, station: str, user: str, boards: int = 6):
        folder.mkdir(parents=True, exist_ok=True)
        self.station = station
        db = f"sqlite:///{folder / 'station.db'}"
        seed = make_app(folder, database_url=db)
        with Session(seed.extensions["engine"], expire_on_commit=False) as s:
            self.line = build_line(s, boards=boards)
        seed.extensions["engine"].dispose()
        # A client id of its own per run: tests running at once never share a relay lock.
        client_id = f"{user}-{uuid.uuid4().hex[:8]}"
        self.config = folder / "station.toml"
        self.config.write_text(CONFIG.format(db=db, url=broker.url, station=station, user=user,
                                             password=USERS[user], client_id=client_id))
        super().__init__(folder, {"STATION_CONFIG": str(self.config), "DATABASE_URL": db},
                         client_id)

    def api(self, method: str, path: str, body: dict | None = None) -> tuple[int, dict]:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
        conn.request(method, path, body=json.dumps(body) if body is not None else None,
                     headers={"Authorization": f"Bearer {self.line.tokens['operator']}",
                              "Content-Type": "application/json"})
        r = conn.getresponse()
        return r.status, json.loads(r.read() or b"{}")

    def scan(self, serial: str, station: str | None = None) -> dict:
        status, body = self.api("POST", "/api/v1/scans",
                                {"station": station or self.station, "code": serial})
        assert status == 201, body
        return body


@pytest.fixture(scope="module")
def plant(tmp_path_factory):
    """A broker with the shipped ACL, two station processes and a read-only watcher."""
    if not os.path.exists(MOSQUITTO):
        pytest.skip(f"Mosquitto is not installed at {MOSQUITTO} (make test installs it)")
    tmp = tmp_path_factory.mktemp("plant")
    broker = Broker(tmp / "broker", users=USERS).start()
    watcher = Consumer(broker, [f"{PREFIX}/#"], "watcher", "dashboard", USERS["dashboard"])
    a = StationProcess(tmp / "a", broker, "T-PRINT", "t-print")
    b = StationProcess(tmp / "b", broker, "T-SPI", "t-spi")
    a.wait_serving()
    b.wait_serving()
    yield {"broker": broker, "watcher": watcher, "a": a, "b": b}
    for p in (a, b):
        p.stop()
    watcher.close()
    broker.stop()


def test_two_station_processes_share_one_broker_each_under_its_own_topic(plant):
    a, b, watcher = plant["a"], plant["b"], plant["watcher"]
    for station in (a, b):
        wait_until(lambda s=station: (watcher.latest(f"/t/{s.station.lower()}/status") or {})
                   .get("online"), 15)
    a.scan(a.line.serials[0])
    b.scan(b.line.serials[0], "T-PRINT")  # in B's own database, published by nobody
    b.scan(b.line.serials[0])
    wait_until(lambda: len(watcher.messages("/cfx/WorkCompleted")) == 2, 5)
    sources = {m["Source"] for _t, m in watcher.messages("/cfx/WorkCompleted")}
    assert sources == {"acme.smtstation.t-print", "acme.smtstation.t-spi"}
    wait_until(lambda: (watcher.latest("/t/t-spi/state") or {}).get("state") == "running", 5)
    wait_until(lambda: (watcher.latest("/t/t-print/state") or {}).get("state") == "running", 5)
    statuses = [watcher.latest(f"/t/{s}/status") for s in ("t-print", "t-spi")]
    assert {s["client_id"] for s in statuses} == {a.client_id, b.client_id}
    assert all(s["session"] == 1 for s in statuses)  # unique ids: nobody kicked anybody off
    assert watcher.latest("/t/t-spi/state")["node"] == "t/t-spi"
    def sent_all():  # the cursor is stored at most five times a second
        status, out = a.api("GET", "/api/v1/outbox")
        assert status == 200 and out["connected"]
        return out["waiting"] == 0
    wait_until(sent_all, 3)


def test_a_station_killed_with_sigkill_shows_offline_by_its_last_will(plant):
    a, watcher = plant["a"], plant["watcher"]
    wait_until(lambda: (watcher.latest("/t/t-print/status") or {}).get("online"), 15)
    a.proc.send_signal(signal.SIGKILL)
    a.proc.wait(5)
    # The OS closes the dead process's socket, so the broker sends the will at once; a cut
    # cable would take 1.5 x keepalive_s (3 s here).
    offline = wait_until(lambda: (s := watcher.latest("/t/t-print/status")) and
                         s["online"] is False and s, 5)
    assert offline["will"] is True
    assert (watcher.latest("/t/t-spi/status") or {}).get("online") is True  # B is untouched
