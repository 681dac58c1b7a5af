"""Hot reads and inserts on statements compiled once, run on the driver's cursor.

A GET of a job reads three columns of one row and a page of the jobs list reads them for a
hundred rows (``services/rendered_jobs.py`` serves the rest from rendered bytes). Through
SQLAlchemy Core each such read built its ``Select``, walked it for a cache key, set up a
``Connection``, emitted ``BEGIN`` through an event and wrapped the cursor in a result: about
ten times the cost of the query itself on SQLite (py-spy: 62 % of a GET's samples were in
``job_version``). A ``CompiledSelect`` is compiled once per engine and dialect (the same SQL
SQLAlchemy would send, bound parameters and all) and runs as one statement: on SQLite in
autocommit mode, one statement is one consistent snapshot; on PostgreSQL the pool rolls the
connection's transaction back when it is returned.

Values come back raw (what the driver returns); callers convert them (``UtcDateTime``'s
``process_result_value`` for times). DBAPI errors (connecting included) are raised as SQLAlchemy's
``DBAPIError``, so a database that is away still answers 503 (``amlite.store.availability``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, NoReturn

from sqlalchemy import Connection, Engine, Select, Table
from sqlalchemy import exc as sa_exc


class CompiledSelect:
    def __init__(self, engine: Engine, statement: Select[Any]) -> None:
        """``statement``: its parameters as named ``bindparam``s (no expanding ``IN``)."""
        compiled = statement.compile(dialect=engine.dialect)
        self._engine = engine
        self._sql = compiled.string
        self._defaults = dict(compiled.params)  # e.g. SQLite's OFFSET after a LIMIT
        self._names: list[str] | None = (
            list(compiled.positiontup or []) if compiled.positional else None
        )

    def statement(self, params: Mapping[str, Any]) -> tuple[str, Any]:
        """The SQL and the driver's arguments that ``rows(params)`` runs."""
        values = {**self._defaults, **params}
        args: Any = [values[n] for n in self._names] if self._names is not None else values
        return self._sql, args

    def rows(self, params: Mapping[str, Any]) -> Sequence[tuple[Any, ...]]:
        _, args = self.statement(params)
        dbapi_error: Any = self._engine.dialect.loaded_dbapi.Error
        try:
            conn = self._engine.raw_connection()
        except dbapi_error as exc:  # the database is away: no connection to give back
            raise sa_exc.DBAPIError.instance(
                self._sql, args, exc, dbapi_error, connection_invalidated=True
            ) from exc
        try:
            cursor = conn.cursor()
            try:
                cursor.execute(self._sql, args)
                rows: Sequence[tuple[Any, ...]] = cursor.fetchall()
            finally:
                cursor.close()
        except dbapi_error as exc:
            gone = self._engine.dialect.is_disconnect(exc, conn.dbapi_connection, None)
            conn.invalidate(exc)
            raise sa_exc.DBAPIError.instance(
                self._sql, args, exc, dbapi_error, connection_invalidated=gone
            ) from exc
        finally:
            conn.close()
        return rows


class CompiledInsert:
    """An ``INSERT`` of some columns of a table, compiled once per engine and run on the
    driver's cursor of a write transaction's ``Connection`` (``write_tx``).

    A job's submission is two inserts (its row, its status events): through
    ``Connection.execute`` each walked its statement for a cache key, set up an execution
    context, processed its parameters and wrapped the cursor in a result, more than SQLite
    takes to run them and commit (a third of a PUT's CPU). Here the SQL and each column's
    bind processing (``dialect_impl(...).bind_processor``: JSON to text, SQLite's times to
    text, psycopg's ``Json``) are what SQLAlchemy itself would send, looked up once; the
    transaction stays SQLAlchemy's (``BEGIN IMMEDIATE``, commit, rollback). A driver error
    goes through the connection's own error handling (the engine's ``handle_error`` events,
    a disconnect invalidating the pool) and is raised as SQLAlchemy raises it, e.g.
    ``IntegrityError`` for a name taken.
    """

    def __init__(
        self, engine: Engine, table: Table, columns: Sequence[str], key: str | None = None
    ) -> None:
        """``key``: the autoincremented column whose new value ``one`` returns (SQLite's
        ``lastrowid``; ``RETURNING`` elsewhere)."""
        dialect = engine.dialect
        self._lastrowid = key is not None and dialect.name == "sqlite"
        statement = table.insert()
        if key is not None and not self._lastrowid:
            statement = statement.returning(table.c[key])
        self._returning = key is not None and not self._lastrowid
        compiled = statement.compile(dialect=dialect, column_keys=list(columns))
        self._sql = compiled.string
        self._names: list[str] | None = (
            list(compiled.positiontup or []) if compiled.positional else None
        )
        names = self._names if self._names is not None else list(compiled.binds)
        if sorted(names) != sorted(columns):
            raise ValueError(f"{table.name}: parameters {names} are not the columns {columns}")
        self._binds = [
            (name, table.c[name].type.dialect_impl(dialect).bind_processor(dialect))
            for name in names
        ]

    def _args(self, values: Mapping[str, Any], memo: dict[tuple[int, int], Any]) -> Any:
        """The driver's parameters for one row (``values`` holds every column inserted).
        ``memo``: values already processed in this call, by processor and object (a
        submission binds one ``now`` five times; each SQLite time costs a ``strftime``)."""
        out = []
        for name, process in self._binds:
            value = values[name]
            if process is not None:  # None too: JSON's makes it 'null', as an execute does
                key = (id(process), id(value))
                if key in memo:
                    value = memo[key]
                else:
                    value = memo[key] = process(value)
            out.append(value)
        if self._names is not None:
            return out
        return {name: value for (name, _), value in zip(self._binds, out, strict=True)}

    def one(self, conn: Connection, values: Mapping[str, Any]) -> Any:
        """Insert one row in ``conn``'s transaction; the new ``key``, if any."""
        args = self._args(values, {})
        cursor = conn.connection.cursor()
        try:
            cursor.execute(self._sql, args)
            if self._lastrowid:
                return cursor.lastrowid
            row = cursor.fetchone() if self._returning else None
            return row[0] if row is not None else None
        except Exception as exc:
            _raise_as_sqlalchemy(conn, exc, self._sql, args, cursor)
        finally:
            cursor.close()

    def many(self, conn: Connection, rows: Sequence[Mapping[str, Any]]) -> None:
        """Insert ``rows`` in ``conn``'s transaction (one ``executemany``; none: nothing)."""
        if not rows:
            return
        memo: dict[tuple[int, int], Any] = {}  # (the rows outlive it: no id is reused)
        args = [self._args(values, memo) for values in rows]
        cursor = conn.connection.cursor()
        try:
            cursor.executemany(self._sql, args)
        except Exception as exc:
            _raise_as_sqlalchemy(conn, exc, self._sql, args, cursor)
        finally:
            cursor.close()


def _raise_as_sqlalchemy(
    conn: Connection, exc: Exception, sql: str, args: Any, cursor: Any
) -> NoReturn:
    """What ``Connection.execute`` does with a driver error: the engine's ``handle_error``
    events, a disconnect invalidating the connection and the pool, the error raised as
    SQLAlchemy's (``IntegrityError``, ``OperationalError``...). A private method of
    SQLAlchemy's (the same in 2.0 and 2.1); ``tests/store/test_store_compiled_insert.py``
    checks what it does."""
    conn._handle_dbapi_exception(exc, sql, args, cursor, None)
