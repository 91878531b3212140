"""From an enquiry to a confirmed order in a real Chromium, against the station under waitress.

Finance records an enquiry with its data package, drafts the quotation from it, changes one
line, sends it and confirms 500 boards; the order page shows the order. CSRF is on.
"""

import re

import pytest
from conftest import build_line, make_app, serving
from playwright.sync_api import Page, expect
from sqlmodel import Session, select

from station.demo import data_package
from station.models import Enquiry, WorkOrder

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def office(tmp_path_factory):
    """The station served on a free loopback port, with the line's users and master data."""
    app = make_app(tmp_path_factory.mktemp("enquiry-browser"), WTF_CSRF_ENABLED=True)
    engine = app.extensions["engine"]
    with Session(engine, expire_on_commit=False) as session:
        build_line(session, boards=2, tokens=False, ready=False)
    with serving(app) as url:
        yield {"url": url, "engine": engine}
    engine.dispose()


def test_an_enquiry_becomes_a_confirmed_order(page: Page, office):
    page.set_default_timeout(5000)
    url, pkg = office["url"], data_package()
    page.goto(f"{url}/login?next=/enquiries")
    page.fill("#name", "finance")
    page.fill("#password", "finance-pw")
    page.locator("form:has(#name) button").click()
    expect(page).to_have_url(re.compile(r"/enquiries$"))

    form = page.locator("form.new-enquiry")
    form.locator("select[name=customer]").select_option("CUST")
    form.locator("input[name=product]").fill("PCB")
    form.locator("input[name=revision]").fill("A")
    form.locator("input[name=quantities]").fill("100, 500")
    form.locator("input[name=due]").fill("2027-01-15")
    for name, file, mime in (("gerber", "board.zip", "application/zip"),
                             ("bom", "bom.csv", "text/csv"), ("centroid", "cpl.csv", "text/csv")):
        form.locator(f"input[name={name}]").set_input_files(
            {"name": file, "mimeType": mime, "buffer": pkg[name]})
    form.locator("button").click()

    row = page.locator("tr[data-enquiry]")
    expect(row).to_have_count(1)
    expect(row.locator(".age")).to_have_attribute("data-colour", "green")
    row.get_by_role("button", name="Draft the quotation").click()
    expect(page).to_have_url(re.compile(r"/quotations/\d+$"))
    expect(page.locator("section.quantity")).to_have_count(2)

    setup = page.locator("section[data-quantity='100'] tr[data-code=SETUP]")
    setup.locator("input[name=rate]").fill("321.00")
    setup.get_by_role("button", name="Change").click()
    expect(setup.locator(".amount")).to_have_text("321.00")
    expect(page.locator(".notice.refused")).to_have_count(0)

    page.get_by_role("button", name="Send the quotation").click()
    expect(page.locator("[data-sent=true]")).to_be_visible()
    expect(page.locator("tr[data-code=SETUP] input")).to_have_count(0)  # sent: no more edits
    five = page.locator("section[data-quantity='500']")
    total = five.locator(".total-amount").inner_text()
    five.get_by_role("button", name="Confirm 500 boards").click()

    confirmed = page.locator("[data-order]")
    expect(confirmed).to_be_visible()
    number = confirmed.get_attribute("data-order")
    quotation_url = page.url
    confirmed.locator("a").click()
    expect(page).to_have_url(re.compile(rf"/orders/{re.escape(number)}$"))
    expect(page.locator("main")).to_contain_text("500")
    with Session(office["engine"]) as session:
        order = session.exec(select(WorkOrder).where(WorkOrder.number == number)).one()
        assert order.quantity == 500
        enquiry = session.exec(select(Enquiry).where(Enquiry.order_id == order.id)).one()
        assert enquiry.hours_to_quote is not None
    assert re.fullmatch(r"\d+\.\d\d", total)

    page.goto(f"{quotation_url}/print")  # the printable page: one A4 sheet, factory named
    expect(page.locator(".factory")).not_to_be_empty()
    expect(page.locator("section.box")).to_have_count(2)
    pdf = page.pdf(format="A4", print_background=True)
    assert len(re.findall(rb"/Type\s*/Page[^s]", pdf)) == 1
