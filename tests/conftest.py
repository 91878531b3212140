"""Shared fixtures: an app on a real database file, a client, API helpers and a small line."""

import os
import shutil
import threading
import uuid
from contextlib import contextmanager
from dataclasses import dataclass, field

import pytest
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from sqlalchemy import create_engine, text
from sqlmodel import Session, select
from waitress import wasyncore
from waitress.server import create_server

from station import config, create_app, demo, masterdata, people
from station.i18n import missing_catalogues
from station.models import Board, User

PEPPER = "test-pepper"


def pytest_sessionstart(session):
    """The catalogues compiled as `make install` compiles them, so pytest alone shows Chinese."""
    for po in missing_catalogues():
        with po.open("rb") as f:
            catalogue = read_po(f, locale=po.parent.parent.name)
        with po.with_suffix(".mo").open("wb") as f:
            write_mo(f, catalogue)
# scrypt costs ~0.15 s a hash; the tests make hundreds of users, so they hash cheaply.
people.HASH_METHOD = "pbkdf2:sha256:1000"
ROUTE = ["PRINT", "SPI", "PLACE", "REFLOW", "AOI", "FCT", "QA", "PACK"]
CHROMIUM = "/usr/bin/chromium"


def make_app(tmp_path, database_url=None, **overrides):
    """The station app on a fresh SQLite file (or the given database), CSRF off unless asked."""
    config = {"TESTING": True, "INSTANCE_PATH": str(tmp_path / "instance"),
              "DATABASE_URL": database_url or f"sqlite:///{tmp_path / 'station.db'}",
              "SECRET_KEY": "test-secret", "PIN_PEPPER": PEPPER, "WTF_CSRF_ENABLED": False}
    config.update(overrides)
    return create_app(config)


def reconfigure(app, **sections) -> None:
    """Change some settings of a running test app (as station.toml tables) and its rules."""
    config.install(app, config.updated(app.config["SETTINGS"], **sections))


@contextmanager
def serving(app, threads: int = 4):
    """The app under waitress on a free loopback port, in a thread; its URL."""
    server = create_server(app, host="127.0.0.1", port=0, threads=threads)
    thread = threading.Thread(target=server.run, name="waitress", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.effective_port}"
    finally:
        server.task_dispatcher.shutdown()
        # Sockets are closed by the loop's own thread (closed from here, one could be inside
        # its select: EBADF); with no socket left, and the browser's keep-alives closed too,
        # the loop returns.
        server.trigger.pull_trigger(lambda: wasyncore.close_all(server._map))
        thread.join(timeout=5)
        assert not thread.is_alive(), "waitress did not stop"


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    """Debian's Chromium: Playwright's own browser download cannot work here."""
    return {**browser_type_launch_args,
            "executable_path": CHROMIUM if os.path.exists(CHROMIUM) else shutil.which("chromium"),
            "args": ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]}


@pytest.fixture
def app(tmp_path):
    return make_app(tmp_path)


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


@pytest.fixture
def session(app):
    with Session(app.extensions["engine"], expire_on_commit=False) as s:
        yield s


@pytest.fixture
def pg_url():
    """A fresh schema in the PostgreSQL of TEST_DATABASE_URL, dropped afterwards."""
    base = os.environ.get("TEST_DATABASE_URL")
    if not base:
        pytest.skip("TEST_DATABASE_URL is not set: no PostgreSQL to test against "
                    "(.ci/run sets it)")
    schema = "t_" + uuid.uuid4().hex[:12]
    admin = create_engine(base)
    with admin.begin() as conn:
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    sep = "&" if "?" in base else "?"
    yield f"{base}{sep}options=-csearch_path%3D{schema}"
    with admin.begin() as conn:
        conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
    admin.dispose()


@dataclass
class Line:
    """A small line for tests: one user per role, a customer, a product, an order and boards."""

    users: dict[str, User] = field(default_factory=dict)
    tokens: dict[str, str] = field(default_factory=dict)
    order: str = "WO-1"
    serials: list[str] = field(default_factory=list)


def build_line(session: Session, boards: int = 4, panel_size: int | None = None,
               route=ROUTE, tokens: bool = True, ready: bool = True) -> Line:
    """Create the users (badge 1000N, PIN 1234 for floor roles), master data and boards.

    With `ready` the order's readiness items are all made green, so its boards may be scanned.
    """
    line = Line()
    for i, role in enumerate(people.ROLES, 1):
        floor = role in ("operator", "qa", "supervisor")
        line.users[role] = people.create_user(
            session, role, role, pepper=PEPPER, badge=f"1000{i}" if floor else None,
            pin="1234" if floor else None, password=f"{role}-pw", full_name=f"{role.title()} One")
        if tokens:
            line.tokens[role] = people.create_token(session, role)
    admin = line.users["admin"]
    for step in route:
        if session.get(masterdata.Station, f"T-{step}") is None:
            masterdata.create_station(session, admin, f"T-{step}", step, "T")
    masterdata.create_customer(session, admin, "CUST", "Customer Ltd", "prepaid")
    masterdata.create_product(session, admin, "PCB", "A", list(route))
    masterdata.create_order(session, admin, line.order, "CUST", "PCB", "A", boards, "2.50")
    line.serials = masterdata.add_boards(session, admin, line.order, count=boards,
                                         panel_size=panel_size)
    if ready:
        make_ready(session, line)
    return line


@pytest.fixture
def line(session):
    return build_line(session)


def save_template(folder, build):
    """Build a database once with `build(session)`; return its file (to copy per test or run)
    and what `build` returned. Hashing the users' PINs makes building slow."""
    app = make_app(folder)
    engine = app.extensions["engine"]
    with Session(engine, expire_on_commit=False) as s:
        result = build(s)
    engine.dispose()  # the last connection to close checkpoints the WAL into the file
    return folder / "station.db", result


def line_from(session: Session) -> Line:
    """The line of a copied template, read back: its users by role and its serials."""
    line = Line()
    for role in people.ROLES:
        line.users[role] = session.exec(select(User).where(User.name == role)).one()
    line.serials = list(session.exec(select(Board.serial).order_by(Board.id)))
    session.commit()  # reads begin IMMEDIATE too: let other connections write
    return line


class Api:
    """Calls the JSON API as one of the line's roles."""

    def __init__(self, client, line: Line):
        self.client, self.line = client, line

    def _headers(self, role):
        return {"Authorization": f"Bearer {self.line.tokens[role]}"} if role else {}

    def get(self, path, role="operator"):
        return self.client.get(path, headers=self._headers(role))

    def post(self, path, json=None, role="operator"):
        return self.client.post(path, json=json, headers=self._headers(role))

    def delete(self, path, role="qa"):
        return self.client.delete(path, headers=self._headers(role))

    def scan(self, station, code, role="operator", scan_id=None):
        body = {"station": station, "code": code}
        if scan_id:
            body["scan_id"] = scan_id
        return self.post("/api/v1/scans", body, role)


@pytest.fixture
def api(client, line):
    return Api(client, line)



def make_ready(session: Session, line: Line, order: str | None = None) -> None:
    """Make every readiness item of the line's order green through the real domain functions."""
    demo.make_ready(session, line.users["admin"], line.users["operator"], order or line.order)
