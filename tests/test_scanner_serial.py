"""Serial scanners end to end: a pseudo-terminal stands in for the scanner, the real app takes
its scans at the station as if typed, and the station's screen reads them from its feed."""

import os
import re
import time

import pytest
import serial
from conftest import build_line, make_app, reconfigure
from serial_pty import FakeDevice, wait_for
from sqlmodel import Session, func, select

from station import masterdata
from station.line.desk import desk_of, start_scanners, stop_scanners
from station.models import BoardStep, Event

STATION = "T-PRINT"
GS, RS, EOT = "\x1d", "\x1e", "\x04"
GTIN = "07032069804988"
BADGES = {"operator": "10001", "qa": "10002", "supervisor": "10004"}
HX = {"HX-Request": "true"}


@pytest.fixture
def app(tmp_path):
    app = make_app(tmp_path)
    yield app
    stop_scanners(app)
    app.extensions["engine"].dispose()


@pytest.fixture
def line(app):
    with Session(app.extensions["engine"], expire_on_commit=False) as s:
        return build_line(s, boards=12, tokens=False)


@pytest.fixture
def device(tmp_path):
    dev = FakeDevice(tmp_path, "usb-Scanner_1900-if00")  # like /dev/serial/by-id/...
    yield dev
    dev.close()


def attach(app, device, wait=True, **spec):
    """Start the app's scanner on the fake device, as config/station.toml's [[scanners]] does."""
    reconfigure(app, scanners=[{"name": "scan-1", "station": STATION, "url": str(device.path),
                                "backoff_s": [0.05, 0.2], "settle_s": 0.05, **spec}])
    port = start_scanners(app)["scan-1"]
    if wait:
        assert wait_for(lambda: port.state == "connected")
        time.sleep(0.06)  # past the settling time after plug-in
    return port


def screen(app, role="operator"):
    """A browser signed in with badge and PIN that opened the station's screen."""
    client = app.test_client()
    r = client.post("/login", data={"badge": BADGES[role], "pin": "1234"})
    assert r.status_code == 302
    assert client.get(f"/station/{STATION}").status_code == 200
    return client


@pytest.fixture
def port(app, line, device):
    """The station's scanner, connected, with the operator signed in at the station."""
    screen(app)
    return attach(app, device)


def results(app):
    """The station's serial scan results so far, oldest first."""
    return [e.data for e in desk_of(app).feed.since(STATION, 0) if e.kind == "result"]


def wait_results(app, n, timeout=5.0):
    assert wait_for(lambda: len(results(app)) >= n, timeout), results(app)
    return results(app)


def stored(app) -> tuple[int, int]:
    with Session(app.extensions["engine"]) as s:
        return tuple(s.exec(select(func.count()).select_from(m)).one() for m in (BoardStep, Event))


def passed(app) -> list[str]:
    """The serials of the boards passed at the station, in order."""
    with Session(app.extensions["engine"]) as s:
        from station.models import Board

        return list(s.exec(select(Board.serial).join(BoardStep).where(
            BoardStep.station_id == STATION).order_by(BoardStep.id)))


def outcome(result) -> tuple[str, str]:
    """A result's outcome and its error code (or serial when accepted)."""
    if result["outcome"] == "accepted":
        return "accepted", result["serial"]
    if "error" in result:
        return result["outcome"], result["error"].code
    return result["outcome"], ""


def reason(result) -> str:
    err = result["error"]
    return f"{err.text()} {err.advice()}"


def refused_and_nothing_stored(app, line, device, data, code):
    before = stored(app)
    device.write(data)
    (result,) = wait_results(app, 1)
    assert outcome(result) == ("refused", code), result
    time.sleep(0.1)
    assert stored(app) == before
    return result


# --- 1, 2: terminators, splits and merges -----------------------------------------------------


@pytest.mark.parametrize("end", [b"\r", b"\n", b"\r\n", b"\t"], ids=["CR", "LF", "CRLF", "TAB"])
def test_each_terminator_ends_a_scan(app, line, port, device, end):
    device.write(line.serials[0].encode() + end)
    (result,) = wait_results(app, 1)
    assert outcome(result) == ("accepted", line.serials[0])
    assert result["via"] == "scanner" and result["scanner"] == "scan-1"
    assert passed(app) == [line.serials[0]]


