"""IPC-CFX envelopes: each event's message name, body and topic, with secrets stripped.

Event kinds and their CFX messages (field names as the IPC-CFX SDK writes them):
  board.step_passed                 WorkCompleted (Result Completed; a scan records a finished step,
                                    so UnitsArrived and WorkStarted are not sent)
  test.recorded, step_passed at FCT UnitsTested (OverallResult Passed/Failed/Error, defect codes)
  stencil.mounted                   ToolChanged (SMTStencil old and new)
  hold.placed / hold.released       WorkOrderStatusUpdated (OnHold / InProcess) for an order's
                                    hold; a single board's hold goes to event/hold-placed
  board.scrapped                    UnitsDisqualified (DefectiveRepairNotPossible, the reason)
  station.state_set                 StationStateChanged (SEMI E10 codes as strings, "5000")
  feeder.loaded                     MaterialsLoaded (the reel at its slot: MaterialLocation with
                                    the MaterialPackage; no CarrierInformation, loaded straight
                                    to the station's slot, the SDK's first case)
  feeder.loaded, spliced            SplicePointDetected (DepletedMaterial the reel replaced,
                                    with its part and what it has left; NewlyActiveMaterial
                                    the new one; both at the slot)
  feeder.unloaded                   MaterialsUnloaded (MaterialPackageIdentifiers: the reel)
  anything else                     event/{kind}: the same envelope, MessageName
                                    "SMTStation.Event", the payload without PINs, passwords,
                                    tokens or badges (user.*, badge.*, token.* included)
Each envelope carries UniqueID (the event's uid, for dropping duplicates: delivery is at least
once) and Sequence (the event's id, for spotting gaps), plus Kind, Station and Details (the
event's payload, cleaned).
"""

import functools
import json
import re
import uuid
from datetime import UTC, datetime

from sqlmodel import Session, select

from station.line.state import slug
from station.models import Board, Event, Reel, Station
from station.mqtt import topics
from station.mqtt.config import MqttConfig

CFX_VERSION = "2.1"
SECRET_KEYS = re.compile(r"pin|password|secret|token|badge|pepper", re.IGNORECASE)
STENCIL = "CFX.Structures.SolderPastePrinting.SMTStencil, CFX"
RESULTS = {"pass": "Passed", "fail": "Failed", "error": "Error"}
TXN = uuid.UUID("6f1d5c52-7a0e-4c43-9a43-5e2b8c1d0a6e")  # namespace of derived transaction ids


def timestamp(dt: datetime) -> str:
    """ISO 8601 UTC with milliseconds and a Z, as CFX's TimeStamp."""
    dt = dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt.astimezone(UTC)
    return dt.isoformat(timespec="milliseconds").replace("+00:00", "Z")


@functools.lru_cache(maxsize=1024)
def _secret(key: str) -> bool:
    """True for a key naming a PIN, a password, a token or a badge (payloads reuse few keys)."""
    return bool(SECRET_KEYS.search(key))


def clean(value):
    """A payload without anything secret: keys naming PINs, passwords, tokens or badges go."""
    if isinstance(value, dict):
        return {k: clean(v) for k, v in value.items() if not _secret(str(k))}
    if isinstance(value, list):
        return [clean(v) for v in value]
    return value


def _hhmmss(seconds: float) -> str:
    seconds = max(0, int(seconds))
    return f"{seconds // 3600:02d}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"


def _operator(name: str) -> dict:
    return {"OperatorIdentifier": name, "ActorType": "Human", "LastName": None,
            "FirstName": None, "LoginName": name}


def _stencil(stencil_id: str | None) -> dict | None:
    return None if not stencil_id else {"$type": STENCIL, "UniqueIdentifier": stencil_id,
                                        "Name": stencil_id}
def _material(station: str | None, slot: str | None, reel: str | None, part: str | None,
              quantity) -> dict:
    """A CFX MaterialLocation: a reel (MaterialPackage) at a station's slot, no carrier."""
    return {"LocationIdentifier": f"{station}:{slot}" if station and slot else None,
            "LocationName": slot, "MaterialPackage": {
                "UniqueIdentifier": reel, "InternalPartNumber": part,
                "Quantity": float(quantity or 0)},
            "CarrierInformation": None}


