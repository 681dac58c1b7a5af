"""``CompiledInsert`` (a submission's inserts on the driver's cursor) stores exactly what
``Connection.execute`` of the same insert stores, and its driver errors go through
SQLAlchemy's error handling, as an ``execute`` would, on each backend."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from sqlalchemy import event, select
from sqlalchemy.engine import ExceptionContext
from sqlalchemy.exc import IntegrityError

from amlite.domain.arm_id import WorkspaceRef
from amlite.store import Store
from amlite.store._sql.compiled import CompiledInsert
from amlite.store._sql.engine import write_tx
from amlite.store._sql.store import _NEW_JOB_COLUMNS, SqlStore
from amlite.store._sql.tables import jobs, status_events

WS = WorkspaceRef("sub", "rg", "ws")
COLUMNS = _NEW_JOB_COLUMNS


def _sql(store: Store) -> SqlStore:
    assert isinstance(store, SqlStore)
    store.ensure_workspace(WS)
    return store


def _values(name: str) -> dict[str, Any]:
    east = timezone(timedelta(hours=5, minutes=30))
    return {
        "workspace_key": WS.key,
        "name": name,
        "job_type": "Command",
        "status": "Queued",
        "priority": 7,
        "experiment_name": "exp ü",
        "parent_name": None,
        "compute": "local",
        "spec": {"command": "echo 'ü' \"x\"", "nested": [1, 2.5, None, {"k": True}]},
        "runtime": None,  # JSON null (an execute binds None through the JSON type too)
        "system_properties": {"a": "b"},
        "status_reason": None,
        "exit_code": None,
        "created_at": datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=east),
        "modified_at": datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=UTC),
    }


def _row(store: SqlStore, name: str) -> dict[str, Any]:
    with store.engine.connect() as conn:
        row = conn.execute(select(jobs).where(jobs.c.name == name)).one()
    return dict(row._mapping)


def test_a_compiled_insert_stores_what_an_execute_stores(store: Store) -> None:
    sql = _sql(store)
    one = CompiledInsert(sql.engine, jobs, COLUMNS, key="seq")
    many = CompiledInsert(sql.engine, status_events, ("job_seq", "status", "at", "reason"))
    with write_tx(sql.engine) as conn:
        conn.execute(jobs.insert(), _values("by-execute"))
        seq = one.one(conn, _values("compiled"))
        at = datetime(2026, 5, 6, 7, 8, 9, 123, tzinfo=UTC)
        many.many(conn, [{"job_seq": seq, "status": s, "at": at, "reason": None} for s in "AB"])
        many.many(conn, [])  # nothing to insert: nothing sent
    expected, got = _row(sql, "by-execute"), _row(sql, "compiled")
    assert got["seq"] == seq
    for column in (*COLUMNS, "owner", "owner_epoch"):
        if column != "name":
            assert got[column] == expected[column], column
    with sql.engine.connect() as conn:
        events = conn.execute(
            select(status_events.c.status, status_events.c.at).where(status_events.c.job_seq == seq)
        ).all()
    assert [(s, a) for s, a in events] == [("A", at), ("B", at)]


def test_a_driver_error_is_handled_and_raised_as_by_an_execute(store: Store) -> None:
    sql = _sql(store)
    seen: list[BaseException] = []

    def on_error(context: ExceptionContext) -> None:
        seen.append(context.original_exception)

    event.listen(sql.engine, "handle_error", on_error)
    one = CompiledInsert(sql.engine, jobs, COLUMNS, key="seq")
    many = CompiledInsert(sql.engine, jobs, COLUMNS)
    with write_tx(sql.engine) as conn:
        one.one(conn, _values("taken"))
    inserts = (lambda c: one.one(c, _values("taken")), lambda c: many.many(c, [_values("taken")]))
    for insert in inserts:
        with pytest.raises(IntegrityError), write_tx(sql.engine) as conn:
            insert(conn)
    assert len(seen) == 2
    assert all(isinstance(e, sql.engine.dialect.loaded_dbapi.IntegrityError) for e in seen)
    with sql.engine.connect() as conn:  # the failed transactions rolled back, the store works
        assert len(conn.execute(select(jobs.c.seq).where(jobs.c.name == "taken")).all()) == 1


def test_a_compiled_insert_refuses_a_column_the_table_does_not_have(store: Store) -> None:
    sql = _sql(store)
    with pytest.raises(ValueError, match="not the columns"):
        CompiledInsert(sql.engine, jobs, (*COLUMNS[1:], "workspace"))  # a misspelt column
