"""The dashboards' side: the app's own subscription to every station's state and status.

LineFeed keeps the retained states and statuses and fans changes out to the open streams
(routes/line.py's text/event-stream); Hub is the app's handle on its feed and its relay.
"""

import contextlib
import json
import os
import queue
import socket
import threading
import time
import uuid
from dataclasses import dataclass, field

import paho.mqtt.client as mqtt
from sqlmodel import Session

from station.mqtt import topics, wake
from station.mqtt.config import MqttConfig, config_from
from station.mqtt.connection import connect, make_client
from station.mqtt.cursor import waiting
from station.mqtt.relay import Relay

HELD_S = 5.0  # a missing event id holding the backlog this long is shown on the banner


class Listener:
    """One dashboard stream's mailbox: which lines changed, coalesced."""

    def __init__(self, line: str | None):
        self.line, self.queue = line, queue.Queue(maxsize=256)

    def put(self, item) -> None:
        """Hand a change over without ever blocking the network thread."""
        with contextlib.suppress(queue.Full):  # the stream rebuilds it all on its next change
            self.queue.put_nowait(item)


@dataclass
class Retained:
    """A retained message as last received."""

    payload: dict
    at: float = field(default_factory=time.time)


class LineFeed:
    """Subscribes to every station's retained state and status; fans changes out to streams."""

    def __init__(self, cfg: MqttConfig, engine_url: str = ""):
        self.cfg, self.engine_url = cfg, engine_url
        self.states: dict[tuple[str, str], Retained] = {}
        self.statuses: dict[str, Retained] = {}  # node path -> status
        self.connected, self.last_error = False, ""
        self.ready = threading.Event()  # the retained messages of the first subscription came
        self.started = time.monotonic()
        self._listeners: set[Listener] = set()
        self._lock = threading.Lock()
        self.client: mqtt.Client | None = None

    def start(self) -> "LineFeed":
        """Connect in the background (a clean session: retained messages give the present)."""
        wake.install_commit_hook()
        wake.listen(self)
        client_id = f"{self.cfg.client_id}-dash-{socket.gethostname()}-{os.getpid()}-" \
            f"{uuid.uuid4().hex[:6]}"[-64:]
        client = make_client(self.cfg, client_id)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        client.on_subscribe = lambda *_a: threading.Timer(0.2, self.ready.set).start()
        self.client = client
        connect(client, self.cfg, clean_start=True)
        return self

    def wait_ready(self, limit: float = 1.0) -> None:
        """Just after start, wait (up to `limit` from the start) for the retained states."""
        self.ready.wait(max(0.0, self.started + limit - time.monotonic()))

    def stop(self) -> None:
        """Disconnect."""
        wake.unlisten(self)
        if self.client is not None:
            self.client.disconnect()
            self.client.loop_stop()
        self.connected = False

    def notify(self) -> None:
        """A local commit added events: offline dashboards of this process refresh."""
        self._fan_out(None)

    def listen(self, line: str | None) -> Listener:
        """A mailbox for changes of one line (by topic segment), or of all."""
        listener = Listener(line)
        with self._lock:
            self._listeners.add(listener)
        return listener

    def unlisten(self, listener: Listener) -> None:
        """Forget a mailbox."""
        with self._lock:
            self._listeners.discard(listener)

    def line(self, line_segment: str) -> dict[str, Retained]:
        """The retained states of a line's stations, by station topic segment."""
        with self._lock:
            return {st: r for (ln, st), r in self.states.items() if ln == line_segment}

    def lines(self) -> dict[str, str]:
        """The lines with retained states: topic segment -> the line's id as its states say."""
        with self._lock:
            found: dict[str, str] = {}
            for (ln, _st), r in self.states.items():
                found.setdefault(ln, str(r.payload.get("line") or ln))
            return found

    def online(self, node: str) -> bool | None:
        """Whether the node (a station's or a line's status path) says it is online."""
        status = self.statuses.get(node)
        return None if status is None else bool(status.payload.get("online"))

    def _on_connect(self, client, _userdata, _flags, reason_code, _props) -> None:
        if reason_code.is_failure:
            self.last_error = f"broker refused the dashboard: {reason_code}"
            return
        self.connected, self.last_error = True, ""
        client.subscribe(topics.feed_filters(self.cfg))
        self._fan_out(None)

    def _on_disconnect(self, _client, _userdata, _flags, reason_code, _props) -> None:
        self.connected = False
        self.last_error = str(reason_code) if reason_code.is_failure else ""
        self._fan_out(None)

    def _on_message(self, _client, _userdata, msg) -> None:
        parts = topics.segments(self.cfg, msg.topic)
        try:
            payload = json.loads(msg.payload) if msg.payload else None
        except ValueError:
            return
        if payload is not None and not isinstance(payload, dict):
            return
        with self._lock:
            if len(parts) == 3 and parts[2] == "state":
                key = (parts[0], parts[1])
                if payload is None:
                    self.states.pop(key, None)
                else:
                    self.states[key] = Retained(payload)
            elif parts[-1] == "status" and len(parts) in (2, 3):
                node = "/".join(parts[:-1])
                if payload is None:
                    self.statuses.pop(node, None)
                else:
                    self.statuses[node] = Retained(payload)
            else:
                return
        self._fan_out(parts[0])

    def _fan_out(self, line: str | None) -> None:
        with self._lock:
            listeners = list(self._listeners)
        for listener in listeners:
            if line is None or listener.line in (None, line):
                listener.put(line)


