"""MQTT relay: event-to-subscriber latency while connected, and draining a backlog, with baselines.

All on 127.0.0.1, against a Mosquitto this script starts on a free port (persistence in a
temporary folder; never the system broker on 1883). Bounded: about a minute.

1. Baseline latency: a bare paho client publishes QoS 1 messages at a fixed rate to a QoS 1
   subscriber; publish-to-receive latency, no database.
2. Station latency: real scans (station.line.scanning.scan, committed with their events) at the same
   rate, with the relay running; latency from the commit to the subscriber receiving the event's
   CFX message. Target: p99 < 100 ms.
3. Baseline drain: the bare client publishes the same 10,000 messages the relay will send (built
   beforehand by the relay's own code, topics moved under bench/) at QoS 1, as fast as paho lets
   it (20 in flight); time until the subscriber has them all.
4. Station drain: the broker is stopped, 10,000 events are committed (in batches of 500), the
   broker is started again; time from the broker's start until the subscriber has every event
   (including the relay's reconnect delay, at most [mqtt] reconnect_max_s), and from the
   relay's reconnect. Target: at most 2x the baseline drain (the relay's part, from its
   reconnect; paho's reconnect back-off, [mqtt] reconnect_max_s, is printed apart). Steps 3
   and 4 run --rounds times, one after the other; the target is on the median ratio.
5. Live state while draining: once the relay is back, a scan every 0.3 s at the next station of
   a fresh board; time from its commit until the station's retained state with that event
   (last_seq) arrives. Target: < 1 s (the present goes out before the backlog behind it).

Run: .venv/bin/python bench/mqtt_relay.py [--rate 40] [--scans 400] [--backlog 10000] [--rounds 3]
"""

import argparse
import json
import math
import multiprocessing
import os
import platform
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import paho.mqtt.client as mqtt  # noqa: E402
from paho.mqtt.enums import CallbackAPIVersion  # noqa: E402

MOSQUITTO = "/usr/sbin/mosquitto"
HOST = "127.0.0.1"
ROUTE = ["PRINT", "SPI", "PLACE", "REFLOW", "AOI", "FCT", "QA", "PACK"]
SCANNED = ROUTE[:5]
PEPPER = "bench-pepper"
TARGET_P99_MS, TARGET_DRAIN_RATIO, TARGET_LIVE_S = 100.0, 2.0, 1.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def pct(values: list[float], p: float) -> float:
    """The p-th percentile (nearest rank), in ms."""
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)] * 1000


