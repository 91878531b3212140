"""The outbox relay against a real Mosquitto: order, completeness, outages, one relay per name."""

import shutil
import subprocess
import threading
import time
from contextlib import contextmanager

import pytest
from conftest import Api, build_line, make_app
from sqlmodel import Session, func, select
from test_mqtt_broker import Broker, Consumer, broker, needs_broker, wait_until  # noqa: F401

from station import events, mqtt
from station.models import Event, RelayCursor, utcnow
from station.mqtt.backlog import SNAPSHOT, Gap
from station.mqtt.lock import RelayLock

pytestmark = needs_broker
ALL = ["acme/plant1/smt/#"]
FAST = {"reconnect_max_s": 1, "keepalive_s": 5}


def events_in_db(app) -> list[tuple[int, str]]:
    with Session(app.extensions["engine"]) as s:
        return [(e.id, e.uid) for e in s.exec(select(Event).order_by(Event.id))]


def last_id(app) -> int:
    with Session(app.extensions["engine"]) as s:
        return s.exec(select(func.max(Event.id))).one()


def scan_through(api: Api, serials, stations=("T-PRINT", "T-SPI", "T-PLACE")):
    """Walk each board through the first stations; returns each request's duration."""
    took = []
    for serial in serials:
        for station in stations:
            t0 = time.perf_counter()
            r = api.scan(station, serial)
            took.append(time.perf_counter() - t0)
            assert r.status_code == 201, r.get_json()
    return took


@pytest.fixture
def station(tmp_path, broker):  # noqa: F811
    """A line node (every station of one database) publishing to the test's broker."""
    app = make_app(tmp_path, MQTT={"url": broker.url, **FAST})
    with Session(app.extensions["engine"], expire_on_commit=False) as s:
        line = build_line(s, boards=60)
    yield app, line
    app.extensions["mqtt"].close()


def test_events_arrive_in_order_and_complete_with_their_uid_and_sequence(station, broker):  # noqa: F811
    app, line = station
    consumer = Consumer(broker, ALL)
    wait_until(consumer.connected.is_set)
    relay = mqtt.start_relay(app)
    scan_through(Api(app.test_client(), line), line.serials[:10])
    wait_until(lambda: relay.cursor == last_id(app), 10)
    wait_until(lambda: len(consumer.events()) == len(events_in_db(app)), 5)
    received = [m for t, m in consumer.messages() if "/cfx/" in t or "/event/" in t]
    assert [(m["Sequence"], m["UniqueID"]) for m in received] == events_in_db(app)  # no dups
    def stored():
        last = last_id(app)
        with Session(app.extensions["engine"]) as s:
            return s.get(RelayCursor, relay.name).last_event_id == last
    wait_until(stored, 2)  # the cursor is in the database (written at most 5 times a second)
    status = consumer.latest("/status")
    assert status["online"] is True and status["session"] == 1
    # The retained state follows at most 0.2 s behind (five a second while busy).
    wait_until(lambda: (consumer.latest("/t/t-place/state") or {}).get("boards_scanned") == 10)
    state = consumer.latest("/t/t-place/state")
    assert state["state"] == "running" and state["state_code"] == 1100
    assert all(not isinstance(v, dict | list) and v is not None for v in state.values())
    consumer.close()


def test_the_broker_down_when_the_station_starts_loses_nothing(station, broker):  # noqa: F811
    app, line = station
    consumer = Consumer(broker, ALL)  # a persistent session the broker keeps for it
    wait_until(consumer.connected.is_set)
    broker.stop()
    relay = mqtt.start_relay(app)
    api = Api(app.test_client(), line)
    took = scan_through(api, line.serials[:10])
    assert max(took) < 0.5  # the requests never wait for the broker
    out = api.get("/api/v1/outbox").get_json()
    assert out["configured"] and not out["connected"] and out["waiting"] == len(events_in_db(app))
    time.sleep(1.5)  # the relay keeps trying meanwhile
    assert relay.cursor == 0
    broker.start()
    wait_until(lambda: relay.cursor == last_id(app), 10)
    wait_until(lambda: len(consumer.events()) == len(events_in_db(app)), 5)
    assert [(e["Sequence"], e["UniqueID"]) for e in consumer.events()] == events_in_db(app)
    # The cursor is stored at most five times a second: the outbox says so soon after.
    wait_until(lambda: api.get("/api/v1/outbox").get_json()["waiting"] == 0, 3)
    consumer.close()


