"""The station's settings: config/station.toml checked once at start into typed sections.

Each section is a frozen model whose defaults are the rules' own (a limit is written once, where
the rule is); a wrong type, a value out of range or an unknown key stops the start with a
message naming the file, the section, the key and what is allowed. The environment overrides
the file: DATABASE_URL, MQTT_URL, STATION_CONFIG (another file).
"""

import os
import re
import tomllib
import types
import typing
from dataclasses import dataclass
from datetime import time
from pathlib import Path
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import annotated_types
from pydantic import BaseModel, ConfigDict, Field, Strict, ValidationError, field_validator

from station.i18n import LANGUAGES
from station.line import scanning
from station.line.codes import DEFAULT_KINDS, LabelRules
from station.line.state import StateRules
from station.mqtt.config import MqttConfig
from station.paths import DEFAULT_CONFIG, HOME, ROOT
from station.quality.fct import DEFECTS, FctRules
from station.readiness import interlock
from station.shipping.labels import SsccRule
from station.shipping.printing import PrinterConfig

Whole = Annotated[int, Strict()]  # TOML gives typed values: "5" is text, not a number
Number = Annotated[float, Strict()]
Text = Annotated[str, Strict()]
Flag = Annotated[bool, Strict()]
Texts = tuple[Text, ...]


class SettingsError(ValueError):
    """config/station.toml says something the station cannot run with."""


class Section(BaseModel):
    """A table of station.toml: known keys only, typed, read-only."""

    model_config = ConfigDict(extra="forbid", frozen=True)


def _regex(value: str) -> str:
    try:
        re.compile(value)
    except re.error as err:
        raise ValueError(f"a regular expression ({err})") from None
    return value


def _mqtt_default(name: str):
    return MqttConfig.__dataclass_fields__[name].default


def _printer_default(name: str):
    return PrinterConfig.__dataclass_fields__[name].default


class Site(Section):
    name: Text = "SMT line station"  # the factory's name, printed on quotations
    enterprise: Text = "acme"
    site: Text = "plant1"
    area: Text = "smt"
    timezone: Text = StateRules.timezone
    language: Literal[tuple(LANGUAGES)] = "en"

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError("an IANA time zone such as Asia/Shanghai") from None
        return value


class Database(Section):
    url: Text = ""
    busy_timeout_s: Number = Field(10.0, gt=0, le=600)  # then the API answers DATABASE_BUSY
    pool_size: Whole = Field(10, ge=1, le=500)  # PostgreSQL connections kept open per process
    max_overflow: Whole = Field(10, ge=0, le=500)  # more opened at a peak, closed after it
    idle_in_transaction_s: Number = Field(300.0, ge=0, le=86_400)  # PostgreSQL; 0 never


class Mqtt(Section):
    url: Text = ""
    username: Text = _mqtt_default("username")
    password: Text = _mqtt_default("password")
    client_id: Text = _mqtt_default("client_id")
    station: Text = _mqtt_default("station")
    line: Text = _mqtt_default("line")
    line_events: Flag = _mqtt_default("line_events")
    tls_ca: Text = _mqtt_default("tls_ca")
    tls_cert: Text = _mqtt_default("tls_cert")
    tls_key: Text = _mqtt_default("tls_key")
    keepalive_s: Whole = Field(_mqtt_default("keepalive_s"), ge=1, le=3600)
    max_inflight: Whole = Field(_mqtt_default("max_inflight"), ge=1, le=1000)
    window: Whole = Field(_mqtt_default("window"), ge=1, le=100_000)
    reconnect_max_s: Whole = Field(_mqtt_default("reconnect_max_s"), ge=1, le=3600)
    session_expiry_s: Whole = Field(_mqtt_default("session_expiry_s"), ge=0)
    poll_s: Number = Field(_mqtt_default("poll_s"), gt=0, le=3600)
    state_refresh_s: Number = Field(_mqtt_default("state_refresh_s"), gt=0, le=3600)
    gap_grace_s: Number = Field(_mqtt_default("gap_grace_s"), ge=0, le=3600)
    dashboard_streams: Whole = Field(_mqtt_default("dashboard_streams"), ge=0, le=100)


class Security(Section):
    badge_lock_after: Whole = Field(5, ge=1, le=100)
    idle_minutes: Number = Field(30, gt=0, le=24 * 60)


class StationState(Section):
    running_minutes: Number = Field(StateRules.running_minutes, gt=0, le=24 * 60)