def test_a_scan_split_over_reads_is_one_scan(app, line, port, device):
    device.write(line.serials[0].encode() + b"\r\n", chunk=2, pause=0.01)
    (result,) = wait_results(app, 1)
    assert outcome(result) == ("accepted", line.serials[0])


def test_two_scans_in_one_read_are_two_scans(app, line, port, device):
    device.write(f"{line.serials[0]}\r{line.serials[1]}\r".encode())
    assert [outcome(r) for r in wait_results(app, 2)] == [("accepted", s)
                                                          for s in line.serials[:2]]


def test_a_trailing_partial_is_dropped_after_a_quiet_spell_not_merged(app, line, port, device):
    device.write(line.serials[0].encode())  # no terminator
    assert not wait_for(lambda: results(app), timeout=0.8)
    device.write(line.serials[1].encode() + b"\r")
    (result,) = wait_results(app, 1)
    assert outcome(result) == ("accepted", line.serials[1])  # not "...00001WO-1-00002"


def test_a_scanner_without_a_terminator_scans_after_a_quiet_spell(app, line, device):
    screen(app)
    attach(app, device, terminator="none")
    device.write(line.serials[0].encode())
    (result,) = wait_results(app, 1)
    assert outcome(result) == ("accepted", line.serials[0])


def test_eol_terminator_keeps_a_tab_inside_the_scan(app, line, device):
    screen(app)
    attach(app, device, terminator="eol")
    device.write(f"{line.serials[0]}\t{line.serials[1]}\r".encode())
    (result,) = wait_results(app, 1)
    assert outcome(result) == ("refused", "INVALID_CODE")  # one scan holding a TAB


# --- 3: double reads ---------------------------------------------------------------------------


def test_a_double_read_within_300_ms_counts_once(app, line, port, device):
    serial_no = line.serials[0].encode()
    device.write(serial_no + b"\r")
    time.sleep(0.1)
    device.write(serial_no + b"\r")
    time.sleep(0.15)
    device.write(serial_no + b"\r")
    wait_results(app, 1)
    time.sleep(0.3)
    assert len(results(app)) == 1 and passed(app) == [line.serials[0]]


def test_a_rescan_after_the_window_is_an_ordinary_scan(app, line, port, device):
    serial_no = line.serials[0].encode()
    device.write(serial_no + b"\r")
    wait_results(app, 1)
    time.sleep(1.1)  # the default window is 1 s
    device.write(serial_no + b"\r")
    first, second = wait_results(app, 2)
    assert outcome(first) == ("accepted", line.serials[0])
    assert outcome(second) == ("warning", "ALREADY_DONE")  # the scan rule's answer to a rescan


def test_the_double_read_window_is_configurable(app, line, device):
    screen(app)
    attach(app, device, double_read_s=0.2)
    device.write(line.serials[0].encode() + b"\r")
    wait_results(app, 1)
    time.sleep(0.3)
    device.write(line.serials[0].encode() + b"\r")
    assert len(wait_results(app, 2)) == 2


# --- 4, 5: empty, whitespace, garbage -----------------------------------------------------------


def test_empty_and_whitespace_lines_are_no_scans(app, line, port, device):
    device.write(b"\r\n\r   \r\t\t\r")
    device.write(f"  {line.serials[0]}  \r".encode())
    (result,) = wait_results(app, 1)
    assert outcome(result) == ("accepted", line.serials[0])
    time.sleep(0.2)
    assert len(results(app)) == 1


def test_nul_and_0xff_garbage_is_dropped(app, line, port, device):
    before = stored(app)
    device.write(b"\x00\x00\x00\r\xff\xff\xfe\r\x00\xff\r")
    device.write(line.serials[0].encode() + b"\r")
    (result,) = wait_results(app, 1)  # only the label
    assert outcome(result) == ("accepted", line.serials[0])
    assert stored(app)[0] == before[0] + 1


def test_invalid_utf8_in_a_label_is_refused_with_the_baud_rate_hint(app, line, port, device):
    result = refused_and_nothing_stored(app, line, device, b"WO-1-\xc3\x2800001\r",
                                        "INVALID_CODE")
    assert "baud rate" in reason(result)


