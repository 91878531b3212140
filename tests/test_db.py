"""The database: SQLite pragmas and early locks, the append-only event log, migrations, and the
same floor rules on PostgreSQL (TEST_DATABASE_URL)."""

import sqlite3
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager

import pytest
import sqlalchemy.exc
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from conftest import ROUTE, build_line, make_app
from sqlalchemy import inspect, text
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlmodel import Session, SQLModel, func, select
from test_scanning import race

from station import db, events, people
from station.errors import AlreadyDone, NeedsTest, OnHold, OutOfSequence
from station.line.scanning import scan
from station.models import Board, BoardStep, Event, ScanReceipt, Station, User
from station.quality import holds


def head() -> str:
    """The newest revision in migrations/."""
    return ScriptDirectory.from_config(db.alembic_config()).get_current_head()


def drift(engine) -> list:
    """What differs between the migrated schema and the models (tables, columns, indexes)."""
    with engine.connect() as conn:
        return compare_metadata(MigrationContext.configure(conn), SQLModel.metadata)


def db_file(tmp_path) -> str:
    return str(tmp_path / "station.db")


def event_count(conn) -> int:
    return conn.execute(text("SELECT count(*) FROM event")).scalar_one()


# --- SQLite connections -------------------------------------------------------------------


def pragmas(dbapi_conn) -> dict:
    cur = dbapi_conn.cursor()
    found = {p: cur.execute(f"PRAGMA {p}").fetchone()[0]
             for p in ("journal_mode", "synchronous", "foreign_keys", "busy_timeout")}
    cur.close()
    return found


def test_every_connection_gets_the_pragmas(app):
    engine = app.extensions["engine"]
    first, second = engine.raw_connection(), engine.raw_connection()
    third = db.reader(engine).raw_connection()
    try:
        assert first.dbapi_connection is not second.dbapi_connection
        for conn in (first, second, third):
            found = pragmas(conn.dbapi_connection)
            assert found["journal_mode"] == "wal"
            assert found["synchronous"] == 2  # FULL: every commit is synced
            assert found["foreign_keys"] == 1
            assert found["busy_timeout"] >= 5000
    finally:
        for conn in (first, second, third):
            conn.close()


def test_the_file_itself_is_in_wal_mode(app, tmp_path):
    con = sqlite3.connect(db_file(tmp_path))
    try:
        assert con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    finally:
        con.close()


def test_foreign_keys_are_enforced(session):
    station = session.exec(select(Station)).first()
    session.add(BoardStep(board_id=424242, step_index=0, step="PRINT", station_id=station.id))
    with pytest.raises(IntegrityError, match="FOREIGN KEY"):
        session.commit()


def test_a_transaction_takes_the_write_lock_when_it_begins(app, tmp_path):
    engine = app.extensions["engine"]
    other = sqlite3.connect(db_file(tmp_path), timeout=0, isolation_level=None)
    try:
        with Session(engine) as s:
            assert s.exec(select(Station)).all()  # only a read, yet the lock is taken
            with pytest.raises(sqlite3.OperationalError, match="locked"):
                other.execute("INSERT INTO line (id, name, hourly_target) VALUES ('X', 'X', 0)")
            with pytest.raises(sqlite3.OperationalError, match="locked"):
                other.execute("BEGIN IMMEDIATE")
            # A reader is not blocked: WAL lets it see the last commit.
            with Session(db.reader(engine)) as r:
                assert len(r.exec(select(Station)).all()) == len(s.exec(select(Station)).all())
            assert other.execute("SELECT count(*) FROM station").fetchone()[0] > 0
        other.execute("INSERT INTO line (id, name, hourly_target) VALUES ('X', 'X', 0)")
    finally:
        other.close()