def test_a_broker_stopped_during_a_burst_of_scans_loses_nothing_and_keeps_the_order(
        station, broker):  # noqa: F811
    app, line = station
    consumer = Consumer(broker, ALL)
    wait_until(consumer.connected.is_set)
    relay = mqtt.start_relay(app)
    api = Api(app.test_client(), line)
    took: list[float] = []
    burst = threading.Thread(target=lambda: took.extend(scan_through(api, line.serials[:60])))
    burst.start()
    wait_until(lambda: relay.cursor > 60, 10)
    broker.stop()  # mid-burst: scans go on, events wait in the database
    stopped_at = last_id(app)
    time.sleep(1.0)
    assert last_id(app) > stopped_at  # still scanning while the broker is away
    broker.start()
    burst.join(60)
    assert len(took) == 180 and max(took) < 1.0
    wait_until(lambda: relay.cursor == last_id(app), 15)
    wait_until(lambda: len(consumer.events()) == len(events_in_db(app)), 10)
    firsts = consumer.events()  # duplicates (same UniqueID) dropped, as a consumer must
    assert [(e["Sequence"], e["UniqueID"]) for e in firsts] == events_in_db(app)
    sequences = [e["Sequence"] for e in firsts]
    assert sequences == sorted(sequences)
    consumer.close()


def test_a_restarted_relay_resumes_after_its_cursor(tmp_path, broker):  # noqa: F811
    app = make_app(tmp_path, MQTT={"url": broker.url, **FAST})
    with Session(app.extensions["engine"], expire_on_commit=False) as s:
        line = build_line(s, boards=4)
    relay = mqtt.start_relay(app)
    wait_until(lambda: relay.cursor == last_id(app), 10)
    first = relay.cursor
    app.extensions["mqtt"].close()
    api = Api(app.test_client(), line)
    scan_through(api, line.serials[:2], ("T-PRINT",))  # while no relay runs
    consumer = Consumer(broker, ALL)
    wait_until(consumer.connected.is_set)
    again = make_app(tmp_path, MQTT={"url": broker.url, **FAST})  # the same database
    with Session(again.extensions["engine"]) as s:
        assert s.get(RelayCursor, relay.name).last_event_id == first
    relay = mqtt.start_relay(again)
    wait_until(lambda: relay.cursor == last_id(app), 10)
    # The broker has acknowledged both; its delivery to the consumer follows.
    wait_until(lambda: len(consumer.events()) == 2, 5)
    assert [e["Sequence"] for e in consumer.events()] == [first + 1, first + 2]
    assert consumer.latest("/status")["session"] == 2
    again.extensions["mqtt"].close()
    consumer.close()


def test_a_station_process_publishes_only_its_station(tmp_path, broker):  # noqa: F811
    app = make_app(tmp_path, MQTT={"url": broker.url, "station": "T-SPI", "line_events": False,
                                   **FAST})
    with Session(app.extensions["engine"], expire_on_commit=False) as s:
        line = build_line(s, boards=3)
    consumer = Consumer(broker, ALL)
    wait_until(consumer.connected.is_set)
    relay = mqtt.start_relay(app)
    assert relay.name == "t-spi-relay"
    scan_through(Api(app.test_client(), line), line.serials, ("T-PRINT", "T-SPI"))
    wait_until(lambda: relay.cursor == last_id(app), 10)
    wait_until(lambda: len(consumer.messages("/cfx/WorkCompleted")) == 3)
    assert {e["Station"] for e in consumer.events()} == {"T-SPI"}
    assert consumer.latest("/t/t-spi/status")["online"] is True  # its own status and will
    assert consumer.latest("/t/t-print/state") is None
    app.extensions["mqtt"].close()
    # A clean stop says so (the broker has it; its delivery to the consumer follows).
    wait_until(lambda: consumer.latest("/t/t-spi/status")["online"] is False, 5)
    assert consumer.latest("/t/t-spi/status")["online"] is False
    consumer.close()


