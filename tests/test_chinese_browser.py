"""A Chinese operator's screens in a real Chromium: a not-ready order and a blocked shipment hold
no English sentence, only codes, serials and numbers."""

import re

import pytest
from conftest import make_app, serving
from playwright.sync_api import Page, expect
from sqlmodel import Session
from test_browser import scanner_types

from station import demo

pytestmark = pytest.mark.browser

OP2_BADGE, OP2_PIN = "100002", "2345"  # the demo's Wang Fang, language zh_CN
# Three English words in a row (codes such as NOT_READY or CTRL-100 are not words here).
ENGLISH = re.compile(r"(?<![\w-])[A-Za-z]{2,}(?:[ ,;:]+[A-Za-z]{2,}){2,}(?![\w-])")


@pytest.fixture(scope="module")
def station(tmp_path_factory):
    """The demo line under waitress: WO-1002 has neither stencil nor blank PCBs yet."""
    app = make_app(tmp_path_factory.mktemp("chinese_browser"), WTF_CSRF_ENABLED=True)
    with Session(app.extensions["engine"], expire_on_commit=False) as session:
        demo.seed(session, app.config["PIN_PEPPER"])
    with serving(app) as url:
        yield url
    app.extensions["engine"].dispose()


def english_in(page: Page, selector: str = "main") -> list[str]:
    """Runs of English words in what the screen shows (code elements left out)."""
    text = page.locator(selector).evaluate(
        "el => { const c = el.cloneNode(true);"
        " c.querySelectorAll('.code, code').forEach(e => e.remove()); return c.innerText; }")
    return ENGLISH.findall(text)


def test_a_chinese_operator_sees_readiness_and_shipment_in_chinese(page: Page, station):
    page.set_default_timeout(5000)
    page.goto(f"{station}/orders/WO-1002/readiness")
    expect(page.locator("#badge")).to_be_focused()  # keystrokes before focus would be lost
    scanner_types(page, OP2_BADGE, "Tab")
    expect(page.locator("#pin")).to_be_focused()
    scanner_types(page, OP2_PIN)
    expect(page).to_have_url(f"{station}/orders/WO-1002/readiness")
    expect(page.locator(".verdict-line")).to_have_attribute("data-ready", "false")
    expect(page.locator("[data-item=stencil] .tile-state")).to_contain_text("钢网")
    expect(page.locator("[data-item=blank_pcbs] .tile-state")).to_contain_text("光板")
    assert english_in(page) == []

    scanner_types(page, "NO-SUCH-LABEL")  # a refusal on the screen is Chinese too
    expect(page.locator("#result")).to_have_attribute("data-outcome", "refused")
    assert english_in(page) == []

    page.goto(f"{station}/orders/WO-1002/shipment")
    expect(page.locator("#verdict")).to_have_attribute("data-may-ship", "false")
    not_ready = page.locator("li.blocker[data-code=NOT_READY]")
    expect(not_ready.locator(".reasons li")).to_have_count(2)  # one line per red item
    expect(not_ready).to_contain_text("此工单尚未装上钢网")
    assert english_in(page) == []
