"""The print queue against a stand-in printer on 127.0.0.1 that captures, refuses, hangs."""

import socket
import threading
import time

import pytest
from conftest import reconfigure
from sqlmodel import select

from station import masterdata
from station.config import SettingsError, parse
from station.models import Board
from station.shipping import gate, printing
from station.shipping.printing import PrinterConfig, Printers, PrintQueue, status_problems, wait_for

READY = (b"\x02030,0,0,1245,000,0,0,0,000,0,0,0\x03\r\n"
         b"\x02000,0,0,0,0,2,4,0,00000000,1,000\x03\r\n\x021234,0\x03\r\n")
PAPER_OUT = READY.replace(b"\x02030,0,0,", b"\x02030,1,0,")
HEAD_OPEN = READY.replace(b"\x02000,0,0,0,", b"\x02000,0,1,0,")
LABEL = "^XA^FO10,10^A0N,30,30^FDhello^FS^XZ\n"


class FakePrinter:
    """A port-9100 printer: `ok` answers ~HS and captures; `silent` never reads nor answers."""

    def __init__(self, mode: str = "ok", port: int = 0, status: bytes = READY,
                 rcvbuf: int | None = None):
        self.mode, self.status = mode, status
        self.jobs: list[bytes] = []
        self.active = self.most_active = 0
        self.lock, self.stop = threading.Lock(), threading.Event()
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if rcvbuf:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.sock.bind(("127.0.0.1", port))
        self.sock.listen(8)
        self.sock.settimeout(0.1)
        self.port = self.sock.getsockname()[1]
        self.conns: list[socket.socket] = []
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self):
        while not self.stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            self.conns.append(conn)
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn):
        with self.lock:
            self.active += 1
            self.most_active = max(self.most_active, self.active)
        try:
            if self.mode == "silent":
                self.stop.wait(30)
                return
            conn.settimeout(5)
            data, answered = b"", False
            while True:
                chunk = conn.recv(65536)
                if not chunk:
                    break
                data += chunk
                if not answered and data.startswith(b"~HS"):
                    conn.sendall(self.status)
                    answered = True
            time.sleep(0.02)  # a real printer is not instant; overlapping jobs would show
            self.jobs.append(data.removeprefix(b"~HS"))
        finally:
            with self.lock:
                self.active -= 1
            conn.close()

    def close(self):
        self.stop.set()
        self.sock.close()
        for conn in self.conns:
            conn.close()
        self.thread.join(2)


@pytest.fixture
def printer():
    p = FakePrinter()
    yield p
    p.close()


def until(condition, timeout: float = 3.0) -> bool:
    """Wait for the stand-in printer to catch up."""
    deadline = time.monotonic() + timeout
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.01)
    return condition()


