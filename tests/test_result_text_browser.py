"""The operator's screens in a real Chromium: the result breaks lines between words only, a
badge scanned into the sign-in box moves on to the PIN, NOT_READY lists its red items."""

import pytest
from conftest import build_line, make_app, serving
from playwright.sync_api import Page, expect
from sqlmodel import Session
from test_browser import OPERATOR_BADGE, PIN, scan, scanner_types, sign_in

from station import masterdata

pytestmark = pytest.mark.browser

RED_ORDER = "WO-RED"  # an order whose readiness is all red: its boards are NOT_READY

# Every whitespace-separated word of the element's text: how many lines its boxes sit on,
# and how many lines the whole text takes.
WORD_LINES = """el => {
  const lines = (range) => new Set(Array.from(range.getClientRects())
    .filter((r) => r.width > 0).map((r) => Math.round(r.top))).size;
  const words = [], walker = document.createTreeWalker(el, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    for (const m of node.data.matchAll(/\\S+/g)) {
      const range = document.createRange();
      range.setStart(node, m.index);
      range.setEnd(node, m.index + m[0].length);
      words.push([m[0], lines(range)]);
    }
  }
  const all = document.createRange();
  all.selectNodeContents(el);
  return {words, lines: lines(all)};
}"""


@pytest.fixture(scope="module")
def station(tmp_path_factory):
    """The station under waitress, with a ready order (WO-1) and a red one (WO-RED)."""
    app = make_app(tmp_path_factory.mktemp("result-text"), WTF_CSRF_ENABLED=True)
    with Session(app.extensions["engine"], expire_on_commit=False) as session:
        line = build_line(session, boards=4, tokens=False)
        admin = line.users["admin"]
        masterdata.create_order(session, admin, RED_ORDER, "CUST", "PCB", "A", 2, "2.50")
        red = masterdata.add_boards(session, admin, RED_ORDER, count=2)
    with serving(app) as url:
        yield {"url": url, "serials": line.serials, "red": red}
    app.extensions["engine"].dispose()


@pytest.fixture
def operator(page: Page, station):
    page.set_default_timeout(5000)
    sign_in(page, station["url"], "T-PRINT")
    return page


@pytest.mark.parametrize("width", [420, 640, 900])
def test_the_result_breaks_lines_between_words_never_inside_one(operator, station, width):
    operator.set_viewport_size({"width": width, "height": 900})
    operator.goto(f"{station['url']}/station/T-AOI")  # OUT_OF_SEQUENCE, and NOT_READY
    for code in (station["serials"][0], station["red"][0]):
        result = scan(operator, code)
        expect(result).to_have_attribute("data-outcome", "refused")
        for part in (".headline", ".next", ".detail"):
            shown = result.locator(part).first.evaluate(WORD_LINES)
            split = [w for w, n in shown["words"] if n > 1]
            assert split == [], (width, part, shown)
        assert result.locator(".headline").first.evaluate(WORD_LINES)["lines"] > 1  # it wraps


def test_a_serial_longer_than_the_line_still_wraps_inside_the_box(operator, station):
    operator.set_viewport_size({"width": 420, "height": 900})
    result = scan(operator, "X" * 60)  # one word wider than the screen: it alone may break
    box = result.bounding_box()
    for part in result.locator(".headline, .detail").all():
        assert part.evaluate("el => el.scrollWidth <= el.clientWidth"), part.inner_text()
        inner = part.bounding_box()
        assert inner["x"] + inner["width"] <= box["x"] + box["width"] + 1


def test_enter_after_a_badge_moves_to_the_pin_box_instead_of_signing_in(page: Page, station):
    page.set_default_timeout(5000)
    page.goto(f"{station['url']}/station/T-PRINT")
    expect(page.locator("#badge")).to_be_focused()
    scanner_types(page, OPERATOR_BADGE, "Enter")  # a badge scanner that ends with Enter
    expect(page.locator("#pin")).to_be_focused()
    assert "/login" in page.url and page.locator(".notice.refused, .error").count() == 0
    expect(page.locator("#badge")).to_have_value(OPERATOR_BADGE)
    scanner_types(page, PIN)  # Enter in the PIN box signs in as ever
    expect(page).to_have_url(f"{station['url']}/station/T-PRINT")
    page.wait_for_load_state("domcontentloaded")  # the screen's scripts ran: keys go to them


def test_enter_in_an_empty_badge_box_sends_nothing(page: Page, station):
    page.set_default_timeout(5000)
    page.goto(f"{station['url']}/login")
    posts = []
    page.on("request", lambda r: posts.append(r.url) if r.method == "POST" else None)
    page.locator("#badge").press("Enter")
    page.wait_for_timeout(300)
    assert posts == []
    expect(page.locator("#badge")).to_be_focused()


def test_not_ready_lists_its_red_items_one_per_line(operator, station):
    listed = scan(operator, station["red"][1])
    expect(listed).to_have_attribute("data-outcome", "refused")
    expect(listed.locator(".headline")).to_have_text(f"✖ Order {RED_ORDER} is not ready:")
    items = listed.locator(".reasons li").all_inner_texts()
    assert len(items) >= 2  # the red order: no stencil mounted, no PCB lot allocated
    assert all(item.endswith(".") and ", " not in item for item in items)  # one sentence each
    tops = [li.bounding_box()["y"] for li in listed.locator(".reasons li").all()]
    assert tops == sorted(tops) and len(set(tops)) == len(tops)  # one to a line
    expect(listed.locator(".code")).to_have_text("NOT_READY")
