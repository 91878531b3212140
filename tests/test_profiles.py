"""Profile boards and runs: the API, the stored recording, and a profiler streaming over a pty."""

import hashlib
import io
import re
from pathlib import Path

import pytest
from conftest import PEPPER
from serial_pty import FakeDevice, wait_for
from sqlmodel import Session, func, select

from station import people
from station.devices.profiler import parse
from station.devices.profiler_reader import ProfilerCapture, ProfilerDevice
from station.errors import InvalidInput
from station.models import Event, ProfileRun
from station.readiness import profilers, profiles
from station.readiness.reflow import analyse

REALDATA = Path(__file__).resolve().parents[2] / "shared" / "realdata" / "reflow"
FIRST_PCB = REALDATA / "pfrapp_2024-10-30_profile_controlled4_first_pcb.log"


def real_file(path: Path) -> bytes:
    if not path.exists():
        pytest.skip(f"{path} is absent: the real recordings live in ../shared/realdata/reflow")
    return path.read_bytes()


def trapezoid_csv(peak=242.0, sep=",") -> str:
    """A generated SAC305-like profile: ramp, soak, spike to peak, cool (1 s samples, 2 TCs)."""
    rows = [f"Time (s){sep}TC1{sep}TC2"]
    for t in range(0, 421):
        if t < 120:
            temp = 25 + t * (125 / 120)            # 25 -> 150 °C
        elif t < 210:
            temp = 150 + (t - 120) * (50 / 90)     # soak 150 -> 200 in 90 s
        elif t < 250:
            temp = 200 + (t - 210) * ((peak - 200) / 40)
        elif t < 260:
            temp = peak
        else:
            temp = max(peak - (t - 260) * 2.0, 25)
        rows.append(f"{t}{sep}{temp:.2f}{sep}{temp - 3:.2f}")
    return "\n".join(rows) + "\n"


def conveyor_csv(start=30.0) -> str:
    """A conveyor oven logged from `start` °C (logger on after the board went in), 2 TCs and the
    oven's setpoint: 80 s to 150 °C, soak to 200 °C in 90 s, 241 °C peak for 15 s, 2.5 °C/s down."""
    points = [(0, start), (80, 150), (170, 200), (230, 241), (245, 241), (321, 51)]
    rows = ["Time (s),TC1,TC2,Setpoint"]
    for t in range(0, 322):
        (t0, a), (t1, b) = next((p, q) for p, q in zip(points, points[1:], strict=False)
                                if t <= q[0])
        temp = a + (b - a) * (t - t0) / (t1 - t0)
        rows.append(f"{t},{temp:.2f},{temp - 2:.2f},{min(40 + t, 255)}")
    return "\n".join(rows) + "\n"


def t962_log() -> str:
    """A T-962 serial log: TC0, TC1 on the board, TC2/TC3 absent (0.0), Set, Actual, ColdJ."""
    header = "# Time,  Temp0, Temp1, Temp2, Temp3,  Set,Actual, Heat, Fan,  ColdJ, Mode"
    rows = []
    for k in range(0, 4 * 330):
        t = k / 4
        temp = (20 + t * 1.625 if t < 80 else 150 + (t - 80) * 50 / 90 if t < 170 else
                200 + (t - 170) * 41 / 60 if t < 230 else 241 if t < 245 else 241 - 2.5 * (t - 245))
        rows.append(f"{t:6.1f},  {temp:5.1f}, {temp - 3:5.1f}, {0:5.1f}, {0:5.1f},  "
                    f"{min(260, 30 + round(t)):3d}, {temp - 1.5:5.1f},  {128:3d}, {0:3d},  "
                    f"{28.5:5.1f}, REFLOW")
    return "".join("\r\n" + ln for ln in ["Starting reflow with profile: Lead free", header,
                                            *rows, "Reflow done"])


def upload(api, data: bytes, paste="SAC305", role="operator", **fields):
    form = {"file": (io.BytesIO(data), "run.log"), "paste": paste, **fields}
    return api.client.post("/api/v1/profiles", data=form, content_type="multipart/form-data",
                           headers={"Authorization": f"Bearer {api.line.tokens[role]}"})


def count(app, model) -> int:
    with Session(app.extensions["engine"]) as s:
        return s.exec(select(func.count()).select_from(model)).one()


