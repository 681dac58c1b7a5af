"""Metrics, params and run tags of ``SqlStore`` (what the MLflow tracking routes keep).

- A metric value is one row of ``metrics``; its ``id`` (autoincrement) is the order it was
  logged in, which is what "the N-th value" means for early termination (never ``step``).
- NaN is kept as NULL in ``metrics.value`` (SQLite cannot store NaN); infinities as they are.
- Params follow MLflow: logging a key again with the same value is fine, another value is a
  ``Conflict``.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Callable, Collection, Hashable, Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, Select, bindparam, case, func, select, union

from amlite.domain.status import JobStatus
from amlite.errors import Conflict, NotFound
from amlite.store._base import JobRecord, MetricPoint, MetricSummary, TrialRow, TrialsVersion
from amlite.store._sql.compiled import CompiledSelect
from amlite.store._sql.engine import read_tx, write_tx
from amlite.store._sql.records import insert_ignoring_conflict, job_record
from amlite.store._sql.tables import assets, jobs, metrics, run_params, run_tags

EXPERIMENT_KIND = "experiments"
"""Experiments created through MLflow's ``experiments/create`` are kept as assets of this kind."""


def _stored_value(value: float) -> float | None:
    value = float(value)
    return None if math.isnan(value) else value


def _read_value(value: float | None) -> float:
    return math.nan if value is None else float(value)


def _job_seq(conn: Connection, workspace_key: str, job_name: str) -> int:
    seq = conn.execute(
        select(jobs.c.seq).where(jobs.c.workspace_key == workspace_key, jobs.c.name == job_name)
    ).scalar()
    if seq is None:
        raise NotFound(f"job {job_name!r} not found", target=job_name)
    return int(seq)


def _insert_metrics_sql(conn: Connection) -> str:
    mark = "?" if conn.dialect.paramstyle == "qmark" else "%s"
    columns = ("job_seq", "key", "value", "step", "timestamp")
    quoted = ", ".join(conn.dialect.identifier_preparer.quote(c) for c in columns)
    return f"INSERT INTO metrics ({quoted}) VALUES ({', '.join([mark] * len(columns))})"


def _metric_history() -> Select[Any]:
    return (
        select(metrics.c.key, metrics.c.value, metrics.c.step, metrics.c.timestamp)
        .join(jobs, jobs.c.seq == metrics.c.job_seq)
        .where(
            jobs.c.workspace_key == bindparam("b_key"),
            jobs.c.name == bindparam("b_name"),
            metrics.c.key == bindparam("b_metric"),
        )
        .order_by(metrics.c.id.asc())
    )


def _point(row: Any) -> MetricPoint:
    return MetricPoint(row.key, _read_value(row.value), int(row.step), int(row.timestamp))


def _check_params(conn: Connection, seq: int, wanted: Mapping[str, str]) -> None:
    stored = conn.execute(
        select(run_params.c.key, run_params.c.value).where(
            run_params.c.job_seq == seq, run_params.c.key.in_(list(wanted))
        )
    )
    for key, old in stored:
        if old != wanted[key]:
            raise Conflict(
                f"param {key!r} was already logged with value {old!r}; "
                f"a param cannot change (new value {wanted[key]!r})",
                target=key,
            )


