"""Rows to the store's records, and the small SQL helpers the store modules share."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Connection, Row, Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Dialect
from sqlalchemy.sql.dml import Insert

from amlite.domain.status import JobStatus
from amlite.store._base import AssetRecord, JobRecord
from amlite.store._sql.tables import NO_VERSION, jobs


def job_record(row: Row[Any]) -> JobRecord:
    return job_of(row._mapping)


def job_of(m: Mapping[Any, Any]) -> JobRecord:
    """A job from its columns (a row's mapping; ``RawJobs``)."""
    return JobRecord(
        seq=int(m["seq"]),
        workspace_key=m["workspace_key"],
        name=m["name"],
        job_type=m["job_type"],
        status=JobStatus(m["status"]),
        priority=int(m["priority"]),
        experiment_name=m["experiment_name"],
        parent_name=m["parent_name"],
        compute=m["compute"],
        spec=dict(m["spec"] or {}),
        created_at=m["created_at"],
        modified_at=m["modified_at"],
        status_reason=m["status_reason"],
        exit_code=m["exit_code"],
        runtime=dict(m["runtime"] or {}),
        system_properties=dict(m["system_properties"] or {}),
        owner=m.get("owner"),
        owner_epoch=int(m.get("owner_epoch") or 0),
    )


class RawJobs:
    """Rows of ``select(jobs)`` as the driver returned them (``CompiledSelect``), to jobs:
    each column through the result processing SQLAlchemy gives it on ``dialect`` (JSON text
    and SQLite's text times parsed), as a ``Connection`` would have done."""

    def __init__(self, dialect: Dialect) -> None:
        self._columns = [
            (column.name, column.type.dialect_impl(dialect).result_processor(dialect, None))
            for column in jobs.c
        ]

    def record(self, row: Sequence[Any]) -> JobRecord:
        return job_of(
            {
                name: value if process is None or value is None else process(value)
                for (name, process), value in zip(self._columns, row, strict=True)
            }
        )


def asset_record(row: Row[Any]) -> AssetRecord:
    m = row._mapping
    version = m["version"]
    return AssetRecord(
        workspace_key=m["workspace_key"],
        kind=m["kind"],
        name=m["name"],
        version=None if version == NO_VERSION else version,
        body=dict(m["body"] or {}),
        seq=int(m["seq"]),
        created_at=m["created_at"],
        modified_at=m["modified_at"],
    )


def tag_rows(job_seq: int, tags: Any) -> list[dict[str, Any]]:
    """Rows of ``job_tags`` for the ``tags`` of a job spec (anything not a mapping: none)."""
    if not isinstance(tags, Mapping):
        return []
    return [
        {"job_seq": job_seq, "key": str(key), "value": "" if value is None else str(value)}
        for key, value in tags.items()
    ]


def insert_ignoring_conflict(
    conn: Connection, table: Table, values: Mapping[str, Any], conflict_columns: list[str]
) -> int:
    """INSERT that does nothing when a row with the same ``conflict_columns`` exists.

    Returns the number of rows inserted (0 or 1).
    """
    stmt: Insert
    if conn.dialect.name == "postgresql":
        stmt = postgresql.insert(table).on_conflict_do_nothing(index_elements=conflict_columns)
    elif conn.dialect.name == "sqlite":
        stmt = sqlite.insert(table).on_conflict_do_nothing(index_elements=conflict_columns)
    else:  # pragma: no cover - only SQLite and PostgreSQL are supported
        raise NotImplementedError(conn.dialect.name)
    return conn.execute(stmt, dict(values)).rowcount
