"""The HTML screens through the Flask test client: sign-in, the station screen, pages, CSRF."""

import itertools
import re
import time
from html.parser import HTMLParser

import pytest
from conftest import PEPPER, Line, build_line, make_app, make_ready
from sqlmodel import Session, func, select

from station import masterdata, people
from station.models import BoardStep, Customer, Event, Product, Station

_numbers = itertools.count(1)
HX = {"HX-Request": "true"}


class Elements(HTMLParser):
    """Every start tag of a page with its attributes, and the text inside elements with an id."""

    def __init__(self, html: str):
        super().__init__()
        self.tags: list[tuple[str, dict]] = []
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def find(self, tag=None, **attrs) -> list[dict]:
        """The attributes of each element of this tag having these attribute values."""
        return [a for t, a in self.tags if (tag is None or t == tag)
                and all(a.get(k.rstrip("_").replace("_", "-")) == v for k, v in attrs.items())]


# One app and one line for the module (hashing PINs and passwords is slow on purpose);
# each test signs in with its own client and opens its own order.
@pytest.fixture(scope="module")
def app(tmp_path_factory):
    return make_app(tmp_path_factory.mktemp("web"))


@pytest.fixture(scope="module")
def line(app):
    with Session(app.extensions["engine"], expire_on_commit=False) as s:
        return build_line(s, boards=2, tokens=False)


@pytest.fixture
def new_order(app, line):
    """A fresh order of the line's product with boards."""
    def make(boards=2):
        number = f"W{next(_numbers)}"
        with Session(app.extensions["engine"], expire_on_commit=False) as s:
            masterdata.create_order(s, line.users["admin"], number, "CUST", "PCB", "A", boards,
                                    "1.00")
            serials = masterdata.add_boards(s, line.users["admin"], number, count=boards)
            make_ready(s, line, number)
            return number, serials
    return make


@pytest.fixture
def new_user(app):
    """A fresh floor user with a badge and PIN 1234 (so lockouts and logouts stay local)."""
    def make(role="operator", language=None):
        n = next(_numbers)
        with Session(app.extensions["engine"], expire_on_commit=False) as s:
            return people.create_user(s, f"user{n}", role, pepper=PEPPER, badge=f"2000{n}",
                                      pin="1234", full_name=f"Person {n}", language=language)
    return make


BADGES = {"operator": "10001", "qa": "10002", "supervisor": "10004"}


def sign_in(client, role="operator", badge=None, next_=None):
    """Sign in with a badge and PIN 1234, or (office roles) name and password."""
    data = ({"name": role, "password": f"{role}-pw"} if badge is None and role not in BADGES
            else {"badge": badge or BADGES[role], "pin": "1234"})
    if next_ is not None:
        data["next"] = next_
    r = client.post("/login", data=data)
    assert r.status_code == 302, r.get_data(as_text=True)
    return r


def stored(app) -> tuple[int, int]:
    with Session(app.extensions["engine"]) as s:
        return tuple(s.exec(select(func.count()).select_from(m)).one() for m in (Event, BoardStep))


def scan(client, code, station="T-PRINT"):
    r = client.post(f"/station/{station}/scan", data={"code": code}, headers=HX)
    assert r.status_code == 200
    return r.get_data(as_text=True)


def outcome(html) -> str:
    (result,) = Elements(html).find("section", id="result")
    return result["data-outcome"]


def shift_count(html) -> int:
    return int(re.search(r'id="shift"[^>]*>[^<]*<strong>(\d+)</strong>', html).group(1))


# --- signing in and out ------------------------------------------------------------------


def test_login_page_offers_badge_and_password(client):
    r = client.get("/login")
    assert r.status_code == 200
    page = Elements(r.get_data(as_text=True))
    assert page.find("input", name="badge") and page.find("input", name="pin", type="password")
    assert page.find("input", name="name") and page.find("input", name="password")
    assert "autofocus" in page.find("input", name="badge")[0]