class Shifts(Section):
    starts: Texts = Field(tuple(StateRules().shift_starts), min_length=1)

    @field_validator("starts")
    @classmethod
    def _clock_times(cls, value: tuple) -> tuple:
        for start in value:
            try:
                time.fromisoformat(start)
            except ValueError:
                raise ValueError(f'local times such as "06:00" ({start!r} is not one)') from None
        return value


class Separators(Section):
    gs: Texts = LabelRules.gs
    rs: Texts = LabelRules.rs
    eot: Texts = LabelRules.eot


class LabelSpec(Section):
    kind: Text
    key: Text
    format: Literal["gs1", "iso15434"] = "gs1"
    required: Texts | None = None  # none given: the key alone
    optional: Texts = ()


class Scanning(Section):
    max_length: Whole = Field(scanning.ScanRules.max_length, ge=1, le=4096)
    allowed: Text = scanning.DEFAULT_ALLOWED.pattern
    kinds: dict[Text, Text] = Field(default_factory=lambda: dict(DEFAULT_KINDS))
    separators: Separators = Separators()
    labels: tuple[LabelSpec, ...] = ()  # none given: the station's usual labels

    @field_validator("allowed")
    @classmethod
    def _pattern(cls, value: str) -> str:
        return _regex(value)

    @field_validator("kinds")
    @classmethod
    def _patterns(cls, value: dict) -> dict:
        for pattern in value.values():
            _regex(pattern)
        return value


class Readiness(Section):
    tension_new_Ncm: Number = Field(interlock.Rules.tension_new_Ncm, gt=0, le=200)
    tension_service_Ncm: Number = Field(interlock.Rules.tension_service_Ncm, gt=0, le=200)
    tension_points: Whole = Field(interlock.Rules.tension_points, ge=1, le=50)
    life_warning_pct: Number = Field(interlock.Rules.life_warning_pct, gt=0, le=100)
    floor_life_hours: Number = Field(interlock.Rules.floor_life_hours, gt=0, le=10_000)


class Reflow(Section):
    pastes: Text = "config/pastes.toml"
    slope_window_s: Number | None = Field(None, gt=0, le=600)  # none: the paste window's own
    warn_pct: Number | None = Field(None, gt=0, lt=100)
    validity_hours: Number = Field(interlock.Rules.profile_validity_hours, gt=0, le=10_000)


class Fct(Section):
    retest_limit: Whole = Field(FctRules.retest_limit, ge=1, le=100)
    defect_codes: dict[Text, Text] = Field(default_factory=lambda: dict(DEFECTS), min_length=1)


class Labels(Section):
    sscc_extension: Whole = Field(0, ge=0, le=9)
    gs1_company_prefix: Text = ""  # checked when a box label is made: a wrong one refuses it
    sscc_first_reference: Whole = Field(1, ge=1)


class Printer(Section):
    name: Text = Field(min_length=1)
    host: Text = Field(min_length=1)
    port: Whole = Field(_printer_default("port"), ge=1, le=65535)
    dpmm: Literal[6, 8, 12, 24] = _printer_default("dpmm")
    stations: Texts = ()
    timeout_s: Number = Field(_printer_default("timeout_s"), gt=0, le=600)
    retries: Whole = Field(_printer_default("retries"), ge=0, le=100)
    backoff_s: Number = Field(_printer_default("backoff_s"), ge=0, le=600)
    confirm: Literal["status", "none"] = _printer_default("confirm")


class Scanner(Section):
    name: Text = ""  # empty: its url
    station: Text
    url: Text
    baud: Whole = Field(9600, ge=50, le=4_000_000)
    parity: Literal["N", "E", "O", "M", "S"] = "N"
    terminator: Literal["any", "eol", "none"] = "any"
    double_read_s: Number = Field(1.0, ge=0, le=60)
    max_bytes: Whole = Field(1024, ge=16, le=1_000_000)
    settle_s: Number = Field(0.3, ge=0, le=60)
    backoff_s: tuple[Number, Number] = (0.5, 5.0)


class Profiler(Section):
    name: Text = Field(min_length=1)
    station: Text = ""
    url: Text = ""  # empty: not started
    baud: Whole = Field(115200, ge=50, le=4_000_000)
    quiet_s: Number = Field(10.0, gt=0, le=3600)
    paste: Text = ""  # defaults for the next run; the profiler screen can change them
    profile_board: Text = ""
    oven: Text = ""
    recipe: Text = ""


class LineSpec(Section):
    id: Text = Field(min_length=1)
    name: Text = ""  # empty: its id
    hourly_target: Whole | None = Field(None, ge=0)  # none: as the database has it


class StationSpec(Section):
    id: Text = Field(min_length=1)
    type: Text = Field(min_length=1)
    line: Text = Field(min_length=1)


