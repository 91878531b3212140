"""The database: engine, pragmas, transactions that lock early, migrations, request sessions."""

import logging
import sqlite3
import threading

import sqlalchemy.exc
from alembic import command
from alembic.config import Config
from flask import g
from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine
from sqlmodel import Session

from station.paths import ROOT

log = logging.getLogger(__name__)
MIGRATIONS = ROOT / "migrations"
WRITE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}


def make_engine(url: str, busy_timeout_s: float = 10, pool_size: int = 10,
                max_overflow: int = 10, idle_in_transaction_s: float = 300) -> Engine:
    """An engine for SQLite (WAL, FULL sync, BEGIN IMMEDIATE for writes) or PostgreSQL (a pool
    of `pool_size` + `max_overflow` connections); a write waits at most `busy_timeout_s` for a
    lock, then fails as DATABASE_BUSY."""
    if not url.startswith("sqlite"):
        engine = create_engine(url, pool_pre_ping=True, pool_size=pool_size,
                               max_overflow=max_overflow)

        @event.listens_for(engine, "connect")
        def set_session(dbapi_conn, _record):
            # A PC unplugged or frozen in a transaction keeps its locks, and holds every relay's
            # outbox at its event ids, until the server ends the session: within about 25 s of
            # the network going (keepalives), `idle_in_transaction_s` after a process froze.
            settings = {"lock_timeout": int(busy_timeout_s * 1000),  # ms; 0 waits forever
                        "idle_in_transaction_session_timeout": int(idle_in_transaction_s * 1000),
                        "tcp_keepalives_idle": 10, "tcp_keepalives_interval": 5,
                        "tcp_keepalives_count": 3}
            cur = dbapi_conn.cursor()
            for name, value in settings.items():
                cur.execute(f"SET {name} = {value}")
            cur.close()
            dbapi_conn.commit()

        return engine
    engine = create_engine(url, connect_args={"check_same_thread": False,
                                              "timeout": busy_timeout_s})

    @event.listens_for(engine, "connect")
    def set_pragmas(dbapi_conn, _record):
        dbapi_conn.isolation_level = None  # we emit BEGIN ourselves (SQLAlchemy's recipe)
        cur = dbapi_conn.cursor()
        for pragma in ("journal_mode=WAL", "synchronous=FULL",
                       f"busy_timeout={int(busy_timeout_s * 1000)}", "foreign_keys=ON"):
            cur.execute(f"PRAGMA {pragma}")
        cur.close()

    turns = engine.writer_turns = WriterTurns(timeout=busy_timeout_s)  # lives with the engine

    @event.listens_for(engine, "begin")
    def begin(conn):
        # A deferred read-then-write transaction fails with SQLITE_BUSY at once under
        # contention, despite busy_timeout: writes take the write lock when they begin.
        mode = conn.get_execution_options().get("sqlite_begin", "IMMEDIATE")
        if mode == "IMMEDIATE":
            turns.enter(conn.connection.info)
        conn.exec_driver_sql(f"BEGIN {mode}")

    @event.listens_for(engine.pool, "checkin")
    def checkin(_dbapi_conn, record):
        turns.leave(record.info)  # after COMMIT or ROLLBACK, when the connection is back

    return engine


class WriterTurns:
    """The process's SQLite writers queue on a lock before BEGIN IMMEDIATE, in turn.

    Without it they wait in SQLite's busy handler, which polls with sleeps growing to 100 ms:
    under load a writer slept on long after the lock was free while newcomers overtook it,
    and a scan could take a second or more. A lock hands the turn over the moment it is free.
    scan_load, 8 clients: p99 34-118 ms with it, 338-919 ms without; at 100/s 15-18 vs 64-789 ms.
    Other processes (the flask CLI) still meet busy_timeout.
    """

    KEY = "station_writer_turn"

    def __init__(self, timeout: float):
        self.lock, self.owner, self.timeout = threading.Lock(), None, timeout

    def enter(self, info: dict) -> None:
        """Wait for this process's write turn (no turn after `timeout`: SQLite decides)."""
        if info.get(self.KEY) or self.owner == threading.get_ident():
            return  # this connection has the turn, or another of this thread: SQLite decides
        if self.lock.acquire(timeout=self.timeout):
            self.owner, info[self.KEY] = threading.get_ident(), True

    def leave(self, info: dict) -> None:
        """Give the turn to the next writer, if this connection had it."""
        if info.pop(self.KEY, False):
            self.owner = None
            self.lock.release()


