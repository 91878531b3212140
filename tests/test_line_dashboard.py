"""The live dashboard's event stream, served by waitress as in production, fed by the broker."""

import http.client
import re
import socket
import threading
import time
from urllib.parse import urlsplit

import pytest
from conftest import Api, build_line, make_app, serving
from sqlmodel import Session
from test_mqtt_broker import broker, needs_broker, wait_until  # noqa: F401

from station import mqtt

pytestmark = needs_broker


class Stream:
    """Reads a text/event-stream in a thread: (time received, event name, data) per event."""

    def __init__(self, port: int, path: str, cookie: str):
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        self.conn.request("GET", path, headers={"Cookie": cookie})
        self.sock = self.conn.sock
        self.response = self.conn.getresponse()
        self.events: list[tuple[float, str, str]] = []
        self.reader = threading.Thread(target=self._read, daemon=True)
        if self.response.status == 200:
            self.reader.start()

    def _read(self):
        name, data = "message", []
        try:
            for raw in self.response:
                line = raw.decode().rstrip("\n")
                if line.startswith("event: "):
                    name = line[7:]
                elif line.startswith("data: "):
                    data.append(line[6:])
                elif line == "" and data:
                    self.events.append((time.monotonic(), name, "\n".join(data)))
                    name, data = "message", []
        except (OSError, ValueError, AttributeError, http.client.HTTPException):
            pass  # hung up

    def first(self, name: str, pattern: str, after: float = 0.0):
        """The time of the first `name` event after `after` whose data matches the pattern."""
        for at, event, data in list(self.events):
            if event == name and re.search(pattern, data) and at >= after:
                return at
        return None

    def close(self):
        """Hang up, as a browser closing the tab does."""
        self.sock.shutdown(socket.SHUT_RDWR)
        if self.reader.is_alive():
            self.reader.join(2)
        self.response.close()
        self.conn.close()


@pytest.fixture
def served(tmp_path, broker):  # noqa: F811
    """The station (a line node relaying to the broker) under waitress, one stream slot."""
    app = make_app(tmp_path, MQTT={"url": broker.url, "reconnect_max_s": 1,
                                   "dashboard_streams": 1})
    with Session(app.extensions["engine"], expire_on_commit=False) as s:
        line = build_line(s, boards=6)
    relay = mqtt.start_relay(app)
    wait_until(lambda: relay.connected, 5)
    with serving(app) as url:
        port = urlsplit(url).port
        client = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        client.request("POST", "/login", body="name=supervisor&password=supervisor-pw",
                       headers={"Content-Type": "application/x-www-form-urlencoded"})
        r = client.getresponse()
        r.read()
        cookie = r.getheader("Set-Cookie").split(";")[0]
        yield {"app": app, "line": line, "port": port, "cookie": cookie}
        app.extensions["mqtt"].close()


def get(served, path):
    conn = http.client.HTTPConnection("127.0.0.1", served["port"], timeout=5)
    conn.request("GET", path, headers={"Cookie": served["cookie"]})
    r = conn.getresponse()
    return r.status, r.read().decode()


def test_a_scan_reaches_the_dashboard_stream_within_half_a_second(served):
    app, line = served["app"], served["line"]
    status, page = get(served, "/line/T")  # the page starts the app's subscription
    assert status == 200 and 'data-live="stream"' in page
    stream = Stream(served["port"], "/line/T/stream", served["cookie"])
    assert stream.response.status == 200
    assert stream.response.getheader("Content-Type").startswith("text/event-stream")
    idle = r'data-station="T-PRINT"\s+data-state="idle"[^>]*data-source="broker"'
    wait_until(lambda: stream.first("tiles", idle), 5)
    api = Api(app.test_client(), line)
    took = []
    for station in ("T-PRINT", "T-SPI", "T-PLACE"):
        sent = time.monotonic()
        assert api.scan(station, line.serials[0]).status_code == 201
        committed = time.monotonic()  # from here: the relay, the broker, the feed, the stream
        arrived = wait_until(lambda s=station, t=sent: stream.first(
            "tiles", rf'data-station="{s}"\s+data-state="running"', t), 3)
        took.append(max(0.0, arrived - committed))
    # The median of three, so one scan slowed by a busy machine does not decide it.
    assert sorted(took)[1] < 0.5, [f"{t * 1000:.0f} ms" for t in took]
    assert stream.first("summary", 'data-target=')

    # The only stream slot is taken: another dashboard is told to poll, and polls.
    status, body = get(served, "/line/T/stream")
    assert status == 503
    status, page = get(served, "/line/T")
    assert 'data-live="poll"' in page and 'hx-trigger="every 5s"' in page
    stream.close()
    # Waitress learns of a closed connection when it writes to it: the next changes (or the
    # pings) find it gone and free the slot.
    for serial in line.serials[1:5]:
        api.scan("T-PRINT", serial)
        if app.extensions["mqtt"].streams_free():
            break
        time.sleep(0.3)
    wait_until(lambda: app.extensions["mqtt"].streams_free() == 1, 5)
    status, page = get(served, "/line/T")
    assert 'data-live="stream"' in page
