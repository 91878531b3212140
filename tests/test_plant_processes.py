"""Several line PCs on one plant database: run.py processes on one PostgreSQL and one broker.

Each process is a line node ([mqtt] line set, no station) with its own station.toml, port and
client id; they share the PostgreSQL of TEST_DATABASE_URL (a fresh schema per test) and a
Mosquitto the test starts with the shipped ACL plus a user per line, so a line's PC may write
only its line's topics. The plant (users, customer, product, an order per line made ready,
three lines of stations) is made once per test through the station's own functions.
"""

import http.client
import json
import os
import signal
import threading
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from conftest import PEPPER, ROUTE, make_app
from run_py import SITE, RunPy
from sqlmodel import Session, func, select
from test_mqtt_broker import ACL, MOSQUITTO, Broker, Consumer, needs_broker, wait_until

from station import demo, masterdata, people
from station.line.state import slug
from station.models import Board, BoardStep, Event, RelayCursor

pytestmark = [needs_broker, pytest.mark.postgres]
ROOT = Path(__file__).resolve().parent.parent
PREFIX = "acme/plant1/smt"
LINES = ("L1", "L2", "L3")
USERS = {**{slug(line): f"pw-{slug(line)}" for line in LINES}, "dashboard": "pw-dash"}
BOARDS = 24  # per line's order

MQTT = """
[mqtt]
url = "{url}"
line = "{line}"
username = "{user}"
password = "{password}"
client_id = "{client_id}"
line_events = {line_events}
keepalive_s = 2
reconnect_max_s = 1
"""


def stations(line: str) -> list[str]:
    """A line's stations, one per step of the route."""
    return [f"{line}-{step}-1" for step in ROUTE]


def lines_toml(lines) -> str:
    """The [[lines]] and [[stations]] tables of these lines."""
    out = []
    for line in lines:
        out.append(f'\n[[lines]]\nid = "{line}"\nname = "Line {line}"\nhourly_target = 60\n')
        out += [f'\n[[stations]]\nid = "{sid}"\ntype = "{step}"\nline = "{line}"\n'
                for sid, step in zip(stations(line), ROUTE, strict=True)]
    return "".join(out)


@dataclass
class Plant:
    """What the plant was made with: the operator's token and each line's order and boards."""

    token: str = ""
    orders: dict[str, str] = field(default_factory=dict)
    serials: dict[str, list[str]] = field(default_factory=dict)


def build_plant(session: Session) -> Plant:
    """Users, a customer, a product with its route, and an order per line, made ready."""
    plant = Plant()
    admin = people.create_user(session, "admin", "admin", pepper=PEPPER, password="admin-pw")
    op = people.create_user(session, "op", "operator", pepper=PEPPER, badge="10001", pin="1234")
    plant.token = people.create_token(session, "op")
    masterdata.create_customer(session, admin, "CUST", "Customer Ltd", "prepaid")
    masterdata.create_product(session, admin, "PCB", "A", list(ROUTE))
    for i, line in enumerate(LINES, 1):
        number = f"WO-{1000 + i}"
        masterdata.create_order(session, admin, number, "CUST", "PCB", "A", BOARDS, "2.50")
        plant.orders[line] = number
        plant.serials[line] = masterdata.add_boards(session, admin, number, count=BOARDS)
        demo.make_ready(session, admin, op, number)
    return plant


class LinePC(RunPy):
    """`python run.py` for one line: its own station.toml, port and client id; the plant's
    PostgreSQL."""

    def __init__(self, folder: Path, broker: Broker, db: str, line: str, token: str,
                 line_events: bool, client_id: str | None = None):
        folder.mkdir(parents=True, exist_ok=True)
        self.line, self.token = line, token
        user = slug(line)
        client_id = client_id or f"{user}-{uuid.uuid4().hex[:8]}"  # unique per process
        self.config = folder / "station.toml"
        self.config.write_text(SITE.format(db=db) + MQTT.format(
            url=broker.url, line=line, user=user, password=USERS[user], client_id=client_id,
            line_events=str(line_events).lower()) + lines_toml([line]))
        super().__init__(folder, {"STATION_CONFIG": str(self.config), "DATABASE_URL": db},
                         client_id)

    def connect(self) -> http.client.HTTPConnection:
        """A keep-alive connection to this process, already open."""
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        conn.connect()
        return conn

    def api(self, method: str, path: str, body: dict | None = None,
            conn: http.client.HTTPConnection | None = None) -> tuple[int, dict]:
        conn = conn or self.connect()
        conn.request(method, path, body=json.dumps(body) if body is not None else None,
                     headers={"Authorization": f"Bearer {self.token}",
                              "Content-Type": "application/json"})
        r = conn.getresponse()
        return r.status, json.loads(r.read() or b"{}")

    def scan(self, serial: str, step: str, conn=None) -> tuple[int, dict]:
        """Scan a board at this line's station of a step."""
        return self.api("POST", "/api/v1/scans",
                        {"station": f"{self.line}-{step}-1", "code": serial}, conn)

    def outbox(self) -> dict:
        status, out = self.api("GET", "/api/v1/outbox")
        assert status == 200, out
        return out

    def caught_up(self) -> bool:
        """Its relay has published (and stored the cursor past) everything of its line."""
        out = self.outbox()
        return out["connected"] and out["waiting"] == 0 and out["relay"]["in_flight"] == 0

    def kill(self) -> None:
        """SIGKILL: no clean stop, no offline message, no cursor saved."""
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)