def test_exactly_one_relay_runs_per_name_and_another_takes_over(tmp_path, broker):  # noqa: F811
    # Two apps on one database and one instance folder stand for two processes of a
    # multi-process server: the lock file lets one relay run; the other waits.
    first = make_app(tmp_path, MQTT={"url": broker.url, **FAST})
    second = make_app(tmp_path, MQTT={"url": broker.url, **FAST})
    a, b = mqtt.start_relay(first), mqtt.start_relay(second)
    wait_until(lambda: a.active or b.active)
    time.sleep(0.3)
    assert [a.active, b.active].count(True) == 1
    winner, waiter = (a, b) if a.active else (b, a)
    lock = winner.lock.path  # (test_mqtt_payloads shows it holds against another process)
    winner.stop()
    wait_until(lambda: waiter.active and waiter.connected, 6)
    first.extensions["mqtt"].close()
    second.extensions["mqtt"].close()
    again = RelayLock(lock)
    assert again.acquire()  # given back when the relays stopped
    again.release()


def test_an_event_the_broker_refuses_stalls_the_relay_and_says_why(tmp_path):
    users = {"t-spi": "pw"}
    secured = Broker(tmp_path / "secured", users=users).start()
    try:
        app = make_app(tmp_path, MQTT={"url": secured.url, "station": "T-SPI", "username": "t-spi",
                                       "password": "pw", "line_events": True, **FAST})
        with Session(app.extensions["engine"], expire_on_commit=False) as s:
            build_line(s, boards=1)  # line-level events: the ACL lets only the line's user write
        relay = mqtt.start_relay(app)
        wait_until(lambda: relay.refused is not None, 10)
        assert "Not authorized" in relay.last_error
        first_refused = relay.refused[0]
        time.sleep(0.3)
        assert relay.cursor < first_refused  # nothing after it counts as sent
        app.extensions["mqtt"].close()
    finally:
        secured.stop()


@pytest.mark.postgres
def test_on_postgresql_one_relay_per_name_across_pcs_and_gaps_are_waited_for(
        pg_url, tmp_path, broker):  # noqa: F811
    # Two apps with their own instance folders stand for two PCs sharing the plant database:
    # the file lock cannot see across PCs, PostgreSQL's advisory lock does.
    cfg = {"url": broker.url, "gap_grace_s": 0.3, **FAST}
    first = make_app(tmp_path / "pc1", database_url=pg_url, MQTT=cfg)
    second = make_app(tmp_path / "pc2", database_url=pg_url, MQTT=cfg)
    with Session(first.extensions["engine"], expire_on_commit=False) as s:
        build_line(s, boards=2)
    consumer = Consumer(broker, ALL)
    wait_until(consumer.connected.is_set)
    a = mqtt.start_relay(first)
    wait_until(lambda: a.active and a.cursor == last_id(first), 10)
    b = mqtt.start_relay(second)
    time.sleep(0.5)
    assert not b.active  # the advisory lock is held by the first
    with Session(first.extensions["engine"]) as s:
        events.record(s, "vendor.custom", "gap:1", {})
        s.flush()
        s.rollback()  # its id is used up and never commits: a gap
        events.record(s, "vendor.custom", "after:1", {})
        s.commit()
    wait_until(lambda: a.cursor == last_id(first), 5)  # waited gap_grace_s, then went on
    assert consumer.events()[-1]["MessageBody"]["Subject"] == "after:1"
    sequences = [e["Sequence"] for e in consumer.events()]
    assert sequences == sorted(sequences) and len(sequences) == len(events_in_db(first))
    first.extensions["mqtt"].close()
    wait_until(lambda: b.active, 5)  # the other PC takes over
    second.extensions["mqtt"].close()
    consumer.close()


