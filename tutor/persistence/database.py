"""Engines and sessions: one session per unit of work, committed or rolled back as a whole.

SQLite is tuned so that several processes can write at once and an acknowledged case is on disk:
WAL (readers never block the writer), a 30-second busy timeout (a writer waits its turn instead of
failing), synchronous=FULL (COMMIT returns after the WAL is synced), and writes start with
BEGIN IMMEDIATE (a writer takes the write lock up front; a deferred transaction that reads first
and then upgrades can fail with SQLITE_BUSY without waiting at all). PostgreSQL needs only its
transactions.
"""

from __future__ import annotations

import fcntl
import os
import weakref
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.orm import Session, sessionmaker

from tutor import json_text

SQLITE_BUSY_TIMEOUT_MS = 30_000

# JSON columns keep their keys' order, and non-finite numbers are null (PostgreSQL's json rejects NaN).
_JSON = {"json_serializer": json_text.dumps, "json_deserializer": json_text.loads}


def make_engine(url: str, *, foreign_keys: bool = True, **kwargs) -> Engine:
    """An engine for ``url``. On SQLite the file's folder is created on first use.

    ``foreign_keys=False`` is for migrations only: SQLite's batch ALTER copies and drops tables, and
    with foreign keys enforced dropping ``cases`` would cascade to every trial.
    """
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return create_engine(url, **_JSON, pool_pre_ping=True, **kwargs)

    file = _sqlite_file(parsed)
    if file is not None:
        file.parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, **_JSON, **kwargs)

    @event.listens_for(engine, "connect")
    def _configure(dbapi_connection, _record) -> None:
        # The driver's own transaction handling is switched off: it would issue a deferred BEGIN
        # at the first write, after our reads. `_begin` below issues BEGIN instead.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        # The busy timeout first: switching to WAL needs a lock another process may hold.
        cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.execute("PRAGMA synchronous = FULL")
        cursor.execute(f"PRAGMA foreign_keys = {'ON' if foreign_keys else 'OFF'}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(connection) -> None:
        mode = connection.get_execution_options().get("sqlite_begin", "DEFERRED")
        connection.exec_driver_sql(f"BEGIN {mode}")

    return engine


def _sqlite_file(url: URL) -> Path | None:
    """The file of an SQLite database URL; None for other databases, in-memory ones and URI filenames."""
    database = url.database or ""
    if url.get_backend_name() != "sqlite" or database in ("", ":memory:") or database.startswith("file:"):
        return None
    return Path(database).expanduser()


def _write_lock_path(engine: Engine) -> str | None:
    """The lock file writers of an SQLite database file queue on; None for other databases."""
    file = _sqlite_file(engine.url)
    return None if file is None else f"{file}.write-lock"


class Database:
    """An engine and its session factory. Create one per process and share it between threads."""

    def __init__(self, engine: Engine):
        self.engine = engine
        # A forked child (gunicorn's workers) must not share the parent's pooled connections: it
        # starts with an empty pool and leaves the parent's connections alone.
        reference = weakref.ref(engine)
        os.register_at_fork(after_in_child=lambda: (e := reference()) is not None and e.dispose(close=False))
        self._sessions = sessionmaker(engine, expire_on_commit=False)
        # Writers take SQLite's write lock when they begin (a no-op option elsewhere).
        self._writer_sessions = sessionmaker(
            engine.execution_options(sqlite_begin="IMMEDIATE"), expire_on_commit=False
        )
        self._write_lock_path = _write_lock_path(engine)

    @classmethod
    def from_url(cls, url: str, **kwargs) -> Database:
        return cls(make_engine(url, **kwargs))

    @property
    def url(self) -> str:
        return self.engine.url.render_as_string(hide_password=False)

    @contextmanager
    def session(self, *, write: bool = False) -> Iterator[Session]:
        """A unit of work: committed when the block ends, rolled back if it raises."""
        factory = self._writer_sessions if write else self._sessions
        turn = self._writers_turn() if write else nullcontext()
        with turn, factory() as session, session.begin():
            yield session

    @contextmanager
    def _writers_turn(self) -> Iterator[None]:
        """On an SQLite file, waits until no other writer (thread or process) holds the write lock.

        SQLite's busy handler polls, sleeping up to 100 ms between tries, so under load a waiting
        writer kept losing the lock to writers that came later: with 8 clients, one request in a
        hundred waited over a second. Writers queue on a blocking file lock instead, which wakes the
        next one the moment the lock is let go. The busy timeout stays for writers that skip this
        (the sqlite3 shell, migrations).
        """
        if self._write_lock_path is None:
            yield
            return
        descriptor = os.open(self._write_lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX)  # each open file holds its own lock: threads queue too
            yield
        finally:
            os.close(descriptor)  # releases the lock

    def dispose(self) -> None:
        self.engine.dispose()
