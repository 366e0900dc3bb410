"""Engines and sessions: one session per unit of work, committed or rolled back as a whole.

SQLite is tuned so that several processes can write at once and an acknowledged case is on disk:
WAL (readers never block the writer), a busy timeout (a writer waits its turn instead of failing),
synchronous=FULL (COMMIT returns after the WAL is synced), and writes start with BEGIN IMMEDIATE (a
writer takes the write lock up front; a deferred transaction that reads first and then upgrades can
fail with SQLITE_BUSY without waiting at all).

**Timeouts** (``DatabaseTimeouts``, from the TUTOR_DATABASE_*_TIMEOUT settings), so that a database that
refuses, hangs or drops packets costs a request seconds, never a server thread for as long as it lasts:

- *connect*: opening a connection (PostgreSQL; libpq counts at least 2 seconds).
- *statement*: PostgreSQL's ``statement_timeout``; and on the client every round trip to the server (a
  query, a COPY, a commit, the pool's ping) is bounded by it plus ``ROUND_TRIP_MARGIN``, after which
  the connection is closed: a server that never receives the query cannot cancel it. TCP keepalives and
  ``tcp_user_timeout`` find connections whose packets go nowhere. A transaction left idle by a client
  that vanished is ended by the server after ``IDLE_IN_TRANSACTION_SHARE`` times the statement timeout.
- *lock*: PostgreSQL's ``lock_timeout``; SQLite's busy timeout and the wait for the writers' turn.
- *pool*: waiting for a free connection of the pool.

**Failures.** Every operational failure (no connection, a timeout, a connection the server ended, SQLite's
read-only and I/O errors) leaves a unit of work as ``DatabaseUnavailable`` (``DatabaseReadOnly`` when
the database cannot be written), which the web answers with 503 and Retry-After. The connection that
failed is discarded with every other pooled one, so a database that comes back is used again without a
restart. SQLite connections opened while the file was read-only stay read-only after its permissions
return, which is why they are discarded after a read-only or I/O error too.
"""

from __future__ import annotations

import fcntl
import logging
import math
import os
import threading
import weakref
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine, create_engine, event
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import URL, make_url
from sqlalchemy.orm import Session, sessionmaker

from tutor import json_text

log = logging.getLogger(__name__)

# JSON columns keep their keys' order, and non-finite numbers are null (PostgreSQL's json rejects NaN).
_JSON = {"json_serializer": json_text.dumps, "json_deserializer": json_text.loads}

# Beyond the server's statement timeout, how long the client waits for an answer before it takes the
# connection for dead (the server's own cancellation, when it can send one, comes first).
ROUND_TRIP_MARGIN = 2.0
IDLE_IN_TRANSACTION_SHARE = 4
# TCP keepalives: a connection whose peer is gone is found within idle + interval × count seconds.
KEEPALIVE_IDLE, KEEPALIVE_INTERVAL, KEEPALIVE_COUNT = 10, 5, 3
# What a client is told to wait after an outage; the outage itself is found within the timeouts.
RETRY_SECONDS = 5
# SQLite errors after which a connection is discarded: one opened read-only stays read-only.
_SPOILING_SQLITE_ERRORS = ("SQLITE_READONLY", "SQLITE_IOERR", "SQLITE_CANTOPEN")
_READ_ONLY_SQLSTATE = "25006"  # PostgreSQL's read_only_sql_transaction (a standby, or a read-only setting)


@dataclass(frozen=True)
class DatabaseTimeouts:
    """Seconds; None means no limit (migrations, which may rightly run long)."""

    connect: float = 5.0
    statement: float | None = 15.0
    lock: float | None = 10.0
    pool: float = 5.0

    @property
    def round_trip(self) -> float | None:
        return None if self.statement is None else self.statement + ROUND_TRIP_MARGIN


MIGRATION_TIMEOUTS = DatabaseTimeouts(statement=None, lock=None)


