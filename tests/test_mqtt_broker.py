"""A real Mosquitto for the MQTT tests, and the broker's side of security: the shipped ACL.

Each test starts its own broker on a free loopback port with persistence in its tmp_path (never
the system one on 1883). The helpers here (Broker, Consumer) are imported by the other
test_mqtt*/test_line* modules.
"""

import json
import os
import shutil
import signal
import socket
import subprocess
import threading
import time
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

MOSQUITTO = "/usr/sbin/mosquitto"
ROOT = Path(__file__).resolve().parent.parent
ACL = ROOT / "config" / "mosquitto" / "acl"
needs_broker = pytest.mark.skipif(
    not os.path.exists(MOSQUITTO),
    reason=f"Mosquitto is not installed at {MOSQUITTO} (make test installs it: apt-get install "
           "mosquitto)")


def free_port() -> int:
    """A TCP port nobody listens on now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(predicate, timeout: float = 5.0, step: float = 0.01):
    """Poll until the predicate is true (returning its value), or fail after `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"not true after {timeout} s: {predicate}")
        time.sleep(step)


class Broker:
    """A Mosquitto of the test's own, with persistence, anonymous or with the shipped ACL."""

    def __init__(self, folder: Path, users: dict[str, str] | None = None,
                 tls: Path | None = None):
        self.folder, self.users, self.port = Path(folder), users, free_port()
        self.folder.mkdir(parents=True, exist_ok=True)
        self.proc: subprocess.Popen | None = None
        self.conf = self.folder / "mosquitto.conf"
        lines = [f"listener {self.port} 127.0.0.1", "persistence true",
                 f"persistence_location {self.folder}/", "autosave_interval 1",
                 "log_dest stderr", "log_type error", "log_type warning"]
        if hasattr(os, "geteuid") and os.geteuid() == 0:
            lines.append("user root")  # else it drops privileges and cannot write tmp_path
        if tls is not None:  # ca.crt, broker.crt and broker.key in that folder
            lines += [f"cafile {tls / 'ca.crt'}", f"certfile {tls / 'broker.crt'}",
                      f"keyfile {tls / 'broker.key'}"]
        if users is None:
            lines.append("allow_anonymous true")
        else:
            passwords = self.folder / "passwords"
            passwords.write_text("")
            for name, password in users.items():
                subprocess.run(["mosquitto_passwd", "-b", str(passwords), name, password],
                               check=True, capture_output=True)
            lines += ["allow_anonymous false", f"password_file {passwords}", f"acl_file {ACL}"]
        self.conf.write_text("\n".join(lines) + "\n")

    @property
    def url(self) -> str:
        return f"mqtt://127.0.0.1:{self.port}"

    def start(self) -> "Broker":
        """Start it and wait until it listens."""
        log = open(self.folder / "mosquitto.log", "ab")  # noqa: SIM115
        self.proc = subprocess.Popen([MOSQUITTO, "-c", str(self.conf)], stdout=log,
                                     stderr=subprocess.STDOUT)
        log.close()

        def listening():
            assert self.proc.poll() is None, (self.folder / "mosquitto.log").read_text()
            with socket.socket() as s:
                return s.connect_ex(("127.0.0.1", self.port)) == 0
        wait_until(listening, 10)
        return self

    def stop(self) -> None:
        """Stop it cleanly (it saves its persistence file), as a service restart does."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(10)
        self.proc = None


class Consumer:
    """A subscriber that must not miss events: persistent session, QoS 1, drops duplicates.

    MQTT 3.1.1 with clean_session=False: Mosquitto 2.0.11 restores such a session from its
    persistence file after a restart, while an MQTT 5 session (clean_start=False and a session
    expiry interval) comes back as not present and its queued messages are gone (tried here).
    """

    def __init__(self, broker: Broker, topics: list[str], client_id: str = "test-consumer",
                 username: str | None = None, password: str | None = None):
        self.received: list[tuple[str, dict | None, bool]] = []
        self.lock = threading.Lock()
        self.connected = threading.Event()
        self.topics = topics
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id,
                                  protocol=mqtt.MQTTv311, clean_session=False)
        if username:
            self.client.username_pw_set(username, password)
        self.client.reconnect_delay_set(0.1, 0.5)
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = lambda *_a: self.connected.clear()
        self.client.on_message = self._on_message
        self.client.connect_async("127.0.0.1", broker.port, keepalive=5)
        self.client.loop_start()

    def _on_connect(self, client, _userdata, flags, reason_code, _props):
        if reason_code.is_failure:
            return
        if not flags.session_present:
            client.subscribe([(t, 1) for t in self.topics])
        threading.Timer(0.1, self.connected.set).start()  # after the SUBACK, roughly

    def _on_message(self, _client, _userdata, msg):
        try:
            payload = json.loads(msg.payload) if msg.payload else None
        except ValueError:
            payload = {"raw": msg.payload.decode(errors="replace")}
        with self.lock:
            self.received.append((msg.topic, payload, msg.retain))

    def messages(self, part: str = "") -> list[tuple[str, dict]]:
        """Every message so far whose topic contains `part`, duplicates included."""
        with self.lock:
            return [(t, p) for t, p, _r in self.received if part in t]

    def events(self) -> list[dict]:
        """The CFX-shaped events received, first copy of each UniqueID, in arrival order."""
        seen, out = set(), []
        for topic, payload in self.messages():
            if ("/cfx/" in topic or "/event/" in topic) and payload["UniqueID"] not in seen:
                seen.add(payload["UniqueID"])
                out.append(payload)
        return out

    def latest(self, topic_end: str) -> dict | None:
        """The last payload of a topic ending so (a retained state or status)."""
        found = [p for t, p in self.messages() if t.endswith(topic_end)]
        return found[-1] if found else None

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


@pytest.fixture
def broker(tmp_path):
    """An anonymous Mosquitto with persistence, of this test only."""
    if not os.path.exists(MOSQUITTO):
        pytest.skip(f"Mosquitto is not installed at {MOSQUITTO} (make test installs it)")
    b = Broker(tmp_path / "broker").start()
    yield b
    b.stop()


# --- the shipped ACL, on a broker with a password per station --------------------------------

USERS = {"l1-print-1": "pw-print", "l1-aoi-1": "pw-aoi", "l1": "pw-line",
         "dashboard": "pw-dashboard"}
PREFIX = "acme/plant1/smt"


@pytest.fixture
def secured(tmp_path):
    """A Mosquitto with config/mosquitto/acl and a password file for a few users."""
    if not os.path.exists(MOSQUITTO):
        pytest.skip(f"Mosquitto is not installed at {MOSQUITTO} (make test installs it)")
    if not shutil.which("mosquitto_passwd"):
        pytest.skip("mosquitto_passwd is missing (it comes with the mosquitto package)")
    b = Broker(tmp_path / "secured", users=USERS).start()
    yield b
    b.stop()


def _client(broker: Broker, client_id: str, user: str | None, password: str | None = None):
    """A connected publisher, and the reason code its connection got."""
    result = {}
    done = threading.Event()
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5)
    if user:
        client.username_pw_set(user, password)

    def on_connect(_c, _u, _f, reason_code, _p):
        result["rc"] = reason_code
        done.set()
    client.on_connect = on_connect
    client.on_publish = lambda _c, _u, mid, rc, _p: result.setdefault("acks", {}).update({mid: rc})
    client.connect("127.0.0.1", broker.port, keepalive=5)
    client.loop_start()
    done.wait(5)
    return client, result


@needs_broker
def test_a_station_cannot_publish_under_another_stations_topic(secured):
    watcher = Consumer(secured, [f"{PREFIX}/#"], "watcher", "dashboard", USERS["dashboard"])
    wait_until(watcher.connected.is_set)
    aoi, result = _client(secured, "l1-aoi-1-test", "l1-aoi-1", USERS["l1-aoi-1"])
    assert not result["rc"].is_failure
    spoof = aoi.publish(f"{PREFIX}/l1/l1-print-1/state", json.dumps({"state": "down"}), qos=1,
                        retain=True)
    own = aoi.publish(f"{PREFIX}/l1/l1-aoi-1/state", json.dumps({"state": "running"}), qos=1)
    line = aoi.publish(f"{PREFIX}/l1/cfx/WorkOrderStatusUpdated", b"{}", qos=1)
    wait_until(lambda: len(result.get("acks", {})) == 3)
    # MQTT 5: the broker answers "Not authorized"; the subscriber never sees the spoofed state.
    assert result["acks"][spoof.mid].is_failure
    assert result["acks"][line.mid].is_failure  # line-level topics belong to the line's user
    assert not result["acks"][own.mid].is_failure
    wait_until(lambda: watcher.latest("/l1-aoi-1/state"))
    time.sleep(0.2)
    assert watcher.latest("/l1-print-1/state") is None
    aoi.disconnect()
    watcher.close()


@needs_broker
def test_anonymous_and_wrong_passwords_are_refused(secured):
    _anon, result = _client(secured, "anon", None)
    assert result["rc"].is_failure  # "Not authorized" / "Bad user name or password"
    _wrong, result = _client(secured, "wrong", "l1-aoi-1", "guess")
    assert result["rc"].is_failure
    _anon.loop_stop()
    _wrong.loop_stop()


@needs_broker
def test_the_line_user_writes_its_line_and_the_dashboard_only_reads(secured):
    watcher = Consumer(secured, [f"{PREFIX}/#"], "watcher2", "dashboard", USERS["dashboard"])
    wait_until(watcher.connected.is_set)
    line, result = _client(secured, "l1-relay-test", "l1", USERS["l1"])
    ok = line.publish(f"{PREFIX}/l1/l1-aoi-1/cfx/WorkCompleted", b"{}", qos=1)
    held = line.publish(f"{PREFIX}/l1/cfx/WorkOrderStatusUpdated", b"{}", qos=1)
    other = line.publish(f"{PREFIX}/l2/l2-aoi-1/state", b"{}", qos=1)
    dash, dash_result = _client(secured, "dash-test", "dashboard", USERS["dashboard"])
    forged = dash.publish(f"{PREFIX}/l1/l1-aoi-1/status", b'{"online":false}', qos=1)
    wait_until(lambda: len(result.get("acks", {})) == 3 and dash_result.get("acks"))
    assert not result["acks"][ok.mid].is_failure and not result["acks"][held.mid].is_failure
    assert result["acks"][other.mid].is_failure
    assert dash_result["acks"][forged.mid].is_failure
    line.disconnect()
    dash.disconnect()
    watcher.close()
