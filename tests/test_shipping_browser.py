"""An order from blocked to shipped in a real Chromium, against the station served by waitress.

The shipment page says MAY NOT SHIP with its blockers; as the floor, QA and finance do their
part the blockers go one by one; then a supervisor types badge and PIN into the release form.
CSRF is on, as in production.
"""


import pytest
from conftest import build_line, make_app, serving
from playwright.sync_api import Page, expect
from sqlmodel import Session, select
from test_browser import scanner_types
from test_shipping import pay, sign, walk

from station.models import Shipment, WorkOrder

pytestmark = pytest.mark.browser

SUPERVISOR_BADGE, PIN = "10004", "1234"  # people.ROLES[3] is supervisor: badge 1000 + 4
BOARDS = 3


@pytest.fixture(scope="module")
def shop(tmp_path_factory):
    """The station under waitress on a free loopback port; the line kept for domain steps."""
    app = make_app(tmp_path_factory.mktemp("shipping-browser"), WTF_CSRF_ENABLED=True)
    engine = app.extensions["engine"]
    with Session(engine, expire_on_commit=False) as session:
        line = build_line(session, boards=BOARDS, tokens=False)
    with serving(app) as url:
        yield {"url": url, "engine": engine, "line": line}
    engine.dispose()


def blockers(page: Page, codes: list[str]) -> None:
    """The page lists exactly these blockers, in this order, each with its code."""
    items = page.locator("li.blocker")
    expect(items).to_have_count(len(codes))
    assert items.evaluate_all("els => els.map(e => e.dataset.code)") == codes
    for item, code in zip(items.all(), codes, strict=True):
        expect(item.locator(".code")).to_have_text(code)


def step(shop, page: Page, do) -> None:
    """Do one step of the order through the domain, then reload the page as a person would."""
    with Session(shop["engine"], expire_on_commit=False) as session:
        do(session, shop["line"])
    page.reload()


def test_an_order_walks_from_blocked_to_shipped(page: Page, shop):
    page.set_default_timeout(5000)
    url, line = shop["url"], shop["line"]
    page.goto(f"{url}/orders/{line.order}/shipment")
    expect(page.locator("#badge")).to_be_focused()
    scanner_types(page, SUPERVISOR_BADGE, "Tab")
    scanner_types(page, PIN)
    expect(page).to_have_url(f"{url}/orders/{line.order}/shipment")

    verdict = page.locator("#verdict")
    expect(verdict).to_have_attribute("data-may-ship", "false")
    expect(verdict).to_have_text("✖ MAY NOT SHIP")
    expect(verdict).to_have_class("ship-verdict refused")
    blockers(page, ["NOT_ALL_PASSED", "NOT_SIGNED_OFF", "NOT_PAID"])
    expect(page.locator("li.blocker[data-code=NOT_PAID]")).to_contain_text("7.50 USD is due")
    expect(page.locator("#ship-badge")).to_have_count(0)

    step(shop, page, lambda s, ln: walk(s, ln, ln.serials))
    blockers(page, ["NOT_SIGNED_OFF", "NOT_PAID"])
    expect(verdict).to_have_text("✖ MAY NOT SHIP")

    step(shop, page, lambda s, ln: sign(s, ln, ln.order))
    blockers(page, ["NOT_PAID"])
    expect(page.locator("#ship-badge")).to_have_count(0)

    step(shop, page, lambda s, ln: pay(s, ln, ln.order))
    blockers(page, [])
    expect(verdict).to_have_attribute("data-may-ship", "true")
    expect(verdict).to_have_text("✔ MAY SHIP")
    expect(verdict).to_have_class("ship-verdict accepted")

    page.locator("#ship-badge").click()  # a wrong PIN first: refused, nothing shipped
    scanner_types(page, SUPERVISOR_BADGE, "Tab")
    scanner_types(page, "0000")
    expect(page.locator(".notice.refused .code")).to_have_text("BAD_CREDENTIALS")
    expect(verdict).to_have_text("✔ MAY SHIP")

    page.locator("#ship-badge").click()
    scanner_types(page, SUPERVISOR_BADGE, "Tab")
    expect(page.locator("#ship-pin")).to_be_focused()
    scanner_types(page, PIN)

    expect(verdict).to_have_text("SHIPPED")
    expect(page.locator(".notice.accepted")).to_contain_text(f"Shipped: {BOARDS} boards, 1 boxes")
    expect(page.locator(".notice.refused")).to_have_count(0)
    blockers(page, ["ALREADY_SHIPPED"])
    expect(page.locator("#ship-badge")).to_have_count(0)
    with Session(shop["engine"]) as session:
        shipment = session.exec(select(Shipment).join(WorkOrder)
                                .where(WorkOrder.number == line.order)).one()
        assert shipment.user_id == line.users["supervisor"].id and shipment.boards == BOARDS