@pytest.mark.parametrize("data", [b"WO-1\x07-00001\r", b"\x7fWO-1-00001\r"], ids=["BEL", "DEL"])
def test_bel_and_del_inside_a_label_are_refused(app, line, port, device, data):
    result = refused_and_nothing_stored(app, line, device, data, "INVALID_CODE")
    assert "control character" in reason(result)


# --- 6: AIM symbology identifiers ---------------------------------------------------------------


def test_an_aim_identifier_is_taken_off(app, line, port, device):
    device.write(f"]C0{line.serials[0]}\r".encode())
    (result,) = wait_results(app, 1)
    assert outcome(result) == ("accepted", line.serials[0])


def test_an_unknown_aim_identifier_scans_with_a_warning(app, line, port, device):
    device.write(f"]X9{line.serials[0]}\r".encode())
    (result,) = wait_results(app, 1)
    assert outcome(result) == ("accepted", line.serials[0])
    assert any("]X9" in w for w in result["warnings"])


def test_an_aim_identifier_mangled_by_the_layout_is_refused(app, line, port, device):
    result = refused_and_nothing_stored(app, line, device, f"+C0{line.serials[0]}\r".encode(),
                                        "INVALID_CODE")
    assert "keyboard layout" in reason(result)


# --- 7, 8: GS1 ----------------------------------------------------------------------------------


def test_a_gs1_unit_label_with_gs_scans_its_serial(app, line, port, device):
    device.write(f"]d201{GTIN}10LOT99{GS}21{line.serials[0]}\r".encode())
    (result,) = wait_results(app, 1)
    assert outcome(result) == ("accepted", line.serials[0])


def test_a_gs1_label_with_a_stand_in_and_gs_at_both_ends(app, line, port, device):
    device.write(f"]C1{GS}01{GTIN}10LOT99{{GS}}21{line.serials[0]}{GS}\r".encode())
    (result,) = wait_results(app, 1)
    assert outcome(result) == ("accepted", line.serials[0])


def test_a_gs1_label_in_brackets_scans(app, line, port, device):
    device.write(f"(01){GTIN}(21){line.serials[0]}\r".encode())
    (result,) = wait_results(app, 1)
    assert outcome(result) == ("accepted", line.serials[0])


def test_a_gs1_label_with_its_gs_missing_is_refused_by_name(app, line, port, device):
    result = refused_and_nothing_stored(
        app, line, device, f"]C101{GTIN}10LOT9921{line.serials[0]}\r".encode(), "INVALID_CODE")
    assert "GS separator seems to be missing after (10) LOT99" in reason(result)


@pytest.mark.parametrize(("data", "why"), [
    (f"]C10107032069804987{'21'}WO-1-00001", "wrong check digit"),
    (f"]C101{GTIN}17261301{GS}21WO-1-00001", "is not a valid date"),
    (f"]C101{GTIN}23X{GS}21WO-1-00001", "known GS1 application identifier"),
    (f"]C101{GTIN}10{'L' * 24}{GS}21WO-1-00001", "longer than its 20 characters"),
], ids=["check-digit", "date", "unknown-ai", "over-long-ai"])
def test_a_bad_gs1_label_is_refused_and_stores_nothing(app, line, port, device, data, why):
    result = refused_and_nothing_stored(app, line, device, data.encode() + b"\r", "INVALID_CODE")
    assert why in reason(result)


# --- 9, 10: ISO 15434 and kinds that do not belong here -------------------------------------------


def test_an_ecia_lot_label_on_the_station_is_the_wrong_kind(app, line, port, device):
    label = f"[)>{RS}06{GS}PPCB-A{GS}Q50{GS}1TLOT-PCB-A-WO-1{GS}9D2519{RS}{EOT}\r"
    result = refused_and_nothing_stored(app, line, device, label.encode(), "WRONG_KIND")
    assert "LOT-PCB-A-WO-1 is a PCB lot" in reason(result)
    assert "readiness screen" in reason(result)


def test_an_ecia_label_with_its_separators_stripped_is_refused_by_name(app, line, port, device):
    result = refused_and_nothing_stored(app, line, device,
                                        b"[)>06PPCB-AQ501TLOT-PCB-A-WO-19D2519\r", "INVALID_CODE")
    assert "separators were lost" in reason(result)