class Hub:
    """The app's MQTT parts: its relay (run.py starts it) and its dashboard feed (on demand)."""

    def __init__(self, app):
        self.app = app
        settings = app.config["SETTINGS"]
        # create_app puts [mqtt] url (or MQTT_URL) in MQTT_URL; app.config["MQTT"] may add keys.
        extra = app.config.get("MQTT", {})
        section = type(settings.mqtt).model_validate(
            {**dict(settings.mqtt), **extra, "url": extra.get("url", app.config.get("MQTT_URL"))})
        self.cfg = config_from(settings.model_copy(update={"mqtt": section}))
        self.rules = app.extensions["rules"].state
        self.relay: Relay | None = None
        self._feed: LineFeed | None = None
        self._lock = threading.Lock()
        self._streams = 0

    def streams_free(self) -> int:
        """How many more dashboards may stream now."""
        return max(0, self.cfg.dashboard_streams - self._streams)

    def take_stream(self) -> bool:
        """Reserve a stream slot (each open stream holds a waitress thread)."""
        with self._lock:
            if self._streams >= self.cfg.dashboard_streams:
                return False
            self._streams += 1
            return True

    def give_stream(self) -> None:
        """Free a stream slot."""
        with self._lock:
            self._streams = max(0, self._streams - 1)

    def feed(self) -> LineFeed | None:
        """The dashboard feed, started on first use; None without a broker."""
        if not self.cfg.configured:
            return None
        with self._lock:
            if self._feed is None:
                self._feed = LineFeed(self.cfg, str(self.app.extensions["engine"].url)).start()
        return self._feed

    def status(self, session: Session) -> dict:
        """Broker connected or not, and how many events wait: the banner's words."""
        if not self.cfg.configured:
            return {"configured": False, "connected": False, "waiting": 0, "last_error": "",
                    "held": None}
        relay = self.relay if self.relay is not None and self.relay.active else None
        feed = None if relay else self.feed()
        connected = relay.connected if relay else bool(feed and feed.connected)
        error = (relay or feed).last_error if (relay or feed) else ""
        own = relay.status() if relay else None
        gap = own and own["waiting_for"]
        return {"configured": True, "connected": connected, "waiting": waiting(session, self.cfg),
                "last_error": error, "relay": own,
                "held": gap if gap and gap["for_s"] >= HELD_S else None}

    def close(self) -> None:
        """Stop the relay and the feed (tests; the process's exit does it otherwise)."""
        if self.relay is not None:
            self.relay.stop()
        if self._feed is not None:
            self._feed.stop()
