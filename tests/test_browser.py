"""The station screen in a real Chromium, against the real station served by waitress.

The operator signs in and scans exactly as a keyboard-wedge scanner does: keystrokes into
whatever has focus, then Enter, never a click. CSRF is on, as in production, so the token the
page sends from hx-headers is checked too.
"""

from urllib.parse import parse_qs

import pytest
from conftest import build_line, make_app, serving
from playwright.sync_api import Page, expect
from sqlmodel import Session

pytestmark = pytest.mark.browser

OPERATOR_BADGE, PIN = "10001", "1234"  # people.ROLES[0] is operator: badge 1000 + 1
BOARDS = 20

# Calls the real Web Audio API but notes each tone, so a test can tell which sound played.
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
    """The station under waitress on a free loopback port, over a fresh SQLite file."""
    app = make_app(tmp_path_factory.mktemp("browser"), WTF_CSRF_ENABLED=True)
    with Session(app.extensions["engine"], expire_on_commit=False) as session:
        line = build_line(session, boards=BOARDS, tokens=False)
    with serving(app) as url:
        yield {"url": url, "serials": list(line.serials)}
    app.extensions["engine"].dispose()


@pytest.fixture(scope="module")
def serials(station):
    """Fresh board serials, handed out one by one so each test has boards nobody scanned."""
    return iter(station["serials"])


@pytest.fixture
def dialogs(page: Page):
    """Every alert/confirm/prompt the page opens (a script that ran), dismissed."""
    seen = []

    def note(dialog):
        seen.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", note)
    return seen


@pytest.fixture
def posts(page: Page):
    """The form fields of every scan the page sent to the station, in order."""
    sent = []

    def note(request):
        if request.method == "POST" and request.url.endswith("/scan"):
            sent.append({k: v[0] for k, v in parse_qs(request.post_data or "").items()})

    page.on("request", note)
    return sent


def scanner_types(page: Page, text: str, suffix: str = "Enter") -> None:
    """A keyboard-wedge scanner: keystrokes into the focused field, then its suffix key."""
    page.keyboard.type(text)
    page.keyboard.press(suffix)


def sign_in(page: Page, url: str, station_id: str) -> None:
    """Open a station screen, sign in at the login page by badge scan and PIN, land back."""
    page.goto(f"{url}/station/{station_id}")
    expect(page).to_have_url(f"{url}/login?next=/station/{station_id}?")
    expect(page.locator("#badge")).to_be_focused()
    scanner_types(page, OPERATOR_BADGE, "Tab")  # badge scanners end with Tab: on to the PIN
    expect(page.locator("#pin")).to_be_focused()
    scanner_types(page, PIN)
    expect(page).to_have_url(f"{url}/station/{station_id}")
    page.wait_for_load_state("domcontentloaded")  # the screen's scripts ran: keys go to them


@pytest.fixture
def operator(page: Page, station):
    """A page signed in as the operator, at the PRINT station, with a tone spy installed."""
    page.set_default_timeout(5000)
    page.add_init_script(TONE_SPY)
    sign_in(page, station["url"], "T-PRINT")
    return page


def scan(page: Page, code: str):
    """Scan a code into the station screen and wait until the result panel is replaced."""
    box = page.locator("#code")
    expect(box).to_be_focused()  # the scanner types wherever focus is: it must be here
    page.locator("#result").evaluate("el => { el.dataset.stale = '1'; }")
    scanner_types(page, code)
    result = page.locator("#result:not([data-stale])")
    expect(result).to_be_visible()
    return result


def shift_count(page: Page) -> int:
    return int(page.locator("#shift strong").inner_text())


def tones(page: Page) -> list:
    return page.evaluate("window.__tones.splice(0)")


def test_operator_signs_in_by_badge_scan_and_lands_on_the_station(operator, station):
    expect(operator.locator(".station-id")).to_contain_text("T-PRINT")
    expect(operator.locator(".who")).to_contain_text("operator")
    expect(operator.locator("#result")).to_have_attribute("data-outcome", "info")
    expect(operator.locator("#code")).to_be_focused()


def test_wedge_scan_is_accepted_green_and_the_box_is_ready_again(operator, serials):
    serial = next(serials)
    before = shift_count(operator)

    result = scan(operator, serial)

    expect(result).to_have_attribute("data-outcome", "accepted")
    expect(result).to_have_class("result accepted")
    expect(result.locator(".headline")).to_contain_text(serial)
    expect(result.locator(".next")).to_contain_text("SPI")
    box = operator.locator("#code")
    expect(box).to_have_value("")
    expect(box).to_be_focused()
    expect(operator.locator("#shift strong")).to_have_text(str(before + 1))
    latest = operator.locator("#recent li").first
    expect(latest).to_contain_text(serial)
    expect(latest).to_contain_text("PRINT")
    assert tones(operator) == [["sine", 880]]