@pytest.mark.parametrize(("code", "what"), [("ST-PCB-A-WO-1", "a stencil"),
                                            ("WO-1", "a work order"),
                                            ("PB-PCB-A-WO-1", "a profile board")])
def test_a_label_of_the_wrong_kind_is_refused_by_name(app, line, port, device, code, what):
    result = refused_and_nothing_stored(app, line, device, code.encode() + b"\r", "WRONG_KIND")
    assert f"{code} is {what}, not a board or panel" in reason(result)


# --- 11: Caps Lock and keyboard layouts -----------------------------------------------------------


def test_caps_lock_is_named_and_no_board_is_guessed(app, line, port, device):
    result = refused_and_nothing_stored(app, line, device,
                                        line.serials[0].lower().encode() + b"\r", "UNKNOWN_BOARD")
    assert "Caps Lock" in reason(result) and f"{line.serials[0]} is known here" in reason(result)


def test_a_dash_turned_into_an_apostrophe_is_named(app, line, port, device):
    result = refused_and_nothing_stored(app, line, device,
                                        line.serials[0].replace("-", "'").encode() + b"\r",
                                        "INVALID_CODE")
    assert "keyboard layout" in reason(result)


def test_y_and_z_swapped_is_named_from_the_boards_known(app, line, port, device):
    with Session(app.extensions["engine"]) as s:
        masterdata.add_boards(s, line.users["admin"], line.order, serials=["XYZ-77001"])
    result = refused_and_nothing_stored(app, line, device, b"XZY-77001\r", "UNKNOWN_BOARD")
    assert "Y and Z are swapped" in reason(result) and "XYZ-77001 is known here" in reason(result)


# --- 12: too long ---------------------------------------------------------------------------------


def test_a_scan_over_1_kb_is_refused_whole_and_the_next_one_is_fine(app, line, port, device):
    before = stored(app)
    device.write(b"A" * 5000 + b"\r" + line.serials[0].encode() + b"\r")
    first, second = wait_results(app, 2)
    assert outcome(first) == ("refused", "INVALID_CODE")
    assert "5000 bytes long" in reason(first)
    assert outcome(second) == ("accepted", line.serials[0])
    assert stored(app)[0] == before[0] + 1


# --- 13: unplugging, replugging, a busy port, noise at plug-in ------------------------------------


def test_unplug_mid_read_shows_disconnected_and_replug_has_no_phantom(app, line, port, device):
    client = screen(app)
    after = desk_of(app).feed.last_seq()
    device.write(f"{line.serials[0]}\r{line.serials[1][:5]}".encode())  # unplugged mid-label
    wait_results(app, 1)
    old_tty = os.path.realpath(device.path)
    device.unplug()
    assert wait_for(lambda: port.state == "disconnected")
    r = client.get(f"/station/{STATION}/feed?after={after}", headers=HX)
    assert r.status_code == 200 and "Scanner disconnected" in r.get_data(as_text=True)
    assert "Scanner disconnected" in client.get(f"/station/{STATION}").get_data(as_text=True)
    hold = os.openpty()  # takes the freed tty number: the scanner comes back as another one
    try:
        device.plug()
        assert os.path.realpath(device.path) != old_tty
        assert wait_for(lambda: port.state == "connected", timeout=5)
        time.sleep(0.1)
        device.write(f"{line.serials[1]}\r".encode())
        first, second = wait_results(app, 2)
    finally:
        for fd in hold:
            os.close(fd)
    assert outcome(second) == ("accepted", line.serials[1])  # not "WO-1-WO-1-00002"
    assert len(results(app)) == 2
    page = client.get(f"/station/{STATION}").get_data(as_text=True)
    assert "Scanner disconnected" not in page and "Scanner scan-1 connected" in page


def test_a_busy_port_is_shown_and_taken_when_it_is_free(app, line, device):
    client = screen(app)
    holder = serial.serial_for_url(str(device.path), exclusive=True)
    try:
        port = attach(app, device, wait=False)
        assert wait_for(lambda: port.state == "disconnected")
        page = client.get(f"/station/{STATION}").get_data(as_text=True)
        assert "Scanner disconnected" in page and "in use by another program" in page
    finally:
        holder.close()
    assert wait_for(lambda: port.state == "connected", timeout=5)
    # and the scanner holds it exclusively now
    with pytest.raises(serial.SerialException, match="exclusively lock"):
        serial.serial_for_url(str(device.path), exclusive=True)