class Broker:
    """A Mosquitto of the bench's own (the shipped config's queue limit, persistence)."""

    def __init__(self, folder: Path):
        self.folder, self.port, self.proc = folder, free_port(), None
        conf = [f"listener {self.port} {HOST}", "allow_anonymous true", "persistence true",
                f"persistence_location {folder}/", "autosave_interval 10",
                "max_queued_messages 20000", "log_dest none"]
        if hasattr(os, "geteuid") and os.geteuid() == 0:
            conf.append("user root")
        self.conf = folder / "mosquitto.conf"
        self.conf.write_text("\n".join(conf) + "\n")

    def start(self) -> float:
        self.proc = subprocess.Popen([MOSQUITTO, "-c", str(self.conf)],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with socket.socket() as s:
                if s.connect_ex((HOST, self.port)) == 0:
                    return time.perf_counter()
            time.sleep(0.005)
        raise SystemExit("mosquitto did not start")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(10)


class Subscriber:
    """QoS 1, persistent session (MQTT 3.1.1, clean_session False: survives a broker restart).

    It runs in a process of its own (RemoteSubscriber), so the relay's GIL is not its.
    """

    def __init__(self, port: int, topic: str):
        self.got: dict[str, float] = {}  # first arrival of each key (duplicates dropped)
        self.by_unit: dict[str, float] = {}  # "station|serial|" -> first arrival
        self.arrivals: list[float] = []  # first arrivals, in order: all keys, backlog keys
        self.backlog_arrivals: list[float] = []
        self.states: list[tuple[str, int, float]] = []  # (station, last_seq, arrival)
        self.lock = threading.Lock()
        self.ready = threading.Event()
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"bench-sub-{topic[:4]}",
                                  protocol=mqtt.MQTTv311, clean_session=False)
        self.client.reconnect_delay_set(0.05, 0.2)
        self.client.on_connect = lambda c, *_a: (c.subscribe(topic, 1),
                                                 threading.Timer(0.1, self.ready.set).start())
        self.client.on_message = self._on_message
        self.client.connect(HOST, port, keepalive=10)
        self.client.loop_start()
        self.ready.wait(5)

    def _on_message(self, _c, _u, msg):
        now = time.perf_counter()
        try:
            body = json.loads(msg.payload)
        except ValueError:
            return
        if msg.topic.endswith("/state"):
            with self.lock:
                self.states.append((body.get("station"), body.get("last_seq", 0), now))
            return
        key = body.get("key") or f"{body.get('Station')}|" \
            f"{(body.get('MessageBody') or {}).get('PrimaryIdentifier')}|{body.get('UniqueID')}"
        with self.lock:
            if key not in self.got:
                self.got[key] = now
                self.arrivals.append(now)
                self.by_unit.setdefault(key.rsplit("|", 1)[0] + "|", now)
                if "|BACKLOG-" in key:
                    self.backlog_arrivals.append(now)

    def wait_for(self, backlog: bool, n: int, timeout: float) -> tuple[int, float | None]:
        """Wait until `n` distinct messages (of the backlog, or any) arrived: how many did,
        and when the n-th did."""
        times = self.backlog_arrivals if backlog else self.arrivals
        deadline = time.monotonic() + timeout
        while len(times) < n and time.monotonic() < deadline:
            time.sleep(0.002)
        with self.lock:
            return len(times), times[n - 1] if len(times) >= n else None

    def got_times(self) -> dict[str, float]:
        with self.lock:
            return dict(self.got)

    def state_at(self, station: str, seq: int) -> float | None:
        """When a state of the station carrying event `seq` (or a later one) first arrived."""
        with self.lock:
            return next((t for st, last, t in self.states if st == station and last >= seq), None)

    def firsts(self, units: list[str]) -> dict[str, float]:
        """When the first event of each "station|serial|" arrived (those that did)."""
        with self.lock:
            return {u: self.by_unit[u] for u in units if u in self.by_unit}

    def close(self):
        self.client.disconnect()
        self.client.loop_stop()


def serve_subscriber(port: int, topic: str, conn) -> None:
    """A subscriber process: answers the bench's calls over `conn` until it sends None."""
    sub = Subscriber(port, topic)
    conn.send("ready")
    while (call := conn.recv()) is not None:
        name, args = call
        conn.send(getattr(sub, name)(*args))
    sub.close()


class RemoteSubscriber:
    """A Subscriber in a process of its own; its methods called over a pipe. Arrival times are
    time.perf_counter(), the machine's monotonic clock, the same in every process."""

    def __init__(self, port: int, topic: str):
        ctx = multiprocessing.get_context("spawn")
        self.conn, child = ctx.Pipe()
        self.proc = ctx.Process(target=serve_subscriber, args=(port, topic, child), daemon=True)
        self.proc.start()
        if not self.conn.poll(30) or self.conn.recv() != "ready":
            raise SystemExit("the subscriber process did not start")

    def __getattr__(self, name: str):
        def call(*args):
            self.conn.send((name, args))
            return self.conn.recv()
        return call

    def close(self) -> None:
        self.conn.send(None)
        self.proc.join(10)


