"""``SqlStore``: the store on SQLAlchemy 2 Core, SQLite (WAL) or PostgreSQL (psycopg 3)."""

from __future__ import annotations

import functools
import itertools
import json
from collections.abc import Callable, Collection, Hashable, Iterable, Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from itertools import pairwise
from typing import Any, Unpack

from sqlalchemy import (
    Connection,
    Engine,
    Select,
    and_,
    bindparam,
    delete,
    exists,
    func,
    select,
    update,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import IntegrityError

from amlite.domain.arm_id import WorkspaceRef
from amlite.domain.status import JobStatus, check_transition
from amlite.errors import Conflict, Fenced, InvalidTransition, NotFound
from amlite.store._base import (
    Fence,
    JobFilters,
    JobRecord,
    JobVersion,
    NewJob,
    StatusEvent,
    Store,
)
from amlite.store._sql.assets import AssetsAndTokens
from amlite.store._sql.compiled import CompiledInsert, CompiledSelect
from amlite.store._sql.deployments import DeploymentTables
from amlite.store._sql.engine import make_engine, read_tx, write_tx, write_tx_if_free
from amlite.store._sql.leases import ServerLeases, fence_condition
from amlite.store._sql.migrate import ensure_schema
from amlite.store._sql.records import RawJobs, insert_ignoring_conflict, job_record, tag_rows
from amlite.store._sql.tables import (
    UtcDateTime,
    as_utc,
    job_tags,
    jobs,
    status_events,
    tokens,
    utcnow,
    workspaces,
)
from amlite.store._sql.tracking import TrackingTables


class SqlStore(AssetsAndTokens, TrackingTables, DeploymentTables, ServerLeases, Store):
    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._compiled: dict[Hashable, CompiledSelect] = {}
        """The hot reads' statements, compiled once per shape (``compiled.py``)."""
        self._raw_jobs = RawJobs(engine.dialect)
        # a submission's inserts, on the driver's cursor (``compiled.py``)
        self._insert_job_row = CompiledInsert(engine, jobs, _NEW_JOB_COLUMNS, key="seq")
        self._insert_job_rows = CompiledInsert(engine, jobs, _NEW_JOB_COLUMNS)
        self._insert_events = CompiledInsert(engine, status_events, _NEW_EVENT_COLUMNS)
        self._insert_tags = CompiledInsert(engine, job_tags, _TAG_COLUMNS)
        self._workspaces_stored: set[str] = set()
        """Workspace keys known to have their row (rows are never deleted): a submission
        skips the insert-if-missing of its workspace, one statement of four."""

    def _compiled_select(self, shape: Hashable, build: Callable[[], Select[Any]]) -> CompiledSelect:
        found = self._compiled.get(shape)
        if found is None:
            found = self._compiled.setdefault(shape, CompiledSelect(self._engine, build()))
        return found

    @classmethod
    def open(cls, url: str) -> SqlStore:
        """Connect to ``url``, migrate it to the newest schema, and return the store."""
        engine = make_engine(url)
        try:
            ensure_schema(engine)
        except BaseException:
            engine.dispose()
            raise
        return cls(engine)

    @property
    def engine(self) -> Engine:
        return self._engine

    def close(self) -> None:
        self._engine.dispose()

    def probe_writable(self) -> None:
        """A write transaction that changes nothing: raises when the database is out of
        reach or read-only (a plain read succeeds on a read-only SQLite file)."""
        with write_tx(self._engine) as conn:
            conn.exec_driver_sql("UPDATE alembic_version SET version_num = version_num WHERE 1 = 0")

    # -- workspaces -----------------------------------------------------------------------
    def ensure_workspace(self, workspace: WorkspaceRef) -> None:
        with write_tx(self._engine) as conn:
            _ensure_workspace(conn, workspace)
        self._workspaces_stored.add(workspace.key)

    def get_workspace(self, key: str) -> WorkspaceRef | None:
        with read_tx(self._engine) as conn:
            row = conn.execute(select(workspaces).where(workspaces.c.key == key.lower())).first()
        if row is None:
            return None
        return WorkspaceRef(row.subscription, row.resource_group, row.workspace)

    # -- jobs -----------------------------------------------------------------------------
    def create_job(
        self, job: NewJob, *, at: datetime | None = None, then: Sequence[JobStatus] = ()
    ) -> JobRecord:
        now = at or utcnow()
        path = _submission_path(then)
        try:
            with write_tx(self._engine) as conn:
                record = self._insert_job(conn, job, path, now)
        except IntegrityError as exc:
            raise Conflict(
                f"a job named {job.name!r} already exists in this workspace", target="name"
            ) from exc
        self._workspaces_stored.add(job.workspace.key)
        return record

    def _insert_job(
        self, conn: Connection, job: NewJob, path: Sequence[JobStatus], now: datetime
    ) -> JobRecord:
        """One new job (IntegrityError if its name is taken): three statements."""
        values = _new_job_values(job, path, now)
        if job.workspace.key not in self._workspaces_stored:
            _ensure_workspace(conn, job.workspace)
        seq = int(self._insert_job_row.one(conn, values))
        self._insert_tags.many(conn, tag_rows(seq, job.spec.get("tags")))
        self._insert_events.many(conn, _new_job_events(seq, path, now))
        return _new_job_record(job, seq, values)

    def create_jobs(
        self, jobs: Sequence[NewJob], *, then: Sequence[JobStatus] = (), wait: bool = True
    ) -> list[JobRecord | None] | None:
        if not jobs:
            return []
        now = utcnow()
        path = _submission_path(then)
        out: list[JobRecord | None]
        try:
            with write_tx(self._engine) if wait else write_tx_if_free(self._engine) as conn:
                if conn is None:
                    return None
                if len(jobs) == 1:  # alone: no name checks (two statements fewer)
                    out = [self._insert_job(conn, jobs[0], path, now)]
                else:
                    out = self._insert_jobs(conn, jobs, path, now)
        except IntegrityError:
            if len(jobs) == 1:
                return [None]  # its name is taken
            raise  # taken meanwhile by another server (PostgreSQL): the caller goes one by one
        self._workspaces_stored.update(job.workspace.key for job in jobs)
        return out

    def _insert_jobs(
        self, conn: Connection, batch: Sequence[NewJob], path: Sequence[JobStatus], now: datetime
    ) -> list[JobRecord | None]:
        """A batch of new jobs in five statements whatever its size; None for a name taken."""
        for job in {j.workspace.key: j for j in batch}.values():
            if job.workspace.key not in self._workspaces_stored:
                _ensure_workspace(conn, job.workspace)
        fresh = _untaken(conn, batch)
        rows = [_new_job_values(batch[i], path, now) for i in fresh]
        # one executemany, then the seqs by name (RETURNING would go row by row)
        self._insert_job_rows.many(conn, rows)
        seq_of = _seqs_by_name(conn, [batch[i] for i in fresh])
        seqs = [seq_of[batch[i].workspace.key, batch[i].name] for i in fresh]
        tags: list[dict[str, Any]] = []
        events: list[dict[str, Any]] = []
        for seq, i in zip(seqs, fresh, strict=True):
            tags += tag_rows(seq, batch[i].spec.get("tags"))
            events += _new_job_events(seq, path, now)
        self._insert_tags.many(conn, tags)
        self._insert_events.many(conn, events)
        out: list[JobRecord | None] = [None] * len(batch)
        for seq, i, values in zip(seqs, fresh, rows, strict=True):
            out[i] = _new_job_record(batch[i], seq, values)
        return out

    def add_trials(
        self,
        workspace_key: str,
        sweep_name: str,
        trials: Sequence[NewJob],
        *,
        path: Sequence[JobStatus],
        runtime: Mapping[str, Any],
        fence: Fence | None = None,
        tokens: Mapping[str, str] | None = None,
    ) -> list[JobRecord]:
        if any(job.workspace.key != workspace_key for job in trials):
            raise ValueError("trials belong to their sweep's workspace")
        statuses = [JobStatus.NOT_STARTED, *path]
        for before, after in pairwise(statuses):
            check_transition(before, after)
        final = statuses[-1]
        now = utcnow()
        created: list[JobRecord] = []
        with write_tx(self._engine) as conn:
            sweep = conn.execute(
                _SWEEP_FOR_UPDATE, {"b_key": workspace_key, "b_name": sweep_name}
            ).first()
            if sweep is None:
                raise NotFound(f"job {sweep_name!r} not found", target=sweep_name)
            _check_fence(conn, fence, sweep_name)
            conn.execute(
                _UPDATE_BY_SEQ,
                {
                    "b_seq": sweep.seq,
                    "runtime": {**(sweep.runtime or {}), **runtime},
                    "modified_at": now,
                },
            )
            names = [job.name for job in trials]
            existing = (
                set(
                    conn.execute(_NAMES_AMONG, {"b_key": workspace_key, "b_names": names}).scalars()
                )
                if names
                else set()
            )
            events: list[dict[str, Any]] = []
            tags: list[dict[str, Any]] = []
            token_rows: list[dict[str, Any]] = []
            for job in trials:
                if job.name in existing:
                    continue
                existing.add(job.name)
                record = JobRecord(
                    seq=0,
                    workspace_key=workspace_key,
                    name=job.name,
                    job_type=job.job_type,
                    status=final,
                    priority=job.priority,
                    experiment_name=job.experiment_name,
                    parent_name=sweep_name,
                    compute=job.compute,
                    spec=dict(job.spec),
                    created_at=now,
                    modified_at=now,
                )
                inserted = conn.execute(
                    _INSERT_JOB,
                    {
                        "workspace_key": workspace_key,
                        "name": job.name,
                        "job_type": job.job_type,
                        "status": final.value,
                        "priority": job.priority,
                        "experiment_name": job.experiment_name,
                        "parent_name": sweep_name,
                        "compute": job.compute,
                        "spec": record.spec,
                        "runtime": {},
                        "system_properties": {},
                        "created_at": now,
                        "modified_at": now,
                    },
                ).inserted_primary_key
                assert inserted is not None
                seq = int(inserted[0])
                tags += tag_rows(seq, job.spec.get("tags"))
                events += [
                    {"job_seq": seq, "status": status.value, "at": now, "reason": None}
                    for status in statuses
                ]
                if tokens and job.name in tokens:
                    token_rows.append(
                        {
                            "token_hash": tokens[job.name],
                            "workspace_key": workspace_key,
                            "job_name": job.name,
                            "job_seq": seq,
                            "created_at": now,
                        }
                    )
                created.append(replace(record, seq=seq))
            if tags:
                conn.execute(job_tags.insert(), tags)
            if events:
                conn.execute(_INSERT_EVENTS, events)
            if token_rows:
                conn.execute(_INSERT_TOKENS, token_rows)
        return created

    def get_job(self, workspace_key: str, name: str) -> JobRecord | None:
        with read_tx(self._engine) as conn:
            row = conn.execute(_job_query(workspace_key, name)).first()
        return job_record(row) if row is not None else None

    def list_jobs(self, workspace_key: str, **filters: Unpack[JobFilters]) -> list[JobRecord]:
        query = _filtered(select(jobs), workspace_key, filters)
        with read_tx(self._engine) as conn:
            return [job_record(row) for row in conn.execute(query)]

    def list_job_versions(
        self, workspace_key: str, **filters: Unpack[JobFilters]
    ) -> list[JobVersion]:
        def build() -> Select[Any]:
            return _filtered(
                select(jobs.c.seq, jobs.c.modified_at, jobs.c.status), workspace_key, filters
            )

        before_seq = filters.get("before_seq")
        job_type = filters.get("job_type")
        parent_name = filters.get("parent_name")
        experiment_name = filters.get("experiment_name")
        rare = (
            filters.get("tag") is not None
            or bool(filters.get("tags"))
            or filters.get("statuses") is not None
        )
        if rare:  # rare filters: built each time
            with read_tx(self._engine) as conn:
                return [
                    JobVersion(int(seq), modified_at, JobStatus(status))
                    for seq, modified_at, status in conn.execute(build())
                ]
        shape = (
            "versions",
            before_seq is not None,
            job_type is not None,
            parent_name is not None,
            filters.get("top_level_only", False),
            experiment_name is not None,
        )
        params = {
            "workspace_key": workspace_key,
            "before_seq": before_seq,
            "job_type": job_type.lower() if job_type is not None else None,
            "parent_name": parent_name,
            "experiment_name": experiment_name,
            "limit": filters.get("limit", 100),
        }
        rows = self._compiled_select(shape, build).rows(params)
        return [_job_version(row, self._engine) for row in rows]

    def job_version(self, workspace_key: str, name: str) -> JobVersion | None:
        def build() -> Select[Any]:
            return select(jobs.c.seq, jobs.c.modified_at, jobs.c.status).where(
                jobs.c.workspace_key == bindparam("workspace_key", workspace_key),
                jobs.c.name == bindparam("name", name),
            )

        rows = self._compiled_select("version", build).rows(
            {"workspace_key": workspace_key, "name": name}
        )
        return _job_version(rows[0], self._engine) if rows else None

    def jobs_by_seq(self, seqs: Collection[int]) -> list[JobRecord]:
        if not seqs:
            return []
        with read_tx(self._engine) as conn:
            rows = conn.execute(select(jobs).where(jobs.c.seq.in_(list(seqs))))
            return [job_record(row) for row in rows]

    def update_job_metadata(
        self,
        workspace_key: str,
        name: str,
        *,
        description: str | None,
        tags: Mapping[str, str] | None,
        properties: Mapping[str, str] | None,
    ) -> JobRecord:
        with write_tx(self._engine) as conn:
            row = _locked_job(conn, workspace_key, name)
            spec = dict(row.spec or {})
            for key, value in (
                ("description", description),
                ("tags", None if tags is None else dict(tags)),
                ("properties", None if properties is None else dict(properties)),
            ):
                if value is None:
                    spec.pop(key, None)
                else:
                    spec[key] = value
            conn.execute(
                update(jobs).where(jobs.c.seq == row.seq).values(spec=spec, modified_at=utcnow())
            )
            conn.execute(delete(job_tags).where(job_tags.c.job_seq == row.seq))
            new_tags = tag_rows(row.seq, spec.get("tags"))
            if new_tags:
                conn.execute(job_tags.insert(), new_tags)
            return job_record(conn.execute(select(jobs).where(jobs.c.seq == row.seq)).one())

    def delete_job(self, workspace_key: str, name: str) -> bool:
        with write_tx(self._engine) as conn:
            deleted = conn.execute(
                delete(jobs).where(jobs.c.workspace_key == workspace_key, jobs.c.name == name)
            ).rowcount
        if deleted:
            self.job_deletes = next(_JOB_DELETES)  # committed: its tokens are gone
        return deleted > 0

    def transition(
        self,
        workspace_key: str,
        name: str,
        new: JobStatus | Sequence[JobStatus],
        *,
        reason: str | None = None,
        at: datetime | Sequence[datetime | None] | None = None,
        exit_code: int | None = None,
        runtime: Mapping[str, Any] | None = None,
        expect: JobStatus | None = None,
        fence: Fence | None = None,
    ) -> JobRecord:
        path, times = _path_times(new, at)
        now = times[-1]
        with write_tx(self._engine) as conn:
            row = conn.execute(
                select(jobs.c.seq, jobs.c.status).where(
                    jobs.c.workspace_key == workspace_key, jobs.c.name == name
                )
            ).first()
            if row is None:
                raise NotFound(f"job {name!r} not found", target=name)
            current = JobStatus(row.status)
            if expect is not None and current is not expect:
                _check_fence(conn, fence, name)  # moved by the server that took it over
                raise InvalidTransition(
                    f"job {name!r} is {current.value}, no longer {JobStatus(expect).value}"
                )
            step = current
            for status in path:
                check_transition(step, status)
                step = status
            final = path[-1]
            values: dict[str, Any] = {"status": final.value, "modified_at": now}
            if reason is not None:
                values["status_reason"] = reason
            if exit_code is not None:
                values["exit_code"] = exit_code
            if runtime is not None:
                values["runtime"] = dict(runtime)
            where = [jobs.c.seq == row.seq, jobs.c.status == current.value]
            if fence is not None:
                own = (fence.workspace_key, fence.name) == (workspace_key, name)
                where.append(fence_condition(conn, fence, row=jobs if own else None))
            changed = conn.execute(update(jobs).where(*where).values(**values)).rowcount
            if changed != 1:
                _check_fence(conn, fence, name)
                raise InvalidTransition(
                    f"job {name!r} left {current.value} before it could go to {final.value}"
                )
            conn.execute(
                status_events.insert(),
                [
                    {
                        "job_seq": row.seq,
                        "status": status.value,
                        "at": times[i],
                        "reason": reason if i == len(path) - 1 else None,
                    }
                    for i, status in enumerate(path)
                ],
            )
            return job_record(conn.execute(select(jobs).where(jobs.c.seq == row.seq)).one())

    def move_job(
        self,
        job: JobRecord,
        new: JobStatus | Sequence[JobStatus],
        *,
        reason: str | None = None,
        at: datetime | Sequence[datetime | None] | None = None,
        exit_code: int | None = None,
        runtime: Mapping[str, Any] | None = None,
        fence: Fence | None = None,
    ) -> JobRecord:
        if fence is not None:  # several servers: the fenced compare-and-set of ``transition``
            return self.transition(
                job.workspace_key,
                job.name,
                new,
                reason=reason,
                at=at,
                exit_code=exit_code,
                runtime=runtime,
                expect=job.status,
                fence=fence,
            )
        # One UPDATE ... WHERE seq AND status = what the caller read, returning the row, and
        # one INSERT of the events: the compare-and-set of ``transition`` without its lookups.
        path, times = _path_times(new, at)
        step = job.status
        for status in path:
            check_transition(step, status)
            step = status
        values: dict[str, Any] = {
            "b_seq": job.seq,
            "b_was": job.status.value,
            "status": path[-1].value,
            "modified_at": times[-1],
        }
        if reason is not None:
            values["status_reason"] = reason
        if exit_code is not None:
            values["exit_code"] = exit_code
        if runtime is not None:
            values["runtime"] = dict(runtime)
        with write_tx(self._engine) as conn:
            row = conn.execute(_MOVE_JOB, values).first()
            if row is None:
                if conn.execute(_JOB_STATUS_BY_SEQ, {"b_seq": job.seq}).first() is None:
                    raise NotFound(f"job {job.name!r} not found", target=job.name)
                raise InvalidTransition(
                    f"job {job.name!r} left {job.status.value} before it could go to "
                    f"{path[-1].value}"
                )
            conn.execute(
                _INSERT_EVENTS,
                [
                    {
                        "job_seq": job.seq,
                        "status": status.value,
                        "at": times[i],
                        "reason": reason if i == len(path) - 1 else None,
                    }
                    for i, status in enumerate(path)
                ],
            )
        return job_record(row)

    def status_history(self, workspace_key: str, name: str) -> list[StatusEvent]:
        query = (
            select(status_events.c.status, status_events.c.at, status_events.c.reason)
            .join(jobs, jobs.c.seq == status_events.c.job_seq)
            .where(jobs.c.workspace_key == workspace_key, jobs.c.name == name)
            .order_by(status_events.c.id.asc())
        )
        with read_tx(self._engine) as conn:
            return [StatusEvent(JobStatus(r.status), r.at, r.reason) for r in conn.execute(query)]

    def set_runtime(self, workspace_key: str, name: str, runtime: Mapping[str, Any]) -> None:
        with write_tx(self._engine) as conn:
            changed = conn.execute(
                update(jobs)
                .where(jobs.c.workspace_key == workspace_key, jobs.c.name == name)
                .values(runtime=dict(runtime), modified_at=utcnow())
            ).rowcount
            if not changed:
                raise NotFound(f"job {name!r} not found", target=name)

    def set_system_properties(
        self, workspace_key: str, name: str, values: Mapping[str, str]
    ) -> None:
        with write_tx(self._engine) as conn:
            row = _locked_job(conn, workspace_key, name)
            merged = {**(row.system_properties or {}), **values}
            conn.execute(
                update(jobs)
                .where(jobs.c.seq == row.seq)
                .values(system_properties=merged, modified_at=utcnow())
            )

    def queued_jobs(
        self,
        limit: int,
        *,
        job_type: str | None = None,
        computes: Collection[str] | None = None,
    ) -> list[JobRecord]:
        names = None if computes is None else sorted(computes)
        if names == []:
            return []
        shape = ("queued", job_type is not None, None if names is None else len(names))
        params = {"b_limit": limit, **_typed(job_type), **_numbered("b_compute", names or ())}
        return self._jobs(shape, lambda: _queued_jobs(*shape[1:]), params)

    def queued_computes(self, *, job_type: str | None = None) -> set[tuple[str, str]]:
        shape = ("queued computes", job_type is not None)
        rows = self._compiled_select(shape, lambda: _QUEUED_COMPUTES[shape[1]]).rows(
            _typed(job_type)
        )
        return {(str(row[0]), str(row[1])) for row in rows}

    def jobs_in_status(
        self, statuses: Iterable[JobStatus], *, job_type: str | None = None
    ) -> list[JobRecord]:
        values = [JobStatus(s).value for s in statuses]
        if not values:
            return []
        shape = ("in status", job_type is not None, len(values))
        params = {**_typed(job_type), **_numbered("b_status", values)}
        return self._jobs(shape, lambda: _jobs_in_status(*shape[1:]), params)

    def _jobs(
        self, shape: Hashable, build: Callable[[], Select[Any]], params: Mapping[str, Any]
    ) -> list[JobRecord]:
        """The jobs a ``select(jobs)`` of this shape finds: one statement on a statement
        compiled once (``CompiledSelect``), without a transaction of SQLAlchemy's around it.
        The scheduler's reads: through ``Connection`` their BEGIN, cache-key walk and result
        set-up cost several times the query."""
        raw = self._raw_jobs
        return [raw.record(row) for row in self._compiled_select(shape, build).rows(params)]


# The scheduler's hot statements, built once: building a statement and its cache key costs
# several times what SQLite takes to run it (bench/results/sweep.md). Values are bound at
# execution (``b_*`` parameters); each variant compiles once per engine (its compiled cache).
_JOB_DELETES = itertools.count(1)
"""A fresh value for ``job_deletes`` at each job deleted (``next`` is atomic)."""
_INSERT_EVENTS = status_events.insert()
_INSERT_TOKENS = tokens.insert()
_INSERT_JOB = jobs.insert()
_UPDATE_BY_SEQ = update(jobs).where(jobs.c.seq == bindparam("b_seq"))
_SWEEP_FOR_UPDATE = (
    select(jobs.c.seq, jobs.c.runtime)
    .where(jobs.c.workspace_key == bindparam("b_key"), jobs.c.name == bindparam("b_name"))
    .with_for_update()
)
_NAMES_AMONG = select(jobs.c.name).where(
    jobs.c.workspace_key == bindparam("b_key"),
    jobs.c.name.in_(bindparam("b_names", expanding=True)),
)
_MOVE_JOB = (
    update(jobs)
    .where(jobs.c.seq == bindparam("b_seq"), jobs.c.status == bindparam("b_was"))
    .returning(*jobs.c)
)
_SEQS_OF_NAMES = select(jobs.c.seq, jobs.c.name).where(
    jobs.c.workspace_key == bindparam("b_key"),
    jobs.c.name.in_(bindparam("b_names", expanding=True)),
)
_JOB_STATUS_BY_SEQ = select(jobs.c.status).where(jobs.c.seq == bindparam("b_seq"))


def _of_type(query: Select[Any], typed: bool) -> Select[Any]:
    return query.where(jobs.c.job_type == bindparam("b_type")) if typed else query


def _typed(job_type: str | None) -> dict[str, Any]:
    """The parameter of ``_of_type``, if the query has it."""
    return {} if job_type is None else {"b_type": job_type}


def _numbered(prefix: str, values: Iterable[Any]) -> dict[str, Any]:
    """Parameters ``prefix0``, ``prefix1``... : a list for ``_any_of`` (a ``CompiledSelect``
    takes no expanding ``IN``)."""
    return {f"{prefix}{i}": value for i, value in enumerate(values)}


def _any_of(column: Any, prefix: str, count: int) -> Any:
    """``column IN (:prefix0, ...)`` with ``count`` plain bound parameters."""
    return column.in_([bindparam(f"{prefix}{i}") for i in range(count)])


def _jobs_in_status(typed: bool, count: int) -> Select[Any]:
    query = select(jobs).where(_any_of(jobs.c.status, "b_status", count))
    return _of_type(query, typed).order_by(jobs.c.seq.asc())


_QUEUED_COMPUTES = {
    typed: _of_type(
        select(jobs.c.workspace_key, jobs.c.compute)
        .where(jobs.c.status == JobStatus.QUEUED.value)
        .distinct(),
        typed,
    )
    for typed in (False, True)
}


def _queued_jobs(typed: bool, computes: int | None) -> Select[Any]:
    """Queued jobs (on ``computes`` computes, named by parameters, if not None)."""
    query = _of_type(select(jobs).where(jobs.c.status == JobStatus.QUEUED.value), typed)
    if computes is not None:
        query = query.where(_any_of(jobs.c.compute, "b_compute", computes))
    return query.order_by(jobs.c.priority.desc(), jobs.c.seq.asc()).limit(bindparam("b_limit"))


def _path_times(
    new: JobStatus | Sequence[JobStatus], at: datetime | Sequence[datetime | None] | None
) -> tuple[list[JobStatus], list[datetime]]:
    """A transition's path of statuses and one time per status (``at``, or now)."""
    path = [new] if isinstance(new, JobStatus) else list(new)
    if not path:
        raise ValueError("transition needs at least one status")
    default = utcnow()
    if isinstance(at, datetime) or at is None:
        times = [at or default] * len(path)
    else:
        times = [t or default for t in at]
        if len(times) != len(path):
            raise ValueError("one time per status of the path")
    return path, times


def _submission_path(then: Sequence[JobStatus]) -> list[JobStatus]:
    """NotStarted and the statuses a new job moves along at once, each edge checked."""
    path = [JobStatus.NOT_STARTED, *then]
    for step, status in itertools.pairwise(path):
        check_transition(step, status)
    return path


_NEW_JOB_COLUMNS = (
    "workspace_key",
    "name",
    "job_type",
    "status",
    "priority",
    "experiment_name",
    "parent_name",
    "compute",
    "spec",
    "runtime",
    "system_properties",
    "status_reason",
    "exit_code",
    "created_at",
    "modified_at",
)
"""The columns a new job's row sets (``_new_job_values``); the others take their defaults."""
_NEW_EVENT_COLUMNS = ("job_seq", "status", "at", "reason")
_TAG_COLUMNS = ("job_seq", "key", "value")


def _new_job_values(job: NewJob, path: Sequence[JobStatus], now: datetime) -> dict[str, Any]:
    """The ``jobs`` row of a new job that went along ``path`` at ``now``."""
    return {
        "workspace_key": job.workspace.key,
        "name": job.name,
        "job_type": job.job_type,
        "status": path[-1].value,
        "priority": job.priority,
        "experiment_name": job.experiment_name,
        "parent_name": job.parent_name,
        "compute": job.compute,
        "spec": dict(job.spec),
        "runtime": {},
        "system_properties": {},
        "status_reason": None,
        "exit_code": None,
        "created_at": now,
        "modified_at": now,
    }


def _new_job_events(seq: int, path: Sequence[JobStatus], now: datetime) -> list[dict[str, Any]]:
    return [{"job_seq": seq, "status": status.value, "at": now, "reason": None} for status in path]


def _new_job_record(job: NewJob, seq: int, values: Mapping[str, Any]) -> JobRecord:
    """The record of a job as written, as a SELECT would read it back (no round trip)."""
    now = values["created_at"]
    return JobRecord(
        seq=seq,
        workspace_key=job.workspace.key,
        name=job.name,
        job_type=job.job_type,
        status=JobStatus(values["status"]),
        priority=job.priority,
        experiment_name=job.experiment_name,
        parent_name=job.parent_name,
        compute=job.compute,
        spec=json.loads(json.dumps(values["spec"])),
        created_at=as_utc(now),
        modified_at=as_utc(now),
    )


def _untaken(conn: Connection, batch: Sequence[NewJob]) -> list[int]:
    """Positions in ``batch`` of the jobs whose name is free: not stored, not earlier in it."""
    asked: dict[str, list[str]] = {}
    for job in batch:
        asked.setdefault(job.workspace.key, []).append(job.name)
    taken: set[tuple[str, str]] = set()
    for key, names in asked.items():
        found = conn.execute(_NAMES_AMONG, {"b_key": key, "b_names": names}).scalars()
        taken.update((key, name) for name in found)
    fresh = []
    for i, job in enumerate(batch):
        name = (job.workspace.key, job.name)
        if name not in taken:
            taken.add(name)
            fresh.append(i)
    return fresh


def _seqs_by_name(conn: Connection, inserted: Sequence[NewJob]) -> dict[tuple[str, str], int]:
    """The seqs of the jobs just inserted, by (workspace key, name)."""
    names: dict[str, list[str]] = {}
    for job in inserted:
        names.setdefault(job.workspace.key, []).append(job.name)
    return {
        (key, name): int(seq)
        for key, among in names.items()
        for seq, name in conn.execute(_SEQS_OF_NAMES, {"b_key": key, "b_names": among})
    }


def _ensure_workspace(conn: Connection, workspace: WorkspaceRef) -> None:
    insert_ignoring_conflict(
        conn,
        workspaces,
        {
            "key": workspace.key,
            "subscription": workspace.subscription,
            "resource_group": workspace.resource_group,
            "workspace": workspace.workspace,
            "created_at": utcnow(),
        },
        ["key"],
    )


def _filtered(query: Select[Any], workspace_key: str, filters: JobFilters) -> Select[Any]:
    """``query`` over ``jobs`` narrowed by a listing's filters, newest first."""
    query = query.where(jobs.c.workspace_key == bindparam("workspace_key", workspace_key))
    before_seq, job_type = filters.get("before_seq"), filters.get("job_type")
    tag, tags, parent_name = filters.get("tag"), filters.get("tags"), filters.get("parent_name")
    statuses, experiment_name = filters.get("statuses"), filters.get("experiment_name")
    if before_seq is not None:
        query = query.where(jobs.c.seq < bindparam("before_seq", before_seq))
    if job_type is not None:
        query = query.where(func.lower(jobs.c.job_type) == bindparam("job_type", job_type.lower()))
    if tag is not None:
        query = query.where(_has_tag(tag))
    for key, value in (tags or {}).items():
        query = query.where(_has_tag(key, value))
    if parent_name is not None:
        query = query.where(jobs.c.parent_name == bindparam("parent_name", parent_name))
    if filters.get("top_level_only", False):
        query = query.where(jobs.c.parent_name.is_(None))
    if statuses is not None:
        query = query.where(jobs.c.status.in_([JobStatus(s).value for s in statuses]))
    if experiment_name is not None:
        query = query.where(jobs.c.experiment_name == bindparam("experiment_name", experiment_name))
    return query.order_by(jobs.c.seq.desc()).limit(bindparam("limit", filters.get("limit", 100)))


_UTC_DATETIME = UtcDateTime()
_STATUSES = {s.value: s for s in JobStatus}


def _job_version(row: tuple[Any, ...], engine: Engine) -> JobVersion:
    """A ``(seq, modified_at, status)`` row as the driver returned it (``CompiledSelect``)."""
    return JobVersion(int(row[0]), _driver_time(row[1], engine.dialect), _STATUSES[row[2]])


@functools.lru_cache(maxsize=1 << 16)
def _driver_time(raw: Any, dialect: Dialect) -> datetime:
    """``modified_at`` as the driver returned it (SQLite: text), as ``UtcDateTime`` reads it.
    Memoised: the rows of a listing are mostly the same from one page to the next, and
    parsing their times was a fifth of a page's CPU."""
    value = _UTC_DATETIME.process_result_value(raw, dialect)
    assert value is not None  # NOT NULL
    return value


def _job_query(workspace_key: str, name: str) -> Select[Any]:
    return select(jobs).where(jobs.c.workspace_key == workspace_key, jobs.c.name == name)


def _locked_job(conn: Connection, workspace_key: str, name: str) -> Any:
    """The job's row, locked against concurrent writers until the transaction ends.

    (``FOR UPDATE`` on PostgreSQL; SQLite's ``BEGIN IMMEDIATE`` already holds the write lock.)
    """
    row = conn.execute(_job_query(workspace_key, name).with_for_update()).first()
    if row is None:
        raise NotFound(f"job {name!r} not found", target=name)
    return row


def _check_fence(conn: Connection, fence: Fence | None, target: str) -> None:
    """Raise ``Fenced`` unless ``fence`` (if any) holds in this transaction."""
    if fence is not None and not conn.execute(select(fence_condition(conn, fence))).scalar():
        raise Fenced(
            f"this server no longer holds job {fence.name!r} (another server took it over "
            f"while this one stalled past its lease); not writing {target!r}"
        )


def _has_tag(key: str, value: str | None = None) -> Any:
    condition = and_(job_tags.c.job_seq == jobs.c.seq, job_tags.c.key == key)
    if value is not None:
        condition = and_(condition, job_tags.c.value == value)
    return exists().where(condition)