def test_profile_board_registration_roles_and_product(api):
    body = {"id": "PB-1", "product": "PCB", "revision": "A", "thermocouples": 4}
    assert api.post("/api/v1/profile-boards", body, role="operator").status_code == 403
    r = api.post("/api/v1/profile-boards", body, role="admin")
    assert r.status_code == 201 and r.json["thermocouples"] == 4
    assert api.post("/api/v1/profile-boards", body, role="admin").status_code == 409
    r = api.post("/api/v1/profile-boards", {**body, "id": "PB-2", "revision": "Z"}, role="admin")
    assert r.status_code == 404


def test_generated_csv_is_analysed_stored_and_charted(app, api):
    api.post("/api/v1/profile-boards", {"id": "PB-1", "product": "PCB", "revision": "A",
                                        "thermocouples": 2}, role="admin")
    data = trapezoid_csv().encode()
    r = upload(api, data, profile_board="PB-1", oven="OVEN-1", recipe="R7")
    assert r.status_code == 201, r.json
    run = r.json
    assert run["format"] == "csv" and run["profile_board"] == "PB-1" and run["oven"] == "OVEN-1"
    assert run["sha256"] == hashlib.sha256(data).hexdigest()
    assert [c["name"] for c in run["channels"]] == ["TC1", "TC2"]
    tc1 = run["channels"][0]["stats"]
    assert tc1["peak_C"] == pytest.approx(242.0, abs=0.01)
    assert tc1["soak_s"] == pytest.approx(90.0, abs=1.0)
    assert run["delta_t_peak_C"] == pytest.approx(3.0, abs=0.01)
    assert run["verdict"] in ("PASS", "WARN", "FAIL") and run["pwi"] is not None
    assert api.get(f"/api/v1/profiles/{run['id']}").json == run
    svg = api.get(f"/api/v1/profiles/{run['id']}/chart.svg")
    assert svg.status_code == 200 and svg.mimetype == "image/svg+xml"
    text = svg.get_data(as_text=True)
    assert text.startswith("<svg") and "<polyline" in text and "liquidus 217" in text
    with Session(app.extensions["engine"]) as s:
        stored = s.get(ProfileRun, run["id"])
        assert stored.raw.encode() == data and stored.window_version == "1"
        ev = s.exec(select(Event).where(Event.kind == "profile.recorded",
                                        Event.subject == f"profile_run:{run['id']}")).one()
        assert ev.payload["sha256"] == run["sha256"] and ev.actor == "operator"


def test_real_pfrapp_recording_through_the_api(api):
    data = real_file(FIRST_PCB)
    r = upload(api, data)
    assert r.status_code == 201, r.json
    assert r.json["format"] == "pfrapp"
    (product,) = [c for c in r.json["channels"] if c["role"] == "product"]
    assert product["valid"] and product["stats"]["peak_C"] == pytest.approx(237.0, abs=0.01)


def test_unknown_format_and_bad_requests_store_nothing(app, api):
    before = (count(app, ProfileRun), count(app, Event))
    r = upload(api, b"\x00\x01\x02 this is not a profile\n" * 20)
    assert r.status_code == 400 and r.json["error"]["code"] == "UNKNOWN_FORMAT"
    assert "T-962" in r.json["error"]["message"] or "csv" in r.json["error"]["message"].lower()
    assert upload(api, trapezoid_csv().encode(), paste="NO-SUCH").status_code == 400
    assert upload(api, b"").status_code == 400
    assert upload(api, trapezoid_csv().encode(), profile_board="NOPE").status_code == 404
    assert upload(api, trapezoid_csv().encode(), role="admin").status_code == 403
    assert upload(api, trapezoid_csv().encode(), role="finance").status_code == 403
    assert (count(app, ProfileRun), count(app, Event)) == before
    assert api.get("/api/v1/profiles/999").status_code == 404
    assert api.get("/api/v1/profiles/abc/chart.svg").status_code == 404


def test_profiler_screen_upload_and_run_page(app, client, line):
    client.post("/login", data={"badge": "10001", "pin": "1234"})
    page = client.get("/profiler")
    assert page.status_code == 200 and b"Upload a recording" in page.data
    r = client.post("/profiler/upload", data={
        "file": (io.BytesIO(trapezoid_csv(sep=";").encode()), "export.csv"), "paste": "SAC305",
        "oven": "OVEN-9"}, content_type="multipart/form-data")
    assert r.status_code == 302
    run_page = client.get(r.headers["Location"])
    html = run_page.get_data(as_text=True)
    assert run_page.status_code == 200 and "<svg" in html and "PWI" in html
    assert "TC1" in html and "peak_C" in html
    for name in ("Peak (°C)", "Time above liquidus (s)", "Soak 150–200 °C (s)",
                 "Max rising slope (°C/s)", "Time within 5 °C of peak (s)"):
        assert name in html
    history = client.get("/profiles?oven=OVEN-9").get_data(as_text=True)
    assert "OVEN-9" in history and "SAC305" in history


