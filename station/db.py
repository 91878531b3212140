"""The database: engine, pragmas, transactions that lock early, migrations, request sessions,
and the API scan's own transaction (WriteTx) and statements (Prepared)."""

import logging
import sqlite3
import threading
from collections import namedtuple

import sqlalchemy.exc
from alembic import command
from alembic.config import Config
from flask import g
from sqlalchemy import create_engine, event
from sqlalchemy.engine import Connection, Engine
from sqlmodel import Session

from station.config import ROOT

log = logging.getLogger(__name__)
MIGRATIONS = ROOT / "migrations"
WRITE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}
AFTER_COMMIT = []  # called with each WriteTx that committed (the MQTT relay wakes up)


def make_engine(url: str, busy_timeout_s: float = 10) -> Engine:
    """An engine for SQLite (WAL, FULL sync, BEGIN IMMEDIATE for writes) or PostgreSQL; a write
    waits at most `busy_timeout_s` for a lock, then fails as DATABASE_BUSY."""
    if not url.startswith("sqlite"):
        engine = create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=10)

        @event.listens_for(engine, "connect")
        def set_lock_timeout(dbapi_conn, _record):
            cur = dbapi_conn.cursor()
            cur.execute(f"SET lock_timeout = {int(busy_timeout_s * 1000)}")  # ms; 0 waits forever
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
        driver = conn.connection.dbapi_connection
        if driver.in_transaction:
            return  # the ORM session of a WriteTx, which began already
        mode = conn.get_execution_options().get("sqlite_begin", "IMMEDIATE")
        if mode == "IMMEDIATE":
            turns.enter(conn.connection.info)
        driver.execute(f"BEGIN {mode}")  # the DBAPI's: cheaper than SQLAlchemy's

    @event.listens_for(engine.pool, "checkin")
    def checkin(_dbapi_conn, record):
        turns.leave(record.info)  # after COMMIT or ROLLBACK, when the connection is back

    @event.listens_for(engine, "engine_disposed")
    def disposed(_engine):
        turns.close_writer()  # it is outside the pool, which closed all the others

    return engine


class WriterTurns:
    """The process's SQLite writers queue on a lock before BEGIN IMMEDIATE, in turn.

    Without it they wait in SQLite's busy handler, which polls with sleeps growing to 100 ms:
    under load a writer slept on long after the lock was free while newcomers overtook it,
    and a scan could take a second or more. A lock hands the turn over the moment it is free.
    Other processes (the flask CLI) still meet busy_timeout.

    The API's scans (WriteTx) all write on one connection, taken with the turn. SQLite drops a
    connection's page cache whenever another connection has written, so a pool of connections
    taking turns read each scan's pages afresh (about 50 reads a scan); one writer keeps them.
    The writer is detached from the pool: a connection checked out for good would keep its pool
    and engine alive for as long as the process runs.
    """

    KEY = "station_writer_turn"

    def __init__(self, timeout: float):
        self.lock, self.owner, self.timeout = threading.Lock(), None, timeout
        self._writer = None

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

    def writer(self, engine: Engine):
        """Wait for the turn and take the engine's writer connection with it; no turn after
        `timeout` is SQLite's busy error, as for any writer."""
        # A thread whose ORM session holds the turn would wait for itself.
        if self.owner == threading.get_ident() or not self.lock.acquire(timeout=self.timeout):
            raise sqlite3.OperationalError("database is locked: no write turn")
        self.owner = threading.get_ident()
        if self._writer is None:
            self._writer = engine.raw_connection()
            self._writer.detach()
        self._writer.info[self.KEY] = True
        return self._writer

    def close_writer(self) -> None:
        """Close the writer's connection (the engine was disposed); a new one opens when asked."""
        with self.lock:
            if self._writer is not None:
                self._writer.close()  # detached: really closed
                self._writer = None


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


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest Alembic revision."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
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
    engine = make_engine(app.config["DATABASE_URL"],
                         app.config["SETTINGS"]["database"].get("busy_timeout_s", 10))
    app.extensions["engine"] = engine
    if engine.dialect.name == "sqlite":
        app.config["SQLITE_WARNING"] = check_sqlite_library()
    migrate(engine)
    app.teardown_appcontext(close_session)


def connection(session) -> "Connection | WriteTx":
    """Where Prepared statements run: the transaction of a WriteTx or of an ORM session, with
    its pending ORM changes flushed first (as the session's own queries do)."""
    if isinstance(session, WriteTx):
        return session.begin()
    session.flush()
    return session.connection()


def orm(session) -> Session:
    """The ORM session of a Session or WriteTx, for the rules that need ORM objects."""
    return session.orm if isinstance(session, WriteTx) else session