def baseline_latency(port: int, rate: float, n: int) -> list[float]:
    sub = RemoteSubscriber(port, "bench/raw/#")
    pub = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="bench-raw", protocol=mqtt.MQTTv5)
    pub.max_inflight_messages_set(20)
    pub.connect(HOST, port)
    pub.loop_start()
    sent = {}
    start = time.perf_counter()
    for i in range(n):
        due = start + i / rate
        time.sleep(max(0, due - time.perf_counter()))
        key = f"m{i}"
        sent[key] = time.perf_counter()
        pub.publish("bench/raw/x", json.dumps({"key": key}), qos=1)
    sub.wait_for(False, n, 10)
    got = sub.got_times()
    lat = [got[k] - t for k, t in sent.items() if k in got]
    pub.disconnect()
    pub.loop_stop()
    sub.close()
    return lat


def relay_messages(app, n: int) -> list[tuple[str, bytes]]:
    """The relay's own topics and payloads for `n` events like the backlog's, built as the relay
    builds them (plain rows, station.mqtt.cfx.Messages) and never stored; topics under bench/."""
    from sqlmodel import Session, func, select

    from station.models import Event
    from station.mqtt.cfx import Messages
    from station.mqtt.config import config_from

    cfg = config_from(app.config["SETTINGS"])
    with Session(app.extensions["engine"]) as s:
        before = s.exec(select(func.max(Event.id))).one() or 0
        for i in range(n):
            backlog_event(s, f"BASE-{i:05d}")
        s.flush()
        rows = s.exec(select(*Event.__table__.columns).where(Event.id > before)
                      .order_by(Event.id)).all()
        messages = Messages(s, cfg, "L1")
        built = [messages.build(ev) for ev in rows]
        s.rollback()
    return [(topic.replace(cfg.prefix.split("/")[0], "bench", 1), payload)
            for topic, payload in built]


def backlog_event(s, serial: str) -> None:
    """One event of the backlog: a board passing AOI."""
    from station import events

    events.record(s, "board.step_passed", f"board:{serial}",
                  {"order": "WO-1", "step": "AOI", "step_index": 4}, station_id="L1-AOI-1")


def baseline_drain(port: int, messages: list[tuple[str, bytes]]) -> float:
    """paho publishes the messages back to back at QoS 1; until the subscriber has them all."""
    sub = RemoteSubscriber(port, "bench/#")
    pub = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="bench-drain", protocol=mqtt.MQTTv5)
    pub.max_inflight_messages_set(20)
    pub.max_queued_messages_set(0)
    pub.connect(HOST, port)
    pub.loop_start()
    t0 = time.perf_counter()
    for topic, payload in messages:
        pub.publish(topic, payload, qos=1)
    _count, last = sub.wait_for(False, len(messages), 60)
    took = (last or math.inf) - t0
    pub.disconnect()
    pub.loop_stop()
    sub.close()
    return took


def make_station(folder: Path, boards: int, url: str | None = None, mqtt: dict | None = None):
    """The station app on a fresh database (an SQLite file in `folder` unless `url`), line L1
    of the shipped station.toml, and an order of `boards` boards ready to scan."""
    from sqlmodel import Session

    from station import create_app, demo, masterdata, people

    people.HASH_METHOD = "pbkdf2:sha256:1000"  # setup speed only; scans never hash
    config = {"INSTANCE_PATH": str(folder / "instance"),
              "DATABASE_URL": url or f"sqlite:///{folder / 'station.db'}",
              "SECRET_KEY": "bench", "PIN_PEPPER": PEPPER}
    app = create_app({**config, "MQTT": mqtt} if mqtt else config)
    with Session(app.extensions["engine"], expire_on_commit=False) as s:
        admin = people.create_user(s, "admin", "admin", pepper=PEPPER, password="admin-pw")
        op = people.create_user(s, "op", "operator", pepper=PEPPER, badge="10001", pin="1234")
        masterdata.create_customer(s, admin, "CUST", "Customer", "prepaid")
        masterdata.create_product(s, admin, "PCB", "A", ROUTE)
        masterdata.create_order(s, admin, "WO-1", "CUST", "PCB", "A", boards, "1.00")
        serials = masterdata.add_boards(s, admin, "WO-1", count=boards)
        demo.make_ready(s, admin, op, "WO-1")
    return app, op, serials


