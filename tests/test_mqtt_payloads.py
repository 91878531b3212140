"""What the relay publishes, without a broker: topics, CFX envelopes and bodies, no secrets."""

import json
import os
import subprocess
import sys
import threading
from datetime import datetime, timedelta, timezone

import pytest
from conftest import build_line, make_app
from sqlmodel import Session, select

from station import events
from station.config import parse
from station.line import scanning
from station.line import state as line_state
from station.material import feeders, reels, setups
from station.models import Event, Station
from station.mqtt import cfx, cursor, lock, topics, wake
from station.mqtt.config import MqttConfig, config_from
from station.quality import fct, holds
from station.readiness import stencils

UPSTREAM = ("T-PRINT", "T-SPI", "T-PLACE", "T-REFLOW", "T-AOI")


@pytest.fixture(scope="module")
def floor(tmp_path_factory):
    """One line whose events cover every kind the relay maps, made by the floor's functions."""
    app = make_app(tmp_path_factory.mktemp("payloads"))
    with Session(app.extensions["engine"], expire_on_commit=False) as s:
        line = build_line(s, boards=4)
        op, qa = line.users["operator"], line.users["qa"]
        a, b, c = line.serials[:3]
        for serial in (a, b):
            for station in UPSTREAM:
                scanning.scan(s, station, serial, op)
        fct.record_result(s, op, a, "T-FCT", "pass", program="fct-main", program_version="3")
        fct.record_result(s, op, b, "T-FCT", "fail", defect_code="SHORT")
        fct.scrap(s, qa, b, "burnt")
        holds.place_hold(s, qa, line.order, "paste lot recalled")
        holds.release_holds(s, qa, line.order)
        holds.place_hold(s, qa, line.order, "check this one", serial=c)
        stencils.register_stencil(s, line.users["admin"], "ST-2", "PCB", "A", "top", 1000, 100)
        stencils.record_tension(s, op, "ST-2", [40.0, 40.0, 40.0, 40.0])
        stencils.mount(s, op, line.order, "ST-2")
        line_state.set_state(s, op, "T-PRINT", "down", "squeegee broken")
        events.record(s, "vendor.custom", "thing:1", {"pin": "1234", "note": "ok"})
        material_events(s, op)
        s.commit()
    yield app, line
    app.extensions["engine"].dispose()


def material_events(s, op):
    """Loading, a refusal, a splice and an unloading at T-PLACE, as the feeder rules write them."""
    at = "station:T-PLACE"
    used = reels.register_reel(s, op, id="R-1", part="RC0402-10K", quantity=5000, lot="L-7",
                               date_code="2648", msl="1")
    used.quantity = 12  # what the boards left on it before the splice
    common = {"station": "T-PLACE", "order": "WO-1", "slot": "F01", "lot": "L-7"}
    events.record(s, "feeder.refused", at, {**common, "reel": "R-BAD", "code": "WRONG_PART",
                                            "part_needed": "RC0402-10K"}, op, "T-PLACE")
    events.record(s, "feeder.loaded", at, {**common, "part": "RC0402-10K", "reel": "R-1",
                                           "quantity": 5000, "verdict": "PASS",
                                           "spliced": False, "previous_reel": None},
                  op, "T-PLACE")
    events.record(s, "feeder.loaded", at, {**common, "part": "ERJ-2RKF1002X", "reel": "R-2",
                                           "quantity": 10000, "verdict": "ALTERNATE",
                                           "spliced": True, "previous_reel": "R-1"},
                  op, "T-PLACE")
    events.record(s, "feeder.unloaded", at, {"station": "T-PLACE", "order": "WO-1",
                                             "slot": "F01", "reel": "R-2",
                                             "quantity_left": 9712}, op, "T-PLACE")


def published(app, kind: str, cfg: MqttConfig | None = None) -> list[tuple[str, dict]]:
    """Topic and payload of each event of a kind, as the relay would publish them."""
    cfg = cfg or config_from(parse({"mqtt": {"url": "mqtt://localhost"},
                                    "lines": [{"id": "L1"}]}))
    with Session(app.extensions["engine"]) as s:
        messages = cfx.Messages(s, cfg, "T")
        out = []
        for ev in s.exec(select(Event).where(Event.kind == kind).order_by(Event.id)):
            topic, payload = messages.build(ev)
            body = json.loads(payload)
            assert body["UniqueID"] == ev.uid and body["Sequence"] == ev.id
            assert body["Version"] == "2.1" and body["TimeStamp"].endswith("Z")
            out.append((topic, body))
        return out