def test_badge_and_pin_sign_in(app, line):
    client = app.test_client()
    r = sign_in(client, "operator", next_="/station/T-PRINT")
    assert r.headers["Location"] == "/station/T-PRINT"
    page = client.get("/station/T-PRINT")
    assert page.status_code == 200 and "Operator One" in page.get_data(as_text=True)


@pytest.mark.parametrize("role", ["admin", "finance", "qa"])
def test_name_and_password_sign_in(app, line, role):
    client = app.test_client()
    r = client.post("/login", data={"name": role, "password": f"{role}-pw"})
    assert r.status_code == 302 and r.headers["Location"] == "/"
    assert f"{role.title()} One" in client.get("/orders").get_data(as_text=True)


@pytest.mark.parametrize("data", [
    {"name": "admin", "password": "wrong"}, {"name": "nobody", "password": "x"},
    {"badge": "99999", "pin": "1234"}, {}])
def test_bad_credentials_are_401(app, line, data):
    client = app.test_client()
    r = client.post("/login", data=data)
    assert r.status_code == 401
    assert "BAD_CREDENTIALS" in r.get_data(as_text=True)
    assert client.get("/station/T-PRINT").status_code == 302


def test_wrong_pins_lock_the_badge_until_a_supervisor_unlocks_it(app, line, new_user):
    user = new_user()
    client = app.test_client()
    for _ in range(4):
        r = client.post("/login", data={"badge": user.badge, "pin": "9999"})
        assert r.status_code == 401 and "BAD_CREDENTIALS" in r.get_data(as_text=True)
    r = client.post("/login", data={"badge": user.badge, "pin": "9999"})
    assert r.status_code == 401 and "BADGE_LOCKED" in r.get_data(as_text=True)
    r = client.post("/login", data={"badge": user.badge, "pin": "1234"})
    assert r.status_code == 401 and "BADGE_LOCKED" in r.get_data(as_text=True)
    assert client.get("/station/T-PRINT").status_code == 302

    operator = app.test_client()
    sign_in(operator, "operator")
    assert operator.post("/admin/people", data={"name": user.name}).status_code == 403
    assert client.post("/login", data={"badge": user.badge, "pin": "1234"}).status_code == 401

    supervisor = app.test_client()
    sign_in(supervisor, "supervisor")
    listing = supervisor.get("/admin/people").get_data(as_text=True)
    assert user.full_name in listing and "Unlock" in listing
    assert supervisor.post("/admin/people", data={"name": user.name}).status_code == 302
    sign_in(client, badge=user.badge)
    assert client.get("/station/T-PRINT").status_code == 200


def test_a_right_pin_resets_the_count_of_wrong_ones(app, line, new_user):
    user = new_user()
    client = app.test_client()
    for _ in range(3):
        assert client.post("/login", data={"badge": user.badge, "pin": "0000"}).status_code == 401
    sign_in(client, badge=user.badge)
    for _ in range(3):
        assert client.post("/login", data={"badge": user.badge, "pin": "0000"}).status_code == 401
    sign_in(client, badge=user.badge)


def test_logout_ends_the_session_and_its_copies(app, line, new_user):
    user = new_user()
    client = app.test_client()
    sign_in(client, badge=user.badge)
    assert client.get("/station/T-PRINT").status_code == 200
    old_cookie = client.get_cookie("session").value
    r = client.post("/logout")
    assert r.status_code == 302 and r.headers["Location"] == "/login"
    assert client.get("/station/T-PRINT").status_code == 302
    thief = app.test_client()
    thief.set_cookie("session", old_cookie)
    r = thief.get("/station/T-PRINT")
    assert r.status_code == 302 and r.headers["Location"].startswith("/login")