def station_latency(app, op, serials, port: int, rate: float, n: int) -> list[float]:
    from sqlmodel import Session

    from station.line import scanning

    sub = RemoteSubscriber(port, "acme/plant1/smt/+/+/cfx/#")
    stations = [s for s in (f"L1-{step}-1" for step in SCANNED)]
    plan = [(stations[i % 5], serials[i // 5]) for i in range(n)]
    committed: dict[str, float] = {}
    start = time.perf_counter()
    with Session(app.extensions["engine"], expire_on_commit=False) as s:
        for i, (station, serial) in enumerate(plan):
            due = start + i / rate
            time.sleep(max(0, due - time.perf_counter()))
            scanning.scan(s, station, serial, op)
            committed[f"{station}|{serial}|"] = time.perf_counter()
    deadline = time.monotonic() + 10
    while len(firsts := sub.firsts(list(committed))) < len(committed) and \
            time.monotonic() < deadline:
        time.sleep(0.01)
    lat = [firsts[k] - t for k, t in committed.items() if k in firsts]
    sub.close()
    return lat


def live_scans(app, op, serial: str, out: list) -> None:
    """Scan one board through the stations while the backlog drains; note commit times."""
    from sqlmodel import Session, func, select

    from station.line import scanning
    from station.models import Event

    with Session(app.extensions["engine"], expire_on_commit=False) as s:
        for step in SCANNED:
            station = f"L1-{step}-1"
            scanning.scan(s, station, serial, op)
            seq = s.exec(select(func.max(Event.id)).where(Event.station_id == station)).one()
            s.rollback()  # end the read: a transaction left open would hold the write lock
            out.append((station.lower(), seq, time.perf_counter()))
            time.sleep(0.3)


def station_drain(app, op, serial: str, broker: Broker, relay, n: int) -> dict:
    from sqlmodel import Session, func, select

    from station.models import Event

    sub = RemoteSubscriber(broker.port, "acme/plant1/smt/#")  # its session is kept while away
    broker.stop()
    while relay.connected:
        time.sleep(0.01)
    t0 = time.perf_counter()
    with Session(app.extensions["engine"]) as s:
        for batch in range(0, n, 500):
            for i in range(batch, min(n, batch + 500)):
                backlog_event(s, f"BACKLOG-{i:05d}")
            s.commit()
        last = s.exec(select(func.max(Event.id))).one()
    built = time.perf_counter() - t0
    up = broker.start()
    live = []
    while not relay.connected and time.perf_counter() - up < 60:
        time.sleep(0.002)
    reconnected = time.perf_counter()
    scanner = threading.Thread(target=live_scans, args=(app, op, serial, live))
    scanner.start()
    received, done = sub.wait_for(True, n, 60)
    done = done or math.inf
    scanner.join()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and not all(sub.state_at(st.upper(), q) for st, q, _ in live):
        time.sleep(0.01)
    waits = [(sub.state_at(st.upper(), q) or math.inf) - t for st, q, t in live]
    while relay.cursor < last and time.perf_counter() - up < 60:
        time.sleep(0.01)
    acked = time.perf_counter()
    sub.close()
    return {"built_s": built, "drain_s": done - up, "after_reconnect_s":
            done - reconnected, "cursor_s": acked - up, "received": received,
            "live_waits": waits, "live_during": sum(1 for *_x, t in live if t < done)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rate", type=float, default=40.0, help="events per second offered")
    parser.add_argument("--scans", type=int, default=400)
    parser.add_argument("--backlog", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=3, help="drain baseline and station pairs")
    args = parser.parse_args()
    if not os.path.exists(MOSQUITTO):
        raise SystemExit(f"Mosquitto is not installed at {MOSQUITTO}")
    import logging

    logging.basicConfig(level=logging.WARNING)
    from station import mqtt as station_mqtt

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        (folder / "broker").mkdir()
        broker = Broker(folder / "broker")
        broker.start()
        try:
            raw = baseline_latency(broker.port, args.rate, args.scans)
            app, op, serials = make_station(folder, args.scans // 5 + args.rounds, mqtt={
                "url": f"mqtt://{HOST}:{broker.port}", "client_id": "bench-relay",
                "line": "L1"})
            messages = relay_messages(app, args.backlog)
            relay = station_mqtt.start_relay(app)
            while not relay.connected or relay.cursor == 0:
                time.sleep(0.01)
            time.sleep(0.5)  # the setup's events are out
            lat = station_latency(app, op, serials, broker.port, args.rate, args.scans)
            pairs = []  # (baseline, station) drains, one after the other, under the same load
            for i in range(args.rounds):
                pairs.append((baseline_drain(broker.port, messages),
                              station_drain(app, op, serials[-1 - i], broker, relay,
                                            args.backlog)))
            app.extensions["mqtt"].close()
        finally:
            broker.stop()
    version = subprocess.run([MOSQUITTO, "-h"], capture_output=True, text=True).stdout \
        .splitlines()[0]
    print(f"MQTT relay bench: {platform.python_version()}, SQLite {sqlite3.sqlite_version}, "
          f"{version}, {os.cpu_count()} CPUs, loopback")
    print(f"latency, {args.scans} events at {args.rate:g}/s (ms)       p50     p99     max")
    print(f"  baseline: paho publish -> receive, QoS 1    {pct(raw, 50):6.1f}  {pct(raw, 99):6.1f}"
          f"  {max(raw) * 1000:6.1f}   ({len(raw)}/{args.scans} received)")
    print(f"  station: scan commit -> CFX received        {pct(lat, 50):6.1f}  {pct(lat, 99):6.1f}"
          f"  {max(lat) * 1000:6.1f}   ({len(lat)}/{args.scans} received)   "
          f"target p99 < {TARGET_P99_MS:g} ms: "
          f"{'met' if pct(lat, 99) < TARGET_P99_MS and len(lat) == args.scans else 'MISSED'}")
    print(f"backlog of {args.backlog} events, {args.rounds} rounds of a baseline then the station")
    ratios, waits = [], []
    for i, (raw_drain, drain) in enumerate(pairs, 1):
        ratios.append(drain["after_reconnect_s"] / raw_drain)
        waits.extend(drain["live_waits"])
        print(f" round {i}")
        print(f"  baseline: paho publishes the relay's {args.backlog} messages QoS 1 back to "
              f"back, all received in {raw_drain:5.2f} s ({args.backlog / raw_drain:,.0f}/s)")
        print(f"  station: {args.backlog} events committed while the broker was down in "
              f"{drain['built_s']:.2f} s")
        print(f"  station: broker back -> every event received {drain['drain_s']:5.2f} s "
              f"({drain['after_reconnect_s']:.2f} s after the relay reconnected; cursor stored "
              f"at {drain['cursor_s']:.2f} s; {drain['received']}/{args.backlog} received)")
        print(f"  station / baseline, from the relay's reconnect: {ratios[-1]:.2f}x   "
              f"(from the broker's start, reconnect back-off included: "
              f"{drain['drain_s'] / raw_drain:.2f}x)")
        print(f"  live scans while draining: {len(drain['live_waits'])} "
              f"({drain['live_during']} committed before the backlog was out); commit -> "
              f"retained state with the scan: each "
              f"{', '.join(f'{w * 1000:.0f}' for w in drain['live_waits'])} ms")
    ratio = statistics.median(ratios)
    print(f"  station / baseline, median of {len(ratios)} rounds: {ratio:.2f}x "
          f"({min(ratios):.2f}-{max(ratios):.2f}x)   target <= {TARGET_DRAIN_RATIO:g}x: "
          f"{'met' if ratio <= TARGET_DRAIN_RATIO else 'MISSED'}")
    print(f"  live state while draining, worst of {len(waits)}: {max(waits) * 1000:.0f} ms   "
          f"target < {TARGET_LIVE_S:g} s: {'met' if max(waits) < TARGET_LIVE_S else 'MISSED'}")


if __name__ == "__main__":
    main()