def plant_broker(folder: Path) -> Broker:
    """A Mosquitto with the shipped ACL and a user per line that may write its line only."""
    broker = Broker(folder, users=USERS)
    acl = folder / "acl"
    acl.write_text(ACL.read_text() + "".join(
        f"\nuser {slug(line)}\ntopic write {PREFIX}/{slug(line)}/#\n" for line in LINES))
    broker.conf.write_text(broker.conf.read_text().replace(str(ACL), str(acl)))
    return broker.start()


@pytest.fixture
def plant(tmp_path, pg_url):
    """The plant on a fresh schema, a broker, a watcher of the whole area and a PC per line
    (L1's also publishes the events without a station)."""
    if not os.path.exists(MOSQUITTO):
        pytest.skip(f"Mosquitto is not installed at {MOSQUITTO} (make test installs it)")
    seed_config = tmp_path / "plant.toml"
    seed_config.write_text(SITE.format(db=pg_url) + lines_toml(LINES))
    seed = make_app(tmp_path / "seed", database_url=pg_url, STATION_CONFIG=str(seed_config))
    engine = seed.extensions["engine"]  # the test's own view of the plant database
    with Session(engine, expire_on_commit=False) as s:
        made = build_plant(s)
    broker = plant_broker(tmp_path / "broker")
    watcher = Consumer(broker, [f"{PREFIX}/#"], f"watcher-{uuid.uuid4().hex[:8]}", "dashboard",
                       USERS["dashboard"])
    wait_until(watcher.connected.is_set, 10)
    pcs = {line: LinePC(tmp_path / slug(line), broker, pg_url, line, made.token,
                        line_events=line == "L1") for line in LINES}
    env = {"engine": engine, "broker": broker, "watcher": watcher, "pcs": pcs, "plant": made,
           "db": pg_url, "tmp": tmp_path}
    try:
        for pc in pcs.values():
            pc.wait_serving()
        for seg in (slug(line) for line in LINES):
            wait_until(lambda s=seg: (watcher.latest(f"{PREFIX}/{s}/status") or {})
                       .get("online"), 30)
        yield env
    finally:
        for pc in env["pcs"].values():
            pc.stop()
        watcher.close()
        broker.stop()
        engine.dispose()


def wait_caught_up(pcs, timeout: float = 30) -> None:
    """Until every PC's relay has nothing of its own left to publish; else say what each has."""
    try:
        wait_until(lambda: all(pc.caught_up() for pc in pcs), timeout, 0.1)
    except AssertionError:
        raise AssertionError({pc.line: pc.outbox() for pc in pcs}) from None


def event_messages(watcher: Consumer) -> list[tuple[str, dict]]:
    """Every CFX-shaped event message received, duplicates included."""
    return [(t, p) for t, p in watcher.messages() if "/cfx/" in t or "/event/" in t]


def db_events(engine) -> list[Event]:
    with Session(engine) as s:
        return list(s.exec(select(Event).order_by(Event.id)))


def line_of_station(station_id: str) -> str:
    return station_id.split("-", 1)[0]


def expected_topic_start(ev: Event) -> str:
    """Where an event belongs: under its station's line and station, or under L1 (the one PC
    with line_events) when it has no station."""
    if ev.station_id is None:
        return f"{PREFIX}/l1/"
    return f"{PREFIX}/{slug(line_of_station(ev.station_id))}/{slug(ev.station_id)}/"


