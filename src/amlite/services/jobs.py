"""Job use cases: create or update, get, list, cancel, delete."""

from __future__ import annotations

import shutil
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from anyio.to_thread import run_sync as run_in_threadpool

from amlite import schemas
from amlite.config import Settings
from amlite.data.paths import artifacts_path, datastore_root, run_dir
from amlite.domain.arm_id import WorkspaceRef
from amlite.domain.json_value import JsonObject
from amlite.domain.spec_codec import encode_job
from amlite.domain.specs import JobSpec
from amlite.domain.status import ACCEPT_PATH, TERMINAL, JobStatus
from amlite.errors import Conflict, InvalidTransition, NotFound, ValidationFailed, Violation
from amlite.executors.run_files import run_dir_in
from amlite.services.assets import check_name
from amlite.services.compute_targets import check_job_on_ray, runs_here
from amlite.services.datastores import remove_blob_artifacts
from amlite.services.envelopes import DEFAULT_DATASTORE, job_resource
from amlite.services.group_commit import GroupCommit
from amlite.services.paging import decode_token
from amlite.services.references import resolve_references
from amlite.services.rendered_jobs import RenderedJobs
from amlite.services.workspaces import Workspaces
from amlite.store import JobRecord, NewJob, Store

UPDATABLE = ("description", "tags", "properties")
PAGE_SIZE = 100
LOCAL_COMPUTE_SECONDS = 1.0
"""How long a compute found to run on this machine is taken as such without reading it again
(a third of a PUT's own work was that read, in a burst of submissions). A compute deleted or
turned into a Ray compute within that second may still be taken as local at submit: the
scheduler reads the compute again when it dispatches the job, and fails it naming the compute
if it no longer exists."""


class Dispatcher(Protocol):
    """What the job service needs from the scheduler."""

    def wake(self) -> None: ...

    def submitted(self, computes: Iterable[tuple[str, str]]) -> None: ...

    def cancel_running(self, job: JobRecord, reason: str) -> None: ...

    def queue_reason(self, job: JobRecord) -> str | None: ...


@dataclass(frozen=True)
class _Draft:
    """A validated PUT body: the job it creates if the name is new."""

    job: NewJob
    typed: JobSpec
    here: bool
    """It runs on this machine (no Ray cluster to ask at submit)."""


@dataclass(frozen=True)
class JobPage:
    value: list[bytes]
    """Each job's ``JobBaseResource``, rendered as JSON."""
    next_seq: int | None


