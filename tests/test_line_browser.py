"""The line dashboard in a real Chromium: a tile follows a station served by another process.

The station is `python run.py` with its own database; the dashboard is another app (its own,
nearly empty database) under waitress, which knows the station only from the broker.
"""

import time
import uuid

import pytest
from conftest import PEPPER, make_app, serving
from playwright.sync_api import Page, expect
from sqlmodel import Session
from test_mqtt_broker import MOSQUITTO, Broker, needs_broker, wait_until
from test_mqtt_processes import USERS, StationProcess

from station import people

pytestmark = [pytest.mark.browser, needs_broker]



@pytest.fixture(scope="module")
def floor(tmp_path_factory):
    """A broker with the shipped ACL, a station process for T-PRINT, and the dashboard app."""
    import os

    if not os.path.exists(MOSQUITTO):
        pytest.skip(f"Mosquitto is not installed at {MOSQUITTO} (make test installs it)")
    tmp = tmp_path_factory.mktemp("dashboard")
    broker = Broker(tmp / "broker", users=USERS).start()
    station = StationProcess(tmp / "station", broker, "T-PRINT", "t-print")
    app = make_app(tmp / "dash", WTF_CSRF_ENABLED=True,
                   MQTT={"url": broker.url, "username": "dashboard",
                         "password": USERS["dashboard"], "client_id": f"dash-{uuid.uuid4().hex}"})
    with Session(app.extensions["engine"]) as s:
        people.create_user(s, "sup", "supervisor", pepper=PEPPER, password="sup-pw",
                           full_name="Supervisor")
    with serving(app) as url:
        station.wait_serving()
        yield {"url": url, "station": station, "app": app}
        app.extensions["mqtt"].close()
    station.stop()
    broker.stop()


def colour(tile) -> str:
    return tile.evaluate("e => getComputedStyle(e).backgroundColor")


def test_a_tile_changes_colour_within_a_second_of_a_scan_in_another_process(page: Page, floor):
    page.set_default_timeout(5000)
    page.add_init_script("document.addEventListener('htmx:sseOpen', () => "
                         "{ window.__sseOpen = true; });")
    page.goto(f"{floor['url']}/login")
    page.fill("#name", "sup")
    page.fill("#password", "sup-pw")
    page.press("#password", "Enter")
    page.wait_for_url(f"{floor['url']}/")
    page.goto(f"{floor['url']}/line/T")  # line T exists only in the other process's database
    board = page.locator("#line-board")
    expect(board).to_have_attribute("data-live", "stream")
    page.wait_for_function("window.__sseOpen === true")
    tile = page.locator('.ltile[data-station="T-PRINT"]')
    expect(tile).to_have_attribute("data-state", "idle")
    expect(tile).to_have_attribute("data-online", "online")
    idle = colour(tile)

    station = floor["station"]
    t0 = time.monotonic()
    status, _ = station.api("POST", "/api/v1/stations/T-PRINT/state",
                            {"state": "down", "reason": "squeegee broken"})
    assert status == 201
    expect(tile).to_have_attribute("data-state", "down", timeout=1000)
    down_after = time.monotonic() - t0
    down = colour(tile)
    expect(tile.locator(".lreason")).to_have_text("squeegee broken")

    t0 = time.monotonic()
    station.scan(station.line.serials[0])  # a board passes: running again
    expect(tile).to_have_attribute("data-state", "running", timeout=1000)
    running_after = time.monotonic() - t0
    running = colour(tile)
    assert len({idle, down, running}) == 3, (idle, down, running)
    assert down == "rgb(198, 40, 40)" and running == "rgb(27, 127, 42)"  # --bad, --ok
    print(f"tile followed the other process in {down_after * 1000:.0f} ms and "
          f"{running_after * 1000:.0f} ms")

    station.proc.kill()  # and when that station dies, its tile says offline
    expect(tile).to_have_attribute("data-online", "offline", timeout=3000)
    wait_until(lambda: "offline" in (tile.get_attribute("class") or ""), 2)