def busy_errors() -> tuple[type[BaseException], ...]:
    """The exception classes a busy database raises, wrapped by SQLAlchemy or not."""
    found = [sqlalchemy.exc.OperationalError, sqlite3.OperationalError]
    try:
        import psycopg
    except ImportError:  # PostgreSQL's driver is optional for an SQLite station
        pass
    else:
        found.append(psycopg.OperationalError)
    return tuple(found)


def is_busy(exc: BaseException) -> bool:
    """True when the database refused for a lock it could not get in time: SQLite's "database
    is locked" (or our write turn's), PostgreSQL's lock timeout (SQLSTATE 55P03)."""
    exc = getattr(exc, "orig", None) or exc  # SQLAlchemy wraps the driver's error
    if isinstance(exc, sqlite3.OperationalError):
        return "database is locked" in str(exc) or "database is busy" in str(exc)
    return getattr(exc, "sqlstate", None) == "55P03" or getattr(exc, "pgcode", None) == "55P03"


def reader(engine: Engine) -> Engine:
    """The same engine whose SQLite transactions begin deferred, for requests that only read."""
    if engine.dialect.name != "sqlite":
        return engine
    return engine.execution_options(sqlite_begin="DEFERRED")


def alembic_config() -> Config:
    """Alembic's configuration: the migrations folder, nothing else."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    return cfg


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest Alembic revision."""
    cfg = alembic_config()
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")


def sqlite_wal_reset_bug(version: str) -> bool:
    """True for SQLite versions with the WAL-reset bug (3.7.0 to 3.51.2, bar backports)."""
    v = tuple(int(p) for p in version.split(".")[:3])
    if v < (3, 7, 0) or v >= (3, 51, 3):
        return False
    return not ((3, 44, 6) <= v < (3, 45, 0) or (3, 50, 7) <= v < (3, 51, 0))


def check_sqlite_library() -> str | None:
    """Warn when Python's SQLite library has the WAL-reset bug; return the warning."""
    if not sqlite_wal_reset_bug(sqlite3.sqlite_version):
        return None
    msg = (f"SQLite {sqlite3.sqlite_version} has the WAL-reset bug (fixed in 3.51.3, 3.50.7, "
           "3.44.6): run one station process per database file, or use PostgreSQL")
    log.warning(msg)
    return msg


def get_session() -> Session:
    """The request's session; requests that change nothing read without taking the write lock."""
    if "db" not in g:
        from flask import current_app, request

        engine = current_app.extensions["engine"]
        if request.method not in WRITE_METHODS:
            engine = reader(engine)
        g.db = Session(engine, expire_on_commit=False)
    return g.db


def close_session(_exc=None) -> None:
    """Close the request's session, rolling back whatever it did not commit."""
    session = g.pop("db", None)
    if session is not None:
        session.close()


def init_app(app) -> None:
    """Create the engine, migrate, and close each request's session."""
    database = app.config["SETTINGS"].database
    engine = make_engine(app.config["DATABASE_URL"], database.busy_timeout_s,
                         database.pool_size, database.max_overflow,
                         database.idle_in_transaction_s)
    app.extensions["engine"] = engine
    if engine.dialect.name == "sqlite":
        app.config["SQLITE_WARNING"] = check_sqlite_library()
    migrate(engine)
    app.teardown_appcontext(close_session)