class WriteTx:
    """A write transaction straight on a DBAPI connection: the API scan's path. On SQLite it is
    the writer's connection, taken with the write turn; on PostgreSQL a pooled one.

    A scan's statements are Prepared, so what SQLAlchemy's session and connection add around
    them (about a sixth of a scan's time) buys nothing there. It acts as the session of
    `scanning.scan` (get, commit, rollback, info); the rare rules that need ORM objects get
    `orm`, a session opened on the same connection and transaction when first asked.
    """

    def __init__(self, engine: Engine):
        self.engine, self.dialect, self.info = engine, engine.dialect, {}
        self.sqlite = self.dialect.name == "sqlite"  # SQLite: the writer's connection, in turn
        self.connection = None if self.sqlite else engine.raw_connection()  # Prepared runs on it
        self._begun, self._sa = False, None  # the SQLAlchemy connection under `orm`
        self._orm: Session | None = None

    def __enter__(self) -> "WriteTx":
        return self

    def __exit__(self, *_exc) -> None:
        self.close()

    def begin(self) -> "WriteTx":
        """Begin (SQLite: BEGIN IMMEDIATE in the writer's turn) unless begun; flush `orm`."""
        if not self._begun:
            if self.sqlite:
                turns = self.engine.writer_turns
                writer = turns.writer(self.engine)
                try:
                    writer.dbapi_connection.execute("BEGIN IMMEDIATE")
                except BaseException:
                    turns.leave(writer.info)
                    raise
                self.connection = writer
            self._begun = True  # psycopg begins by itself at the first statement
        if self._orm is not None:
            self._orm.flush()
        return self

    @property
    def orm(self) -> Session:
        """An ORM session in this same transaction (it never commits; the WriteTx does)."""
        if self._orm is None:
            self.begin()
            if self._sa is None:
                self._sa = Connection(self.engine, connection=self.connection)
            self._sa.begin()  # SQLAlchemy's view of the transaction already begun
            self._orm = Session(bind=self._sa, expire_on_commit=False)
        return self._orm

    def get(self, model, key):
        """A row by primary key, as `Session.get`."""
        return self.orm.get(model, key)

    def commit(self) -> None:
        """Commit, then call AFTER_COMMIT."""
        self.begin()
        if self._orm is not None:
            self.info.update(self._orm.info)
        self.connection.commit()
        self._end()
        self._next_writer()
        for hook in AFTER_COMMIT:
            hook(self)
        self.info.clear()

    def rollback(self) -> None:
        """Roll back what this transaction did."""
        try:
            if self.connection is not None:
                self.connection.rollback()
            self._end()
        finally:
            self._next_writer()
            self.info.clear()

    def _end(self) -> None:
        self._begun = False
        if self._orm is not None:
            self._orm.close()
            self._sa.rollback()  # only SQLAlchemy's record: the DBAPI transaction has ended
            self._orm = None
        if self.sqlite:
            self._sa = None  # closing it would close the writer's connection

    def _next_writer(self) -> None:
        """Hand the write turn (SQLite: and its connection) on at once."""
        if self.sqlite and self.connection is not None:
            self.engine.writer_turns.leave(self.connection.info)
            self.connection = None

    def close(self) -> None:
        """Roll back whatever was not committed; give a PostgreSQL connection back to the pool."""
        if self._begun:
            self.rollback()
        if not self.sqlite:
            (self._sa or self.connection).close()


class Prepared:
    """A Core statement compiled once per dialect and run straight on the DBAPI cursor of a
    connection's transaction, with SQLAlchemy's own conversions of the values.

    SQLAlchemy's execution machinery costs about 100 µs a statement, several times what
    SQLite takes to run one, and every scan runs several: the scan's path runs them this way.
    """

    def __init__(self, statement):
        self.statement = statement
        self.columns = list(getattr(statement, "exported_columns", []))
        names = [c.key or f"_{i}" for i, c in enumerate(self.columns)]  # count() has no name
        self.row = namedtuple("Row", names, rename=True) if names else None
        self._compiled, self._readers = {}, {}

    def _compile(self, dialect, keys: tuple[str, ...]):
        """The statement's SQL for the dialect, and how to build its parameters."""
        found = self._compiled.get((dialect.name, keys))
        if found is None:
            compiled = self.statement.compile(dialect=dialect, column_keys=list(keys) or None)
            # Per parameter: its name, its conversion (or None), and its value when not given
            # (the values written into the statement, such as 'FCT'; None when required).
            names = compiled.positiontup if compiled.positional else compiled.binds
            plan = [(name, bind.type.dialect_impl(dialect).bind_processor(dialect),
                     None if bind.required else bind.effective_value)
                    for name, bind in ((n, compiled.binds[n]) for n in names)]
            found = self._compiled[(dialect.name, keys)] = (compiled.string, plan,
                                                            compiled.positional)
        return found

    def _read(self, dialect, description) -> list[tuple[int, object]]:
        """The columns whose values need converting, by the types the database reports."""
        found = self._readers.get(dialect.name)
        if found is None:
            readers = [c.type.dialect_impl(dialect).result_processor(dialect, d[1])
                       for c, d in zip(self.columns, description, strict=True)]
            found = self._readers[dialect.name] = [(i, r) for i, r in enumerate(readers) if r]
        return found

    @staticmethod
    def _params(plan: list, positional: bool, given: dict):
        """The DBAPI's parameters: in order for SQLite's `?`, by name for psycopg's."""
        values = [(n, w(given.get(n, d)) if w else given.get(n, d)) for n, w, d in plan]
        return [v for _, v in values] if positional else dict(values)

    def run(self, conn: Connection, params: dict | list[dict] | None = None) -> list:
        """Run in `conn`'s transaction with one set of parameters (or a list, for an INSERT of
        many rows); the rows it returns."""
        many = isinstance(params, list)
        first = (params[0] if many else params) or {}
        keys = tuple(sorted(first)) if self.statement.is_insert else ()  # the columns it sets
        sql, plan, positional = self._compile(conn.dialect, keys)
        cursor = conn.connection.dbapi_connection.cursor()
        try:
            if many:
                cursor.executemany(sql, [self._params(plan, positional, p) for p in params])
            else:
                cursor.execute(sql, self._params(plan, positional, first))
            if self.row is None:
                return []
            readers, rows = self._read(conn.dialect, cursor.description), cursor.fetchall()
        finally:
            cursor.close()
        if readers:
            rows = [list(values) for values in rows]
            for values in rows:
                for i, read in readers:
                    values[i] = read(values[i])
        return [self.row._make(values) for values in rows]
