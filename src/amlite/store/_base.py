"""The store contract. One implementation (SQLAlchemy: SQLite or PostgreSQL) lives in ``_sql``.

Rules every implementation keeps:
- every status change goes through ``transition``, which checks the edge against
  ``amlite.domain.status.ALLOWED``, applies it only if the job is still in the status the
  caller saw (compare-and-set), and keeps a ``StatusEvent`` with its time;
- writes are atomic: a failed call leaves nothing half-written;
- lists are keyset-paginated on ``seq`` (submission order), newest first for jobs.
"""

from __future__ import annotations

import abc
import threading
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property
from typing import Any, TypedDict, Unpack

from amlite.domain.arm_id import WorkspaceRef
from amlite.domain.json_value import JsonObject, JsonValue
from amlite.domain.spec_codec import decode_job
from amlite.domain.specs import JobSpec
from amlite.domain.status import JobStatus


@dataclass(frozen=True)
class NewJob:
    workspace: WorkspaceRef
    name: str
    job_type: str
    """``Command`` or ``Sweep``."""
    spec: dict[str, Any]
    """The validated ``properties`` of the job as submitted (spec casing, read-only fields
    removed)."""
    priority: int = 0
    experiment_name: str = "Default"
    parent_name: str | None = None
    """The sweep a trial belongs to."""
    compute: str = "local"
    """Name of the compute the job runs on."""


@dataclass(frozen=True)
class JobRecord:
    seq: int
    """Submission order, unique in the store."""
    workspace_key: str
    name: str
    job_type: str
    status: JobStatus
    priority: int
    experiment_name: str
    parent_name: str | None
    compute: str
    spec: dict[str, Any]
    created_at: datetime
    modified_at: datetime
    status_reason: str | None = None
    """Why the job is in its status: the error of a failed job, why it was canceled."""
    exit_code: int | None = None
    runtime: dict[str, Any] = field(default_factory=dict)
    """Executor bookkeeping: pid, process start time, run directory, host."""
    system_properties: dict[str, str] = field(default_factory=dict)
    """Properties amlite adds (e.g. a sweep's ``best_child_run_id``); shown merged into
    ``properties``."""
    owner: str | None = None
    """The server that runs the job or holds the sweep's controller (several servers on one
    database, ``amlite.scheduler.membership``); None until one claims it."""
    owner_epoch: int = 0
    """Raised by every claim: with ``owner``, the fencing token of a server's writes
    (``Fence``)."""

    @cached_property
    def job_spec(self) -> JobSpec:
        """``spec`` typed (``amlite.domain.spec_codec``), decoded once per record; raises
        ``SpecError`` (a ValueError) naming the field when the stored form is malformed."""
        return decode_job(self.spec)


@dataclass(frozen=True)
class TrialsVersion:
    """A sweep's trials as ``Store.sweep_trials_version`` sees them (every write to a job row
    sets ``modified_at``)."""

    count: int
    last_seq: int | None
    modified_at: datetime | None
    """The newest ``modified_at`` of the trials (None when there are none)."""


@dataclass(frozen=True)
class JobVersion:
    """Which version of a job a listing saw: enough to tell whether a copy rendered earlier is
    still current (every write to a job row sets ``modified_at``)."""

    seq: int
    modified_at: datetime
    status: JobStatus


@dataclass(frozen=True)
class StatusEvent:
    status: JobStatus
    at: datetime
    reason: str | None = None


@dataclass(frozen=True)
class AssetRecord:
    workspace_key: str
    kind: str
    """``codes``, ``data``, ``environments``, ``datastores`` or ``computes``."""
    name: str
    version: str | None
    """None for a container (or a datastore / compute, which have no versions)."""
    body: dict[str, Any]
    """The validated ``properties`` of the resource."""
    seq: int
    created_at: datetime
    modified_at: datetime


@dataclass(frozen=True)
class MetricPoint:
    """One logged value of a metric (MLflow's shape: timestamp in ms since the epoch)."""

    key: str
    value: float
    step: int = 0
    timestamp: int = 0


