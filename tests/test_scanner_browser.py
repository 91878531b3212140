"""A serial scan on the operator's screen in a real Chromium, with nobody touching the browser.

The station runs under waitress with a scanner on a pseudo-terminal; the operator signs in at
the station's screen, then labels are written into the pty as the scanner would send them.
"""

import pytest
from conftest import build_line, make_app, reconfigure, serving
from playwright.sync_api import Page, expect
from serial_pty import FakeDevice, wait_for
from sqlmodel import Session

from station.line.desk import start_scanners, stop_scanners

pytestmark = pytest.mark.browser

STATION = "T-PRINT"
OPERATOR_BADGE, PIN = "10001", "1234"
TONE_SPY = """
window.__tones = [];
const realStart = OscillatorNode.prototype.start;
OscillatorNode.prototype.start = function (...args) {
  window.__tones.push([this.type, this.frequency.value]);
  return realStart.apply(this, args);
};
"""



@pytest.fixture(scope="module")
def station(tmp_path_factory):
    """The station under waitress on a loopback port, with a scanner on a pty at T-PRINT."""
    folder = tmp_path_factory.mktemp("scanner-browser")
    app = make_app(folder, WTF_CSRF_ENABLED=True)
    with Session(app.extensions["engine"], expire_on_commit=False) as session:
        line = build_line(session, boards=10, tokens=False)  # its order is ready to scan
    device = FakeDevice(folder, "usb-Scanner-if00")
    reconfigure(app, scanners=[{"name": "print-1", "station": STATION, "url": str(device.path),
                                "backoff_s": [0.05, 0.2]}])
    port = start_scanners(app)["print-1"]
    assert wait_for(lambda: port.state == "connected")
    with serving(app) as url:
        yield {"url": url, "serials": iter(line.serials), "device": device, "port": port}
    stop_scanners(app)
    device.close()
    app.extensions["engine"].dispose()


@pytest.fixture
def operator(page: Page, station):
    """The operator's screen at T-PRINT, signed in by badge scan and PIN, tones spied on."""
    page.set_default_timeout(5000)
    page.add_init_script(TONE_SPY)
    url = station["url"]
    page.goto(f"{url}/station/{STATION}")
    expect(page.locator("#badge")).to_be_focused()
    page.keyboard.type(OPERATOR_BADGE)
    page.keyboard.press("Tab")
    page.keyboard.type(PIN)
    page.keyboard.press("Enter")
    expect(page).to_have_url(f"{url}/station/{STATION}")
    page.wait_for_load_state("domcontentloaded")  # the screen's scripts ran: keys go to them
    expect(page.locator("#operator")).to_contain_text("Operator One")
    return page


def tones(page: Page) -> list:
    return page.evaluate("window.__tones.splice(0)")


def test_a_serial_scan_shows_on_the_screen_without_touching_the_browser(operator, station):
    serial = next(station["serials"])
    expect(operator.locator("#scanners [data-state=connected]")).to_contain_text("print-1")
    before = int(operator.locator("#shift strong").inner_text())
    tones(operator)

    station["device"].write(serial.encode() + b"\r\n")  # the scanner reads a label

    result = operator.locator("#result")
    expect(result).to_have_attribute("data-outcome", "accepted")
    expect(result).to_have_attribute("data-via", "scanner")
    expect(result.locator(".headline")).to_contain_text(serial)
    expect(result.locator(".next")).to_contain_text("SPI")
    expect(operator.locator("#shift strong")).to_have_text(str(before + 1))
    expect(operator.locator("#recent li").first).to_contain_text(serial)
    expect(operator.locator("#code")).to_be_focused()
    expect(operator.locator("#code")).to_have_value("")
    assert wait_for(lambda: operator.evaluate("window.__tones.length") >= 1, timeout=2)
    operator.wait_for_timeout(600)  # one more poll of the feed: it must not beep again
    assert tones(operator) == [["sine", 880]]  # the green tone, once


def test_scans_from_the_scanner_and_the_box_mix(operator, station):
    first, second = next(station["serials"]), next(station["serials"])
    station["device"].write(first.encode() + b"\r")
    expect(operator.locator("#result .headline")).to_contain_text(first)
    operator.keyboard.type(second)  # the wedge scanner, into the focused box
    operator.keyboard.press("Enter")
    expect(operator.locator("#result .headline")).to_contain_text(second)
    expect(operator.locator("#result")).to_have_attribute("data-via", "screen")
    expect(operator.locator("#recent li").nth(0)).to_contain_text(second)
    expect(operator.locator("#recent li").nth(1)).to_contain_text(first)


def test_a_serial_scan_of_the_wrong_kind_shows_red(operator, station):
    tones(operator)
    station["device"].write(b"ST-PCB-A-WO-1\r")
    result = operator.locator("#result")
    expect(result).to_have_attribute("data-outcome", "refused")
    expect(result.locator(".code")).to_have_text("WRONG_KIND")
    expect(result.locator(".headline")).to_contain_text("is a stencil")
    assert wait_for(lambda: operator.evaluate("window.__tones.length") >= 2, timeout=2)
    assert [t[0] for t in tones(operator)] == ["square", "square"]


def test_an_unplugged_scanner_shows_on_the_screen_until_it_is_back(operator, station):
    device, port = station["device"], station["port"]
    device.unplug()
    banner = operator.locator("#scanners [data-state=disconnected]")
    expect(banner).to_contain_text("Scanner disconnected")
    expect(banner).to_contain_text("print-1")
    device.plug()
    assert wait_for(lambda: port.state == "connected", timeout=5)
    expect(banner).to_have_count(0)
    serial = next(station["serials"])
    operator.wait_for_timeout(400)  # past the scanner's settling time after plug-in
    device.write(serial.encode() + b"\r")
    expect(operator.locator("#result .headline")).to_contain_text(serial)
