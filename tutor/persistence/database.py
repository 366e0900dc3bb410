"""Engines and sessions: one session per unit of work, committed or rolled back as a whole.

SQLite is tuned so that several processes can write at once and an acknowledged case is on disk:
WAL (readers never block the writer), a 30-second busy timeout (a writer waits its turn instead of
failing), synchronous=FULL (COMMIT returns after the WAL is synced), and writes start with
BEGIN IMMEDIATE (a writer takes the write lock up front; a deferred transaction that reads first
and then upgrades can fail with SQLITE_BUSY without waiting at all). PostgreSQL needs only its
transactions.
"""

from __future__ import annotations

import json
import os
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial
from pathlib import Path

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

SQLITE_BUSY_TIMEOUT_MS = 30_000

# Strict JSON: the engine writes every non-finite number as null, and PostgreSQL's json rejects NaN.
_json_serializer = partial(json.dumps, allow_nan=False)


def make_engine(url: str, *, foreign_keys: bool = True, **kwargs) -> Engine:
    """An engine for ``url``. On SQLite the file's folder is created on first use.

    ``foreign_keys=False`` is for migrations only: SQLite's batch ALTER copies and drops tables, and
    with foreign keys enforced dropping ``cases`` would cascade to every trial.
    """
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return create_engine(url, json_serializer=_json_serializer, pool_pre_ping=True, **kwargs)

    database = parsed.database or ""
    if database and database != ":memory:" and not database.startswith("file:"):
        Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, json_serializer=_json_serializer, **kwargs)

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
        with factory() as session, session.begin():
            yield session

    def dispose(self) -> None:
        self.engine.dispose()
