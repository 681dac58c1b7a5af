"""Hot reads on statements compiled once, run on a pooled DBAPI connection.

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
from typing import Any

from sqlalchemy import Engine, Select
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