def _materials(ev: Event, p: dict, reel) -> tuple[str, dict] | None:
    """Loading, splicing and unloading at a placement station as CFX.Materials.Storage."""
    station = p.get("station") or ev.station_id
    if ev.kind == "feeder.unloaded":
        return "CFX.Materials.Storage.MaterialsUnloaded", {
            "MaterialPackageIdentifiers": [p["reel"]] if p.get("reel") else []}
    new = _material(station, p.get("slot"), p.get("reel"), p.get("part"), p.get("quantity"))
    if not (p.get("spliced") and p.get("previous_reel")):
        return "CFX.Materials.Storage.MaterialsLoaded", {"Materials": [new]}
    # the reel a splice replaced: its own part (the new one may be an alternate) and what it
    # has left, read when published (off the feeder, it no longer changes)
    old_reel = reel(p["previous_reel"])
    old = _material(station, p.get("slot"), p["previous_reel"],
                    old_reel.part if old_reel else p.get("part"),
                    old_reel.quantity if old_reel else 0)
    return "CFX.Materials.Storage.SplicePointDetected", {"DepletedMaterial": old,
                                                        "NewlyActiveMaterial": new}


def cfx_body(ev: Event, position, reel=lambda _id: None) -> tuple[str, dict] | None:
    """The CFX message name and body for an event, or None when CFX has no message for it.

    `position(serial)` answers a board's position on its panel, `reel(id)` a Reel or None.
    Field names are the SDK's (mind TransactionID in WorkCompleted, TransactionId in
    UnitsTested).
    """
    p, kind = ev.payload or {}, ev.kind
    serial = ev.subject.partition(":")[2] if ev.subject.startswith("board:") else None
    txn = str(uuid.uuid5(TXN, ev.uid))
    if kind == "board.step_passed" and p.get("step") != "FCT":
        return "CFX.Production.WorkCompleted", {
            "TransactionID": txn, "Result": "Completed", "PrimaryIdentifier": serial,
            "HermesIdentifier": None, "UnitCount": 1,
            "Units": [{"UnitIdentifier": serial, "PositionNumber": p.get("position") or 1,
                       "PositionName": None}]}
    if kind in ("board.step_passed", "test.recorded"):
        result = RESULTS.get(p.get("outcome", "pass"), "Error")
        tests = [] if not p.get("defect_code") else [{
            "TestName": p.get("program") or "FCT", "Result": result, "SymptomsFound": [],
            "DefectsFound": [{"DefectCode": p["defect_code"]}], "Measurements": []}]
        return "CFX.Production.TestAndInspection.UnitsTested", {
            "TransactionId": txn,
            "TestMethod": "Human" if p.get("source") == "manual" else "Automated",
            "Tester": _operator(ev.actor), "RecipeName": p.get("program") or None,
            "RecipeRevision": p.get("program_version") or None,
            "SamplingInformation": {"SamplingMethod": "NoSampling", "LotSize": None,
                                    "SampleSize": None},
            "TestedUnits": [{"UnitIdentifier": serial, "UnitPositionNumber": position(serial),
                             "OverallResult": result, "Tests": tests}]}
    if kind in ("feeder.loaded", "feeder.unloaded"):
        return _materials(ev, p, reel)
    if kind == "stencil.mounted":
        return "CFX.ResourcePerformance.ToolChanged", {
            "OldTool": _stencil(p.get("previous")), "ReturnedToHolder": None,
            "NewTool": _stencil(p.get("stencil")), "LoadedFromHolder": None}
    if kind in ("hold.placed", "hold.released") and not p.get("serial"):
        held = kind == "hold.placed"
        return "CFX.InformationSystem.WorkOrderManagement.WorkOrderStatusUpdated", {
            "WorkOrderIdentifier": {"WorkOrderId": p.get("order"), "Batch": None},
            "NewStatus": "OnHold" if held else "InProcess",
            "PreviousStatus": "InProcess" if held else "OnHold"}
    if kind == "board.scrapped":
        return "CFX.Production.UnitsDisqualified", {
            "Reason": "DefectiveRepairNotPossible", "Comments": p.get("reason"),
            "Units": [{"UnitIdentifier": serial, "PositionNumber": position(serial),
                       "PositionName": None}]}
    if kind == "station.state_set":
        since = p.get("old_since")
        try:
            held = (ev.at.replace(tzinfo=ev.at.tzinfo or UTC) -
                    datetime.fromisoformat(since.replace("Z", "+00:00"))).total_seconds()
        except (AttributeError, ValueError):
            held = 0
        return "CFX.ResourcePerformance.StationStateChanged", {
            "OldState": str(p.get("old_state_code", "")), "OldStateDuration": _hhmmss(held),
            "NewState": str(p.get("state_code", "")), "RelatedFault": None}
    return None