class DatabaseUnavailable(RuntimeError):
    """The database cannot be reached, or did not answer in time: the service's fault (HTTP 503).
    ``reason`` is the driver's account of it, for the log."""

    def __init__(self, reason: str, retry_after: int = RETRY_SECONDS):
        super().__init__(reason)
        self.reason = reason
        self.retry_after = retry_after


class DatabaseReadOnly(DatabaseUnavailable):
    """The database can be read but not written (file permissions, a full disk, a standby)."""


def make_engine(
    url: str, *, foreign_keys: bool = True, timeouts: DatabaseTimeouts | None = None, **kwargs
) -> Engine:
    """An engine for ``url`` with ``timeouts`` (the defaults if not given). On SQLite the file's folder
    is created on first use.

    ``foreign_keys=False`` is for migrations only: SQLite's batch ALTER copies and drops tables, and
    with foreign keys enforced dropping ``cases`` would cascade to every trial.
    """
    timeouts = timeouts or DatabaseTimeouts()
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return _server_engine(url, parsed, timeouts, **kwargs)

    file = _sqlite_file(parsed)
    if file is not None:
        file.parent.mkdir(parents=True, exist_ok=True)
        kwargs.setdefault("pool_timeout", timeouts.pool)
    engine = create_engine(url, **_JSON, **kwargs)
    busy_ms = int(1000 * (timeouts.lock if timeouts.lock is not None else 24 * 3600))

    @event.listens_for(engine, "connect")
    def _configure(dbapi_connection, _record) -> None:
        # The driver's own transaction handling is switched off: it would issue a deferred BEGIN
        # at the first write, after our reads. `_begin` below issues BEGIN instead.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        # The busy timeout first: switching to WAL needs a lock another process may hold.
        cursor.execute(f"PRAGMA busy_timeout = {busy_ms}")
        try:
            cursor.execute("PRAGMA journal_mode = WAL")
        except dbapi_connection.OperationalError as error:
            # A read-only file not yet in WAL mode: it can still be read as it is.
            log.warning("SQLite database %s stays in its journal mode: %s", file, error)
        cursor.execute("PRAGMA synchronous = FULL")
        cursor.execute(f"PRAGMA foreign_keys = {'ON' if foreign_keys else 'OFF'}")
        cursor.close()

    @event.listens_for(engine, "connect")
    def _note_read_only(_dbapi_connection, record) -> None:
        # SQLite opens a file it may not write read-only, silently, and the connection stays so.
        record.info["opened_read_only"] = file is not None and not _writable(file)

    @event.listens_for(engine, "checkout")
    def _renew_if_writable_now(_dbapi_connection, record, _proxy) -> None:
        if record.info.get("opened_read_only") and _writable(file):
            raise sa_exc.DisconnectionError("opened while the file was read-only; it is writable now")

    @event.listens_for(engine, "begin")
    def _begin(connection) -> None:
        mode = connection.get_execution_options().get("sqlite_begin", "DEFERRED")
        connection.exec_driver_sql(f"BEGIN {mode}")

    @event.listens_for(engine, "handle_error")
    def _discard_spoiled(context) -> None:
        name = getattr(context.original_exception, "sqlite_errorname", "") or ""
        if name.startswith(_SPOILING_SQLITE_ERRORS):
            # Treated as a lost connection: SQLAlchemy discards it and every connection pooled before it.
            context.is_disconnect = True

    return engine


