"""The broker connection: paho clients with the station's settings, and the relay's own one."""

import contextlib
import json
import logging
import queue
import threading

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from station.models import utcnow
from station.mqtt import topics
from station.mqtt.cfx import timestamp
from station.mqtt.config import MqttConfig

log = logging.getLogger(__name__)


def make_client(cfg: MqttConfig, client_id: str) -> mqtt.Client:
    """A paho 2.x client with the station's credentials and TLS settings."""
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id,
                         protocol=mqtt.MQTTv5)
    if cfg.username:
        client.username_pw_set(cfg.username, cfg.password or None)
    if cfg.tls:
        client.tls_set(ca_certs=cfg.tls_ca or None, certfile=cfg.tls_cert or None,
                       keyfile=cfg.tls_key or None)
    client.reconnect_delay_set(1, max(1, cfg.reconnect_max_s))
    return client


def connect(client: mqtt.Client, cfg: MqttConfig, clean_start=mqtt.MQTT_CLEAN_START_FIRST_ONLY,
            expiry_s: int = 0) -> None:
    """Connect in the background; paho retries until the broker answers (loop_start)."""
    props = Properties(PacketTypes.CONNECT)
    if expiry_s:
        props.SessionExpiryInterval = expiry_s
    client.connect_async(cfg.host, cfg.port, keepalive=cfg.keepalive_s, clean_start=clean_start,
                         properties=props)
    client.loop_start()


class Connection:
    """The relay's client: a persistent session, its node's status and last will."""

    def __init__(self, cfg: MqttConfig, wake: threading.Event):
        self.cfg, self.name, self.wake = cfg, cfg.client_id, wake
        self.client: mqtt.Client | None = None
        self.connected, self.last_error = False, ""
        self.acks: queue.SimpleQueue = queue.SimpleQueue()  # (mid, reason code) of each PUBACK
        self.wake_after = 1  # wake the relay once this many acknowledgements wait
        self.new_session = False  # connected since the last round: say online, states again
        self.resync = False  # paho resends what was in flight before: new events wait
        self.node = self.status_topic = ""

    def open(self, node: str) -> None:
        """Connect in the background as the node at `node` (a station's or a line's path)."""
        self.node, self.status_topic = node, topics.status_topic(self.cfg, node)
        client = make_client(self.cfg, self.name)
        client.max_inflight_messages_set(max(1, self.cfg.max_inflight))
        client.max_queued_messages_set(self.cfg.window + 100)  # the database holds the rest
        client.will_set(self.status_topic, self.status(False, will=True), qos=1, retain=True)
        client.on_connect = self._on_connect
        client.on_connect_fail = self._on_connect_fail
        client.on_disconnect = self._on_disconnect
        client.on_publish = self._on_publish
        self.client = client
        connect(client, self.cfg, expiry_s=self.cfg.session_expiry_s)

    def publish(self, topic: str, payload: bytes, retain: bool = False) -> mqtt.MQTTMessageInfo:
        """Hand a message to paho at QoS 1."""
        return self.client.publish(topic, payload, qos=1, retain=retain)

    def may_send(self, in_flight: bool) -> bool:
        """Connected, and nothing of an earlier session is still being resent."""
        if self.connected and self.resync and not in_flight:
            # After a reconnect paho resends what was in flight; new events wait until those
            # are acknowledged, or they could overtake them (notes/mqtt.md pitfall 10).
            self.resync = False
        return self.connected and not self.resync

    def say_online(self, session: int) -> None:
        """The retained status of a new session."""
        self.publish(self.status_topic, self.status(True, session), retain=True)

    def say_offline(self) -> None:
        """The will is not sent on a clean disconnect: say offline ourselves."""
        with contextlib.suppress(RuntimeError, ValueError):
            self.publish(self.status_topic, self.status(False), retain=True).wait_for_publish(2)

    def close(self) -> None:
        """Disconnect and stop paho's network thread."""
        self.client.disconnect()
        self.client.loop_stop()

    def status(self, online: bool, session: int = 0, will: bool = False) -> bytes:
        """The status payload: online or not, since when, which node and client."""
        body = {"online": online, "ts": timestamp(utcnow()), "node": self.node,
                "client_id": self.name}
        if online:
            body["session"] = session
        if will:
            body["will"] = True
        return json.dumps(body).encode()

    # paho's callbacks run on its network thread: they only hand over and wake

    def _on_connect(self, _client, _userdata, _flags, reason_code, _props) -> None:
        if reason_code.is_failure:
            self.last_error = f"broker refused the connection: {reason_code}"
            log.warning("MQTT relay %s: %s", self.name, self.last_error)
            return
        self.connected, self.last_error = True, ""
        self.resync = self.new_session = True
        self.wake.set()

    def _on_connect_fail(self, _client, _userdata) -> None:
        self.last_error = f"cannot reach the broker at {self.cfg.host}:{self.cfg.port}"

    def _on_disconnect(self, _client, _userdata, _flags, reason_code, _props) -> None:
        self.connected = False
        if reason_code.is_failure:
            self.last_error = f"connection lost: {reason_code}"
        self.wake.set()

    def _on_publish(self, _client, _userdata, mid, reason_code, _props) -> None:
        self.acks.put((mid, reason_code))
        if reason_code.is_failure or self.acks.qsize() >= self.wake_after:
            self.wake.set()