def test_an_idle_session_ends(app, line, new_user):
    user = new_user()
    client = app.test_client()
    sign_in(client, badge=user.badge)
    assert client.get("/station/T-PRINT").status_code == 200
    idle = app.config["SETTINGS"].security.idle_minutes * 60
    with client.session_transaction() as s:
        s["seen"] = int(time.time()) - idle + 60
    assert client.get("/station/T-PRINT").status_code == 200  # still within the limit
    with client.session_transaction() as s:
        s["seen"] = int(time.time()) - idle - 5
    r = client.get("/station/T-PRINT")
    assert r.status_code == 302 and r.headers["Location"].startswith("/login")
    assert client.get("/station/T-PRINT").status_code == 302


@pytest.mark.parametrize("target", [
    "//evil.example", "//evil.example/station/T-PRINT", "https://evil.example/",
    "/\\evil.example", "\\\\evil.example", "/\t/evil.example", "javascript:alert(1)", ""])
def test_sign_in_never_redirects_off_site(app, line, target):
    client = app.test_client()
    page = client.get("/login", query_string={"next": target}).get_data(as_text=True)
    assert Elements(page).find("input", name="next")  # the form carries it on
    r = sign_in(client, "operator", next_=target)
    assert r.headers["Location"] == "/"


def test_sign_in_follows_a_local_next(app, line):
    r = sign_in(app.test_client(), "operator", next_="/orders/WO-1?x=1")
    assert r.headers["Location"] == "/orders/WO-1?x=1"


# --- the station screen ------------------------------------------------------------------


def test_the_station_screen_needs_a_signed_in_floor_role(app, line):
    r = app.test_client().get("/station/T-PRINT")
    assert r.status_code == 302
    assert r.headers["Location"].startswith("/login?next=")
    assert "station/T-PRINT" in r.headers["Location"]
    for role in ("admin", "finance"):
        client = app.test_client()
        sign_in(client, role)
        r = client.get("/station/T-PRINT")
        assert r.status_code == 403 and "FORBIDDEN" in r.get_data(as_text=True)
        r = client.post("/station/T-PRINT/scan", data={"code": line.serials[0]}, headers=HX)
        assert r.status_code == 200  # htmx swaps only 2xx: the refusal comes as a fragment
        assert "FORBIDDEN" in r.get_data(as_text=True)


def test_the_station_screen_has_the_scan_box_with_focus(app, line):
    client = app.test_client()
    sign_in(client)
    r = client.get("/station/T-PRINT")
    assert r.status_code == 200
    page = Elements(r.get_data(as_text=True))
    (box,) = page.find("input", name="code")
    assert "autofocus" in box
    (form,) = page.find("form", id="scan")
    assert "/station/T-PRINT/scan" in (form.get("hx-post"), form.get("action"))
    assert page.find("section", id="result") and page.find("div", id="shift")
    assert page.find("ol", id="recent")


def test_an_unknown_station_screen_is_404(app, line):
    client = app.test_client()
    sign_in(client)
    r = client.get("/station/T-NOWHERE")
    assert r.status_code == 404 and "UNKNOWN_STATION" in r.get_data(as_text=True)


def test_a_scan_on_the_screen_is_accepted_with_next_step_count_and_recent(app, line, new_order):
    _, (serial, _) = new_order()
    client = app.test_client()
    sign_in(client)
    before = shift_count(client.get("/station/T-PRINT").get_data(as_text=True))
    html = scan(client, serial)
    assert outcome(html) == "accepted"
    assert serial in html and "Next: SPI" in html
    page = Elements(html)
    assert page.find("div", id="shift", hx_swap_oob="true")
    assert page.find("ol", id="recent", hx_swap_oob="true")
    assert shift_count(html) == before + 1
    recent = re.search(r'<ol id="recent".*?</ol>', html, re.S).group(0)
    assert serial in recent and "PRINT" in recent
    html = scan(client, serial, "T-SPI")
    assert outcome(html) == "accepted" and "Next: PLACE" in html