class Shipping(Section):
    box_capacity: Whole = Field(scanning.ScanRules.box_capacity, ge=1, le=10_000)
    quoting: Text = "config/quoting.toml"  # the rates quotations are drafted from


class Settings(Section):
    """The whole station.toml, checked."""

    site: Site = Site()
    database: Database = Database()
    mqtt: Mqtt = Mqtt()
    security: Security = Security()
    station_state: StationState = StationState()
    shifts: Shifts = Shifts()
    scanning: Scanning = Scanning()
    readiness: Readiness = Readiness()
    reflow: Reflow = Reflow()
    fct: Fct = Fct()
    labels: Labels = Labels()
    shipping: Shipping = Shipping()
    printers: tuple[Printer, ...] = ()
    scanners: tuple[Scanner, ...] = ()
    profilers: tuple[Profiler, ...] = ()
    lines: tuple[LineSpec, ...] = ()
    stations: tuple[StationSpec, ...] = ()


# --- reading and checking ---------------------------------------------------------------------

def load_settings(path: str | os.PathLike | None = None) -> Settings:
    """Read a station.toml (STATION_CONFIG or the default), apply the environment, check it."""
    path = Path(path or os.environ.get("STATION_CONFIG") or DEFAULT_CONFIG)
    with path.open("rb") as f:
        try:
            data = tomllib.load(f)
        except tomllib.TOMLDecodeError as err:
            raise SettingsError(f"{_shown(path)}: {err}") from None
    for section, key, name in (("database", "url", "DATABASE_URL"), ("mqtt", "url", "MQTT_URL")):
        if os.environ.get(name) or (name == "MQTT_URL" and name in os.environ):
            data.setdefault(section, {})
            if isinstance(data[section], dict):
                data[section][key] = os.environ[name]
    settings = parse(data, _shown(path))
    url = resolve_sqlite_path(settings.database.url)
    return settings.model_copy(update={"database": settings.database.model_copy(
        update={"url": url})})


def parse(data: dict, source: str = "station.toml") -> Settings:
    """Settings from a station.toml's tables, or SettingsError naming what is wrong."""
    try:
        return Settings.model_validate(data)
    except ValidationError as err:
        problems = [_problem(e) for e in err.errors()]
        raise SettingsError("\n".join(f"{source}: {p}" for p in problems)) from None


def updated(settings: Settings, **sections) -> Settings:
    """The settings with some keys of sections changed (as TOML tables), checked again."""
    data = settings.model_dump(exclude_none=True)
    for name, value in sections.items():
        data[name] = {**data.get(name, {}), **value} if isinstance(value, dict) else value
    return parse(data)


def _shown(path: Path) -> str:
    """The file as its reader knows it: relative to the project when it is inside it."""
    try:
        return path.resolve().relative_to(ROOT).as_posix()
    except ValueError:
        return str(path)


def _problem(error: dict) -> str:
    """One validation error in the floor's words: where, what is allowed, what was there."""
    loc, kind = error["loc"], error["type"]
    where, annotation, parent = _place(loc)
    if kind == "extra_forbidden":
        known = ", ".join(parent.model_fields) if parent is not None else ""
        return f"{where} is not a setting here; the settings are {known}"
    if kind == "missing":
        return f"{where} is missing: it must be {_allowed(annotation)}"
    reason = str(error.get("ctx", {}).get("error", "")) if kind == "value_error" else ""
    allowed = reason or _allowed(annotation)
    return f"{where} must be {allowed}, not {error['input']!r}"


def _place(loc: tuple) -> tuple[str, object, type | None]:
    """The error's place as station.toml writes it, the annotation (with limits) there, and the
    table it is in."""
    model, annotation, words, parent = Settings, None, [], None
    for part in loc:
        parent = model
        if isinstance(part, int):
            words.append(f"#{part + 1}")
            args = typing.get_args(_bare(annotation))
            annotation = args[0] if args else None
        elif isinstance(part, str) and model is not None and part in model.model_fields:
            info = model.model_fields[part]
            annotation = Annotated[(info.annotation, *info.metadata)] if info.metadata else \
                info.annotation
            words.append(part)
        elif typing.get_origin(_bare(annotation)) is dict:
            words.append(part)
            annotation = typing.get_args(_bare(annotation))[1]
        else:
            words.append(str(part))
            annotation = None
        model = _model_in(annotation)
    if not words:
        return "the file", None, None
    head, rest = words[0], words[1:]
    if rest and rest[0].startswith("#"):
        head, rest = f"[[{head}]] {rest[0]}", rest[1:]
    else:
        head = f"[{head}]"
    return " ".join([head, *rest]), annotation, parent