def test_csv_columns_chosen_on_screen(app, client, line):
    client.post("/login", data={"badge": "10001", "pin": "1234"})
    csv = "Stamp;Zone;Top;Bottom\n" + "".join(
        f"{t};{z};{v:.1f};{v - 2:.1f}\n" for t, z, v in
        ((t, t % 7, 25 + t * 0.5 if t < 440 else 245 - (t - 440)) for t in range(0, 600)))
    chooser = client.post("/profiler/upload", data={
        "file": (io.BytesIO(csv.encode()), "x.csv"), "paste": "SAC305", "choose": "1"},
        content_type="multipart/form-data")
    html = chooser.get_data(as_text=True)
    assert chooser.status_code == 200 and 'value="Top"' in html and 'value="Zone"' in html
    r = client.post("/profiler/upload", data={
        "raw": csv, "paste": "SAC305", "time_column": "Stamp", "time_unit": "s",
        "channel": ["Top", "Bottom"]})
    assert r.status_code == 302
    run_id = int(r.headers["Location"].rsplit("/", 1)[1])
    with Session(app.extensions["engine"]) as s:
        run = s.get(ProfileRun, run_id)
        assert [c["name"] for c in run.result["channels"]] == ["Top", "Bottom"]
        assert run.result["columns"]["time"] == "Stamp"
    assert client.get(f"/profiles/{run_id}").status_code == 200


def test_capture_ends_a_run_at_the_end_line_or_when_quiet():
    runs, now = [], [0.0]
    capture = ProfilerCapture(runs.append, quiet_s=5, clock=lambda: now[0])
    for line in ("noise before", "Starting reflow with profile: X", "row 1", "row 2"):
        capture.line(line)
    assert capture.live() == ["Starting reflow with profile: X", "row 1", "row 2"]
    capture.line("Reflow done")
    assert runs == ["Starting reflow with profile: X\nrow 1\nrow 2\nReflow done\n"]
    capture.line("a,b")
    now[0] = 4.9
    capture.idle()
    assert len(runs) == 1
    now[0] = 5.0
    capture.idle()
    assert runs[-1] == "a,b\n" and capture.live() == []


def test_real_recording_streamed_over_a_pty_with_an_unplug_in_the_middle(app, tmp_path):
    data = real_file(FIRST_PCB)
    expected = analyse(parse(data.decode()), app.extensions["pastes"]["SAC305"]).to_dict()
    stored = []

    def store(text, meta):
        with Session(app.extensions["engine"], expire_on_commit=False) as s:
            run = profiles.record_run(s, None, text, meta["paste"], app.extensions["pastes"],
                                      oven=meta["oven"], source="oven1")
            stored.append(run)
            return run

    dev = FakeDevice(tmp_path, "profiler")
    device = ProfilerDevice("oven1", str(dev.path), store, quiet_s=1.0,
                            defaults={"paste": "SAC305", "oven": "OVEN-1"})
    device.reader.backoff = (0.05, 0.2)
    device.start()
    try:
        assert wait_for(lambda: device.state == "connected")
        lines = data.splitlines(keepends=True)
        half = len(lines) // 2
        dev.write(b"".join(lines[:half]), chunk=4096)
        assert wait_for(lambda: len(device.capture.live()) == half)
        dev.unplug()
        assert wait_for(lambda: device.state == "disconnected")
        assert stored == []  # unplugged is not finished: the run waits for the rest
        dev.plug()
        assert wait_for(lambda: device.state == "connected")
        dev.write(b"".join(lines[half:]), chunk=4096)
        assert wait_for(lambda: stored, timeout=10)
    finally:
        device.stop()
        dev.close()
    run = stored[0]
    assert run.sha256 == hashlib.sha256(data).hexdigest()  # every byte arrived, in order
    assert run.source == "oven1" and run.oven == "OVEN-1" and run.format == "pfrapp"
    # stored with its texts as message ids (said in the reader's language), so compare as shown
    assert profiles.run_view(run)["channels"] == expected["channels"]
    assert run.verdict == expected["verdict"]