def test_a_scan_is_work_completed_under_its_station(floor):
    topic, msg = published(floor[0], "board.step_passed")[0]
    assert topic == "acme/plant1/smt/t/t-print/cfx/WorkCompleted"
    assert msg["MessageName"] == "CFX.Production.WorkCompleted"
    body = msg["MessageBody"]
    assert {"TransactionID", "Result", "PrimaryIdentifier", "UnitCount", "Units"} <= set(body)
    assert body["Result"] == "Completed" and body["Units"][0]["UnitIdentifier"] == \
        body["PrimaryIdentifier"]
    assert msg["Source"] == "acme.smtstation.t-print" and msg["Station"] == "T-PRINT"


def test_a_test_result_is_units_tested_with_the_sdks_field_names(floor):
    (topic, passed), (_t, failed) = published(floor[0], "test.recorded")
    assert topic == "acme/plant1/smt/t/t-fct/cfx/UnitsTested"
    body = passed["MessageBody"]
    assert "TransactionId" in body and "TransactionID" not in body  # the SDK's casing
    assert body["TestedUnits"][0]["OverallResult"] == "Passed"
    assert body["RecipeName"] == "fct-main" and body["RecipeRevision"] == "3"
    assert body["Tester"]["OperatorIdentifier"] == "operator"
    unit = failed["MessageBody"]["TestedUnits"][0]
    assert unit["OverallResult"] == "Failed"
    assert unit["Tests"][0]["DefectsFound"] == [{"DefectCode": "SHORT"}]


def test_scrap_hold_and_stencil_go_to_their_cfx_messages_under_the_line(floor):
    app = floor[0]
    topic, scrap = published(app, "board.scrapped")[0]
    assert topic == "acme/plant1/smt/t/cfx/UnitsDisqualified"  # no station: line level
    assert scrap["MessageBody"]["Reason"] == "DefectiveRepairNotPossible"
    assert scrap["MessageBody"]["Comments"] == "burnt"
    (t1, placed), (_board_topic, board_hold) = published(app, "hold.placed")
    assert t1.endswith("/t/cfx/WorkOrderStatusUpdated")
    assert placed["MessageBody"] == {"WorkOrderIdentifier": {"WorkOrderId": "WO-1",
                                                             "Batch": None},
                                     "NewStatus": "OnHold", "PreviousStatus": "InProcess"}
    assert _board_topic.endswith("/t/event/hold-placed")  # a board's hold: not the order's
    released = published(app, "hold.released")[0][1]["MessageBody"]
    assert (released["PreviousStatus"], released["NewStatus"]) == ("OnHold", "InProcess")
    tool = published(app, "stencil.mounted")[-1][1]["MessageBody"]
    assert tool["NewTool"]["UniqueIdentifier"] == "ST-2"
    assert tool["NewTool"]["$type"] == cfx.STENCIL and tool["OldTool"]["Name"].startswith("ST-")


def test_an_operator_state_is_station_state_changed_with_semi_e10_codes(floor):
    topic, msg = published(floor[0], "station.state_set")[0]
    assert topic == "acme/plant1/smt/t/t-print/cfx/StationStateChanged"
    body = msg["MessageBody"]
    assert body["NewState"] == "5000" and body["OldState"] in ("1100", "2202")
    assert len(body["OldStateDuration"].split(":")) == 3
    assert msg["Details"]["reason"] == "squeegee broken"


def test_other_kinds_go_under_event_and_never_carry_secrets(floor):
    app = floor[0]
    topic, msg = published(app, "vendor.custom")[0]
    assert topic == "acme/plant1/smt/t/event/vendor-custom"
    assert msg["MessageBody"]["Payload"] == {"note": "ok"} and "pin" not in msg["Details"]
    for kind in ("user.created", "token.created"):
        for _topic, body in published(app, kind):
            text = json.dumps(body)
            assert "badge" not in text and "1000" not in text and "pw" not in text
    users = published(app, "user.created")
    assert users[0][1]["MessageBody"]["Payload"] == {"role": "operator"}


