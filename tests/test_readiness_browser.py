"""The readiness screen in a real Chromium: an order turns green item by item, then boards go.

The station runs under waitress with CSRF on, as in production. The office registers through the
JSON API (bearer tokens, from the test); the operator works the screen as on the floor: a
keyboard-wedge scanner types labels into the focused scan box and ends them with Enter.
"""


import pytest
from conftest import build_line, make_app, serving
from playwright.sync_api import Page, expect
from sqlmodel import Session
from test_readiness import profile_csv

from station import demo

pytestmark = pytest.mark.browser

OPERATOR_BADGE, PIN = "10001", "1234"  # people.ROLES[0] is operator: badge 1000 + 1
ITEMS = ("data_package", "stencil", "profile_board", "blank_pcbs")
POLL_MS = 9000  # the tiles poll every 5 s
# Resolves shortly after the readiness tiles next try to poll (whether or not the poll was sent).
NEXT_POLL = """() => new Promise((done, fail) => {
  setTimeout(() => fail(new Error("the tiles did not poll within 8 s")), 8000);
  const seen = (e) => {
    if (e.detail.elt.id !== "readiness") return;
    document.removeEventListener("htmx:beforeRequest", seen);
    setTimeout(done, 500);
  };
  document.addEventListener("htmx:beforeRequest", seen);
})"""



@pytest.fixture(scope="module")
def station(tmp_path_factory):
    """The station under waitress on a free loopback port; order WO-1 not ready at all."""
    app = make_app(tmp_path_factory.mktemp("readiness_browser"), WTF_CSRF_ENABLED=True)
    with Session(app.extensions["engine"], expire_on_commit=False) as session:
        line = build_line(session, boards=4, ready=False)
    with serving(app) as url:
        yield {"url": url, "serials": list(line.serials), "tokens": dict(line.tokens)}
    app.extensions["engine"].dispose()


def scanner_types(page: Page, text: str, suffix: str = "Enter") -> None:
    """A keyboard-wedge scanner: keystrokes into the focused field, then its suffix key."""
    page.keyboard.type(text)
    page.keyboard.press(suffix)


def expect_green(page: Page, *green: str) -> None:
    """Exactly these tiles are green (waiting for the poll or a swap to show it)."""
    for item in ITEMS:
        expect(page.locator(f"[data-item={item}]")).to_have_attribute(
            "data-ready", "true" if item in green else "false", timeout=POLL_MS)


class Office:
    """The office's script: master data through the JSON API with the admin's token."""

    def __init__(self, page: Page, station: dict):
        self.request, self.url, self.tokens = page.request, station["url"], station["tokens"]

    def post(self, path: str, role: str = "admin", **kwargs):
        r = self.request.post(f"{self.url}/api/v1{path}",
                              headers={"Authorization": f"Bearer {self.tokens[role]}"},
                              **kwargs)
        assert r.status == 201, r.text()
        return r.json()


