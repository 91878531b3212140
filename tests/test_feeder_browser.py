"""Loading feeders at a placement station in a real Chromium, with the scanner alone.

A wrong reel turns its slot red and the board is refused SETUP_NOT_VERIFIED; the right reels
turn the slots green and the board passes. The station runs under waitress with CSRF on; the
keyboard-wedge scanner types each label into the focused scan box and ends it with Enter.
"""

import pytest
from conftest import build_line, make_app, serving
from playwright.sync_api import Page, expect
from sqlmodel import Session

from station.line import scanning
from station.material import reels, setups

pytestmark = pytest.mark.browser

OPERATOR_BADGE, PIN = "10001", "1234"
SETUP = [{"slot": "F01", "part": "RC0603-10K", "alternates": [], "designators": ["R1"]},
         {"slot": "F02", "part": "CC0603-100N", "alternates": [], "designators": ["C1"]}]
REELS = [("RL-10K-1", "RC0603-10K"), ("RL-100N-1", "CC0603-100N"), ("RL-1K-1", "RC0603-1K")]


@pytest.fixture(scope="module")
def station(tmp_path_factory):
    """WO-1's boards printed and inspected, its PLACE setup made, its reels registered."""
    app = make_app(tmp_path_factory.mktemp("feeder_browser"), WTF_CSRF_ENABLED=True)
    with Session(app.extensions["engine"], expire_on_commit=False) as session:
        line = build_line(session, boards=2, tokens=False)
        operator = line.users["operator"]
        setups.create_setup(session, line.users["admin"], "PCB", "A", "PLACE", SETUP)
        for reel, part in REELS:
            reels.register_reel(session, operator, id=reel, part=part, quantity=500)
        for serial in line.serials:
            for st in ("T-PRINT", "T-SPI"):
                scanning.scan(session, st, serial, operator)
    with serving(app) as url:
        yield {"url": url, "serials": list(line.serials)}
    app.extensions["engine"].dispose()


def scanner_types(page: Page, text: str, suffix: str = "Enter") -> None:
    """A keyboard-wedge scanner: keystrokes into the focused field, then its suffix key."""
    page.keyboard.type(text)
    page.keyboard.press(suffix)


def scan(page: Page, code: str, outcome: str) -> None:
    """Scan a label into the station's box and wait for its result."""
    expect(page.locator("#code")).to_be_focused()
    scanner_types(page, code)
    expect(page.locator("#result")).to_have_attribute("data-outcome", outcome)
    expect(page.locator("#code")).to_have_value("")


def test_a_wrong_reel_is_red_and_holds_the_board_until_the_right_one_is_green(page: Page,
                                                                              station):
    page.set_default_timeout(5000)
    url, serial = station["url"], station["serials"][0]
    page.goto(f"{url}/station/T-PLACE")
    expect(page.locator("#badge")).to_be_focused()
    scanner_types(page, OPERATOR_BADGE, "Tab")
    expect(page.locator("#pin")).to_be_focused()
    scanner_types(page, PIN)
    expect(page).to_have_url(f"{url}/station/T-PLACE")
    page.wait_for_load_state("domcontentloaded")  # the screen's scripts ran: keys go to them
    slot = page.locator("#feeders [data-slot=F01]")

    scan(page, "WO-1", "info")
    expect(page.locator("#feeders [data-slot]")).to_have_count(2)
    expect(slot).to_have_attribute("data-state", "unloaded")

    scan(page, "F01", "info")
    expect(slot).to_have_class("slot slot-unloaded armed")
    scan(page, "RL-1K-1", "refused")
    expect(page.locator("#result")).to_contain_text("WRONG_PART")
    expect(page.locator("#result")).to_contain_text("RC0603-10K")
    expect(slot).to_have_attribute("data-state", "wrong")
    expect(slot).to_have_css("background-color", "rgb(198, 40, 40)")  # red

    scan(page, serial, "refused")
    expect(page.locator("#result")).to_contain_text("SETUP_NOT_VERIFIED")
    expect(page.locator("#feeders")).to_have_attribute("data-verified", "false")

    scan(page, "F01", "info")
    scan(page, "RL-10K-1", "accepted")
    expect(slot).to_have_attribute("data-state", "verified")
    expect(slot).to_have_css("background-color", "rgb(27, 127, 42)")  # green
    scan(page, "F02", "info")
    scan(page, "RL-100N-1", "accepted")
    expect(page.locator("#feeders")).to_have_attribute("data-verified", "true")

    scan(page, serial, "accepted")
    expect(page.locator("#result")).to_contain_text(f"OK · {serial}")
    expect(page.locator("#result")).to_contain_text("REFLOW")
