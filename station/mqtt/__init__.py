"""MQTT: the relay that publishes the event log, and the feed dashboards read (see relay.py)."""

import atexit
from pathlib import Path

from station.line.state import slug
from station.mqtt.feed import Hub
from station.mqtt.relay import Relay
from station.mqtt.wake import install_commit_hook


def init_app(app) -> None:
    """Give the app its hub (the line blueprint calls this when it is registered)."""
    if "mqtt" not in app.extensions:
        app.extensions["mqtt"] = Hub(app)
        install_commit_hook()


def start_relay(app) -> Relay | None:
    """Start the app's relay (run.py does, beside the serial devices); None without a broker.

    Every process may call it: an OS lock on instance/relay-<name>.lock lets exactly one relay
    per name run; the others wait and take over if it stops.
    """
    init_app(app)
    hub = app.extensions["mqtt"]
    if not hub.cfg.configured:
        return None
    if hub.relay is None:
        lock = Path(app.instance_path) / f"relay-{slug(hub.cfg.client_id)}.lock"
        hub.relay = Relay(app.extensions["engine"], hub.rules, lock, hub.cfg).start()
        atexit.register(hub.relay.stop)
    return hub.relay