def test_a_reader_does_not_take_the_write_lock(app, tmp_path):
    engine = app.extensions["engine"]
    other = sqlite3.connect(db_file(tmp_path), timeout=0, isolation_level=None)
    try:
        with Session(db.reader(engine)) as r:
            before = len(r.exec(select(Station)).all())
            other.execute("BEGIN IMMEDIATE")
            other.execute("INSERT INTO line (id, name, hourly_target) VALUES ('X', 'X', 0)")
            other.execute("INSERT INTO station (id, type, line) VALUES ('X-1', 'AOI', 'X')")
            other.execute("COMMIT")
            # its snapshot holds until its transaction ends
            assert len(r.exec(select(Station)).all()) == before
        with Session(db.reader(engine)) as r:
            assert len(r.exec(select(Station)).all()) == before + 1
    finally:
        other.close()


def test_a_second_writer_waits_for_the_first_instead_of_failing(app):
    engine = app.extensions["engine"]
    order = []
    first_has_lock = threading.Event()

    def first():
        with Session(engine) as s:
            s.exec(select(Station)).all()
            first_has_lock.set()
            threading.Event().wait(0.3)
            s.add(User(name="first", role="operator"))
            s.commit()
            order.append("first")

    def second():
        first_has_lock.wait(5)
        with Session(engine) as s:
            assert s.exec(select(User).where(User.name == "first")).first() is not None
            s.add(User(name="second", role="operator"))
            s.commit()
            order.append("second")

    with ThreadPoolExecutor(2) as pool:
        futures = [pool.submit(first), pool.submit(second)]
        for f in futures:
            f.result(timeout=20)
    assert order == ["first", "second"]


# --- the event log ------------------------------------------------------------------------


def test_events_are_append_only_at_the_sql_level(app, tmp_path):
    con = sqlite3.connect(db_file(tmp_path), isolation_level=None)
    try:
        before = con.execute("SELECT id, kind, payload FROM event ORDER BY id").fetchall()
        assert before, "creating the app's stations writes events"
        with pytest.raises(sqlite3.DatabaseError, match="append-only"):
            con.execute("UPDATE event SET kind = 'forged'")
        with pytest.raises(sqlite3.DatabaseError, match="append-only"):
            con.execute("UPDATE event SET payload = '{}' WHERE id = ?", (before[0][0],))
        with pytest.raises(sqlite3.DatabaseError, match="append-only"):
            con.execute("DELETE FROM event")
        with pytest.raises(sqlite3.DatabaseError, match="append-only"):
            con.execute("DELETE FROM event WHERE id = ?", (before[-1][0],))
        assert con.execute("SELECT id, kind, payload FROM event ORDER BY id").fetchall() == before
    finally:
        con.close()


def test_events_are_append_only_through_the_orm(session):
    ev = events.record(session, "test.note", "test:1", {"n": 1})
    session.commit()
    ev.kind = "forged"
    session.add(ev)
    with pytest.raises(DBAPIError, match="append-only"):
        session.commit()
    session.rollback()
    session.delete(session.get(Event, ev.id))
    with pytest.raises(DBAPIError, match="append-only"):
        session.commit()
    session.rollback()
    assert session.get(Event, ev.id).kind == "test.note"
    events.record(session, "test.note", "test:1", {"n": 2, "corrects": ev.uid})
    session.commit()  # a correction is a new row
    assert [e.payload["n"] for e in events.history(session, "test:1")] == [1, 2]


# --- the SQLite library -------------------------------------------------------------------


@pytest.mark.parametrize(("version", "buggy"), [
    ("3.40.1", True), ("3.51.3", False), ("3.44.6", False), ("3.50.7", False),
    ("3.50.6", True), ("3.6.23", False), ("3.7.0", True), ("3.51.2", True),
    ("3.44.5", True), ("3.45.0", True), ("3.51.0", True), ("3.52.0", False),
    ("4.0.0", False), ("3.44.7", False),
])
def test_sqlite_wal_reset_bug(version, buggy):
    assert db.sqlite_wal_reset_bug(version) is buggy


def test_the_app_warns_about_the_running_sqlite_library(app):
    warning = db.check_sqlite_library()
    assert app.config["SQLITE_WARNING"] == warning
    if db.sqlite_wal_reset_bug(sqlite3.sqlite_version):
        assert sqlite3.sqlite_version in warning and "3.51.3" in warning
    else:
        assert warning is None