def test_garbage_at_plug_in_is_no_scan(app, line, device):
    screen(app)
    port = attach(app, device, wait=False, settle_s=0.3)
    assert wait_for(lambda: port.state == "connected", step=0.005)
    device.write(b"\x00~\xff\x7fAT+GCAP\rOK\r")  # line noise and a probe's echo while plugging in
    time.sleep(0.4)
    device.write(line.serials[0].encode() + b"\r")
    (result,) = wait_results(app, 1)
    assert outcome(result) == ("accepted", line.serials[0])


def test_a_missing_port_is_retried_until_it_appears(app, line, tmp_path):
    screen(app)
    later = FakeDevice(tmp_path, "later")
    later.unplug()
    try:
        port = attach(app, later, wait=False)
        assert wait_for(lambda: port.state == "disconnected")
        assert desk_of(app).states(STATION)[0]["detail"] == "the port is not there (unplugged?)"
        later.plug()
        assert wait_for(lambda: port.state == "connected", timeout=5)
    finally:
        later.close()


# --- whose scan it is ----------------------------------------------------------------------------


def test_with_nobody_signed_in_a_scan_is_refused_and_nothing_stored(app, line, device):
    attach(app, device)
    result = refused_and_nothing_stored(app, line, device, line.serials[0].encode() + b"\r",
                                        "NOT_SIGNED_IN")
    assert reason(result).startswith("Sign in at the station first.")


def test_the_scan_is_the_signed_in_operators(app, line, port, device):
    device.write(line.serials[0].encode() + b"\r")
    wait_results(app, 1)
    with Session(app.extensions["engine"]) as s:
        step = s.exec(select(BoardStep)).one()
        assert step.user_id == line.users["operator"].id and step.station_id == STATION


def test_after_signing_out_a_scan_is_refused(app, line, device):
    client = screen(app)
    attach(app, device)
    client.post("/logout")
    refused_and_nothing_stored(app, line, device, line.serials[0].encode() + b"\r",
                               "NOT_SIGNED_IN")


def test_an_idle_operator_is_no_longer_signed_in(app, line, port, device):
    desk_of(app).operators.idle_s = 0.3
    time.sleep(0.4)
    refused_and_nothing_stored(app, line, device, line.serials[0].encode() + b"\r",
                               "NOT_SIGNED_IN")


def test_a_badge_without_a_pin_sign_in_here_is_refused(app, line, port, device):
    result = refused_and_nothing_stored(app, line, device, b"10002\r", "BADGE_NEEDS_PIN")
    assert "Qa One" in reason(result) and "badge and PIN" in reason(result)


def test_an_unknown_badge_is_refused(app, line, port, device):
    refused_and_nothing_stored(app, line, device, b"99999\r", "UNKNOWN_BADGE")


def test_a_badge_switches_to_an_operator_who_signed_in_with_a_pin_here(app, line, device):
    qa = screen(app, "qa")  # QA signed in with badge and PIN at this station ...
    op = screen(app, "operator")  # ... then the operator took over the screen
    attach(app, device)
    device.write(b"10002\r")
    (result,) = wait_results(app, 1)
    assert result["outcome"] == "info"
    assert desk_of(app).operators.current(STATION).name == "Qa One"
    device.write(line.serials[0].encode() + b"\r")
    wait_results(app, 2)
    with Session(app.extensions["engine"]) as s:
        assert s.exec(select(BoardStep)).one().user_id == line.users["qa"].id
    # The operator's screen follows the station: its browser is signed in as QA now.
    r = op.get(f"/station/{STATION}/feed?after=0", headers=HX)
    html = r.get_data(as_text=True)
    assert "Qa One is signed in at T-PRINT" in html and "Set-Cookie" in str(r.headers)
    assert 'class="who"' in html
    assert "Qa One" in op.get(f"/station/{STATION}").get_data(as_text=True)
    assert qa is not None


# --- the screen's feed ---------------------------------------------------------------------------


def feed(client, after=0):
    return client.get(f"/station/{STATION}/feed?after={after}", headers=HX)