def _bare(annotation):
    """The type under Annotated and Optional."""
    while typing.get_origin(annotation) is Annotated:
        annotation = typing.get_args(annotation)[0]
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        annotation = args[0] if len(args) == 1 else annotation
    while typing.get_origin(annotation) is Annotated:
        annotation = typing.get_args(annotation)[0]
    return annotation


def _model_in(annotation):
    bare = _bare(annotation)
    return bare if isinstance(bare, type) and issubclass(bare, BaseModel) else None


def _allowed(annotation) -> str:
    """What a setting may be, in words: "a whole number from 1 to 100"."""
    limits = {}
    while typing.get_origin(annotation) is Annotated:
        annotation, *meta = typing.get_args(annotation)
        for m in meta:
            for name in ("ge", "gt", "le", "lt", "min_length"):
                if isinstance(m, annotated_types.BaseMetadata) and hasattr(m, name):
                    limits[name] = getattr(m, name)
    bare = _bare(annotation)
    origin = typing.get_origin(bare)
    if origin is Literal:
        return "one of " + ", ".join(repr(a) for a in typing.get_args(bare))
    if origin in (tuple, list):
        args = typing.get_args(bare)
        if len(args) == 2 and args[1] is Ellipsis:
            return f"a list of {_plural(args[0])}"
        return f"a list of {len(args)} {_plural(args[0])}"
    if origin is dict:
        return f"a table of {_plural(typing.get_args(bare)[1])}"
    if _model_in(bare) is not None:
        return "a table"
    base = {int: "a whole number", float: "a number", str: "text", bool: "true or false"}.get(
        bare, "a valid value")
    if bare is str and limits.get("min_length"):
        return "text, not empty"
    bounds = _bounds(*(limits.get(k) for k in ("ge", "gt", "le", "lt")))
    return f"{base} {bounds}" if bounds else base


def _bounds(ge, gt, le, lt) -> str:
    """A range in words: "from 1 to 100", "above 0, up to 60", "of 1 or more"."""
    low = f"from {ge:g}" if ge is not None else f"above {gt:g}" if gt is not None else ""
    high = f"to {le:g}" if le is not None else f"below {lt:g}" if lt is not None else ""
    if not (low and high):
        return (f"of {ge:g} or more" if ge is not None else low) if low else \
            (f"up to {le:g}" if le is not None else high)
    if ge is not None:
        return f"{low} {high}" if le is not None else f"{low}, {high}"
    return f"{low}, up {high}" if le is not None else f"{low} and {high}"


def _plural(annotation) -> str:
    word = _allowed(annotation)
    return {"text": "texts", "a number": "numbers", "a whole number": "whole numbers",
            "a table": "tables"}.get(word, word)


def resolve_sqlite_path(url: str) -> str:
    """Make a relative SQLite path absolute under the project folder (HOME), creating its
    folder."""
    prefix = "sqlite:///"
    if not url.startswith(prefix) or url == prefix or url.startswith("sqlite:////"):
        return url
    rel = url[len(prefix) :]
    if rel.startswith(":memory:") or Path(rel).is_absolute():
        return url
    path = HOME / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    return prefix + path.as_posix()


# --- the rules the settings make ------------------------------------------------------------

@dataclass(frozen=True)
class StationRules:
    """The floor's rules as the settings set them, built once at start."""

    ready: interlock.Rules
    scan: scanning.ScanRules
    labels: LabelRules
    fct: FctRules
    state: StateRules


def rules_of(settings: Settings) -> StationRules:
    """Build the readiness, scan, label, FCT and station-state rules from the settings."""
    ready = interlock.Rules(**dict(settings.readiness),
                            profile_validity_hours=settings.reflow.validity_hours)
    labels = LabelRules.from_settings(settings.scanning)
    return StationRules(
        ready=ready,
        scan=scanning.ScanRules(max_length=labels.max_length, allowed=labels.allowed,
                                ready_rules=ready, box_capacity=settings.shipping.box_capacity,
                                sscc=SsccRule.from_settings(settings.labels)),
        labels=labels,
        fct=FctRules(retest_limit=settings.fct.retest_limit,
                     defect_codes=dict(settings.fct.defect_codes)),
        state=StateRules(running_minutes=settings.station_state.running_minutes,
                         timezone=settings.site.timezone, shift_starts=list(settings.shifts.starts),
                         ready=ready))


def install(app, settings: Settings) -> None:
    """Give the app its settings and the rules they make (create_app; tests that change them)."""
    app.config["SETTINGS"] = settings
    app.extensions["rules"] = rules_of(settings)