@contextmanager
def pg_relay(pg_url, folder, broker, **mqtt_settings):  # noqa: F811
    """A station on the PostgreSQL of the test with a line, a consumer of all, and its relay
    caught up; closed afterwards."""
    app = make_app(folder, database_url=pg_url,
                   MQTT={"url": broker.url, **FAST, **mqtt_settings})
    with Session(app.extensions["engine"], expire_on_commit=False) as s:
        build_line(s, boards=2)
    consumer = Consumer(broker, ALL)
    wait_until(consumer.connected.is_set)
    relay = mqtt.start_relay(app)
    wait_until(lambda: relay.cursor == last_id(app), 10)
    try:
        yield app, consumer, relay
    finally:
        app.extensions["mqtt"].close()
        consumer.close()


@pytest.mark.postgres
def test_on_postgresql_an_event_committed_after_a_newer_one_still_updates_its_state(
        pg_url, tmp_path, broker):  # noqa: F811
    # Another PC's scan may take a higher id and commit first; the late one must not wait for
    # the ten-second refresh of every state (state_refresh_s is a minute here).
    with pg_relay(pg_url, tmp_path, broker, state_refresh_s=60) as (app, consumer, _relay):
        engine = app.extensions["engine"]
        with Session(engine) as late, Session(engine) as early:
            events.record(late, "vendor.custom", "late:1", {}, station_id="T-SPI")
            late.flush()  # its id is taken, not yet committed
            late_id = late.exec(select(func.max(Event.id))).one()
            events.record(early, "vendor.custom", "early:1", {}, station_id="T-PLACE")
            early.commit()
            wait_until(lambda: (consumer.latest("/t/t-place/state") or {}).get("last_seq", 0)
                       > late_id, 5)  # the look has seen the newer id
            late.commit()
        wait_until(lambda: (consumer.latest("/t/t-spi/state") or {}).get("last_seq")
                   == late_id, 3)


def subjects(consumer) -> list[str]:
    """The subjects of the station's own events (SMTStation.Event) received, in order."""
    return [e["MessageBody"].get("Subject") for e in consumer.events()]


@pytest.mark.postgres
def test_on_postgresql_an_id_rolled_back_holds_the_backlog_only_until_no_one_can_commit_it(
        pg_url, tmp_path, broker):  # noqa: F811
    # gap_grace_s is a minute: only PostgreSQL saying that no transaction that could still
    # commit the missing id is open lets the relay pass it at once.
    with pg_relay(pg_url, tmp_path, broker, gap_grace_s=60) as (app, consumer, relay):
        with Session(app.extensions["engine"]) as s:
            events.record(s, "vendor.custom", "gap:1", {})
            s.flush()
            s.rollback()  # its id is used up and never commits: a gap
            events.record(s, "vendor.custom", "after:1", {})
            s.commit()
        wait_until(lambda: relay.cursor == last_id(app), 5)
        wait_until(lambda: "after:1" in subjects(consumer), 5)  # delivered after the ack
        assert subjects(consumer)[-1] == "after:1"