# --- migrations ---------------------------------------------------------------------------


def schema(engine) -> tuple[set, set]:
    """The tables, and the SQLite triggers, of the database."""
    tables = set(inspect(engine).get_table_names())
    with engine.connect() as conn:
        triggers = set(conn.execute(text(
            "SELECT name FROM sqlite_master WHERE type = 'trigger'")).scalars())
        conn.rollback()
    return tables, triggers


def test_migrations_build_a_fresh_file_and_are_idempotent(tmp_path):
    assert not (tmp_path / "station.db").exists()
    first = make_app(tmp_path)
    engine = first.extensions["engine"]
    tables, triggers = schema(engine)
    assert set(SQLModel.metadata.tables) <= tables
    assert {"event_no_update", "event_no_delete"} <= triggers
    with engine.connect() as conn:
        assert conn.execute(text("SELECT version_num FROM alembic_version")).scalars().all() \
            == [head()]
        conn.rollback()
    with Session(engine) as s:
        people.create_user(s, "keeper", "admin", pepper="p", password="pw")
    engine.dispose()

    again = make_app(tmp_path)  # the same file: nothing to do, nothing lost
    engine = again.extensions["engine"]
    assert schema(engine) == (tables, triggers)
    db.migrate(engine)
    assert schema(engine) == (tables, triggers)
    with Session(engine) as s:
        assert s.exec(select(User.name)).all() == ["keeper"]
        assert s.exec(select(func.count()).select_from(Station)).one() \
            == len(again.config["SETTINGS"].stations)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM alembic_version")).scalar_one() == 1
        conn.rollback()


def test_the_migrations_build_exactly_the_models_schema(app):
    assert drift(app.extensions["engine"]) == []


def test_an_upgrade_keeps_the_events_and_their_guard(tmp_path):
    engine = db.make_engine(f"sqlite:///{tmp_path / 'old.db'}")
    cfg = db.alembic_config()
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0011")  # the revision before the indexes moved on event
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO event (uid, at, kind, actor, station_id, subject, payload)"
                          " VALUES ('u-1', '2026-12-01 08:00:00', 'board.step_passed', 'op',"
                          " 'L1-AOI-1', 'board:SN1', '{}')"))
    db.migrate(engine)
    assert drift(engine) == []
    with engine.connect() as conn:
        assert conn.execute(text("SELECT uid FROM event")).scalars().all() == ["u-1"]
        with pytest.raises(IntegrityError):
            conn.execute(text("UPDATE event SET kind = 'x'"))
    engine.dispose()


# --- PostgreSQL ---------------------------------------------------------------------------


@pytest.fixture
def pg_app(tmp_path, pg_url):
    app = make_app(tmp_path, database_url=pg_url)
    yield app
    app.extensions["engine"].dispose()


@pytest.fixture
def pg_line(pg_app):
    with Session(pg_app.extensions["engine"], expire_on_commit=False) as s:
        yield s, build_line(s, boards=12, tokens=False)


@contextmanager
def pg_engine(folder, pg_url, database: str):
    """The engine of a PostgreSQL station whose station.toml has this [database] section."""
    cfg = folder / "station.toml"
    cfg.write_text("[database]\n" + database)
    engine = make_app(folder, database_url=pg_url, STATION_CONFIG=str(cfg)).extensions["engine"]
    try:
        yield engine
    finally:
        engine.dispose()


@pytest.mark.postgres
def test_a_postgres_station_opens_the_pool_its_settings_ask_for(tmp_path, pg_url):
    with pg_engine(tmp_path, pg_url, "pool_size = 2\nmax_overflow = 1\nbusy_timeout_s = 0.5\n") \
            as engine:
        assert (engine.pool.size(), engine.pool._max_overflow) == (2, 1)
        with engine.connect() as conn:
            assert conn.exec_driver_sql("SHOW lock_timeout").scalar() == "500ms"