def envelope(ev: Event, name: str, body: dict, source: str, details: dict) -> dict:
    """The CFX envelope, plus Sequence (the event id), Kind, Station and the event's Details
    (its payload, cleaned)."""
    return {"MessageName": name, "Version": CFX_VERSION, "TimeStamp": timestamp(ev.at),
            "UniqueID": ev.uid, "Source": source, "Target": None, "RequestID": None,
            "Sequence": ev.id, "Kind": ev.kind, "Station": ev.station_id,
            "Details": details, "MessageBody": body}


class Messages:
    """Topic and payload of each event of a batch, with the lookups it needs cached.

    `lines` may outlive the batch: a station never moves to another line once created.
    """

    def __init__(self, session: Session, cfg: MqttConfig, node_line: str,
                 lines: dict[str, str] | None = None):
        self.session, self.cfg, self.node_line = session, cfg, node_line
        self.enterprise = cfg.prefix.split("/")[0]
        self._lines = {} if lines is None else lines
        self._positions: dict[str, int] = {}
        self._places: dict[str | None, tuple[str, str]] = {}

    def place(self, station_id: str | None) -> tuple[str, str]:
        """The topic under which an event of this station (or of none) goes, and its Source."""
        if station_id not in self._places:
            base = topics.line_topic(self.cfg, self.node_line) if station_id is None else \
                topics.station_topic(self.cfg, self.line_of(station_id), station_id)
            source = f"{self.enterprise}.smtstation.{slug(station_id or self.node_line)}"
            self._places[station_id] = base, source
        return self._places[station_id]

    def line_of(self, station_id: str) -> str:
        """The line a station stands on (this node's line for a station not in the database)."""
        if station_id not in self._lines:
            station = self.session.get(Station, station_id)
            self._lines[station_id] = station.line if station else self.node_line
        return self._lines[station_id]

    def position(self, serial: str | None) -> int:
        """A board's position on its panel (1 for a single board)."""
        if serial and serial not in self._positions:
            board = self.session.exec(select(Board).where(Board.serial == serial)).first()
            self._positions[serial] = (board.panel_position if board else None) or 1
        return self._positions.get(serial, 1)

    def reel(self, reel_id: str) -> Reel | None:
        """A reel by its id (a splice names the one it replaced)."""
        return self.session.get(Reel, reel_id)

    def build(self, ev: Event) -> tuple[str, bytes]:
        """The topic and JSON payload of one event."""
        base, source = self.place(ev.station_id)
        details = clean(ev.payload or {})
        found = cfx_body(ev, self.position, self.reel)
        if found is not None:
            name, body = found
            topic = topics.cfx_topic(base, name)
        else:
            name = "SMTStation.Event"
            body = {"Kind": ev.kind, "Subject": ev.subject, "Actor": ev.actor,
                    "Payload": details}
            topic = topics.event_topic(base, ev.kind)
        payload = envelope(ev, name, body, source, details)
        return topic, json.dumps(payload, separators=(",", ":"), default=str).encode()