def _server_engine(url: str, parsed: URL, timeouts: DatabaseTimeouts, **kwargs) -> Engine:
    if parsed.get_backend_name() != "postgresql":
        return create_engine(url, **_JSON, pool_pre_ping=True, pool_timeout=timeouts.pool, **kwargs)
    connect_args = {
        "connect_timeout": max(2, math.ceil(timeouts.connect)),
        "keepalives": 1,
        "keepalives_idle": KEEPALIVE_IDLE,
        "keepalives_interval": KEEPALIVE_INTERVAL,
        "keepalives_count": KEEPALIVE_COUNT,
    }
    server_settings = []
    if timeouts.statement is not None:
        statement_ms = int(timeouts.statement * 1000)
        server_settings += [
            f"-c statement_timeout={statement_ms}",
            f"-c idle_in_transaction_session_timeout={statement_ms * IDLE_IN_TRANSACTION_SHARE}",
        ]
        # Sent data left unacknowledged this long ends the connection (packets dropped on the way).
        connect_args["tcp_user_timeout"] = int(timeouts.round_trip * 1000)
    if timeouts.lock is not None:
        server_settings.append(f"-c lock_timeout={int(timeouts.lock * 1000)}")
    # The URL's own options (e.g. a search_path) come last, so they win over ours.
    given = parsed.query.get("options")
    options = " ".join([*server_settings, *([given] if isinstance(given, str) else given or ())])
    if options:
        connect_args["options"] = options
    connect_args.update(kwargs.pop("connect_args", {}))
    engine = create_engine(
        url, **_JSON, pool_pre_ping=True, pool_timeout=timeouts.pool, connect_args=connect_args, **kwargs
    )
    if parsed.get_driver_name() == "psycopg" and timeouts.round_trip is not None:
        connection_class = _round_trip_bounded(timeouts.round_trip)

        @event.listens_for(engine, "do_connect")
        def _connect(_dialect, _record, cargs, cparams):
            return connection_class.connect(*cargs, **cparams)

    return engine


def _round_trip_bounded(seconds: float):
    """A psycopg connection class on which no round trip to the server takes longer than ``seconds``.

    Every exchange with the server (a query, a COPY, a commit, a ping) goes through ``wait``; past the
    bound the connection is in an unknown state, so it is closed, and SQLAlchemy, seeing it closed,
    discards it."""
    import psycopg

    class RoundTripBoundedConnection(psycopg.Connection):
        def wait(self, gen, interval=None, timeout=None):
            options = {} if interval is None else {"interval": interval}
            try:
                return super().wait(gen, timeout=timeout if timeout is not None else seconds, **options)
            except psycopg.errors.OperationalError as error:
                if type(error).__name__ != "_WaitTimeout":  # psycopg's own, raised for the timeout above
                    raise
                self.close()
                raise psycopg.errors.ConnectionTimeout(
                    f"the database did not answer within {seconds:g} seconds"
                ) from None

    return RoundTripBoundedConnection


def _sqlite_file(url: URL) -> Path | None:
    """The file of an SQLite database URL; None for other databases, in-memory ones and URI filenames."""
    database = url.database or ""
    if url.get_backend_name() != "sqlite" or database in ("", ":memory:") or database.startswith("file:"):
        return None
    return Path(database).expanduser()


def _writable(file: Path) -> bool:
    """Whether this process may write an SQLite file and its folder (where its journal goes)."""
    return not file.exists() or (os.access(file, os.W_OK) and os.access(file.parent, os.W_OK))


def _write_lock_path(engine: Engine) -> str | None:
    """The lock file writers of an SQLite database file queue on; None for other databases."""
    file = _sqlite_file(engine.url)
    return None if file is None else f"{file}.write-lock"


def _unavailable(error: Exception) -> DatabaseUnavailable | None:
    """The DatabaseUnavailable an error from SQLAlchemy means, or None for other errors (a constraint
    violated, a bug)."""
    original = getattr(error, "orig", None)
    reason = (str(original or error).strip().splitlines() or [type(error).__name__])[0]
    name = getattr(original, "sqlite_errorname", "") or ""
    if name.startswith("SQLITE_READONLY") or getattr(original, "sqlstate", None) == _READ_ONLY_SQLSTATE:
        return DatabaseReadOnly(reason)
    operational = (sa_exc.OperationalError, sa_exc.InterfaceError, sa_exc.TimeoutError)
    if isinstance(error, operational) or (
        isinstance(error, sa_exc.DBAPIError) and error.connection_invalidated
    ):
        return DatabaseUnavailable(reason)
    return None