def test_the_order_turns_green_item_by_item_and_its_first_board_goes(page: Page, station):
    page.set_default_timeout(5000)
    url, serial = station["url"], station["serials"][0]
    office = Office(page, station)

    # The operator opens the order's readiness screen and signs in by badge and PIN.
    page.goto(f"{url}/orders/WO-1/readiness")
    expect(page.locator("#badge")).to_be_focused()
    scanner_types(page, OPERATOR_BADGE, "Tab")
    expect(page.locator("#pin")).to_be_focused()
    scanner_types(page, PIN)
    expect(page).to_have_url(f"{url}/orders/WO-1/readiness")
    # The four gating items, and the fifth (material) where the route places parts: the
    # product has no feeder setup, so it is information (blue), not red.
    expect(page.locator(".ready-tile")).to_have_count(5)
    expect(page.locator(".ready-tile").nth(4)).to_have_attribute("data-item", "feeder_setup")
    expect(page.locator("[data-item=feeder_setup]")).to_have_class("ready-tile info")
    expect_green(page)
    expect(page.locator(".verdict-line")).to_have_attribute("data-ready", "false")
    expect(page.locator("#code")).to_be_focused()

    # 1. The data package arrives through the API; the tile turns green on its next poll.
    pkg = demo.data_package()
    report = office.post("/products/PCB/A/data-package", multipart={
        "gerber": {"name": "gerber.zip", "mimeType": "application/zip", "buffer": pkg["gerber"]},
        "bom": {"name": "bom.csv", "mimeType": "text/csv", "buffer": pkg["bom"]},
        "centroid": {"name": "cpl.csv", "mimeType": "text/csv", "buffer": pkg["centroid"]}})
    assert report["complete"] is True
    expect_green(page, "data_package")

    # 2. The stencil: scanned on this screen it mounts; a tension reading makes it green.
    office.post("/stencils", data={"id": "ST-PCB-A-1", "product": "PCB", "revision": "A",
                                   "side": "top", "life_prints": 50_000,
                                   "clean_interval_prints": 20})
    scanner_types(page, "ST-PCB-A-1")
    expect(page.locator("#result")).to_have_attribute("data-outcome", "accepted")
    expect(page.locator("#result")).to_contain_text("ST-PCB-A-1 mounted")
    stencil = page.locator("[data-item=stencil]")
    expect(stencil.locator(".code")).to_have_text("STENCIL_NOT_MEASURED")
    expect(page.locator("#code")).to_have_value("")
    readings = stencil.locator("input[name=readings]")
    readings.click()
    expect(readings).to_be_focused()  # the person chose this field: the scan box lets it be
    page.keyboard.type("38 37 39 38")
    page.evaluate(NEXT_POLL)  # the tiles' next poll comes while the reading sits typed
    expect(readings).to_have_value("38 37 39 38")
    expect(readings).to_be_focused()
    stencil.get_by_role("button", name="Record tension").click()
    expect(page).to_have_url(f"{url}/orders/WO-1/readiness")
    expect_green(page, "data_package", "stencil")
    expect(stencil).to_contain_text("ST-PCB-A-1 ready")
    expect(page.locator("#code")).to_be_focused()

    # 3. A profile run of the product's profile board through the oven, sent by the profiler PC.
    office.post("/profile-boards", data={"id": "PB-PCB-A-1", "product": "PCB", "revision": "A",
                                         "thermocouples": 2})
    run = office.post("/profiles", role="operator", multipart={
        "file": {"name": "run.csv", "mimeType": "text/csv", "buffer": profile_csv().encode()},
        "paste": "SAC305", "profile_board": "PB-PCB-A-1"})
    assert run["verdict"] == "PASS"
    page.reload()
    expect_green(page, "data_package", "stencil", "profile_board")

    # Still one item red: the first board is refused at PRINT, and nothing passes.
    page.goto(f"{url}/station/T-PRINT")
    expect(page.locator("#code")).to_be_focused()
    scanner_types(page, serial)
    result = page.locator("#result")
    expect(result).to_have_attribute("data-outcome", "refused")
    expect(result.locator(".code")).to_have_text("NOT_READY")
    expect(result).to_contain_text("blank PCBs allocated")
    expect(page.locator("#shift strong")).to_have_text("0")

    # 4. The blank PCBs: the lot's label scanned on the readiness screen allocates it.
    office.post("/pcb-lots", data={"lot": "LOT-2026-0001", "product": "PCB", "revision": "A",
                                   "quantity": 10})
    page.goto(f"{url}/orders/WO-1/readiness")
    expect(page.locator("#code")).to_be_focused()
    scanner_types(page, "LOT-2026-0001")
    expect(page.locator("#result")).to_have_attribute("data-outcome", "accepted")
    expect(page.locator("#result")).to_contain_text("4 boards of lot LOT-2026-0001")
    expect_green(page, *ITEMS)
    expect(page.locator(".verdict-line")).to_have_attribute("data-ready", "true")

    # Every item green: the same board is accepted at PRINT.
    page.goto(f"{url}/station/T-PRINT")
    expect(page.locator("#code")).to_be_focused()
    scanner_types(page, serial)
    expect(result).to_have_attribute("data-outcome", "accepted")
    expect(result.locator(".headline")).to_contain_text(serial)
    expect(result.locator(".next")).to_contain_text("SPI")
    expect(page.locator("#shift strong")).to_have_text("1")