def test_each_line_pc_publishes_its_own_lines_events_exactly_once(plant):
    pcs, watcher, engine = plant["pcs"], plant["watcher"], plant["engine"]
    serials = plant["plant"].serials
    for line, pc in pcs.items():
        conn = pc.connect()
        for serial in serials[line][:3]:
            for step in ("PRINT", "SPI", "PLACE"):
                status, body = pc.scan(serial, step, conn)
                assert status == 201, body
    wait_caught_up(pcs.values())
    in_db = db_events(engine)
    uids = {ev.uid for ev in in_db}
    wait_until(lambda: uids <= {p["UniqueID"] for _t, p in event_messages(watcher)}, 15)
    received = event_messages(watcher)
    counts = Counter(p["UniqueID"] for _t, p in received)
    assert set(counts) == uids  # every event of the plant, nothing else
    assert [uid for uid, n in counts.items() if n != 1] == []  # each exactly once
    by_uid = {ev.uid: ev for ev in in_db}
    for topic, payload in received:
        ev = by_uid[payload["UniqueID"]]
        assert topic.startswith(expected_topic_start(ev)), (topic, ev.kind, ev.station_id)
        assert payload["Sequence"] == ev.id and payload["Station"] == ev.station_id
    scans = [p for _t, p in received if p["Kind"] == "board.step_passed"]
    assert len(scans) == len(LINES) * 3 * 3
    assert {p["Station"] for p in scans} == {f"{line}-{step}-1" for line in LINES
                                             for step in ("PRINT", "SPI", "PLACE")}
    assert all(p["Source"] == f"acme.smtstation.{slug(p['Station'])}" for p in scans)
    # Each PC keeps the retained state of its own line's stations only, and its status.
    for line, pc in pcs.items():
        seg = slug(line)
        states = [(t, p) for t, p in watcher.messages("/state") if t.startswith(f"{PREFIX}/{seg}/")]
        assert {t.split("/")[-2] for t, _p in states} == {slug(s) for s in stations(line)}
        assert {p["node"] for _t, p in states} == {seg}
        status = watcher.latest(f"{PREFIX}/{seg}/status")
        assert status["online"] is True and status["client_id"] == pc.client_id
        assert status["node"] == seg and status["session"] == 1
    wait_until(lambda: (watcher.latest(f"{PREFIX}/l2/l2-place-1/state") or {})
               .get("boards_scanned") == 3, 15)


