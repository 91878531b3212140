"""QA's sign-off in a real Chromium, against the station served by waitress with CSRF on.

The boards pass FCT through the domain and the JSON API, as testers report them; QA signs in
with badge and PIN, reviews the order, signs with badge, PIN and meaning, and sees the signature
turn VOID once a tester reports a new result.
"""

import json
import re
import urllib.request

import pytest
from conftest import ROUTE, build_line, make_app, serving
from playwright.sync_api import Page, expect
from sqlmodel import Session, func, select
from test_browser import scanner_types

from station.line.scanning import scan
from station.models import Signoff
from station.quality import fct

pytestmark = pytest.mark.browser

QA_BADGE, PIN = "10002", "1234"  # people.ROLES[1] is qa: badge 1000 + 2
BOARDS = 3


@pytest.fixture(scope="module")
def station(tmp_path_factory):
    """The station under waitress; every board of WO-1 has passed FCT."""
    app = make_app(tmp_path_factory.mktemp("fct_browser"), WTF_CSRF_ENABLED=True)
    with Session(app.extensions["engine"], expire_on_commit=False) as session:
        line = build_line(session, boards=BOARDS)
        for serial in line.serials:
            for step in ROUTE[:ROUTE.index("FCT")]:
                scan(session, f"T-{step}", serial, line.users["operator"])
    with serving(app) as url:
        for serial in line.serials:  # the tester reports each pass through the API
            assert post_json(url, "/api/v1/tests", line.tokens["operator"], {
                "serial": serial, "station": "T-FCT", "outcome": "pass", "program": "ctrl-fct",
                "program_version": "4.2.0", "fixture": "FX-1"})[0] == 201
        yield {"url": url, "app": app, "serials": list(line.serials), "tokens": dict(line.tokens)}
    app.extensions["engine"].dispose()


def post_json(url: str, path: str, token: str, body: dict) -> tuple[int, dict]:
    """POST a JSON body with a bearer token, as a tester or a script does."""
    request = urllib.request.Request(url + path, data=json.dumps(body).encode(), method="POST",
                                     headers={"Authorization": f"Bearer {token}",
                                              "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            return answer.status, json.load(answer)
    except urllib.error.HTTPError as err:
        return err.code, json.load(err)


def signatures(station) -> int:
    with Session(station["app"].extensions["engine"]) as s:
        return s.exec(select(func.count()).select_from(Signoff)).one()


def test_qa_signs_the_results_off_and_a_later_result_voids_the_signature(page: Page, station):
    page.set_default_timeout(5000)
    url, review = station["url"], f"{station['url']}/orders/WO-1/review"
    page.goto(review)
    expect(page).to_have_url(re.compile(r"/login\?next=/orders/WO-1/review"))
    expect(page.locator("#badge")).to_be_focused()
    scanner_types(page, QA_BADGE, "Tab")
    expect(page.locator("#pin")).to_be_focused()
    scanner_types(page, PIN)
    expect(page).to_have_url(review)
    expect(page.locator(".who")).to_contain_text("qa")

    box = page.locator(".signature")
    expect(box).to_have_attribute("data-valid", "none")
    expect(box).to_contain_text("Not signed off")
    expect(page.locator("main")).to_contain_text("First-pass yield: 100.0 %")

    page.select_option("select[name=meaning]", "Reviewed: functional test results")
    page.locator("#sign-badge").type(QA_BADGE)
    page.locator("#sign-pin").type(PIN)
    page.get_by_role("button", name="Sign", exact=True).click()

    expect(box).to_have_attribute("data-valid", "true")
    expect(box).to_contain_text("Signed")
    expect(box.locator("strong")).to_have_text("Qa One")  # the printed name
    expect(box).to_contain_text("Reviewed: functional test results")  # the meaning
    expect(box).to_contain_text(re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC"))  # the time
    signed_text = box.inner_text()
    assert signatures(station) == 1
    assert page.locator("#sign-pin").input_value() == "", "the PIN is not kept in the page"

    status, answer = post_json(url, "/api/v1/tests", station["tokens"]["operator"], {
        "serial": station["serials"][0], "station": "T-FCT", "outcome": "fail",
        "program": "ctrl-fct", "program_version": "4.2.0", "fixture": "FX-1",
        "defect_code": "SHORT"})
    assert status == 201 and answer["state"] == "needs_repair"

    page.reload()
    expect(box).to_have_attribute("data-valid", "false")
    expect(box).to_contain_text("VOID")
    expect(box.locator("strong")).to_have_text("Qa One")  # still shows who signed, and when
    assert re.search(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC", box.inner_text())
    assert signed_text.split("·")[1] == box.inner_text().split("·")[1], "same signing time"
    expect(page.locator("main")).to_contain_text("pass, fail")
    assert signatures(station) == 1, "the reload signed nothing again"
    with Session(station["app"].extensions["engine"]) as s:
        assert fct.test_state(s, fct.find_board(s, station["serials"][0]))["state"] == \
            "needs_repair"

    # Repaired and retested, QA signs again; a passing retest afterwards voids it as well, and
    # reloading the page does not sign the changed results again (badge and PIN are not resent).
    token, serial = station["tokens"]["operator"], station["serials"][0]
    assert post_json(url, f"/api/v1/boards/{serial}/repairs", token,
                     {"defect_code": "SHORT", "location": "U2", "action": "removed bridge"}
                     )[0] == 201
    assert post_json(url, "/api/v1/tests", token, {"serial": serial, "station": "T-FCT",
                                                   "outcome": "pass"})[0] == 201
    page.reload()
    page.locator("#sign-badge").type(QA_BADGE)
    page.locator("#sign-pin").type(PIN)
    page.get_by_role("button", name="Sign", exact=True).click()
    expect(box).to_have_attribute("data-valid", "true")
    assert signatures(station) == 2
    assert post_json(url, "/api/v1/tests", token, {"serial": station["serials"][1],
                                                   "station": "T-FCT", "outcome": "pass"}
                     )[0] == 201
    page.reload()
    expect(box).to_have_attribute("data-valid", "false")
    expect(box).to_contain_text("VOID")
    assert signatures(station) == 2, "a reload must not sign results QA has not seen"