@dataclass(frozen=True)
class MetricSummary:
    """One job's values of one metric, aggregated (what a sweep's trial table shows)."""

    count: int
    """Values logged (NaN and infinities included)."""
    low: float | None
    """The smallest finite value (None when there is none)."""
    high: float | None
    """The largest finite value (None when there is none)."""
    last: float
    """The value logged last (NaN or infinite as logged)."""


@dataclass(frozen=True)
class TrialRow:
    """A sweep's trial as the studio's trial table reads it: the few columns it shows and
    the spec's ``properties`` (hyperparameters, sweep index), not the whole spec."""

    name: str
    status: JobStatus
    status_reason: str | None
    created_at: datetime
    properties: dict[str, Any]
    system_properties: dict[str, Any]


@dataclass(frozen=True)
class TokenRecord:
    token_hash: str
    workspace_key: str | None
    """With ``job_name``: the job this token is scoped to. None for an admin token."""
    job_name: str | None
    created_at: datetime

    @property
    def is_admin(self) -> bool:
        return self.job_name is None


@dataclass(frozen=True)
class DeploymentRecord:
    """A deployment of a template to a resource group (``Microsoft.Resources/deployments``)."""

    seq: int
    scope_key: str
    """``{subscription}/{resourceGroup}``, lowercased."""
    name: str
    state: str
    """Its provisioningState: Accepted, Running, Succeeded, Failed or Canceled."""
    body: JsonObject
    """What GET answers in ``properties`` (parameters with secure values removed, outputs,
    error, ...) plus amlite's bookkeeping under ``_amlite``."""
    created_at: datetime
    modified_at: datetime


@dataclass(frozen=True)
class OperationRecord:
    """One resource operation of a deployment."""

    position: int
    operation_id: str
    resource_id: str
    body: JsonObject
    """The operation's ``properties`` on the wire."""
    modified_at: datetime


@dataclass(frozen=True)
class Fence:
    """The authority a server's write rests on: it owns job ``name`` (a job it runs, or the
    sweep whose controller it holds) since the claim that made the job's epoch ``epoch``,
    and its own lease has not expired (docs/high-availability.md, "Fencing"). A write given
    a fence happens only if all of that still holds, in the same transaction."""

    workspace_key: str
    name: str
    owner: str
    epoch: int


@dataclass(frozen=True)
class ServerRecord:
    """One server sharing the database (``amlite.scheduler.membership``)."""

    id: str
    host: str
    pid: int
    pid_start: int | None
    left: float
    """Seconds its lease has left (negative: expired), on the database's clock."""


class JobFilters(TypedDict, total=False):
    """The filters of a job listing (``Store.list_jobs``/``list_job_versions``); every one is
    optional."""

    job_type: str | None
    """Matched case-insensitively."""
    tag: str | None
    """Keeps jobs that have that tag key."""
    tags: Mapping[str, str] | None
    """Keeps jobs having every key with that exact value."""
    parent_name: str | None
    """Keeps the trials of one sweep."""
    top_level_only: bool
    """Drops trials (default False)."""
    statuses: Iterable[JobStatus] | None
    """Keeps jobs in one of these statuses."""
    experiment_name: str | None
    """Keeps one experiment's jobs."""
    before_seq: int | None
    """Keeps jobs with ``seq < before_seq`` (keyset paging)."""
    limit: int
    """At most this many (default 100)."""