def test_same_board_again_is_a_yellow_already_done(operator, serials):
    serial = next(serials)
    expect(scan(operator, serial)).to_have_attribute("data-outcome", "accepted")
    count = shift_count(operator)
    tones(operator)

    result = scan(operator, serial)

    expect(result).to_have_attribute("data-outcome", "warning")
    expect(result.locator(".code")).to_have_text("ALREADY_DONE")
    expect(result).to_contain_text(serial)
    expect(result.locator(".next")).to_contain_text("SPI")
    expect(operator.locator("#shift strong")).to_have_text(str(count))  # nothing new counted
    expect(operator.locator("#code")).to_be_focused()
    assert tones(operator) == [["sine", 660], ["sine", 660]]


def test_board_out_of_sequence_is_red_and_names_the_step_it_needs(operator, station, serials):
    printed, fresh = next(serials), next(serials)
    expect(scan(operator, printed)).to_have_attribute("data-outcome", "accepted")
    operator.goto(f"{station['url']}/station/T-AOI")
    expect(operator.locator(".station-id")).to_contain_text("T-AOI")
    count = shift_count(operator)

    result = scan(operator, printed)
    expect(result).to_have_attribute("data-outcome", "refused")
    expect(result.locator(".code")).to_have_text("OUT_OF_SEQUENCE")
    expect(result.locator(".headline")).to_contain_text("SPI")
    expect(result.locator(".next")).to_contain_text("Take the board to SPI")

    result = scan(operator, fresh)
    expect(result).to_have_attribute("data-outcome", "refused")
    expect(result.locator(".next")).to_contain_text("Take the board to PRINT")
    expect(operator.locator("#shift strong")).to_have_text(str(count))
    expect(operator.locator("#code")).to_have_value("")
    expect(operator.locator("#code")).to_be_focused()
    assert [t[0] for t in tones(operator)][-4:] == ["square"] * 4


def test_unknown_board_is_red(operator):
    result = scan(operator, "NOSUCH-0001")
    expect(result).to_have_attribute("data-outcome", "refused")
    expect(result).to_have_class("result refused")
    expect(result.locator(".code")).to_have_text("UNKNOWN_BOARD")
    expect(result.locator(".headline")).to_contain_text("NOSUCH-0001")
    expect(operator.locator("#code")).to_be_focused()


def test_garbage_with_a_script_tag_is_red_invalid_code_and_runs_nothing(operator, dialogs):
    garbage = '<script>alert("pwned")</script>'
    count = shift_count(operator)

    result = scan(operator, garbage)

    expect(result).to_have_attribute("data-outcome", "refused")
    expect(result.locator(".code")).to_have_text("INVALID_CODE")
    expect(result.locator(".detail")).to_contain_text(garbage)  # shown as text, not markup
    assert operator.locator("#result script").count() == 0
    assert dialogs == []
    expect(operator.locator("#shift strong")).to_have_text(str(count))
    expect(operator.locator("#code")).to_be_focused()


def test_last_scans_list_shows_the_newest_three(operator, serials):
    boards = [next(serials) for _ in range(4)]
    for serial in boards:
        expect(scan(operator, serial)).to_have_attribute("data-outcome", "accepted")

    items = operator.locator("#recent li")
    expect(items).to_have_count(3)
    for item, serial in zip(items.all(), reversed(boards[1:]), strict=True):
        expect(item).to_contain_text(serial)

    operator.reload()  # the list is the station's, not the page's
    expect(operator.locator("#recent li").first).to_contain_text(boards[-1])


def test_focus_comes_back_to_the_scan_box_after_a_click_elsewhere(operator, serials):
    operator.locator(".shift").click()
    expect(operator.locator("#code")).to_be_focused()
    operator.locator("#code").evaluate("el => el.blur()")
    expect(operator.locator("#code")).to_be_focused()
    expect(scan(operator, next(serials))).to_have_attribute("data-outcome", "accepted")


def test_scans_in_quick_succession_are_each_recorded_as_scanned(operator, serials, posts):
    boards = [next(serials) for _ in range(3)]
    count = shift_count(operator)

    for serial in boards:  # the next label is read while the last answer is still on its way
        scanner_types(operator, serial)

    expect(operator.locator("#shift strong")).to_have_text(str(count + 3))
    items = operator.locator("#recent li")
    for item, serial in zip(items.all(), reversed(boards), strict=True):
        expect(item).to_contain_text(serial)
    expect(operator.locator("#result")).to_have_attribute("data-outcome", "accepted")
    expect(operator.locator("#result .headline")).to_contain_text(boards[-1])
    expect(operator.locator("#code")).to_have_value("")
    expect(operator.locator("#code")).to_be_focused()
    assert [p["code"] for p in posts] == boards  # each label alone, in the order scanned
    assert len({p["scan_id"] for p in posts}) == 3  # each scan has its own id


def test_an_empty_enter_is_not_a_scan(operator, posts):
    operator.keyboard.press("Enter")
    scanner_types(operator, "   ")
    result = scan(operator, "NOSUCH-0002")  # scans go in order: an empty one would go first

    expect(result.locator(".code")).to_have_text("UNKNOWN_BOARD")
    assert [p["code"] for p in posts] == ["NOSUCH-0002"]