@pytest.mark.postgres
def test_postgres_ends_a_station_session_left_idle_in_a_transaction(tmp_path, pg_url):
    # A frozen PC's open transaction would hold its locks and every relay's outbox: the server
    # ends it after [database] idle_in_transaction_s, and probes a vanished PC's connection.
    with pg_engine(tmp_path, pg_url, "idle_in_transaction_s = 0.5\n") as engine:
        with engine.connect() as conn:
            show = {name: conn.exec_driver_sql(f"SHOW {name}").scalar() for name in (
                "idle_in_transaction_session_timeout", "tcp_keepalives_idle",
                "tcp_keepalives_interval", "tcp_keepalives_count")}
        assert show == {"idle_in_transaction_session_timeout": "500ms",
                        "tcp_keepalives_idle": "10", "tcp_keepalives_interval": "5",
                        "tcp_keepalives_count": "3"}
        with Session(engine) as s:
            events.record(s, "vendor.custom", "frozen:1", {})
            s.flush()  # its event id is taken; then the process stops talking
            time.sleep(1.5)
            with pytest.raises(DBAPIError, match="idle-in-transaction timeout"):
                s.commit()
        with Session(engine) as s:  # the pool goes on with a fresh connection
            assert s.exec(select(Event).where(Event.subject == "frozen:1")).first() is None


@pytest.mark.postgres
def test_postgres_migrations_are_idempotent(pg_app, tmp_path, pg_url):
    engine = pg_app.extensions["engine"]
    assert engine.dialect.name == "postgresql"
    tables = set(inspect(engine).get_table_names())
    assert set(SQLModel.metadata.tables) <= tables
    again = make_app(tmp_path / "again", database_url=pg_url)
    try:
        assert set(inspect(again.extensions["engine"]).get_table_names()) == tables
        with again.extensions["engine"].connect() as conn:
            assert conn.execute(text("SELECT version_num FROM alembic_version")).scalars().all() \
                == [head()]
    finally:
        again.extensions["engine"].dispose()


@pytest.mark.postgres
def test_postgres_migrations_build_exactly_the_models_schema(pg_app):
    assert drift(pg_app.extensions["engine"]) == []


@pytest.mark.postgres
def test_postgres_scans_follow_the_route(pg_line):
    session, line = pg_line
    sn, op = line.serials[0], line.users["operator"]
    for i, step in enumerate(ROUTE[:5]):
        answer = scan(session, f"T-{step}", sn, op, scan_id=f"pg-{i}")
        assert (answer["step"], answer["next_step"]) == (step, ROUTE[i + 1])
    with pytest.raises(NeedsTest):
        scan(session, "T-FCT", sn, op)
    session.rollback()
    with pytest.raises(AlreadyDone):
        scan(session, "T-PRINT", sn, op)
    session.rollback()
    with pytest.raises(OutOfSequence) as err:
        scan(session, "T-SPI", line.serials[1], op)
    assert err.value.params["needed"] == "PRINT"
    session.rollback()

    before = {m: session.exec(select(func.count()).select_from(m)).one()
              for m in (Event, BoardStep, ScanReceipt)}
    assert scan(session, "T-PRINT", sn, op, scan_id="pg-0")["step"] == "PRINT"  # replay
    assert {m: session.exec(select(func.count()).select_from(m)).one()
            for m in (Event, BoardStep, ScanReceipt)} == before

    holds.place_hold(session, line.users["qa"], "WO-1", "paste smear")
    with pytest.raises(OnHold, match="paste smear"):
        scan(session, "T-PRINT", line.serials[1], op)
    session.rollback()
    holds.release_holds(session, line.users["qa"], "WO-1")
    assert scan(session, "T-PRINT", line.serials[1], op)["accepted"]
    steps = session.exec(select(BoardStep.step_index).join(Board).where(Board.serial == sn)
                         .order_by(BoardStep.step_index)).all()
    assert steps == [0, 1, 2, 3, 4]


