"""Engines for the store: SQLite (WAL) and PostgreSQL, with explicit write transactions.

SQLite specifics: every connection gets ``busy_timeout``, ``journal_mode=WAL``,
``synchronous=NORMAL`` and ``foreign_keys=ON``. The driver's own transaction handling is
switched off and amlite emits ``BEGIN`` itself, so a write transaction starts with
``BEGIN IMMEDIATE``: it takes the write lock up front and waits (busy_timeout) for it
instead of failing half-way when another writer committed after its first read.
"""

from __future__ import annotations

import contextlib
import gc
import sqlite3
import threading
import time
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, cast

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import ExceptionContext, make_url
from sqlalchemy.pool import StaticPool

BUSY_TIMEOUT_MS = 30_000
"""How long a SQLite writer waits for the write lock before giving up."""

_WRITE_OPTION = "amlite_write"


def make_engine(url: str) -> Engine:
    """An engine for ``url``; for a SQLite file its parent directory is created."""
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        return _sqlite_engine(url)
    if backend == "postgresql":
        if parsed.drivername == "postgresql":
            parsed = parsed.set(drivername="postgresql+psycopg")
        return create_engine(parsed, pool_pre_ping=True, pool_size=10, max_overflow=20)
    raise ValueError(f"unsupported database URL {parsed.render_as_string(hide_password=True)!r}")


def _sqlite_engine(url: str) -> Engine:
    parsed = make_url(url)
    database = parsed.database or ""
    in_memory = database in ("", ":memory:") or database.startswith("file::memory:")
    kwargs: dict[str, Any] = {"connect_args": {"check_same_thread": False}}
    if in_memory:
        # One shared connection, or every pool checkout would see an empty database.
        kwargs["poolclass"] = StaticPool
    else:
        Path(database).expanduser().resolve().parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(parsed, **kwargs)
    _WRITERS[engine] = threading.RLock()

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: sqlite3.Connection, _record: object) -> None:
        dbapi_connection.isolation_level = None  # amlite emits BEGIN itself (see _on_begin)
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            if not in_memory:
                _enable_wal(cursor)
            cursor.execute("PRAGMA synchronous = NORMAL")
            cursor.execute("PRAGMA foreign_keys = ON")
        finally:
            cursor.close()

    @event.listens_for(engine, "handle_error")
    def _on_error(context: ExceptionContext) -> None:
        # A connection SQLite opened while the file was not writable stays read-only for
        # good: treat the error as a disconnect, so the pool drops its connections and the
        # next use opens fresh ones (writable again once the file is).
        message = str(context.original_exception).lower()
        if "readonly database" in message or "unable to open database" in message:
            context.is_disconnect = True
            # SQLite shares one mapping of the WAL index per file among all the connections
            # of a process: while any of them (an idle reader in the pool) stays open, new
            # ones stay read-only too. The next write closes them all first (``write_tx``).
            _STALE.add(engine)

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        write = conn.get_execution_options().get(_WRITE_OPTION, False)
        statement = "BEGIN IMMEDIATE" if write else "BEGIN"
        # The driver's own call: through ``exec_driver_sql`` (statement events, a result
        # object) a BEGIN cost about as much as the statements of a short transaction.
        try:
            cast(sqlite3.Connection, conn.connection.driver_connection).execute(statement)
        except sqlite3.Error:
            # nothing began: once more through SQLAlchemy, so that its error handling
            # (``_on_error``: a read-only file) sees the error and it is raised as its own
            conn.exec_driver_sql(statement)

    return engine


def _enable_wal(cursor: sqlite3.Cursor) -> None:
    """Switch the file to WAL (persistent: later connections find it already on).

    Changing the journal mode needs a moment of exclusive access and SQLite answers
    "database is locked" at once, without the busy handler, when another connection opening
    the same fresh file is doing the same; so retry with a short backoff.
    """
    deadline = time.monotonic() + BUSY_TIMEOUT_MS / 1000
    delay = 0.005
    while True:
        try:
            mode = cursor.execute("PRAGMA journal_mode").fetchone()
            if mode is not None and str(mode[0]).lower() == "wal":
                return
            cursor.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) and "busy" not in str(exc):
                raise
            if time.monotonic() > deadline:
                raise
            time.sleep(delay)
            delay = min(delay * 2, 0.1)


_WRITERS: weakref.WeakKeyDictionary[Engine, threading.RLock] = weakref.WeakKeyDictionary()
"""The writer lock of each SQLite engine (see ``write_tx``)."""
_STALE: weakref.WeakSet[Engine] = weakref.WeakSet()
"""SQLite engines whose connections must all be closed before the next write."""


@contextmanager
def write_tx(engine: Engine) -> Iterator[Connection]:
    """A transaction that will write: committed on success, rolled back on any error.

    On SQLite the threads of this process take turns through one lock before ``BEGIN
    IMMEDIATE``: SQLite has a single writer anyway, and its busy handler makes waiting
    writers sleep and poll, so under a burst of writes many threads would spin and the
    unlucky ones wait for up to seconds; the lock queues them instead. Other processes
    still meet ``busy_timeout``.
    """
    with _WRITERS.get(engine) or contextlib.nullcontext():
        if engine in _STALE:
            _STALE.discard(engine)
            engine.dispose()
            # a connection still held by a reference cycle (an error's traceback) closes
            # only when the cycle is collected: now, not at the collector's next pass (which
            # may be long in coming: api/serving_gc.py). The first pass hands such a
            # connection back to the disposed pool, the next collects the pool.
            for _ in range(3):
                if not gc.collect():
                    break
        with engine.connect() as conn:
            conn.execution_options(**{_WRITE_OPTION: True})
            with conn.begin():
                yield conn


@contextmanager
def write_tx_if_free(engine: Engine) -> Iterator[Connection | None]:
    """``write_tx`` if no thread of this process is writing to this SQLite file; else (and
    on PostgreSQL, whose writes wait for the network) ``None`` at once, writing nothing.

    For the event loop, which must not queue behind the scheduler's writes; SQLite has no
    other writer than this process (the file is the server's own), so the write does not
    wait either (a foreign process holding the file's lock would still meet
    ``busy_timeout``).
    """
    lock = _WRITERS.get(engine)
    if lock is None or not lock.acquire(blocking=False):
        yield None
        return
    try:
        with write_tx(engine) as conn:
            yield conn
    finally:
        lock.release()


@contextmanager
def read_tx(engine: Engine) -> Iterator[Connection]:
    """A read-only transaction (one consistent snapshot on SQLite WAL)."""
    with engine.connect() as conn, conn.begin():
        yield conn