class Database:
    """An engine and its session factory. Create one per process and share it between threads."""

    def __init__(self, engine: Engine, timeouts: DatabaseTimeouts | None = None):
        self.engine = engine
        self.timeouts = timeouts or DatabaseTimeouts()
        # Writers of this process take turns on this lock before the file lock (see _writers_turn).
        self._writers = threading.Lock()
        # A forked child (gunicorn's workers) must not share the parent's pooled connections: it
        # starts with an empty pool and leaves the parent's connections alone.
        reference = weakref.ref(self)
        os.register_at_fork(after_in_child=lambda: (d := reference()) is not None and d._after_fork())
        self._sessions = sessionmaker(engine, expire_on_commit=False)
        # Writers take SQLite's write lock when they begin (a no-op option elsewhere).
        self._writer_sessions = sessionmaker(
            engine.execution_options(sqlite_begin="IMMEDIATE"), expire_on_commit=False
        )
        self._write_lock_path = _write_lock_path(engine)

    @classmethod
    def from_url(cls, url: str, *, timeouts: DatabaseTimeouts | None = None, **kwargs) -> Database:
        return cls(make_engine(url, timeouts=timeouts, **kwargs), timeouts)

    def _after_fork(self) -> None:
        self.engine.dispose(close=False)
        self._writers = threading.Lock()

    @property
    def url(self) -> str:
        return self.engine.url.render_as_string(hide_password=False)

    @contextmanager
    def session(self, *, write: bool = False) -> Iterator[Session]:
        """A unit of work: committed when the block ends, rolled back if it raises. A failure of the
        database itself (not of the work) is raised as DatabaseUnavailable."""
        factory = self._writer_sessions if write else self._sessions
        turn = self._writers_turn() if write else nullcontext()
        try:
            with turn, factory() as session, session.begin():
                yield session
        except sa_exc.SQLAlchemyError as error:
            unavailable = _unavailable(error)
            if unavailable is None:
                raise
            raise unavailable from error

    @contextmanager
    def _writers_turn(self) -> Iterator[None]:
        """On an SQLite file, waits until no other writer (thread or process) holds the write lock,
        for at most the lock timeout.

        SQLite's busy handler polls, sleeping up to 100 ms between tries, so under load a waiting
        writer kept losing the lock to writers that came later: with 8 clients, one request in a
        hundred waited over a second. Writers queue instead, woken the moment the lock is let go: the
        threads of this process on a lock that can time out, then one of them at a time on a file lock
        with the other processes. The busy timeout stays for writers that skip this (the sqlite3 shell,
        migrations).
        """
        if self._write_lock_path is None:
            yield
            return
        lock = self.timeouts.lock
        if not self._writers.acquire(timeout=-1 if lock is None else lock):
            raise DatabaseUnavailable(f"no turn to write within the lock timeout ({lock:g} s)")
        try:
            descriptor = os.open(self._write_lock_path, os.O_RDWR | os.O_CREAT, 0o600)
            try:
                fcntl.flock(descriptor, fcntl.LOCK_EX)
                yield
            finally:
                os.close(descriptor)  # releases the lock
        finally:
            self._writers.release()

    def read_only_reason(self) -> str | None:
        """Why this database cannot be written, as far as can be told without writing: an SQLite file
        (or its folder, where the journal goes) that this process may not write. None otherwise."""
        file = _sqlite_file(self.engine.url)
        if file is None or _writable(file):
            return None
        return f"{file} (or its folder) is not writable by this process"

    def check_writable(self) -> None:
        """Raises DatabaseReadOnly when ``read_only_reason`` has a reason: before work whose only use is
        to be saved."""
        reason = self.read_only_reason()
        if reason is not None:
            raise DatabaseReadOnly(reason)

    def discard_connections(self) -> None:
        """Closes every pooled connection: the next unit of work starts on a fresh one."""
        self.engine.dispose()

    def dispose(self) -> None:
        self.engine.dispose()
