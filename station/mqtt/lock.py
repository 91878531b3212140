"""Exactly one relay per name: an OS lock in instance/, and on PostgreSQL an advisory lock."""

import os
import zlib
from pathlib import Path

from sqlalchemy import text


class RelayLock:
    """An OS lock on a file: one holder across threads and processes (msvcrt or fcntl)."""

    def __init__(self, path: Path):
        self.path, self._file = Path(path), None

    @property
    def held(self) -> bool:
        """True while this object holds the lock."""
        return self._file is not None

    def acquire(self) -> bool:
        """Take the lock if nobody has it; never waits."""
        if self._file is not None:
            return True
        self.path.parent.mkdir(parents=True, exist_ok=True)
        f = open(self.path, "a+b")  # noqa: SIM115 (held open as long as the lock)
        try:
            if os.name == "nt":
                import msvcrt

                f.seek(0)
                msvcrt.locking(f.fileno(), msvcrt.LK_NBLCK, 1)
            else:
                import fcntl

                fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            f.close()
            return False
        self._file = f
        return True

    def release(self) -> None:
        """Give the lock back (closing the file releases it on every OS)."""
        f, self._file = self._file, None
        if f is None:
            return
        try:
            if os.name == "nt":
                import msvcrt

                f.seek(0)
                msvcrt.locking(f.fileno(), msvcrt.LK_UNLCK, 1)
        except OSError:
            pass
        f.close()


class AdvisoryLock:
    """On a shared PostgreSQL: one relay per name across every PC, by an advisory lock.

    Held by its connection for as long as it is open (a dead PC's lock goes with its
    connection); keyed by schema and relay name, as advisory locks span the database.
    """

    def __init__(self, engine, name: str):
        self.engine, self.name, self._conn = engine, name, None

    def acquire(self) -> bool:
        """Take the lock if no other PC's relay of this name has it; never waits."""
        conn = self.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
        key = zlib.crc32(self.name.encode()) & 0x7FFFFFFF
        if conn.execute(text("SELECT pg_try_advisory_lock(hashtext(current_schema()), :k)"),
                        {"k": key}).scalar():
            self._conn = conn
            return True
        conn.close()
        return False

    def release(self) -> None:
        """Give the lock back, and its connection to the pool."""
        conn, self._conn = self._conn, None
        if conn is None:
            return
        try:  # the connection goes back to the pool, still holding it: unlock first
            conn.execute(text("SELECT pg_advisory_unlock_all()"))
        except Exception:
            conn.invalidate()  # then the session ends, and its locks with it
        conn.close()