def race(a: LinePC, b: LinePC, serial: str, step: str) -> list[tuple[str, int, dict]]:
    """The same board's same step posted to two processes at once (released by a barrier)."""
    barrier = threading.Barrier(2)
    out: list = [None, None]

    def one(i: int, pc: LinePC) -> None:
        conn = pc.connect()  # connected before the barrier: the requests leave together
        barrier.wait(10)
        out[i] = (pc.line, *pc.scan(serial, step, conn))
        conn.close()

    threads = [threading.Thread(target=one, args=(i, pc)) for i, pc in enumerate((a, b))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    return out


def test_one_boards_scan_at_two_pcs_at_one_instant_has_exactly_one_winner(plant):
    pcs, watcher, engine = plant["pcs"], plant["watcher"], plant["engine"]
    boards = plant["plant"].serials["L1"][:8]
    winners: dict[tuple[str, str], str] = {}  # (serial, step) -> the line whose PC won
    for step, (a, b) in (("PRINT", ("L1", "L2")), ("SPI", ("L2", "L3"))):
        for serial in boards:
            pair = race(pcs[a], pcs[b], serial, step)
            assert sorted(status for _l, status, _b in pair) == [201, 409], pair
            (won, _s, answer), = [r for r in pair if r[1] == 201]
            (_l, _s, refusal), = [r for r in pair if r[1] == 409]
            assert answer["step"] == step and answer["station"] == f"{won}-{step}-1"
            assert refusal["error"]["code"] == "ALREADY_DONE", refusal
            winners[serial, step] = won
    with Session(engine) as s:
        rows = s.exec(select(Board.serial, BoardStep.step, func.count(),
                             func.min(BoardStep.station_id)).join(Board).where(Board.serial.in_(boards))
                      .group_by(Board.serial, BoardStep.step)).all()
    assert {(serial, step): n for serial, step, n, _st in rows} == {k: 1 for k in winners}
    assert {(serial, step): line_of_station(st) for serial, step, _n, st in rows} == winners
    # Each winner's event goes out once, from the winner's PC, under the winner's line.
    scans = [ev for ev in db_events(engine) if ev.kind == "board.step_passed"]
    assert len(scans) == len(winners)
    uids = {ev.uid for ev in scans}
    wait_until(lambda: uids <= {p["UniqueID"] for _t, p in event_messages(watcher)}, 30)
    wait_caught_up(pcs.values())
    got = Counter((t, p["UniqueID"]) for t, p in event_messages(watcher) if p["UniqueID"] in uids)
    assert sorted(got.values()) == [1] * len(uids)
    for ev in scans:
        line = winners[ev.subject.removeprefix("board:"), ev.payload["step"]]
        assert (f"{PREFIX}/{slug(line)}/{slug(ev.station_id)}/cfx/WorkCompleted", ev.uid) in got


def test_a_pc_killed_with_sigkill_loses_no_acknowledged_scan_and_the_others_go_on(plant):
    pcs, watcher, engine = plant["pcs"], plant["watcher"], plant["engine"]
    serials, victim = plant["plant"].serials, pcs["L3"]
    acked: list[tuple[str, str]] = []
    refused: list[dict] = []
    enough = threading.Event()

    def scan_until_killed() -> None:
        conn = victim.connect()
        try:
            for serial in serials["L3"]:
                for step in ("PRINT", "SPI", "PLACE"):
                    status, body = victim.scan(serial, step, conn)
                    (acked.append((serial, step)) if status == 201 else refused.append(body))
                    if len(acked) >= 20:
                        enough.set()
        except (OSError, http.client.HTTPException):
            return  # the process died under us; the scan in flight had no answer
        finally:
            enough.set()

    scanner = threading.Thread(target=scan_until_killed)
    scanner.start()
    assert enough.wait(60)
    victim.kill()  # while the scanner goes on posting
    scanner.join(30)
    assert not scanner.is_alive() and refused == []
    assert 20 <= len(acked) < 3 * BOARDS  # it was killed in the middle of the run

    # Every acknowledged scan is in the database (at most the one in flight besides).
    with Session(engine) as s:
        stored = set(s.exec(select(Board.serial, BoardStep.step).join(Board)
                            .where(BoardStep.station_id.in_(stations("L3")))).all())
        cursor_at_kill = s.get(RelayCursor, victim.client_id).last_event_id
    assert set(acked) <= stored and len(stored) - len(acked) in (0, 1)

    # Its line shows offline by its retained last will, the others stay online.
    offline = wait_until(lambda: (s := watcher.latest(f"{PREFIX}/l3/status")) and
                         s["online"] is False and s, 15)
    assert offline["will"] is True and offline["client_id"] == victim.client_id
    late = Consumer(plant["broker"], [f"{PREFIX}/+/status"], f"late-{uuid.uuid4().hex[:8]}",
                    "dashboard", USERS["dashboard"])  # a dashboard that comes later: retained
    try:
        wait_until(lambda: len({t for t, _p in late.messages("/status")}) == len(LINES), 10)
        assert {t.split("/")[-2]: p["online"] for t, p in late.messages("/status")} == \
            {"l1": True, "l2": True, "l3": False}
        assert all(r for _t, _p, r in late.received)  # all sent as retained messages
    finally:
        late.close()

    # The other PCs go on: a scan at each answers 201 and its event reaches the watcher.
    for line in ("L1", "L2"):
        with Session(engine) as s:
            before = s.exec(select(func.max(Event.id))).one()
        status, body = pcs[line].scan(serials[line][-1], "PRINT")
        assert status == 201, body
        with Session(engine) as s:
            (uid,) = s.exec(select(Event.uid).where(Event.id > before,
                                                    Event.station_id == f"{line}-PRINT-1")).all()
        wait_until(lambda u=uid: u in {p["UniqueID"] for _t, p in event_messages(watcher)}, 15)

    # Back with the same client id: it resumes after its stored cursor; nothing of L3 is lost,
    # and only events after that cursor can come twice (at least once, never lost).
    victim.stop()
    again = LinePC(plant["tmp"] / "l3-again", plant["broker"], plant["db"], "L3",
                   plant["plant"].token, line_events=False, client_id=victim.client_id)
    plant["pcs"]["L3"] = again
    again.wait_serving()
    wait_until(lambda: (watcher.latest(f"{PREFIX}/l3/status") or {}).get("session") == 2, 30)
    wait_caught_up([again])
    mine = {ev.uid: ev.id for ev in db_events(engine) if ev.station_id in stations("L3")}
    wait_until(lambda: set(mine) <= {p["UniqueID"] for _t, p in event_messages(watcher)}, 15)
    counts = Counter(p["UniqueID"] for _t, p in event_messages(watcher))
    assert all(counts[uid] == 1 or (counts[uid] == 2 and mine[uid] > cursor_at_kill)
               for uid in mine), {uid: n for uid, n in counts.items() if n > 1}
    assert all(n == 1 for uid, n in counts.items() if uid not in mine)
