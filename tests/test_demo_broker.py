"""`run.py --demo` (what `make run` starts) is live: its own Mosquitto, stopped with it."""

import json
import os
import re
import signal
import socket
import sys
import threading
import uuid
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from run_py import ROOT, RunPy
from test_mqtt_broker import needs_broker, wait_until

from station.mqtt.local import LocalBroker

URL = re.compile(r"demo broker: .* at mqtt://127\.0\.0\.1:(\d+)")


class Demo(RunPy):
    """`python run.py --demo` on a database and instance of the test's own."""

    def __init__(self, folder: Path, *flags: str, new_session: bool = False):
        client_id = f"demo-{uuid.uuid4().hex[:8]}"
        config = (ROOT / "config" / "station.toml").read_text(encoding="utf-8")
        config = config.replace('client_id = ""', f'client_id = "{client_id}"', 1)
        (folder / "station.toml").write_text(config, encoding="utf-8")
        super().__init__(folder, {"STATION_CONFIG": str(folder / "station.toml"),
                                  "DATABASE_URL": f"sqlite:///{folder / 'station.db'}"},
                         client_id, "--demo", *flags, new_session=new_session)

    def broker_port(self) -> int:
        """Once it serves, the port of the broker it started, as it logged it."""
        self.wait_serving()
        return int(wait_until(lambda: URL.search(self.text()), 30, 0.1).group(1))


def _listening(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


@needs_broker
def test_the_demo_starts_its_own_broker_publishes_the_line_and_stops_it(tmp_path):
    demo = Demo(tmp_path)
    try:
        port = demo.broker_port()
        assert port != 1883 and _listening(port)
        got: dict[str, dict] = {}
        lock = threading.Lock()

        def on_message(_c, _u, msg):
            with lock:
                got[msg.topic] = json.loads(msg.payload)

        sub = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="demo-watcher")
        sub.on_message = on_message
        sub.on_connect = lambda c, *_a: c.subscribe("#", 1)
        sub.connect("127.0.0.1", port)
        sub.loop_start()
        # The demo line's relay is online and every station's state is retained on the broker.
        status = "acme/plant1/smt/l1/status"
        wait_until(lambda: got.get(status, {}).get("online") is True, 30, 0.05)
        states = wait_until(lambda: [t for t in list(got) if t.endswith("/state")]
                            if len([t for t in list(got) if t.endswith("/state")]) >= 8 else None,
                            30, 0.05)
        assert {t.split("/")[-2] for t in states} >= {"l1-print-1", "l1-aoi-1", "l1-pack-1"}
        # Stopping the station says offline and stops the broker with it.
        assert demo.stop() == 0
        assert got[status]["online"] is False
        wait_until(lambda: not _listening(port), 10, 0.05)
        sub.loop_stop()
    finally:
        demo.stop()


@needs_broker
def test_ctrl_c_says_offline_on_the_demos_broker_before_stopping_it(tmp_path):
    demo = Demo(tmp_path, new_session=True)
    try:
        port = demo.broker_port()
        status, got = "acme/plant1/smt/l1/status", []
        sub = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="demo-ctrl-c")
        sub.on_message = lambda _c, _u, msg: got.append(json.loads(msg.payload))
        sub.on_connect = lambda c, *_a: c.subscribe(status, 1)
        sub.connect("127.0.0.1", port)
        sub.loop_start()
        wait_until(lambda: got and got[-1]["online"] is True, 30, 0.05)
        os.killpg(demo.proc.pid, signal.SIGINT)  # Ctrl+C: the terminal signals the whole group
        assert demo.proc.wait(15) == 0
        # The relay's own goodbye (not its last will): the broker outlived the relay.
        assert got[-1]["online"] is False and "will" not in got[-1]
        wait_until(lambda: not _listening(port), 10, 0.05)
        sub.loop_stop()
    finally:
        demo.stop()


@needs_broker
def test_a_demo_killed_with_minus_9_leaves_no_broker_behind(tmp_path):
    demo = Demo(tmp_path)
    try:
        port = demo.broker_port()
        assert _listening(port)
        demo.proc.kill()  # SIGKILL: no atexit, no cleanup in the station at all
        demo.proc.wait(5)
        wait_until(lambda: not _listening(port), 10, 0.05)  # the keeper stopped mosquitto
    finally:
        demo.stop()


def test_without_a_broker_the_demo_runs_and_says_so(tmp_path):
    demo = Demo(tmp_path, "--no-broker")
    try:
        demo.wait_serving()
        assert not URL.search(demo.text())
        assert "publishing events" not in demo.text()  # no relay without a broker
    finally:
        assert demo.stop() == 0


def test_a_broker_that_cannot_start_names_why(tmp_path):
    broker = LocalBroker(sys.executable)  # python is no mosquitto: it exits at once
    with pytest.raises(RuntimeError, match="mosquitto exited at once"):
        broker.start()
