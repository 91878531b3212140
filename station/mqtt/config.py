"""The [mqtt] section of config/station.toml, with the URL and the environment applied."""

import os
import socket
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

from station.line.state import slug


@dataclass
class MqttConfig:
    """The [mqtt] section of config/station.toml, with MQTT_URL / MQTT_PASSWORD applied."""

    host: str = ""
    port: int = 1883
    tls: bool = False
    username: str = ""
    password: str = ""
    client_id: str = ""
    station: str = ""  # the station this process speaks for; empty: all (a line node)
    line: str = ""  # the line of events without a station, and of a line node's status
    serve_line: str = ""  # [mqtt] line set and no station: publish only this line's stations
    line_events: bool = True  # publish events without a station
    tls_ca: str = ""
    tls_cert: str = ""
    tls_key: str = ""
    keepalive_s: int = 30
    max_inflight: int = 20
    window: int = 200  # events handed to paho, not yet acknowledged (a new state queues after them)
    reconnect_max_s: int = 5
    session_expiry_s: int = 3600
    poll_s: float = 1.0  # also look for events committed by other processes this often
    state_refresh_s: float = 10.0  # recompute every served station's state (time-driven idle)
    gap_grace_s: float = 3.0  # PostgreSQL: states look this far back for late commits
    dashboard_streams: int = 2
    prefix: str = "acme/plant1/smt"

    @property
    def configured(self) -> bool:
        """True when a broker is configured."""
        return bool(self.host)


def config_from(settings) -> MqttConfig:
    """The MQTT settings of a station.toml (station.config.Settings); credentials in the URL or
    environment win."""
    m, site = settings.mqtt, settings.site
    cfg = MqttConfig(prefix="/".join(slug(part) for part in (site.enterprise, site.site,
                                                              site.area)),
                     **{name: getattr(m, name) for name in MqttConfig.__dataclass_fields__
                        if name not in ("host", "port", "tls", "prefix", "serve_line")})
    url = m.url
    if url:
        parts = urlsplit(url if "://" in url else f"mqtt://{url}")
        if parts.scheme not in ("mqtt", "mqtts", "tcp", "ssl"):
            raise ValueError(f"[mqtt] url must start with mqtt:// or mqtts://, not {url!r}")
        cfg.tls = parts.scheme in ("mqtts", "ssl") or bool(cfg.tls_ca)
        cfg.host, cfg.port = parts.hostname or "", parts.port or (8883 if cfg.tls else 1883)
        if parts.username:
            cfg.username, cfg.password = unquote(parts.username), unquote(parts.password or "")
    cfg.username = os.environ.get("MQTT_USERNAME", cfg.username)
    cfg.password = os.environ.get("MQTT_PASSWORD", cfg.password)
    if cfg.line and not cfg.station:
        cfg.serve_line = cfg.line  # one of several line PCs on one plant database
    if not cfg.line:
        configured = {s.id: s.line for s in settings.stations}
        lines = [ln.id for ln in settings.lines]
        cfg.line = configured.get(cfg.station) or (lines[0] if lines else "")
    if not cfg.client_id:
        base = slug(cfg.station) if cfg.station else slug(cfg.line or socket.gethostname())
        cfg.client_id = f"{base}-relay"
    return cfg