@pytest.mark.postgres
def test_on_postgresql_a_slow_transactions_event_is_waited_for_not_skipped(
        pg_url, tmp_path, broker):  # noqa: F811
    # A transaction that took its event's id and commits seconds later, after a newer event
    # committed: its event must still go out, first, however long gap_grace_s is.
    with pg_relay(pg_url, tmp_path, broker, gap_grace_s=0.5) as (app, consumer, relay):
        engine = app.extensions["engine"]
        with Session(engine) as slow, Session(engine) as quick:
            slow_ev = events.record(slow, "vendor.custom", "slow:1", {})
            slow.flush()  # its id is taken; the transaction goes on working
            slow_id = slow_ev.id
            events.record(quick, "vendor.custom", "quick:1", {})
            quick.commit()
            client = app.test_client()
            r = client.post("/login", data={"name": "supervisor", "password": "supervisor-pw"})
            assert r.status_code == 302
            # Far longer than gap_grace_s, and the banner says what holds the outbox up.
            hub = app.extensions["mqtt"]
            held = wait_until(lambda: hub.status(quick)["held"], 10, 0.2)
            assert held["event"] == slow_id and held["for_s"] >= 5
            assert f'data-held="{slow_id}"' in client.get("/line/banner").get_data(as_text=True)
            assert "quick:1" not in subjects(consumer)
            slow.commit()
        wait_until(lambda: relay.cursor == last_id(app), 5)
        wait_until(lambda: "quick:1" in subjects(consumer), 5)  # delivered after the ack
        assert subjects(consumer)[-2:] == ["slow:1", "quick:1"]
        assert relay.status()["waiting_for"] is None
        assert "data-held" not in client.get("/line/banner").get_data(as_text=True)


@pytest.mark.postgres
def test_on_postgresql_an_event_committed_between_the_read_and_the_look_is_not_a_gap(
        pg_url, tmp_path):
    # The relay read the rows while the slow transaction was open, then its transaction
    # committed before the snapshot was looked at: the oldest running transaction is past the
    # horizon, yet the id is not rolled back, and passing it would lose the event for good.
    app = make_app(tmp_path, database_url=pg_url, MQTT={"url": "mqtt://127.0.0.1:1", **FAST})
    engine = app.extensions["engine"]
    with Session(engine) as slow, Session(engine) as quick:
        event = events.record(slow, "vendor.custom", "slow:1", {})
        slow.flush()
        missing = event.id
        events.record(quick, "vendor.custom", "quick:1", {})
        quick.commit()
        backlog = mqtt.start_relay(app).backlog
        app.extensions["mqtt"].close()  # only its gap rule is asked here
        with Session(engine) as s:
            _xmin, horizon = s.execute(SNAPSHOT).one()  # the slow transaction is before it
        backlog._gap = Gap(missing, utcnow(), time.monotonic() - 1, horizon)
        slow.commit()
    with Session(engine) as s:
        assert backlog._gap_settled(s, missing) is False
        assert backlog.waiting_for["event"] == missing  # looked at again a look on


def test_the_relay_speaks_tls_with_the_configured_ca(tmp_path):
    if not shutil.which("openssl"):
        pytest.skip("openssl is not installed: no certificates to test TLS with")
    pki = tmp_path / "pki"
    pki.mkdir()

    def openssl(*args):
        subprocess.run(["openssl", *args], cwd=pki, check=True, capture_output=True)
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    openssl("req", "-x509", *ec, "-keyout", "ca.key", "-out", "ca.crt", "-days", "2",
            "-subj", "/CN=test plant CA")
    openssl("req", *ec, "-keyout", "broker.key", "-out", "broker.csr", "-subj", "/CN=127.0.0.1")
    (pki / "san.ext").write_text("subjectAltName=IP:127.0.0.1\n")
    openssl("x509", "-req", "-in", "broker.csr", "-CA", "ca.crt", "-CAkey", "ca.key",
            "-CAcreateserial", "-out", "broker.crt", "-days", "2", "-extfile", "san.ext")
    tls = Broker(tmp_path / "tls", tls=pki).start()  # a TLS listener only
    try:
        app = make_app(tmp_path, MQTT={"url": f"mqtts://127.0.0.1:{tls.port}",
                                       "tls_ca": str(pki / "ca.crt"), **FAST})
        with Session(app.extensions["engine"], expire_on_commit=False) as s:
            build_line(s, boards=1, ready=False)
        relay = mqtt.start_relay(app)
        wait_until(lambda: relay.connected and relay.cursor == last_id(app), 10)
        app.extensions["mqtt"].close()
    finally:
        tls.stop()
