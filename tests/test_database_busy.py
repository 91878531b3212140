"""A busy database: 503 DATABASE_BUSY with a Retry-After on the API, an error page on screens."""

import sqlite3

import pytest
from conftest import Api, build_line, make_app
from sqlalchemy import create_engine, text
from sqlmodel import Session, func, select

from station.models import BoardStep, Event, Hold
from station.paths import DEFAULT_CONFIG


def short_busy_config(tmp_path) -> str:
    """config/station.toml with a busy timeout of 0.2 s."""
    cfg = tmp_path / "station.toml"
    original = DEFAULT_CONFIG.read_text(encoding="utf-8")
    assert "busy_timeout_s = 10\n" in original
    cfg.write_text(original.replace("busy_timeout_s = 10\n", "busy_timeout_s = 0.2\n"),
                   encoding="utf-8")
    return str(cfg)


@pytest.fixture
def busy_app(tmp_path):
    app = make_app(tmp_path, STATION_CONFIG=short_busy_config(tmp_path))
    with Session(app.extensions["engine"], expire_on_commit=False) as s:
        app.line = build_line(s)
    yield app
    app.extensions["engine"].dispose()


def stored(app) -> tuple[int, int, int]:
    with Session(app.extensions["engine"]) as s:
        return tuple(s.exec(select(func.count()).select_from(m)).one()
                     for m in (Event, BoardStep, Hold))


def assert_busy(r):
    assert r.status_code == 503, r.get_data(as_text=True)
    assert r.headers["Retry-After"].isdigit() and int(r.headers["Retry-After"]) >= 1


def test_a_write_behind_another_connections_lock_is_503_and_stores_nothing(busy_app, tmp_path):
    api, before = Api(busy_app.test_client(), busy_app.line), stored(busy_app)
    holder = sqlite3.connect(tmp_path / "station.db", isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # another process holds the write lock
    try:
        scan = api.scan("T-PRINT", "WO-1-00001")  # the API scan's own transaction (WriteTx)
        assert_busy(scan)
        err = scan.get_json()["error"]
        assert err["code"] == "DATABASE_BUSY" and "nothing was stored" in err["message"]
        hold = api.post("/api/v1/orders/WO-1/holds", {"reason": "looks wrong"}, "qa")  # ORM
        assert_busy(hold)
        assert hold.get_json()["error"]["code"] == "DATABASE_BUSY"
        assert api.get("/api/v1/orders/WO-1").status_code == 200  # reads go on meanwhile
    finally:
        holder.rollback()
        holder.close()
    assert stored(busy_app) == before
    assert api.scan("T-PRINT", "WO-1-00001").status_code == 201  # free again: it goes through


def test_a_screen_behind_the_lock_shows_a_plain_503_page(busy_app, tmp_path):
    client = busy_app.test_client()
    holder = sqlite3.connect(tmp_path / "station.db", isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        r = client.post("/login", data={"badge": "10001", "pin": "1234"})
    finally:
        holder.rollback()
        holder.close()
    assert_busy(r)
    html = r.get_data(as_text=True)
    assert r.mimetype == "text/html" and "DATABASE_BUSY" in html
    assert "The database is busy: nothing was stored." in html
    assert client.post("/login", data={"badge": "10001", "pin": "1234"}).status_code == 302


def test_another_database_error_is_not_taken_for_busy(busy_app):
    from station import db

    assert not db.is_busy(sqlite3.OperationalError("no such table: nope"))
    assert db.is_busy(sqlite3.OperationalError("database is locked"))


@pytest.mark.postgres
def test_postgres_lock_timeout_is_503(tmp_path, pg_url):
    app = make_app(tmp_path, database_url=pg_url, STATION_CONFIG=short_busy_config(tmp_path))
    holder = create_engine(pg_url)
    try:
        with Session(app.extensions["engine"], expire_on_commit=False) as s:
            line = build_line(s)
        api, before = Api(app.test_client(), line), stored(app)
        with holder.connect() as conn:
            conn.execute(text("LOCK TABLE board IN EXCLUSIVE MODE"))  # its rows can't be locked
            scan = api.scan("T-PRINT", "WO-1-00001")
            hold = api.post("/api/v1/orders/WO-1/holds", {"reason": "looks wrong"}, "qa")
            conn.rollback()
        for r in (scan, hold):
            assert_busy(r)
            assert r.get_json()["error"]["code"] == "DATABASE_BUSY"
        assert stored(app) == before
        assert api.scan("T-PRINT", "WO-1-00001").status_code == 201
    finally:
        holder.dispose()
        app.extensions["engine"].dispose()