def test_the_feed_shows_a_serial_scan_and_then_nothing_new(app, line, device):
    client = screen(app)
    attach(app, device)
    page = client.get(f"/station/{STATION}").get_data(as_text=True)
    after = int(re.search(r"feed\?after=(\d+)", page).group(1))
    assert feed(client, after).status_code == 204
    device.write(line.serials[0].encode() + b"\r")
    wait_results(app, 1)
    r = feed(client, after)
    html = r.get_data(as_text=True)
    assert r.status_code == 200
    assert 'id="result" class="result accepted"' in html and 'data-via="scanner"' in html
    assert 'hx-swap-oob="true"' in html and line.serials[0] in html
    seq = int(re.search(r'data-seq="(\d+)"', html).group(1))
    assert feed(client, seq).status_code == 204


def test_the_feed_gives_results_one_at_a_time_and_asks_again_at_once(app, line, port, device):
    client = screen(app)
    device.write(f"{line.serials[0]}\r{line.serials[1]}\r".encode())
    wait_results(app, 2)
    html = feed(client).get_data(as_text=True)
    assert line.serials[0] in html and 'hx-trigger="load, every' in html
    seq = int(re.search(r'data-seq="(\d+)"', html).group(1))
    html = feed(client, seq).get_data(as_text=True)
    assert f"OK · {line.serials[1]}" in html and 'hx-trigger="every' in html


def test_polling_the_feed_does_not_keep_a_session_alive(app, line, port, device):
    client = screen(app)
    for _ in range(3):
        r = feed(client, desk_of(app).feed.last_seq())
        assert r.status_code == 204 and "Set-Cookie" not in r.headers


def test_an_idle_session_sends_the_screen_to_sign_in(app, line, port, device):
    client = screen(app)
    desk_of(app).operators.idle_s = 0.3
    time.sleep(0.4)
    r = feed(client)
    assert r.headers["HX-Redirect"].startswith("/login?next=/station/T-PRINT")


def test_serial_work_keeps_the_screens_session_alive(app, line, port, device):
    client = screen(app)
    ops = desk_of(app).operators
    ops.clock = lambda: time.time() + 120  # the operator scanned on for two minutes
    device.write(line.serials[0].encode() + b"\r")
    wait_results(app, 1)
    r = feed(client)
    assert r.status_code == 200 and "Set-Cookie" in r.headers  # the idle clock moved on


def test_a_feed_without_a_signed_in_user_sends_to_sign_in(app, line):
    r = app.test_client().get(f"/station/{STATION}/feed", headers=HX)
    assert "HX-Redirect" in r.headers


def test_a_station_without_scanners_does_not_poll(app, line):
    client = screen(app)
    page = client.get(f"/station/{STATION}").get_data(as_text=True)
    assert 'id="feed"' not in page and 'id="scanners"' not in page
    assert "Operator: <strong>Operator One</strong>" in page


def test_a_feed_asked_to_wait_answers_the_moment_a_scan_is_there(app, line, port, device):
    import threading

    client = screen(app)
    after = desk_of(app).feed.last_seq()
    t0 = time.monotonic()
    r = feed(client, f"{after}&wait=0.3")
    assert r.status_code == 204 and 0.25 < time.monotonic() - t0 < 1.0  # waited, then nothing
    timer = threading.Timer(0.2, device.write, [line.serials[0].encode() + b"\r"])
    timer.start()
    t0 = time.monotonic()
    r = feed(client, f"{after}&wait=5")  # capped at 1 s
    assert r.status_code == 200 and line.serials[0] in r.get_data(as_text=True)
    assert time.monotonic() - t0 < 0.9
    timer.join()


def test_a_scan_that_fails_inside_is_still_reported_on_the_screen(app, line, port, device):
    def broken():
        raise RuntimeError("database gone")

    desk_of(app).rules = broken
    device.write(line.serials[0].encode() + b"\r")
    (result,) = wait_results(app, 1)
    assert outcome(result) == ("refused", "SCAN_FAILED")
    assert "RuntimeError" in reason(result)


def test_a_screen_from_before_a_restart_asks_after_a_number_from_the_future(app, line, port,
                                                                           device):
    client = screen(app)
    device.write(line.serials[0].encode() + b"\r")
    wait_results(app, 1)
    assert line.serials[0] in feed(client, desk_of(app).feed.last_seq() + 10_000).get_data(
        as_text=True)
