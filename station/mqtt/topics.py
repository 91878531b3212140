"""The topic tree: where each message goes, by prefix, line, station and node.

Topics, under {enterprise}/{site}/{area}/{line}/:
  {station}/status        retained; {"online": true, "session": N, ...}, the last will says false
  {station}/state         retained flat snapshot (line_state.snapshot), rebuilt at send time
  {station}/cfx/{Short}   one CFX envelope per event, QoS 1, not retained
  {station}/event/{kind}  events CFX has no message for, same envelope
  cfx/{Short}, event/{kind} (right under the line) for events without a station
  status                  the status of a line node (one process serving a whole line)
"""

from sqlmodel import Session, select

from station.line.state import slug
from station.models import Line, Station
from station.mqtt.config import MqttConfig


def node_path(cfg: MqttConfig, line: str) -> str:
    """The status topic's place for this process: its station's, or its line's."""
    return f"{slug(line)}/{slug(cfg.station)}" if cfg.station else slug(line)


def node_line(session: Session, cfg: MqttConfig) -> str:
    """The line this process's node stands under: its station's, the configured or the first."""
    found = cfg.line
    if not found:
        found = session.exec(select(Line.id).order_by(Line.id)).first() or "line"
    if cfg.station:
        station = session.get(Station, cfg.station)
        found = station.line if station else found
    return found


def line_topic(cfg: MqttConfig, line: str) -> str:
    """Where a line's events without a station go."""
    return f"{cfg.prefix}/{slug(line)}"


def station_topic(cfg: MqttConfig, line: str, station: str) -> str:
    """Where a station's messages go."""
    return f"{cfg.prefix}/{slug(line)}/{slug(station)}"


def status_topic(cfg: MqttConfig, node: str) -> str:
    """A node's retained status (and last will)."""
    return f"{cfg.prefix}/{node}/status"


def state_topic(cfg: MqttConfig, line: str, station: str) -> str:
    """A station's retained state snapshot."""
    return f"{station_topic(cfg, line, station)}/state"


def cfx_topic(base: str, message_name: str) -> str:
    """A CFX message's topic under a line's or station's topic, by its short name."""
    return f"{base}/cfx/{message_name.rsplit('.', 1)[1]}"


def event_topic(base: str, kind: str) -> str:
    """The topic of an event CFX has no message for."""
    return f"{base}/event/{slug(kind)}"


def feed_filters(cfg: MqttConfig) -> list[tuple[str, int]]:
    """What a dashboard subscribes to: every station's state and status, every line's status."""
    p = cfg.prefix
    return [(f"{p}/+/+/state", 1), (f"{p}/+/+/status", 1), (f"{p}/+/status", 1)]


def segments(cfg: MqttConfig, topic: str) -> list[str]:
    """A topic's segments under the prefix."""
    return topic[len(cfg.prefix) + 1:].split("/")