def test_loading_splicing_and_unloading_are_cfx_materials_storage_messages(floor):
    app = floor[0]
    (topic, loaded), (splice_topic, splice) = published(app, "feeder.loaded")
    assert topic == "acme/plant1/smt/t/t-place/cfx/MaterialsLoaded"
    assert loaded["MessageName"] == "CFX.Materials.Storage.MaterialsLoaded"
    assert loaded["MessageBody"] == {"Materials": [{
        "LocationIdentifier": "T-PLACE:F01", "LocationName": "F01",
        "MaterialPackage": {"UniqueIdentifier": "R-1", "InternalPartNumber": "RC0402-10K",
                            "Quantity": 5000.0},
        "CarrierInformation": None}]}
    assert loaded["Details"]["verdict"] == "PASS" and loaded["Details"]["lot"] == "L-7"
    assert splice_topic == "acme/plant1/smt/t/t-place/cfx/SplicePointDetected"
    assert splice["MessageName"] == "CFX.Materials.Storage.SplicePointDetected"
    body = splice["MessageBody"]
    assert set(body) == {"DepletedMaterial", "NewlyActiveMaterial"}
    assert body["DepletedMaterial"] == {  # the replaced reel's own part and what it has left
        "LocationIdentifier": "T-PLACE:F01", "LocationName": "F01",
        "MaterialPackage": {"UniqueIdentifier": "R-1", "InternalPartNumber": "RC0402-10K",
                            "Quantity": 12.0},
        "CarrierInformation": None}
    new = body["NewlyActiveMaterial"]
    assert (new["LocationName"], new["MaterialPackage"]) == ("F01", {
        "UniqueIdentifier": "R-2", "InternalPartNumber": "ERJ-2RKF1002X", "Quantity": 10000.0})
    assert splice["Details"]["verdict"] == "ALTERNATE"
    topic, unloaded = published(app, "feeder.unloaded")[0]
    assert topic == "acme/plant1/smt/t/t-place/cfx/MaterialsUnloaded"
    assert unloaded["MessageBody"] == {"MaterialPackageIdentifiers": ["R-2"]}
    assert unloaded["Details"]["quantity_left"] == 9712 and unloaded["Station"] == "T-PLACE"


def test_a_refused_reel_is_an_event_with_its_code_not_a_cfx_load(floor):
    topic, msg = published(floor[0], "feeder.refused")[0]
    assert topic == "acme/plant1/smt/t/t-place/event/feeder-refused"
    assert msg["MessageBody"]["Payload"]["code"] == "WRONG_PART"
    assert msg["MessageBody"]["Payload"]["part_needed"] == "RC0402-10K"


def test_the_timestamp_is_utc_with_milliseconds_and_a_z():
    # SQLite hands back naive UTC times; PostgreSQL aware ones, in any zone.
    assert cfx.timestamp(datetime(2026, 3, 1, 8, 0, 0)) == "2026-03-01T08:00:00.000Z"
    assert cfx.timestamp(datetime(2026, 3, 1, 8, 0, 0, 999_999)) == "2026-03-01T08:00:00.999Z"
    shenzhen = timezone(timedelta(hours=8))
    assert cfx.timestamp(datetime(2026, 3, 1, 7, 30, 5, 1_500, tzinfo=shenzhen)) == \
        "2026-02-28T23:30:05.001Z"


def test_topic_segments_are_lower_case_without_dots_or_wildcards():
    assert line_state.slug("L1-AOI-1") == "l1-aoi-1"
    assert line_state.slug("pcb_lot.opened") == "pcb_lot-opened"
    assert line_state.slug("a/b+#c") == "a-b-c"
    assert line_state.slug("") == "_"


def test_the_settings_give_url_credentials_tls_and_a_client_id_per_station(monkeypatch):
    monkeypatch.delenv("MQTT_PASSWORD", raising=False)
    settings = {"site": {"enterprise": "Acme", "site": "Plant 1", "area": "SMT"},
                "mqtt": {"url": "mqtts://l1-aoi-1:s%40cret@broker.local", "station": "L1-AOI-1",
                         "tls_ca": "/etc/ca.crt", "keepalive_s": 10},
                "lines": [{"id": "L1"}],
                "stations": [{"id": "L1-AOI-1", "type": "AOI", "line": "L1"}]}
    cfg = config_from(parse(settings))
    assert (cfg.host, cfg.port, cfg.tls) == ("broker.local", 8883, True)
    assert (cfg.username, cfg.password) == ("l1-aoi-1", "s@cret")
    assert cfg.client_id == "l1-aoi-1-relay" and cfg.line == "L1" and cfg.keepalive_s == 10
    assert cfg.prefix == "acme/plant-1/smt"
    assert topics.node_path(cfg, cfg.line) == "l1/l1-aoi-1"
    monkeypatch.setenv("MQTT_PASSWORD", "from-env")
    assert config_from(parse(settings)).password == "from-env"
    plain = config_from(parse({"mqtt": {"url": "mqtt://10.0.0.5"}, "lines": [{"id": "L2"}]}))
    assert (plain.port, plain.tls, plain.client_id, plain.username) == (1883, False,
                                                                         "l2-relay", "")
    assert not config_from(parse({"mqtt": {"url": ""}})).configured
    with pytest.raises(ValueError):
        config_from(parse({"mqtt": {"url": "http://x"}}))


def test_mqtt_url_in_the_environment_overrides_the_file(tmp_path, monkeypatch):
    monkeypatch.setenv("MQTT_URL", "mqtt://u:p@127.0.0.1:1999")
    app = make_app(tmp_path)
    cfg = app.extensions["mqtt"].cfg
    assert (cfg.host, cfg.port, cfg.username, cfg.password) == ("127.0.0.1", 1999, "u", "p")