def test_out_of_sequence_is_refused_with_the_reason(app, line, new_order):
    _, (serial, _) = new_order()
    client = app.test_client()
    sign_in(client)
    before = stored(app)
    html = scan(client, serial, "T-AOI")
    assert outcome(html) == "refused"
    assert "OUT_OF_SEQUENCE" in html and "PRINT" in html
    assert stored(app) == before


def test_a_repeated_scan_is_a_warning(app, line, new_order):
    _, (serial, _) = new_order()
    client = app.test_client()
    sign_in(client)
    first = scan(client, serial)
    assert outcome(first) == "accepted"
    before = stored(app)
    html = scan(client, serial)
    assert outcome(html) == "warning"
    assert "ALREADY_DONE" in html and "SPI" in html
    assert shift_count(html) == shift_count(first)
    assert stored(app) == before


def test_an_unknown_board_is_refused_on_the_screen(app, line):
    client = app.test_client()
    sign_in(client)
    html = scan(client, "NO-SUCH-BOARD")
    assert outcome(html) == "refused" and "UNKNOWN_BOARD" in html


SCREEN_BAD_CODES = [
    pytest.param("<script>alert(1)</script>", id="script"),
    pytest.param('"><img src=x onerror=alert(1)>', id="attr-break"),
    pytest.param("WO\x00-1", id="nul"),
    pytest.param("WO-1\x07\x1b[2J", id="control"),
    pytest.param("\u202eWO-1-00001", id="bidi-override"),
    pytest.param("WO-1' OR '1'='1", id="sql"),
    pytest.param("<script>" + "A" * 10240, id="10kB"),
    pytest.param("", id="empty"),
]


@pytest.mark.parametrize("code", SCREEN_BAD_CODES)
def test_bad_input_on_the_screen_is_refused_escaped_and_not_stored(app, line, new_order, code):
    _, (serial, _) = new_order()
    client = app.test_client()
    sign_in(client)
    before = stored(app)
    html = scan(client, code)
    assert outcome(html) == "refused" and "INVALID_CODE" in html
    assert "<script" not in html.lower() and "<img" not in html.lower()
    assert not any(ch in html for ch in "\x00\x07\x1b\u202e")
    assert len(html) < 5000  # the 10 kB scan is not echoed whole
    assert stored(app) == before
    assert outcome(scan(client, serial)) == "accepted"


def test_the_board_page_shows_its_history(app, line, new_order):
    _, (serial, _) = new_order()
    client = app.test_client()
    sign_in(client)
    scan(client, serial)
    scan(client, serial, "T-SPI")
    r = client.get(f"/boards/{serial}")
    assert r.status_code == 200
    html = r.get_data(as_text=True)
    rows = re.findall(r"<tr><td>.*?</tr>", html, re.S)
    passed = [row for row in rows if "board.step_passed" in row]
    assert len(passed) == 2
    assert "T-PRINT" in passed[0] and "T-SPI" in passed[1]
    assert all("operator" in row for row in passed)
    assert Elements(html).find("li", class_="next")  # where it stands on its route
    r = client.get("/boards/NO-SUCH-BOARD")
    assert r.status_code == 404 and "UNKNOWN_BOARD" in r.get_data(as_text=True)
    assert app.test_client().get(f"/boards/{serial}").status_code == 302


def test_the_order_page_counts_boards_per_step(app, line, new_order):
    number, (a, b) = new_order()
    client = app.test_client()
    sign_in(client)
    for serial in (a, b):
        scan(client, serial)
    scan(client, a, "T-SPI")
    r = client.get(f"/orders/{number}")
    assert r.status_code == 200
    html = r.get_data(as_text=True)
    table = re.search(r'<table class="steps">.*?</table>', html, re.S).group(0)
    steps = re.findall(r"<th>(\w+)</th>", table)
    counts = re.findall(r"<td>(\d+) / 2</td>", table)
    assert dict(zip(steps, map(int, counts), strict=True)) == {
        "PRINT": 2, "SPI": 1, "PLACE": 0, "REFLOW": 0, "AOI": 0, "FCT": 0, "QA": 0, "PACK": 0}
    assert a in html and b in html and "NOT_ALL_PASSED" in html
    r = client.get("/orders/NO-SUCH")
    assert r.status_code == 404 and "NOT_FOUND" in r.get_data(as_text=True)