def free_port() -> int:
    """A port nothing listens on (so a connection is refused)."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def queue_for(port, **kw) -> PrintQueue:
    settings = {"timeout_s": 1.0, "retries": 2, "backoff_s": 0.05, **kw}
    return PrintQueue(PrinterConfig("zebra1", "127.0.0.1", port, **settings))


@pytest.fixture
def queues():
    made = []
    yield lambda *a, **kw: made.append(queue_for(*a, **kw)) or made[-1]
    for q in made:
        q.close(2)


def test_a_job_is_sent_after_the_printer_answers_its_status(printer, queues):
    q = queues(printer.port)
    job = q.submit(LABEL, "board WO-1-00001", by="operator")
    assert wait_for(job).state == "sent", job.error
    assert job.attempts == 1 and job.error is None and job.finished_at
    assert until(lambda: printer.jobs) and printer.jobs == [LABEL.encode()]
    assert q.state == "idle" and q.view()["jobs"][0]["state"] == "sent"


def test_confirm_none_sends_without_asking(printer, queues):
    job = queues(printer.port, confirm="none").submit(LABEL, "x")
    assert wait_for(job).state == "sent"
    assert until(lambda: printer.jobs) and printer.jobs == [LABEL.encode()]


def test_a_refused_connection_is_retried_then_failed_with_the_reason(queues):
    port = free_port()
    q = queues(port, retries=2, backoff_s=0.05)
    started = time.monotonic()
    job = q.submit(LABEL, "board X")
    assert wait_for(job).state == "failed"
    assert job.attempts == 3
    assert f"printer zebra1 at 127.0.0.1:{port} refused the connection" in job.error
    assert "gave up after 3 attempts" in job.error
    assert time.monotonic() - started >= 0.05 + 0.1  # backoff 0.05 s, then twice that
    assert q.state == "failing" and "refused" in q.last_error


def test_a_printer_that_accepts_but_never_answers_times_out(queues):
    silent = FakePrinter("silent")
    try:
        q = queues(silent.port, timeout_s=0.3, retries=1, backoff_s=0.01)
        job = q.submit(LABEL, "board X")
        assert wait_for(job).state == "failed"
        assert "did not answer its status request within 0.3 s" in job.error
        assert job.attempts == 2
    finally:
        silent.close()


def test_a_printer_that_never_reads_times_out_while_sending(queues):
    silent = FakePrinter("silent", rcvbuf=4096)
    try:
        q = queues(silent.port, timeout_s=0.3, retries=0, confirm="none")
        job = q.submit(b"^XA" + b"0" * (32 << 20) + b"^XZ", "a huge graphic")
        assert wait_for(job).state == "failed"
        assert "did not take the label data within 0.3 s" in job.error
    finally:
        silent.close()


@pytest.mark.parametrize("status,problem", [(PAPER_OUT, "paper out"),
                                            (HEAD_OPEN, "head open")], ids=["paper", "head"])
def test_a_printer_out_of_paper_is_reported_and_gets_nothing(queues, status, problem):
    p = FakePrinter(status=status)
    try:
        job = queues(p.port, retries=1).submit(LABEL, "x")
        assert wait_for(job).state == "failed"
        assert f"printer zebra1 reports {problem}" in job.error
        assert until(lambda: len(p.jobs) == 2)
        assert p.jobs == [b"", b""]  # asked twice, sent no label
    finally:
        p.close()


def test_a_printer_that_comes_back_gets_the_job(queues):
    port = free_port()
    q = queues(port, retries=20, backoff_s=0.05)
    job = q.submit(LABEL, "board X")
    wait_for(job, states=("queued",), timeout=2)
    deadline = time.monotonic() + 3
    while job.attempts < 1 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert "refused" in (job.error or "")
    back = FakePrinter(port=port)
    try:
        assert wait_for(job).state == "sent"
        assert job.attempts >= 2 and job.error is None
        assert until(lambda: back.jobs) and back.jobs == [LABEL.encode()]
        assert q.state == "idle" and q.last_error is None
    finally:
        back.close()


def test_jobs_go_out_in_order_one_connection_at_a_time(printer, queues):
    q = queues(printer.port)
    jobs = [q.submit(f"^XA^FDjob {i}^FS^XZ", f"job {i}") for i in range(8)]
    for job in jobs:
        assert wait_for(job).state == "sent"
    assert until(lambda: len(printer.jobs) == 8)
    assert printer.jobs == [f"^XA^FDjob {i}^FS^XZ".encode() for i in range(8)]
    assert printer.most_active == 1
    assert [j["label"] for j in q.view()["jobs"]] == [f"job {i}" for i in reversed(range(8))]


def test_submit_returns_at_once_even_when_the_printer_hangs(queues):
    silent = FakePrinter("silent")
    try:
        q = queues(silent.port, timeout_s=2, retries=3)
        started = time.monotonic()
        jobs = [q.submit(LABEL, f"job {i}") for i in range(5)]
        assert time.monotonic() - started < 0.2
        assert all(j.state in ("queued", "sending") for j in jobs)
    finally:
        silent.close()


def test_a_worker_survives_a_broken_sender():
    calls = []

    def send(cfg, data):
        calls.append(data)
        if data == b"boom":
            raise RuntimeError("bug")

    q = PrintQueue(PrinterConfig("p", "127.0.0.1"), send=send)
    try:
        bad, good = q.submit("boom", "bad"), q.submit("fine", "good")
        assert wait_for(bad).state == "failed" and "internal error: bug" in bad.error
        assert wait_for(good).state == "sent"
    finally:
        q.close()


def test_close_fails_jobs_still_waiting():
    gate = threading.Event()
    q = PrintQueue(PrinterConfig("p", "127.0.0.1"), send=lambda cfg, data: gate.wait(5))
    first, second = q.submit("1", "first"), q.submit("2", "second")
    wait_for(first, states=("sending",))
    closer = threading.Thread(target=q.close)
    closer.start()
    gate.set()
    closer.join(5)
    assert first.state == "sent"
    assert second.state == "failed" and "shut down" in second.error


def test_status_problems():
    assert status_problems(READY) == []
    assert status_problems(PAPER_OUT) == ["paper out"]
    assert status_problems(READY.replace(b"\x02030,0,0,", b"\x02030,0,1,")) == ["paused"]
    assert status_problems(HEAD_OPEN.replace(b"\x02000,0,1,0,", b"\x02000,0,1,1,")) == \
        ["head open", "ribbon out"]
    assert status_problems(b"garbage") == ["an unreadable status answer"]


def test_printers_are_chosen_by_name_then_station_then_alone():
    printers = Printers.from_settings(parse({"printers": [
        {"name": "pack", "host": "10.0.0.1", "stations": ["L1-PACK-1"]},
        {"name": "smt", "host": "10.0.0.2", "dpmm": 12, "stations": ["L1-PRINT-1"]}]}))
    assert printers.choose(station="L1-PACK-1").cfg.name == "pack"
    assert printers.choose("smt", "L1-PACK-1").cfg.dpmm == 12
    with pytest.raises(printing.NoPrinter, match="for station L1-AOI-1"):
        printers.choose(station="L1-AOI-1")
    with pytest.raises(printing.NoPrinter, match="nope"):
        printers.choose("nope")
    alone = Printers.from_settings(parse({"printers": [{"name": "only", "host": "10.0.0.3"}]}))
    assert alone.choose(station="anything").cfg.name == "only"
    with pytest.raises(printing.NoPrinter):
        Printers.from_settings(parse({})).choose(station="L1-PACK-1")


@pytest.mark.parametrize("spec", [{"name": "x"}, {"host": "h"}, {"name": "x", "host": "h",
                                                                  "speed": 3},
                                  {"name": "x", "host": "h", "dpmm": 7},
                                  {"name": "x", "host": "h", "confirm": "maybe"}])
def test_bad_printer_configuration_is_refused(spec):
    with pytest.raises(SettingsError, match=r"\[\[printers\]\] #1"):
        parse({"printers": [spec]})


# --- Through the web and the API --------------------------------------------------------------

@pytest.fixture
def printing_app(app, line):
    """The app with one stand-in printer serving every station."""
    fake = FakePrinter()
    reconfigure(app, printers=[{"name": "zebra1", "host": "127.0.0.1", "port": fake.port,
                                "timeout_s": 1, "retries": 1, "backoff_s": 0.05}])
    yield app, fake
    if "printers" in app.extensions:
        app.extensions["printers"].close()
    fake.close()


def test_the_api_queues_a_board_label_and_reports_the_job(printing_app, api):
    app, fake = printing_app
    r = api.post("/api/v1/print-jobs", {"label": "board", "key": "WO-1-00001",
                                        "station": "T-PACK"})
    assert r.status_code == 202, r.get_json()
    job = r.get_json()
    assert job["state"] in ("queued", "sending", "sent") and job["printer"] == "zebra1"
    assert job["by"] == "operator" and job["station"] == "T-PACK"
    wait_for(app.extensions["printers"].job(job["id"]))
    got = api.get(f"/api/v1/print-jobs/{job['id']}").get_json()
    assert got["state"] == "sent" and got["attempts"] == 1
    assert until(lambda: fake.jobs)
    assert fake.jobs[0].startswith(b"^XA^CI28^PW400^LL200") and b"WO-1-00001" in fake.jobs[0]
    listed = api.get("/api/v1/printers").get_json()["printers"]
    assert listed[0]["name"] == "zebra1" and listed[0]["jobs"][0]["id"] == job["id"]


def test_the_api_prints_every_board_of_an_order_and_a_box(printing_app, api, session):
    app, fake = printing_app
    order = masterdata.find_order(session, "WO-1")
    boards = session.exec(select(Board.id).where(Board.order_id == order.id)).all()
    gate.pack(session, order.id, list(boards), capacity=3)  # 4 boards: 3 + 1
    session.commit()
    boards = api.post("/api/v1/print-jobs", {"label": "boards", "key": "WO-1",
                                             "symbology": "datamatrix"}).get_json()
    box = api.post("/api/v1/print-jobs", {"label": "box", "key": "WO-1", "box": 2,
                                          "copies": 2}).get_json()
    for job in (boards, box):
        assert wait_for(app.extensions["printers"].job(job["id"])).state == "sent"
    assert until(lambda: len(fake.jobs) == 2)
    assert fake.jobs[0].count(b"^XA") == 4 and fake.jobs[0].count(b"^BXN") == 4
    assert b"1 of 2" not in fake.jobs[1] and b"2 of 2" in fake.jobs[1]
    assert b"1 pcs" in fake.jobs[1] and b"^PQ2^XZ" in fake.jobs[1]


def test_the_api_refuses_bad_print_requests(printing_app, api):
    r = api.post("/api/v1/print-jobs", {"label": "board", "key": "NOPE-1"})
    assert r.status_code == 404 and r.get_json()["error"]["code"] == "UNKNOWN_BOARD"
    r = api.post("/api/v1/print-jobs", {"label": "poster", "key": "x"})
    assert r.status_code == 400 and r.get_json()["error"]["code"] == "INVALID_INPUT"
    r = api.post("/api/v1/print-jobs", {"label": "board", "key": "WO-1-00001",
                                        "printer": "nope"})
    assert r.status_code == 404 and r.get_json()["error"]["code"] == "NO_PRINTER"
    r = api.post("/api/v1/print-jobs", {"label": "board", "key": "WO-1-00001"}, role="admin")
    assert r.status_code == 403
    r = api.post("/api/v1/print-jobs", {"label": "board", "key": "WO-1-00001"}, role=None)
    assert r.status_code == 401
    assert api.get("/api/v1/print-jobs/999999").status_code == 404


def test_printing_from_a_page_never_waits_for_a_hanging_printer(app, line, client):
    silent = FakePrinter("silent")
    reconfigure(app, printers=[{"name": "zebra1", "host": "127.0.0.1", "port": silent.port,
                                "timeout_s": 0.3, "retries": 1, "backoff_s": 0.05}])
    try:
        client.post("/login", data={"badge": "10001", "pin": "1234"})
        started = time.monotonic()
        r = client.post("/labels/print", data={"label": "board", "key": "WO-1-00001"})
        assert time.monotonic() - started < 0.3  # the printer's timeout alone is 0.3 s
        assert r.status_code == 302 and "/labels/printers?job=" in r.headers["Location"]
        job_id = int(r.headers["Location"].rsplit("=", 1)[1])
        job = wait_for(app.extensions["printers"].job(job_id))
        assert job.state == "failed"
        page = client.get(r.headers["Location"]).get_data(as_text=True)
        assert "did not answer its status request within 0.3 s" in page
        assert "Not reachable" in page and f'id="job-{job_id}"' in page
        assert 'hx-trigger="every 2s"' in page
        polled = client.get("/labels/printers/jobs").get_data(as_text=True)
        assert f'id="job-{job_id}"' in polled and "<html" not in polled
        fragment = client.post("/labels/print", data={"label": "panel", "key": "WO-1-00001"},
                               headers={"HX-Request": "true"}).get_data(as_text=True)
        assert "NOT_FOUND" in fragment or "No panel" in fragment
    finally:
        app.extensions["printers"].close()
        silent.close()


def test_only_floor_roles_print_from_pages(printing_app, client):
    client.post("/login", data={"name": "admin", "password": "admin-pw"})
    r = client.post("/labels/print", data={"label": "board", "key": "WO-1-00001"})
    assert r.status_code == 403
    assert client.get("/labels/printers").status_code == 200