def test_the_relay_lock_admits_one_holder_across_threads_and_processes(tmp_path):
    path = tmp_path / "relay.lock"
    first, second = lock.RelayLock(path), lock.RelayLock(path)
    results = []
    t = threading.Thread(target=lambda: results.append(second.acquire()))
    assert first.acquire()
    t.start()
    t.join()
    assert results == [False]
    code = ("import sys; from station.mqtt.lock import RelayLock; "
            f"sys.exit(0 if RelayLock({str(path)!r}).acquire() else 3)")
    env = {**os.environ, "PYTHONPATH": os.getcwd()}
    assert subprocess.run([sys.executable, "-c", code], env=env).returncode == 3
    first.release()
    assert second.acquire()
    second.release()


def test_a_commit_that_adds_events_wakes_the_relay_and_nothing_else_does(floor):
    app, line = floor

    class Waker:
        engine_url = str(app.extensions["engine"].url)
        woken = 0

        def notify(self):
            self.woken += 1

    waker = Waker()
    wake.install_commit_hook()
    wake.listen(waker)
    try:
        with Session(app.extensions["engine"]) as s:
            s.get(Station, "T-PRINT")
            s.commit()  # nothing new
            assert waker.woken == 0
            events.record(s, "vendor.custom", "thing:2", {})
            s.rollback()
            assert waker.woken == 0
            events.record(s, "vendor.custom", "thing:3", {})
            s.commit()
            assert waker.woken == 1
    finally:
        wake.unlisten(waker)


def test_without_a_broker_the_outbox_counts_what_waits(floor):
    app, line = floor
    settings = {"mqtt": {"url": "mqtt://127.0.0.1:1", "station": "T-FCT", "line_events": False}}
    with Session(app.extensions["engine"]) as s:
        total = len(s.exec(select(Event)).all())
        mine = len(s.exec(select(Event).where(Event.station_id == "T-FCT")).all())
        assert cursor.waiting(s, config_from(parse({"mqtt": {"url": "mqtt://x"}}))) == total
        assert cursor.waiting(s, config_from(parse(settings))) == mine == 3  # created, 2 tests


def test_the_feeder_rules_own_events_map_to_the_same_cfx_messages(session):
    """Loading, splicing and unloading done by station.material.feeders, as the relay builds
    them: the payloads the rules write are the ones the CFX mapping reads."""
    line = build_line(session, boards=2)
    op = line.users["operator"]
    slots = [{"slot": "F01", "part": "RC0603-10K", "alternates": [], "designators": ["R1"]},
             {"slot": "F02", "part": "CC0603-100N", "alternates": [], "designators": ["C1"]}]
    setups.create_setup(session, line.users["admin"], "PCB", "A", "PLACE", slots)
    for reel, part in (("R-A", "RC0603-10K"), ("R-B", "RC0603-10K"), ("C-A", "CC0603-100N")):
        reels.register_reel(session, op, id=reel, part=part, quantity=100, lot="L-" + reel)
    feeders.load(session, op, "T-PLACE", "WO-1", "F01", "R-A")
    feeders.load(session, op, "T-PLACE", "WO-1", "F02", "C-A")
    for station in ("T-PRINT", "T-SPI", "T-PLACE"):
        scanning.scan(session, station, line.serials[0], op)  # R-A gives one part to the board
    feeders.load(session, op, "T-PLACE", "WO-1", "F01", "R-B")  # a splice
    feeders.unload(session, op, "T-PLACE", "F02")
    session.commit()
    cfg = config_from(parse({"mqtt": {"url": "mqtt://localhost"}, "lines": [{"id": "L1"}]}))
    messages = cfx.Messages(session, cfg, "T")
    names = {}
    for ev in session.exec(select(Event).where(Event.kind.startswith("feeder."))
                           .order_by(Event.id)):
        topic, payload = messages.build(ev)
        names.setdefault(topic.rsplit("/", 1)[1], []).append(json.loads(payload)["MessageBody"])
    assert len(names["MaterialsLoaded"]) == 2
    assert names["MaterialsLoaded"][0]["Materials"][0]["MaterialPackage"] == {
        "UniqueIdentifier": "R-A", "InternalPartNumber": "RC0603-10K", "Quantity": 100.0}
    splice, = names["SplicePointDetected"]
    assert splice["DepletedMaterial"]["MaterialPackage"] == {
        "UniqueIdentifier": "R-A", "InternalPartNumber": "RC0603-10K", "Quantity": 99.0}
    assert splice["NewlyActiveMaterial"]["MaterialPackage"]["UniqueIdentifier"] == "R-B"
    assert splice["NewlyActiveMaterial"]["LocationName"] == "F01"
    assert names["MaterialsUnloaded"] == [{"MaterialPackageIdentifiers": ["C-A"]}]
