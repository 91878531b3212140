"""The plant board on a 1920x1080 wall screen in a real Chromium: large type, live without reload.

The app relays to a real Mosquitto and reads the board back from the broker's retained states;
another line's PC (LinePC) publishes its own line and dies.
"""

import pytest
from conftest import Api, build_line, make_app, serving
from playwright.sync_api import Page, expect
from sqlmodel import Session
from test_mqtt_broker import MOSQUITTO, Broker, needs_broker, wait_until
from test_plant_page import LinePC, add_line_l2

from station import mqtt

pytestmark = [pytest.mark.browser, needs_broker]


@pytest.fixture
def wall(tmp_path):
    """A broker, the app (line T and L2) relaying to it under waitress, and its URL."""
    import os

    if not os.path.exists(MOSQUITTO):
        pytest.skip(f"Mosquitto is not installed at {MOSQUITTO} (make test installs it)")
    broker = Broker(tmp_path / "broker").start()
    app = make_app(tmp_path, WTF_CSRF_ENABLED=True,
                   MQTT={"url": broker.url, "reconnect_max_s": 1})
    with Session(app.extensions["engine"], expire_on_commit=False) as s:
        line = build_line(s, boards=4)
        add_line_l2(s, line)
    relay = mqtt.start_relay(app)
    wait_until(lambda: relay.connected, 5)
    with serving(app) as url:
        yield {"url": url, "app": app, "line": line, "broker": broker}
        app.extensions["mqtt"].close()
    broker.stop()


def px(locator, prop: str = "fontSize") -> float:
    return float(locator.evaluate(f"e => getComputedStyle(e).{prop}").removesuffix("px"))


def test_the_wall_screen_reads_from_afar_and_follows_a_scan_without_reloading(page: Page, wall):
    page.set_default_timeout(5000)
    page.set_viewport_size({"width": 1920, "height": 1080})
    other = LinePC(wall["broker"], wall["app"].extensions["mqtt"].cfg.prefix, "L9")
    other.state("L9-AOI-1", line="L9", state="running", passed_this_hour=12, hourly_target=40)
    page.goto(f"{wall['url']}/login")
    page.fill("#name", "supervisor")
    page.fill("#password", "supervisor-pw")
    page.press("#password", "Enter")
    page.wait_for_url(f"{wall['url']}/")
    page.click("text=Plant board")
    page.wait_for_url(f"{wall['url']}/plant")

    l2 = page.locator('.pline[data-line="L2"]')
    expect(l2.locator(".pline-name")).to_have_text("Line 2")
    name, actual = l2.locator(".pline-name"), l2.locator(".pline-actual")
    assert px(name) >= 40 and px(actual) >= 40, (px(name), px(actual))
    assert px(l2.locator(".pline-target")) >= 40
    assert px(l2.locator(".pchip").first) >= 24  # a station's state, read from 5 m too
    expect(actual).to_have_text("0")
    expect(l2.locator(".pline-target")).to_have_text("30")
    printer = l2.locator('.pchip[data-station="L2-PRINT"]')
    expect(printer).to_have_attribute("data-source", "broker")
    expect(printer).to_have_attribute("data-state", "idle")
    expect(printer.locator(".pchip-state")).to_have_text("Idle")
    idle = printer.evaluate("e => getComputedStyle(e).backgroundColor")

    l9 = page.locator('.pline[data-line="L9"]')
    expect(l9.locator('.pchip[data-station="L9-AOI-1"] .pchip-state')).to_have_text("Running")
    expect(l9).to_have_attribute("data-online", "online")
    white = l9.evaluate("e => getComputedStyle(e).backgroundColor")

    page.evaluate("window.__same_page = true")  # gone if the page reloads
    line = wall["line"]
    assert Api(wall["app"].test_client(), line).scan("L2-PRINT", line.serials[0]).status_code \
        == 201
    expect(printer).to_have_attribute("data-state", "running", timeout=5000)
    expect(printer.locator(".pchip-state")).to_have_text("Running")
    expect(actual).to_have_text("1", timeout=5000)
    assert printer.evaluate("e => getComputedStyle(e).backgroundColor") != idle
    other.kill()
    expect(l9).to_have_attribute("data-online", "offline", timeout=5000)
    expect(l9.locator(".pline-online")).to_contain_text("offline")
    assert l9.evaluate("e => getComputedStyle(e).backgroundColor") != white
    assert page.evaluate("window.__same_page") is True