# --- the admin page ----------------------------------------------------------------------


def test_an_admin_creates_master_data_on_the_page(app, line):
    client = app.test_client()
    sign_in(client, "admin")
    assert client.get("/admin/").status_code == 200
    for form in ({"kind": "customer", "code": "WEBC", "name": "Web Customer", "terms": "prepaid"},
                 {"kind": "product", "code": "WEBP", "revision": "1",
                  "route": "print, spi place AOI FCT pack"},
                 {"kind": "station", "id": "W-AOI-1", "type": "aoi", "line": "W"}):
        r = client.post("/admin/", data=form)
        assert r.status_code == 302 and r.headers["Location"] == "/admin/"
    html = client.get("/admin/").get_data(as_text=True)
    assert "Web Customer" in html and "W-AOI-1" in html
    with Session(app.extensions["engine"]) as s:
        assert s.exec(select(Customer).where(Customer.code == "WEBC")).one().name == \
            "Web Customer"
        product = s.exec(select(Product).where(Product.code == "WEBP")).one()
        assert product.route == ["PRINT", "SPI", "PLACE", "AOI", "FCT", "PACK"]
        assert s.get(Station, "W-AOI-1").type == "AOI"


def test_the_admin_page_refuses_a_route_without_fct(app, line):
    client = app.test_client()
    sign_in(client, "admin")
    before = stored(app)
    r = client.post("/admin/", data={"kind": "product", "code": "NOFCT", "revision": "1",
                                     "route": "PRINT AOI PACK"})
    assert r.status_code == 400 and "INVALID_INPUT" in r.get_data(as_text=True)
    assert stored(app) == before


@pytest.mark.parametrize("role", ["operator", "qa", "supervisor", "finance"])
def test_the_admin_page_is_403_for_other_roles(app, line, role):
    client = app.test_client()
    sign_in(client, role)
    assert client.get("/admin/").status_code == 403
    before = stored(app)
    r = client.post("/admin/", data={"kind": "customer", "code": f"NO{role}", "name": "No"})
    assert r.status_code == 403 and "FORBIDDEN" in r.get_data(as_text=True)
    assert stored(app) == before


# --- CSRF and language -------------------------------------------------------------------


def csrf_token(html: str) -> str:
    return Elements(html).find("input", name="csrf_token")[0]["value"]


@pytest.fixture
def csrf_app(tmp_path):
    app = make_app(tmp_path, WTF_CSRF_ENABLED=True)
    with Session(app.extensions["engine"], expire_on_commit=False) as s:
        admin = people.create_user(s, "boss", "admin", pepper=PEPPER, password="boss-pw")
        op = people.create_user(s, "op", "operator", pepper=PEPPER, badge="30001", pin="1234")
        masterdata.create_station(s, None, "C-PRINT", "PRINT", "C")
        masterdata.create_customer(s, admin, "CC", "CSRF Customer")
        masterdata.create_product(s, admin, "CP", "A", ["PRINT", "FCT"])
        masterdata.create_order(s, admin, "CO", "CC", "CP", "A", 1, "1.00")
        masterdata.add_boards(s, admin, "CO", serials=["CO-00001"])
        make_ready(s, Line(users={"admin": admin, "operator": op}), "CO")
    return app