def test_a_profiler_run_is_stored_with_its_paste_and_refused_without_one(app):
    engine, windows = app.extensions["engine"], app.extensions["pastes"]
    store = profilers.run_store(engine, windows, "oven2", slope_window_s=None)
    csv = trapezoid_csv()
    run = store(csv, {"paste": "Sn63Pb37", "oven": "OVEN-2"})
    assert (run.paste, run.source, run.oven) == ("Sn63Pb37", "oven2", "OVEN-2")
    with pytest.raises(InvalidInput, match="no paste is set"):
        store(csv, {"paste": None})
    with Session(engine) as s:
        assert s.exec(select(func.count()).select_from(ProfileRun)).one() == 1  # nothing guessed


def test_run_logged_from_30_C_is_judged_and_the_run_page_says_what_was_not_measured(
        app, api, client):
    r = upload(api, conveyor_csv(30.0).encode())
    assert r.status_code == 201, r.json
    run = r.json
    assert run["verdict"] == "PASS" and run["pwi"] == pytest.approx(56.8, abs=0.2)
    assert run["algorithm_version"] == "2"
    assert [(c["name"], c["role"]) for c in run["channels"]] == [
        ("TC1", "product"), ("TC2", "product"), ("Setpoint", "setpoint")]
    assert run["delta_t_peak_C"] == pytest.approx(2.0)  # the setpoint's 255 °C is not on the board
    missing = [(p["channel"], p["stat"], p["severity"]) for p in run["problems"]]
    assert missing == [("TC1", "t25_to_peak_s", "info"), ("TC2", "t25_to_peak_s", "info")]
    assert run["problems"][0]["message"] == ("TC1: Time 25 °C to peak not measured: the run "
                                             "starts at 30 °C, above 25 °C")
    assert run["channels"][0]["stats"]["t25_to_peak_s"] is None
    assert set(run["channels"][0]["pwi"]) == {"peak_C", "tal_s", "soak_s", "max_rise_Cps",
                                              "max_fall_Cps", "t_within5_s", "cool_rate_Cps"}
    client.post("/login", data={"badge": "10001", "pin": "1234"})
    html = client.get(f"/profiles/{run['id']}").get_data(as_text=True)
    assert "Not measured" in html and "the run starts at 30 °C, above 25 °C" in html
    assert "Setpoint (setpoint)" in html  # named as not on the board
    with Session(app.extensions["engine"], expire_on_commit=False) as s:
        people.create_user(s, "wang", "operator", pepper=PEPPER, badge="20099", pin="1234",
                           full_name="Wang", language="zh_CN")
    chinese = app.test_client()
    chinese.post("/login", data={"badge": "20099", "pin": "1234"})
    html = chinese.get(f"/profiles/{run['id']}").get_data(as_text=True)
    for said in ("峰值温度", "液相线以上时间", "恒温 150–200 °C", "未测得的参数",
                 "TC1：25 °C 至峰值时间未测得：记录开始时为 30 °C，已高于 25 °C"):
        assert said in html
    assert "液相线 217 °C" in html and "Setpoint · 设定值" in html  # the chart on the page


def test_t962_log_marks_setpoint_average_and_cold_junction_and_draws_them_dashed(api):
    r = upload(api, t962_log().encode())
    assert r.status_code == 201, r.json
    run = r.json
    assert run["format"] == "t962"
    roles = {c["name"]: c["role"] for c in run["channels"]}
    assert roles == {"TC0": "product", "TC1": "product", "Set": "setpoint", "Actual": "average",
                     "ColdJ": "cold_junction"}  # TC2, TC3 read 0.0 all along: not fitted
    assert run["delta_t_peak_C"] == pytest.approx(3.0)  # TC0 - TC1; Set's 260 °C is no TC
    assert run["verdict"] != "INVALID" and run["pwi"] is not None
    judged = {c["name"] for c in run["channels"] if c["pwi"]}
    assert judged == {"TC0", "TC1"}
    svg = api.get(f"/api/v1/profiles/{run['id']}/chart.svg").get_data(as_text=True)
    for name, role in (("Set", "setpoint"), ("Actual", "average"), ("ColdJ", "cold junction")):
        assert f"{name} · {role}" in svg
    dashed = re.findall(r'<polyline [^>]*stroke-dasharray="6 4" data-role="(\w+)"', svg)
    assert set(dashed) == {"setpoint", "average", "cold_junction"}
    solid = re.findall(r'<polyline fill="none" stroke="#\w+" stroke-width="2" '
                       r'data-role="(\w+)"', svg)
    assert solid == ["product", "product"]