class Store(abc.ABC):
    asset_writes: int = 0
    """Changes at each asset write (``put_asset``, ``delete_asset``) through this store
    object, once committed: a cache of assets is valid while it stays the same
    (``amlite.services.asset_cache``)."""
    job_deletes: int = 0
    """Changes at each job deleted (``delete_job``) through this store object, once
    committed (with the job go its tokens: ``amlite.api.auth`` remembers job tokens while
    it stays the same)."""

    def probe_writable(self) -> None:  # noqa: B027 - a store that is always there
        """Raise when the store cannot be written now (``amlite.store.availability``)."""

    # -- workspaces ---------------------------------------------------------------
    @abc.abstractmethod
    def ensure_workspace(self, workspace: WorkspaceRef) -> None:
        """Create the workspace on first use (idempotent)."""

    @abc.abstractmethod
    def get_workspace(self, key: str) -> WorkspaceRef | None: ...

    # -- jobs -----------------------------------------------------------------------
    @abc.abstractmethod
    def create_job(
        self, job: NewJob, *, at: datetime | None = None, then: Sequence[JobStatus] = ()
    ) -> JobRecord:
        """Insert a job in status NotStarted (kept as its first StatusEvent), then move it
        along ``then`` (each edge checked as ``transition`` does, each kept as a StatusEvent)
        in the same transaction: a submission is one write.

        Raises ``amlite.errors.Conflict`` if a job of that name exists in the workspace.
        """

    @abc.abstractmethod
    def create_jobs(
        self, jobs: Sequence[NewJob], *, then: Sequence[JobStatus] = (), wait: bool = True
    ) -> list[JobRecord | None] | None:
        """``create_job`` of each job, all in one transaction (the API's group commit): the
        records in the order given, ``None`` for a job whose name is taken (stored before,
        or earlier in the batch), which is then not written. Any other error rolls back the
        whole batch and is raised: nothing of it is stored.

        Without ``wait``, writes only if that needs no waiting (SQLite, no other thread of
        the process writing; never on PostgreSQL), else answers ``None`` and writes nothing:
        what the event loop may call.
        """

    @abc.abstractmethod
    def get_job(self, workspace_key: str, name: str) -> JobRecord | None: ...

    @abc.abstractmethod
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
        """Create trials of sweep ``sweep_name`` already moved along ``path`` (e.g. Starting,
        Preparing, Queued; each status kept as its own event after NotStarted), and merge
        ``runtime`` into the sweep's runtime, all in one transaction: a crash leaves either
        every trial and the sweep's bookkeeping, or none of them. ``tokens`` (trial name →
        token hash, as ``add_token`` takes it) registers each created trial's job token in
        the same transaction.

        A trial whose name already exists is skipped and not returned. Raises ``NotFound``
        if the sweep is gone, ``InvalidTransition`` if ``path`` is not allowed, ``Fenced``
        (and writes nothing) if ``fence`` is given and does not hold.
        """

    @abc.abstractmethod
    def list_jobs(self, workspace_key: str, **filters: Unpack[JobFilters]) -> list[JobRecord]:
        """Jobs newest first (``seq`` descending), narrowed by ``filters``."""

    @abc.abstractmethod
    def list_job_versions(
        self, workspace_key: str, **filters: Unpack[JobFilters]
    ) -> list[JobVersion]:
        """What ``list_jobs`` with the same arguments would return, as versions only (a
        listing whose rows are mostly rendered already reads three columns, not the specs)."""

    @abc.abstractmethod
    def job_version(self, workspace_key: str, name: str) -> JobVersion | None:
        """The current version of one job (``None`` if there is no such job)."""

    @abc.abstractmethod
    def jobs_by_seq(self, seqs: Collection[int]) -> list[JobRecord]:
        """The jobs with these ``seq`` numbers that still exist, in no particular order."""

    @abc.abstractmethod
    def update_job_metadata(
        self,
        workspace_key: str,
        name: str,
        *,
        description: str | None,
        tags: Mapping[str, str] | None,
        properties: Mapping[str, str] | None,
    ) -> JobRecord:
        """Replace the updatable fields of ``spec`` (``description``, ``tags``, ``properties``)."""

    @abc.abstractmethod
    def delete_job(self, workspace_key: str, name: str) -> bool:
        """Remove the job, its history, metrics and tokens. False if it did not exist."""

    @abc.abstractmethod
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
        """Move a job to ``new`` if the status table allows it from its current status.

        ``new`` may be a path of statuses (e.g. Starting, Preparing, Queued): every edge is
        checked and kept as its own event, in one transaction; ``at`` is then one time for all
        or one per status. ``runtime`` (if given) replaces the executor bookkeeping in the
        same transaction.

        Atomic compare-and-set: raises ``InvalidTransition`` if the edge is not allowed or
        another writer changed the status first; ``NotFound`` if the job is gone. ``reason``
        (if given) becomes ``status_reason``; ``exit_code`` (if given) is kept.

        ``expect`` (if given) makes it conditional on the status the caller decided on: it
        raises ``InvalidTransition`` unless the job is still in ``expect`` when the update is
        applied (``UPDATE ... WHERE status = expect``). Callers that act on what they saw
        (cancel: kill a process or not) use it, so that exactly one of two racing writers
        wins and the loser re-reads what won.

        ``fence`` (if given) makes it conditional on the caller's authority in the same
        ``UPDATE``: it raises ``Fenced`` (an ``InvalidTransition``) unless the fence holds.
        """

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
        """``transition`` of the job ``job`` was read as, from the status it was read in
        (``expect=job.status``): the scheduler's hot path, which already holds the record.
        ``fence`` as for ``transition``. Returns the job as stored after the move."""
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

    @abc.abstractmethod
    def status_history(self, workspace_key: str, name: str) -> list[StatusEvent]:
        """Every status the job went through, oldest first."""

    @abc.abstractmethod
    def set_runtime(self, workspace_key: str, name: str, runtime: Mapping[str, Any]) -> None:
        """Replace the executor bookkeeping of a job."""

    @abc.abstractmethod
    def set_system_properties(
        self, workspace_key: str, name: str, values: Mapping[str, str]
    ) -> None:
        """Merge ``values`` into the job's system properties."""

    @abc.abstractmethod
    def queued_jobs(
        self,
        limit: int,
        *,
        job_type: str | None = None,
        computes: Collection[str] | None = None,
    ) -> list[JobRecord]:
        """Queued jobs of every workspace (of one ``job_type`` if given, on a compute named
        in ``computes`` if given), highest priority first, then submission order."""

    @abc.abstractmethod
    def queued_computes(self, *, job_type: str | None = None) -> set[tuple[str, str]]:
        """The ``(workspace_key, compute)`` pairs that queued jobs are waiting for."""

    @abc.abstractmethod
    def jobs_in_status(
        self, statuses: Iterable[JobStatus], *, job_type: str | None = None
    ) -> list[JobRecord]:
        """Every job (all workspaces; of one ``job_type`` if given) whose status is one of
        ``statuses``, oldest first."""

    # -- servers sharing the store (docs/high-availability.md) ---------------------------
    @property
    @abc.abstractmethod
    def multi_server(self) -> bool:
        """Whether several servers may share this store (PostgreSQL; not SQLite)."""

    @property
    @abc.abstractmethod
    def database_file(self) -> str | None:
        """The SQLite database file, None for PostgreSQL or an in-memory database."""

    @abc.abstractmethod
    def renew_server(
        self, server_id: str, host: str, pid: int, pid_start: int | None, ttl: float
    ) -> None:
        """Extend the server's lease to ``ttl`` seconds from now (registering it if new)."""

    @abc.abstractmethod
    def remove_servers(self, server_ids: Collection[str]) -> None:
        """Drop the servers' rows: the jobs they own are free at once."""

    @abc.abstractmethod
    def list_servers(self) -> list[ServerRecord]: ...

    @abc.abstractmethod
    def notify_servers(self, sender: str) -> None:
        """Wake the other servers' schedulers (PostgreSQL ``NOTIFY``; nothing on SQLite)."""

    @abc.abstractmethod
    def listen_servers(self, me: str, on_notify: Callable[[], None], stop: threading.Event) -> None:
        """Call ``on_notify`` whenever another server calls ``notify_servers``, until ``stop``
        is set (blocks; raises when the database goes away)."""

    @abc.abstractmethod
    def claim_job(
        self,
        workspace_key: str,
        name: str,
        server_id: str | None,
        *,
        previous: str | None,
        status: JobStatus,
    ) -> int | None:
        """Make ``server_id`` the job's owner if it is still owned by ``previous`` and in
        ``status`` (compare-and-set: of servers racing for a job, exactly one wins); None
        frees it. Returns the job's new ``owner_epoch`` (every claim raises it), or None
        when the claim lost."""

    @abc.abstractmethod
    def set_owned_runtime(
        self, workspace_key: str, name: str, values: Mapping[str, Any], *, owner: str
    ) -> bool:
        """Merge ``values`` into the job's runtime if ``owner`` still owns it (a note about a
        job whose server is gone, written by another server); False if not."""

    @abc.abstractmethod
    def fence_holds(self, fence: Fence) -> bool:
        """Whether a write resting on ``fence`` would happen now (``Fence``)."""

    # -- assets -----------------------------------------------------------------------
    @abc.abstractmethod
    def put_asset(
        self,
        workspace_key: str,
        kind: str,
        name: str,
        version: str | None,
        body: Mapping[str, Any],
    ) -> tuple[AssetRecord, bool]:
        """Create or replace an asset. Returns the record and whether it was created."""

    @abc.abstractmethod
    def get_asset(
        self, workspace_key: str, kind: str, name: str, version: str | None = None
    ) -> AssetRecord | None: ...

    @abc.abstractmethod
    def list_assets(
        self,
        workspace_key: str,
        kind: str,
        *,
        name: str | None = None,
        versions: bool = False,
        after_seq: int | None = None,
        limit: int = 100,
    ) -> list[AssetRecord]:
        """Containers (``versions=False``) or the versions of container ``name``, oldest first."""

    @abc.abstractmethod
    def latest_version(self, workspace_key: str, kind: str, name: str) -> AssetRecord | None:
        """The most recently created version of an asset container."""

    @abc.abstractmethod
    def delete_asset(
        self, workspace_key: str, kind: str, name: str, version: str | None = None
    ) -> bool:
        """Delete a version, or a container with all its versions."""

    # -- metrics, params and run tags (MLflow tracking) ----------------------------------
    @abc.abstractmethod
    def log_metrics(self, workspace_key: str, job_name: str, points: Sequence[MetricPoint]) -> None:
        """Append metric values to a job, atomically, keeping the order they were logged in.

        Raises ``NotFound`` if the job does not exist. NaN values are kept (read back as NaN).
        """

    @abc.abstractmethod
    def metric_history(self, workspace_key: str, job_name: str, key: str) -> list[MetricPoint]:
        """Every value of one metric of a job, in the order they were logged."""

    @abc.abstractmethod
    def all_metric_histories(
        self, workspace_key: str, job_name: str
    ) -> dict[str, list[MetricPoint]]:
        """Every value of every metric of a job, by key, each in the order they were logged."""

    @abc.abstractmethod
    def latest_metrics(self, workspace_key: str, job_name: str) -> list[MetricPoint]:
        """The last logged value of each metric of a job, by key."""

    @abc.abstractmethod
    def metric_histories(
        self,
        workspace_key: str,
        parent_name: str,
        key: str,
        *,
        names: Collection[str] | None = None,
    ) -> dict[str, list[float]]:
        """For every trial of sweep ``parent_name`` that logged ``key`` (only those in ``names``
        when given): its values in logged order (one query; the sweep controller calls it on
        each tick, the studio for the curves it draws)."""

    @abc.abstractmethod
    def sweep_trials(
        self,
        workspace_key: str,
        parent_name: str,
        limit: int,
        *,
        modified_since: datetime | None = None,
    ) -> list[TrialRow]:
        """What ``list_jobs(parent_name=..., limit=...)`` lists (newest first), as
        ``TrialRow``s: the database hands over the spec's ``properties`` only, so a
        10,000-trial sweep is not 10,000 specs decoded. With ``modified_since``: only the
        trials whose row was written at or after it."""

    @abc.abstractmethod
    def sweep_trials_version(self, workspace_key: str, parent_name: str) -> TrialsVersion:
        """What changes whenever a trial of sweep ``parent_name`` is added or written (their
        count, newest seq and newest ``modified_at``, aggregated by the database in one
        query): a copy of ``sweep_trials`` read under an equal version is still current."""

    @abc.abstractmethod
    def metric_summaries(
        self,
        workspace_key: str,
        parent_name: str,
        key: str,
        *,
        names: Collection[str] | None = None,
    ) -> dict[str, MetricSummary]:
        """For every trial of sweep ``parent_name`` that logged ``key`` (only those in ``names``
        when given): how many values, the smallest and largest finite one and the last one
        (one query, aggregated by the database: the studio's sweep page reads it instead of
        every value)."""

    @abc.abstractmethod
    def log_params(self, workspace_key: str, job_name: str, params: Mapping[str, str]) -> None:
        """Record run parameters; logging the same key again with another value raises
        ``Conflict`` (MLflow's rule), and nothing of the call is kept."""

    @abc.abstractmethod
    def get_params(self, workspace_key: str, job_name: str) -> dict[str, str]: ...

    @abc.abstractmethod
    def set_run_tags(self, workspace_key: str, job_name: str, tags: Mapping[str, str]) -> None:
        """Set MLflow run tags (kept apart from the job's ARM ``tags``)."""

    @abc.abstractmethod
    def get_run_tags(self, workspace_key: str, job_name: str) -> dict[str, str]: ...

    @abc.abstractmethod
    def jobs_named(self, name: str) -> list[JobRecord]:
        """Jobs called ``name`` in any workspace, oldest first (MLflow run ids are job names)."""

    @abc.abstractmethod
    def experiment_names(self, workspace_key: str) -> list[str]:
        """The experiments of a workspace: its jobs' experiment names and those created through
        MLflow's ``experiments/create``, sorted."""

    # -- tokens -------------------------------------------------------------------------
    @abc.abstractmethod
    def add_token(
        self, token_hash: str, *, workspace_key: str | None = None, job_name: str | None = None
    ) -> None: ...

    @abc.abstractmethod
    def find_token(self, token_hash: str) -> TokenRecord | None: ...

    @abc.abstractmethod
    def has_admin_token(self) -> bool: ...

    # -- deployments --------------------------------------------------------------------
    @abc.abstractmethod
    def put_deployment(
        self, scope_key: str, name: str, state: str, body: Mapping[str, JsonValue]
    ) -> DeploymentRecord:
        """Create the deployment, or replace one of that name (its operations are removed)."""

    @abc.abstractmethod
    def get_deployment(self, scope_key: str, name: str) -> DeploymentRecord | None: ...

    @abc.abstractmethod
    def update_deployment(
        self, scope_key: str, name: str, state: str, body: Mapping[str, JsonValue]
    ) -> DeploymentRecord:
        """Replace state and body; ``NotFound`` if the deployment is gone."""

    @abc.abstractmethod
    def list_deployments(
        self, scope_key: str, *, after_seq: int | None = None, limit: int = 100
    ) -> list[DeploymentRecord]:
        """Deployments of a resource group, oldest first."""

    @abc.abstractmethod
    def deployments_in_states(self, states: Collection[str]) -> list[DeploymentRecord]:
        """Every deployment (all resource groups) in one of ``states``."""

    @abc.abstractmethod
    def delete_deployment(self, scope_key: str, name: str) -> bool:
        """Remove the record and its operations (not the resources). False if it did not exist."""

    @abc.abstractmethod
    def put_operation(
        self,
        deployment_seq: int,
        position: int,
        operation_id: str,
        resource_id: str,
        body: Mapping[str, JsonValue],
    ) -> None:
        """Create or replace operation ``position`` of a deployment."""

    @abc.abstractmethod
    def list_operations(
        self, deployment_seq: int, *, after_position: int | None = None, limit: int = 100
    ) -> list[OperationRecord]: ...

    # -- lifecycle ----------------------------------------------------------------------
    @abc.abstractmethod
    def close(self) -> None: ...