@pytest.mark.postgres
def test_postgres_events_are_append_only(pg_app):
    engine = pg_app.extensions["engine"]
    with engine.connect() as conn:
        before = event_count(conn)
        assert before > 0
        conn.rollback()
    for sql in ("UPDATE event SET kind = 'forged'", "DELETE FROM event",
                "UPDATE event SET kind = 'x' WHERE id = -1", "TRUNCATE event"):
        with engine.connect() as conn:
            with pytest.raises(DBAPIError, match="append-only"):
                conn.execute(text(sql))
            conn.rollback()
    with engine.connect() as conn:
        assert event_count(conn) == before
        assert conn.execute(text("SELECT count(*) FROM event WHERE kind = 'forged'")) \
            .scalar_one() == 0


@pytest.mark.postgres
def test_postgres_two_scans_at_the_same_instant_have_one_winner(pg_app, pg_line):
    session, line = pg_line
    engine, op = pg_app.extensions["engine"], line.users["operator"]
    session.commit()
    for pair in race(engine, op, line.serials[:6]):
        assert sorted(r["step"] if isinstance(r, dict) else r for r in pair) \
            == ["PRINT", "already-done"], pair
    # The same scan sent twice: one answer, stored once.
    for first, second in race(engine, op, line.serials[6:], scan_id="twice"):
        assert isinstance(first, dict) and first == second, (first, second)
    counted = session.exec(select(BoardStep.board_id, func.count()).group_by(BoardStep.board_id))
    assert sorted(n for _, n in counted) == [1] * len(line.serials)
    assert session.exec(select(func.count()).select_from(Event)
                        .where(Event.kind == "board.step_passed")).one() == len(line.serials)


# --- the write turn --------------------------------------------------------------------------


def write_event(engine, subject: str, hold: float = 0.0, began=None) -> None:
    """Commit one event in an ORM session, as every rule does; hold the transaction a while."""
    with Session(engine) as s:
        events.record(s, "test.tx", subject)
        s.flush()  # BEGIN IMMEDIATE: the write turn is taken here
        if began is not None:
            began.set()
        threading.Event().wait(hold)
        s.commit()


def step_events(engine) -> list[str]:
    with Session(engine) as s:
        return list(s.exec(select(Event.subject).where(Event.kind == "test.tx")
                           .order_by(Event.id)))


def test_a_session_keeps_nothing_it_did_not_commit(app):
    engine = app.extensions["engine"]
    with pytest.raises(RuntimeError), Session(engine) as s:
        events.record(s, "test.tx", "crashed")
        s.flush()
        raise RuntimeError("a bug in the middle of a scan")
    write_event(engine, "kept")
    assert step_events(engine) == ["kept"]


def test_the_write_turn_is_handed_on_at_commit(app):
    engine, order = app.extensions["engine"], []
    first_began = threading.Event()

    def second():
        first_began.wait(5)
        write_event(engine, "second")
        order.append("second committed")

    with ThreadPoolExecutor(2) as pool:
        later = pool.submit(second)
        write_event(engine, "first", hold=0.3, began=first_began)
        order.append("first committed")
        later.result(timeout=20)
    assert order == ["first committed", "second committed"]
    assert step_events(engine) == ["first", "second"]


def test_a_writer_sqlite_refuses_fails_clearly_and_leaves_the_turn_free(app, tmp_path):
    engine = app.extensions["engine"]
    engine.dispose()
    raw = engine.raw_connection()  # the pool's one connection, with a short busy timeout
    raw.driver_connection.execute("PRAGMA busy_timeout = 100")
    raw.close()
    other = sqlite3.connect(db_file(tmp_path), isolation_level=None)  # another process's CLI
    other.execute("BEGIN IMMEDIATE")
    with pytest.raises(sqlalchemy.exc.OperationalError, match="locked"):
        write_event(engine, "refused")
    other.execute("COMMIT")
    other.close()
    write_event(engine, "after")  # nothing was left holding the turn
    assert step_events(engine) == ["after"]