class Jobs:
    def __init__(
        self,
        store: Store,
        settings: Settings,
        workspaces: Workspaces,
        public_url: str,
        dispatcher: Dispatcher | None = None,
    ) -> None:
        self._store = store
        self._settings = settings
        self._workspaces = workspaces
        self.public_url = public_url
        self.dispatcher = dispatcher
        self._rendered = RenderedJobs(public_url)
        self._local_until: dict[tuple[str, str], float] = {}
        self._local_lock = threading.Lock()
        self._group_commit = GroupCommit(store, ACCEPT_PATH, on_committed=self._submitted)

    # -- create / update -----------------------------------------------------------------
    def create_or_update(self, ws: WorkspaceRef, name: str, body: Any) -> tuple[JsonObject, bool]:
        """PUT: create and start the job (True), or update its updatable fields (False)."""
        draft = self._draft(ws, name, body)
        if not draft.here:
            updated = self._update_or_check_remote(draft)
            if updated is not None:
                return updated, False
        try:  # stored and queued in one transaction
            record: JobRecord | None = self._store.create_job(draft.job, then=ACCEPT_PATH)
        except Conflict:  # the job exists (or a concurrent PUT of the same name won the race)
            record = None
        if record is None:
            return self._update_existing(draft), False
        self._submitted([record])
        return job_resource(record, ws, self.public_url), True

    async def submit(
        self, ws: WorkspaceRef, name: str, body: Any, *, local_reads: bool
    ) -> tuple[JsonObject, bool]:
        """``create_or_update`` from the event loop, the new job stored by the group commit
        (with the other PUTs of the moment, in one transaction, answered once committed).
        With ``local_reads`` (SQLite) a job is validated on the loop once its workspace is
        known; whatever may write or wait (a new workspace, a Ray compute, an update) runs
        on a worker thread."""
        if local_reads and self._workspaces.known(ws):
            draft = self._draft(ws, name, body)
        else:
            draft = await run_in_threadpool(self._draft, ws, name, body)
        if not draft.here:
            updated = await run_in_threadpool(self._update_or_check_remote, draft)
            if updated is not None:
                return updated, False
        record = await self._group_commit.create(draft.job)
        if record is None:  # the name is taken (or was earlier in the same batch)
            return await run_in_threadpool(self._update_existing, draft), False
        return job_resource(record, ws, self.public_url), True

    def _draft(self, ws: WorkspaceRef, name: str, body: Any) -> _Draft:
        """The one validation pass of a PUT: the job it creates, if it is new."""
        check_name(name, "id")
        typed = schemas.parse_job_spec(body)
        self._workspaces.ensure(ws)
        typed, compute = resolve_references(self._store, ws, typed)
        job = NewJob(
            workspace=ws,
            name=name,
            job_type=typed.job_type,
            spec=encode_job(typed),
            priority=typed.priority or 0,
            experiment_name=typed.experiment_name or "Default",
            compute=compute,
        )
        return _Draft(job, typed, self._runs_here(ws.key, compute))

    def _update_or_check_remote(self, draft: _Draft) -> JsonObject | None:
        """A job not run on this machine (a Ray compute, or one that no longer exists): the
        update if the job exists (an update must not reach out to the cluster), else None
        once the cluster can run it."""
        job = draft.job
        existing = self._store.get_job(job.workspace.key, job.name)
        if existing is not None:
            return self._update(job.workspace, existing, job.spec)
        check_job_on_ray(self._store, job.workspace.key, draft.typed, job.compute)
        return None

    def _update_existing(self, draft: _Draft) -> JsonObject:
        ws = draft.job.workspace
        return self._update(ws, self._require(ws, draft.job.name), draft.job.spec)

    def _submitted(self, records: Sequence[JobRecord]) -> None:
        """Wake the scheduler for jobs just stored: a dispatch round for Command jobs (a new
        job changes no started one), a full one for a sweep."""
        if self.dispatcher is None:
            return
        if all(record.job_type == "Command" for record in records):
            self.dispatcher.submitted({(r.workspace_key, r.compute) for r in records})
        else:
            self.dispatcher.wake()

    def _runs_here(self, workspace_key: str, compute: str) -> bool:
        """``runs_here``, remembered for ``LOCAL_COMPUTE_SECONDS`` when True (only computes
        that exist are remembered, so the map is as large as the computes are many)."""
        key = (workspace_key, compute)
        now = time.monotonic()
        if self._local_until.get(key, 0.0) > now:
            return True
        here = runs_here(self._store, workspace_key, compute)
        with self._local_lock:
            if here:
                self._local_until[key] = now + LOCAL_COMPUTE_SECONDS
            else:
                self._local_until.pop(key, None)
        return here

    def _update(self, ws: WorkspaceRef, job: JobRecord, spec: dict[str, Any]) -> JsonObject:
        changed = sorted(
            key
            for key in set(spec) | set(job.spec)
            if key not in UPDATABLE and spec.get(key) != job.spec.get(key)
        )
        if changed:
            raise ValidationFailed(
                [
                    Violation(
                        f"properties.{key}",
                        f"'{key}' cannot change after the job was created",
                        "ImmutableField",
                    )
                    for key in changed
                ]
            )
        record = self._store.update_job_metadata(
            ws.key,
            job.name,
            description=spec.get("description"),
            tags=spec.get("tags"),
            properties=spec.get("properties"),
        )
        return job_resource(record, ws, self.public_url)

    # -- read ------------------------------------------------------------------------------
    def get(self, ws: WorkspaceRef, name: str) -> JsonObject:
        return job_resource(self._require(ws, name), ws, self.public_url)

    def get_rendered(self, ws: WorkspaceRef, name: str) -> bytes:
        """What ``get`` answers, as JSON: rendered again only if the job changed since."""
        version = self._store.job_version(ws.key, name)
        page = self._rendered.page([version], ws, self._store.jobs_by_seq) if version else []
        if not page:
            raise NotFound(f"job '{name}' does not exist in workspace {ws.workspace}", target="id")
        return page[0]

    def record(self, ws: WorkspaceRef, name: str) -> JobRecord:
        return self._require(ws, name)

    def queue_reason(self, job: JobRecord) -> str | None:
        """Why a queued job has not started yet (None when it is not queued)."""
        return self.dispatcher.queue_reason(job) if self.dispatcher is not None else None

    def history(self, ws: WorkspaceRef, name: str) -> list[JsonObject]:
        self._require(ws, name)
        return [
            {
                "status": e.status.value,
                "at": e.at.isoformat().replace("+00:00", "Z"),
                "reason": e.reason,
            }
            for e in self._store.status_history(ws.key, name)
        ]

    def list(
        self,
        ws: WorkspaceRef,
        *,
        job_type: str | None = None,
        tag: str | None = None,
        tags: str | None = None,
        skiptoken: str | None = None,
        top: int | None = None,
        parent_name: str | None = None,
        experiment: str | None = None,
        status: str | None = None,
    ) -> JobPage:
        self._workspaces.ensure(ws)
        before = decode_token(skiptoken)
        limit = max(1, min(top or PAGE_SIZE, PAGE_SIZE))
        versions = self._store.list_job_versions(
            ws.key,
            job_type=job_type,
            tag=tag,
            tags=parse_tags_filter(tags),
            parent_name=parent_name,
            top_level_only=parent_name is None,
            experiment_name=experiment or None,
            statuses=parse_status_filter(status),
            before_seq=before,
            limit=limit + 1,
        )
        more = len(versions) > limit
        versions = versions[:limit]
        return JobPage(
            self._rendered.page(versions, ws, self._store.jobs_by_seq),
            versions[-1].seq if more and versions else None,
        )

    # -- cancel / delete -----------------------------------------------------------------
    def cancel(self, ws: WorkspaceRef, name: str, reason: str = "canceled by user") -> None:
        """Cancel a job: at once if it is not running yet, else through its supervisor."""
        self._cancel(ws, name, reason)

    def _cancel(
        self, ws: WorkspaceRef, name: str, reason: str, *, delete: bool = False
    ) -> JobRecord:
        """Cancel (and with ``delete``, mark for removal once terminal); the job as it is now.

        One conditional transition decides, expecting the status the job was seen in, so it
        races the scheduler's own (Queued → Running) and exactly one wins; the loser acts on
        what won. A job not started yet goes to Canceled in one step: if the scheduler was
        starting its process meanwhile, its Running transition fails and it stops what it
        started. A started job goes to CancelRequested and its process is signalled with the
        runtime that transition returns. If the scheduler won, the next round sees Running.
        Every lost round means the status moved forward, so the rounds are few.
        """
        for _ in JobStatus:
            job = self._require(ws, name)
            if job.status in TERMINAL:
                return job
            marked = {**job.runtime, "deleteRequested": True} if delete else None
            if job.status is JobStatus.CANCEL_REQUESTED:  # already being stopped
                if marked is not None and not job.runtime.get("deleteRequested"):
                    self._store.set_runtime(ws.key, name, marked)
                return job
            started = job.status in (JobStatus.RUNNING, JobStatus.FINALIZING)
            path = [JobStatus.CANCEL_REQUESTED]
            if not started:
                path.append(JobStatus.CANCELED)
            try:
                job = self._store.transition(
                    ws.key, name, path, reason=reason, runtime=marked, expect=job.status
                )
            except InvalidTransition:
                continue  # the scheduler moved it first: decide again on what it did
            if started and run_dir_in(job.runtime) and self.dispatcher is not None:
                self.dispatcher.cancel_running(job, reason)
            # a started job without runDir is a sweep: its controller cancels the trials
            if self.dispatcher is not None:
                self.dispatcher.wake()
            return job
        return self._require(ws, name)

    def delete(self, ws: WorkspaceRef, name: str) -> bool:
        """Cancel the job (its process is always stopped) and remove its records once it is
        terminal. True when it is gone (or never existed)."""
        try:
            job = self._cancel(ws, name, "deleted by user", delete=True)
        except NotFound:
            return True
        if job.status not in TERMINAL:
            return False  # the scheduler purges it when it ends (``deleteRequested``)
        self.purge(ws.key, name)
        return True

    def purge(self, workspace_key: str, name: str) -> None:
        """Remove a terminal job's records, run directory and artifacts (a sweep's trials too)."""
        for trial in self._store.list_jobs(workspace_key, parent_name=name, limit=100_000):
            self.purge(workspace_key, trial.name)
        self._store.delete_job(workspace_key, name)
        shutil.rmtree(run_dir(self._settings, workspace_key, name), ignore_errors=True)
        artifacts = datastore_root(
            self._settings, workspace_key, DEFAULT_DATASTORE
        ) / artifacts_path(name)
        shutil.rmtree(artifacts, ignore_errors=True)
        remove_blob_artifacts(self._store, self._settings, workspace_key, artifacts_path(name))

    def _require(self, ws: WorkspaceRef, name: str) -> JobRecord:
        job = self._store.get_job(ws.key, name)
        if job is None:
            raise NotFound(f"job '{name}' does not exist in workspace {ws.workspace}", target="id")
        return job


def parse_status_filter(value: str | None) -> list[JobStatus] | None:
    """``status=Running,Queued`` (any casing) → those statuses."""
    if not value:
        return None
    by_name = {s.value.lower(): s for s in JobStatus}
    out = []
    for part in value.split(","):
        status = by_name.get(part.strip().lower())
        if status is None:
            raise ValidationFailed.one("status", f"'{part.strip()}' is not a job status")
        out.append(status)
    return out


def parse_tags_filter(value: str | None) -> dict[str, str] | None:
    """``tags=k1=v1,k2=v2`` → {k1: v1, k2: v2}."""
    if not value:
        return None
    out: dict[str, str] = {}
    for part in value.split(","):
        if not part.strip():
            continue
        key, sep, val = part.partition("=")
        if not sep or not key.strip():
            raise ValidationFailed.one("tags", f"'{part}' is not key=value")
        out[key.strip()] = val.strip()
    return out