def test_csrf_refuses_a_form_without_its_token(csrf_app):
    client = csrf_app.test_client()
    assert client.post("/login", data={"name": "boss", "password": "boss-pw"}).status_code == 400
    token = csrf_token(client.get("/login").get_data(as_text=True))
    r = client.post("/login", data={"name": "boss", "password": "boss-pw", "csrf_token": token})
    assert r.status_code == 302
    before = stored(csrf_app)
    form = {"kind": "customer", "code": "FORGED", "name": "Forged"}
    assert client.post("/admin/", data=form).status_code == 400
    assert client.post("/admin/", data={**form, "csrf_token": "garbage"}).status_code == 400
    assert stored(csrf_app) == before
    token = csrf_token(client.get("/admin/").get_data(as_text=True))
    assert client.post("/admin/", data={**form, "csrf_token": token}).status_code == 302
    form = {"kind": "customer", "code": "BYHEADER", "name": "By header"}
    assert client.post("/admin/", data=form, headers={"X-CSRFToken": token}).status_code == 302
    with Session(csrf_app.extensions["engine"]) as s:
        assert {c.code for c in s.exec(select(Customer))} == {"CC", "FORGED", "BYHEADER"}


def test_csrf_on_the_scan_box_takes_the_htmx_header(csrf_app):
    client = csrf_app.test_client()
    token = csrf_token(client.get("/login").get_data(as_text=True))
    client.post("/login", data={"badge": "30001", "pin": "1234", "csrf_token": token})
    page = client.get("/station/C-PRINT").get_data(as_text=True)
    (body,) = Elements(page).find("body")
    header_token = re.search(r'"X-CSRFToken": "([^"]+)"', body["hx-headers"]).group(1)
    r = client.post("/station/C-PRINT/scan", data={"code": "CO-00001"}, headers=HX)
    assert r.status_code == 400
    assert stored(csrf_app)[1] == 0
    r = client.post("/station/C-PRINT/scan", data={"code": "CO-00001"},
                    headers={**HX, "X-CSRFToken": header_token})
    assert r.status_code == 200 and outcome(r.get_data(as_text=True)) == "accepted"


def test_the_api_needs_no_csrf_token(csrf_app):
    with Session(csrf_app.extensions["engine"]) as s:
        token = people.create_token(s, "op")
    r = csrf_app.test_client().post("/api/v1/scans", json={"station": "C-PRINT",
                                                          "code": "CO-00001"},
                                    headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 201


def test_a_chinese_speaking_user_gets_a_chinese_page(app, line, new_user):
    user = new_user(language="zh_CN")
    client = app.test_client()
    sign_in(client, badge=user.badge)
    (html,) = Elements(client.get("/station/T-PRINT").get_data(as_text=True)).find("html")
    assert html["lang"].replace("-", "_") == "zh_CN"  # zh-CN is the BCP 47 spelling
    other = app.test_client()
    sign_in(other)
    (html,) = Elements(other.get("/station/T-PRINT").get_data(as_text=True)).find("html")
    assert html["lang"] == "en"


def test_a_scan_sent_before_the_screens_scripts_ran_is_taken_with_the_forms_token(csrf_app):
    # A scanner firing as the page loads submits the form itself, without htmx: the scan is
    # taken and the whole screen comes back with its result, not a CSRF error page.
    client = csrf_app.test_client()
    token = csrf_token(client.get("/login").get_data(as_text=True))
    client.post("/login", data={"badge": "30001", "pin": "1234", "csrf_token": token})
    page = client.get("/station/C-PRINT").get_data(as_text=True)
    form = page[page.index('<form id="scan"'):]
    form = form[:form.index("</form>")]  # the scan form carries its own token
    r = client.post("/station/C-PRINT/scan", data={"code": "CO-00001",
                                                   "csrf_token": csrf_token(form)})
    html = r.get_data(as_text=True)
    assert r.status_code == 200 and "<html" in html and 'data-outcome="accepted"' in html
    with Session(csrf_app.extensions["engine"]) as s:
        assert s.exec(select(func.count()).select_from(BoardStep)).one() == 1