class TrackingTables:
    """The tracking half of the store; ``SqlStore`` mixes it in."""

    _engine: Engine
    _compiled_select: Callable[[Hashable, Callable[[], Select[Any]]], CompiledSelect]

    # -- metrics ----------------------------------------------------------------------------
    def log_metrics(self, workspace_key: str, job_name: str, points: Sequence[MetricPoint]) -> None:
        with write_tx(self._engine) as conn:
            seq = _job_seq(conn, workspace_key, job_name)
            if not points:
                return
            rows = [
                (seq, p.key, _stored_value(p.value), int(p.step), int(p.timestamp)) for p in points
            ]
            # One driver-level executemany: SQLAlchemy's per-row parameter processing would cost
            # more than the insert itself (about 3x at 1,000 points).
            conn.exec_driver_sql(_insert_metrics_sql(conn), rows)

    def metric_history(self, workspace_key: str, job_name: str, key: str) -> list[MetricPoint]:
        # one statement compiled once: the sweep controller scores every trial with it
        rows = self._compiled_select("metric history", _metric_history).rows(
            {"b_key": workspace_key, "b_name": job_name, "b_metric": key}
        )
        return [MetricPoint(k, _read_value(v), int(step), int(ts)) for k, v, step, ts in rows]

    def all_metric_histories(
        self, workspace_key: str, job_name: str
    ) -> dict[str, list[MetricPoint]]:
        query = (
            select(metrics.c.key, metrics.c.value, metrics.c.step, metrics.c.timestamp)
            .join(jobs, jobs.c.seq == metrics.c.job_seq)
            .where(jobs.c.workspace_key == workspace_key, jobs.c.name == job_name)
            .order_by(metrics.c.id.asc())
        )
        out: dict[str, list[MetricPoint]] = {}
        with read_tx(self._engine) as conn:
            for row in conn.execute(query):
                out.setdefault(row.key, []).append(_point(row))
        return out

    def latest_metrics(self, workspace_key: str, job_name: str) -> list[MetricPoint]:
        with read_tx(self._engine) as conn:
            seq = conn.execute(
                select(jobs.c.seq).where(
                    jobs.c.workspace_key == workspace_key, jobs.c.name == job_name
                )
            ).scalar()
            if seq is None:
                return []
            last = (
                select(func.max(metrics.c.id).label("id"))
                .where(metrics.c.job_seq == seq)
                .group_by(metrics.c.key)
                .subquery()
            )
            query = (
                select(metrics.c.key, metrics.c.value, metrics.c.step, metrics.c.timestamp)
                .join(last, last.c.id == metrics.c.id)
                .order_by(metrics.c.key.asc())
            )
            return [_point(row) for row in conn.execute(query)]

    def metric_histories(
        self,
        workspace_key: str,
        parent_name: str,
        key: str,
        *,
        names: Collection[str] | None = None,
    ) -> dict[str, list[float]]:
        if names is not None and not names:
            return {}
        query = (
            select(jobs.c.name, metrics.c.value)
            .join(metrics, metrics.c.job_seq == jobs.c.seq)
            .where(
                jobs.c.workspace_key == workspace_key,
                jobs.c.parent_name == parent_name,
                metrics.c.key == key,
            )
            .order_by(metrics.c.id.asc())
        )
        if names is not None:
            query = query.where(jobs.c.name.in_(list(names)))
        out: dict[str, list[float]] = {}
        with read_tx(self._engine) as conn:
            for name, value in conn.execute(query):
                out.setdefault(name, []).append(_read_value(value))
        return out

    def sweep_trials(
        self,
        workspace_key: str,
        parent_name: str,
        limit: int,
        *,
        modified_since: datetime | None = None,
    ) -> list[TrialRow]:
        query = (
            select(
                jobs.c.name,
                jobs.c.status,
                jobs.c.status_reason,
                jobs.c.created_at,
                jobs.c.spec["properties"].label("properties"),
                jobs.c.system_properties,
            )
            .where(jobs.c.workspace_key == workspace_key, jobs.c.parent_name == parent_name)
            .order_by(jobs.c.seq.desc())
            .limit(limit)
        )
        if modified_since is not None:
            query = query.where(jobs.c.modified_at >= modified_since)
        with read_tx(self._engine) as conn:
            return [
                TrialRow(
                    name,
                    JobStatus(status),
                    reason,
                    created,
                    dict(props) if isinstance(props, dict) else {},
                    dict(extra or {}),
                )
                for name, status, reason, created, props, extra in conn.execute(query)
            ]

    def sweep_trials_version(self, workspace_key: str, parent_name: str) -> TrialsVersion:
        query = select(func.count(), func.max(jobs.c.seq), func.max(jobs.c.modified_at)).where(
            jobs.c.workspace_key == workspace_key, jobs.c.parent_name == parent_name
        )
        with read_tx(self._engine) as conn:
            row = conn.execute(query).one()
        count, last_seq, modified_at = row
        return TrialsVersion(int(count), None if last_seq is None else int(last_seq), modified_at)

    def metric_summaries(
        self,
        workspace_key: str,
        parent_name: str,
        key: str,
        *,
        names: Collection[str] | None = None,
    ) -> dict[str, MetricSummary]:
        if names is not None and not names:
            return {}
        value = metrics.c.value
        finite = case((func.abs(value) <= sys.float_info.max, value))  # NULL (NaN), inf: no
        grouped = (
            select(
                metrics.c.job_seq,
                func.count().label("n"),
                func.min(finite).label("low"),
                func.max(finite).label("high"),
                func.max(metrics.c.id).label("last_id"),
            )
            .join(jobs, metrics.c.job_seq == jobs.c.seq)
            .where(
                jobs.c.workspace_key == workspace_key,
                jobs.c.parent_name == parent_name,
                metrics.c.key == key,
            )
            .group_by(metrics.c.job_seq)
        )
        if names is not None:
            grouped = grouped.where(jobs.c.name.in_(list(names)))
        per_trial = grouped.subquery()
        query = select(
            jobs.c.name, per_trial.c.n, per_trial.c.low, per_trial.c.high, metrics.c.value
        ).select_from(
            per_trial.join(jobs, jobs.c.seq == per_trial.c.job_seq).join(
                metrics, metrics.c.id == per_trial.c.last_id
            )
        )
        with read_tx(self._engine) as conn:
            return {
                name: MetricSummary(
                    int(n),
                    None if low is None else float(low),
                    None if high is None else float(high),
                    _read_value(last),
                )
                for name, n, low, high, last in conn.execute(query)
            }

    # -- params and run tags --------------------------------------------------------------
    def log_params(self, workspace_key: str, job_name: str, params: Mapping[str, str]) -> None:
        wanted = {str(k): str(v) for k, v in params.items()}
        with write_tx(self._engine) as conn:
            seq = _job_seq(conn, workspace_key, job_name)
            if not wanted:
                return
            _check_params(conn, seq, wanted)
            for key, value in wanted.items():
                row = {"job_seq": seq, "key": key, "value": value}
                insert_ignoring_conflict(conn, run_params, row, ["job_seq", "key"])
            _check_params(conn, seq, wanted)  # a concurrent writer may have won a key

    def get_params(self, workspace_key: str, job_name: str) -> dict[str, str]:
        return self._pairs(run_params, workspace_key, job_name)

    def set_run_tags(self, workspace_key: str, job_name: str, tags: Mapping[str, str]) -> None:
        with write_tx(self._engine) as conn:
            seq = _job_seq(conn, workspace_key, job_name)
            for key, value in tags.items():
                updated = conn.execute(
                    run_tags.update()
                    .where(run_tags.c.job_seq == seq, run_tags.c.key == str(key))
                    .values(value=str(value))
                ).rowcount
                if not updated:
                    conn.execute(
                        run_tags.insert().values(job_seq=seq, key=str(key), value=str(value))
                    )

    def get_run_tags(self, workspace_key: str, job_name: str) -> dict[str, str]:
        return self._pairs(run_tags, workspace_key, job_name)

    def _pairs(self, table: Any, workspace_key: str, job_name: str) -> dict[str, str]:
        query = (
            select(table.c.key, table.c.value)
            .join(jobs, jobs.c.seq == table.c.job_seq)
            .where(jobs.c.workspace_key == workspace_key, jobs.c.name == job_name)
            .order_by(table.c.key.asc())
        )
        with read_tx(self._engine) as conn:
            return {key: value for key, value in conn.execute(query)}

    # -- run and experiment lookups ---------------------------------------------------------
    def jobs_named(self, name: str) -> list[JobRecord]:
        query = select(jobs).where(jobs.c.name == name).order_by(jobs.c.seq.asc())
        with read_tx(self._engine) as conn:
            return [job_record(row) for row in conn.execute(query)]

    def experiment_names(self, workspace_key: str) -> list[str]:
        from_jobs = select(jobs.c.experiment_name.label("name")).where(
            jobs.c.workspace_key == workspace_key
        )
        created = select(assets.c.name.label("name")).where(
            assets.c.workspace_key == workspace_key, assets.c.kind == EXPERIMENT_KIND
        )
        names = union(from_jobs, created).subquery()
        with read_tx(self._engine) as conn:
            return sorted({str(n) for n in conn.execute(select(names.c.name)).scalars()})
