"""MLflow tracking on top of the store: runs are jobs, experiments are experiment names.

- A run id is a job name; ``experiment_id`` = ``experiment_name`` = the job's experimentName
  (what ``MLFLOW_EXPERIMENT_ID`` already holds in a job).
- Who may do what: a job's token reads and writes its own run only (any other run id is
  PERMISSION_DENIED), and writes only until the job ends: once it is Completed, Failed or
  Canceled its token is read-only (``run_for_write``; every process of the job has ended by
  then, see docs/security.md); the admin token reads and writes every run. A job's token looks
  runs up in its own workspace. The admin token uses the workspace of a workspace-scoped
  tracking URI (``/mlflow/subscriptions/{s}/resourceGroups/{rg}/workspaces/{w}``) or, on plain
  ``/mlflow``, finds the run id in every workspace and answers 400 when it names jobs in several.
- Artifacts: ``artifact_uri`` is ``mlflow-artifacts:/{sub}/{rg}/{ws}/{job}``; files logged
  there land in the job's ``outputs/`` on ``workspaceblobstore``.
- The client's status claims (``runs/update``) never change the job's status: that comes from
  the process exit code.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Protocol

from amlite.config import Settings
from amlite.data import paths
from amlite.domain.arm_id import WorkspaceRef
from amlite.domain.json_value import JsonObject, JsonValue
from amlite.domain.status import JobStatus
from amlite.errors import Conflict, NotFound
from amlite.services.mlflow_wire import (
    INVALID_PARAMETER_VALUE,
    PERMISSION_DENIED,
    RESOURCE_ALREADY_EXISTS,
    RESOURCE_DOES_NOT_EXIST,
    MlflowError,
    metric_json,
)
from amlite.store import JobRecord, MetricPoint, MetricSummary, Store

DEFAULT_WORKSPACE = WorkspaceRef("00000000-0000-0000-0000-000000000000", "amlite", "default")
"""Where the admin token's experiment calls on plain ``/mlflow`` go: the CLI's default
workspace (``amlite.client.default_workspace()`` without AMLITE_* variables)."""
EXPERIMENT_KIND = "experiments"
RUN_NAME_TAG = "mlflow.runName"
ARTIFACT_SCHEME = "mlflow-artifacts:"
_MLFLOW_STATUS = {
    JobStatus.RUNNING: "RUNNING",
    JobStatus.FINALIZING: "RUNNING",
    JobStatus.CANCEL_REQUESTED: "RUNNING",
    JobStatus.COMPLETED: "FINISHED",
    JobStatus.FAILED: "FAILED",
    JobStatus.CANCELED: "KILLED",
}
CLIENT_STATUSES = {"RUNNING", "SCHEDULED", "FINISHED", "FAILED", "KILLED"}


class Caller(Protocol):
    """Who is asking (``amlite.api.auth.Principal`` fits)."""

    @property
    def workspace_key(self) -> str | None: ...
    @property
    def job_name(self) -> str | None: ...


def _ms(value: datetime) -> int:
    return int(value.timestamp() * 1000)


def mlflow_status(status: JobStatus) -> str:
    """MLflow's run status of a job status (not yet running: SCHEDULED)."""
    return _MLFLOW_STATUS.get(status, "SCHEDULED")


def points_json(points: Sequence[MetricPoint]) -> list[JsonValue]:
    return [metric_json(p) for p in points]


@dataclass
class Tracking:
    store: Store
    settings: Settings
    scope: WorkspaceRef | None = None
    """The workspace of a workspace-scoped tracking URI, if the request used one."""

    # -- runs -------------------------------------------------------------------------------
    def run(self, caller: Caller, run_id: str) -> JobRecord:
        """The job behind ``run_id`` if ``caller`` may use it (read or write alike)."""
        if caller.job_name is not None:
            if run_id != caller.job_name or (
                self.scope is not None and self.scope.key != caller.workspace_key
            ):
                raise MlflowError(
                    PERMISSION_DENIED,
                    f"this job's token can only use its own run {caller.job_name!r}, "
                    f"not {run_id!r}",
                )
            found = self.store.get_job(caller.workspace_key or "", run_id)
            if found is None:
                raise _no_run(run_id)
            return found
        if self.scope is not None:
            found = self.store.get_job(self.scope.key, run_id)
            if found is None:
                raise _no_run(run_id)
            return found
        matches = self.store.jobs_named(run_id)
        if not matches:
            raise _no_run(run_id)
        if len(matches) > 1:
            raise MlflowError(
                INVALID_PARAMETER_VALUE,
                f"run id {run_id!r} names jobs in {len(matches)} workspaces; use the tracking URI "
                "of one workspace: <server>/mlflow/subscriptions/{sub}/resourceGroups/{rg}"
                "/workspaces/{ws}",
            )
        return matches[0]

    def run_for_write(self, caller: Caller, run_id: str) -> JobRecord:
        """``run`` for a write (metrics, params, tags, run updates, artifacts)."""
        return _check_writable(caller, self.run(caller, run_id))

    def run_info(self, job: JobRecord) -> JsonObject:
        tags = self.store.get_run_tags(job.workspace_key, job.name)
        return self._info(job, tags)

    def _info(self, job: JobRecord, tags: Mapping[str, str]) -> JsonObject:
        history = self.store.status_history(job.workspace_key, job.name)
        started = next((e.at for e in history if e.status is JobStatus.RUNNING), job.created_at)
        info: JsonObject = {
            "run_id": job.name,
            "run_uuid": job.name,
            "run_name": tags.get(RUN_NAME_TAG) or job.spec.get("displayName") or job.name,
            "experiment_id": job.experiment_name,
            "user_id": "amlite",
            "status": mlflow_status(job.status),
            "start_time": _ms(started),
            "artifact_uri": self.artifact_uri(job),
            "lifecycle_stage": "active",
        }
        if job.status.is_terminal:
            info["end_time"] = _ms(job.modified_at)
        return info

    def run_json(self, job: JobRecord) -> JsonObject:
        """MLflow's ``Run``: info, and data with the latest value of each metric."""
        ws, name = job.workspace_key, job.name
        tags = self.store.get_run_tags(ws, name)
        return {
            "info": self._info(job, tags),
            "data": {
                "metrics": points_json(self.store.latest_metrics(ws, name)),
                "params": [
                    {"key": k, "value": v} for k, v in self.store.get_params(ws, name).items()
                ],
                "tags": [{"key": k, "value": v} for k, v in tags.items()],
            },
            "inputs": {},
        }

    def update_run(self, job: JobRecord, status: str | None, run_name: str | None) -> None:
        """``runs/update``: the status claim is checked but ignored; a run name becomes the
        ``mlflow.runName`` tag."""
        if status is not None and status not in CLIENT_STATUSES:
            raise MlflowError(INVALID_PARAMETER_VALUE, f"invalid run status {status!r}")
        if run_name:
            self.store.set_run_tags(job.workspace_key, job.name, {RUN_NAME_TAG: run_name})

    def log(
        self,
        job: JobRecord,
        metrics: Sequence[MetricPoint] = (),
        params: Mapping[str, str] | None = None,
        tags: Mapping[str, str] | None = None,
    ) -> None:
        ws, name = job.workspace_key, job.name
        try:
            if params:
                self.store.log_params(ws, name, params)
            if metrics:
                self.store.log_metrics(ws, name, metrics)
            if tags:
                self.store.set_run_tags(ws, name, tags)
        except Conflict as exc:
            raise MlflowError(INVALID_PARAMETER_VALUE, exc.message) from exc
        except NotFound as exc:
            raise _no_run(name) from exc

    def history(self, job: JobRecord, key: str) -> list[MetricPoint]:
        return self.store.metric_history(job.workspace_key, job.name, key)

    # -- experiments ------------------------------------------------------------------------
    def experiment_workspace(self, caller: Caller) -> str:
        if caller.job_name is not None:
            if self.scope is not None and self.scope.key != caller.workspace_key:
                raise MlflowError(PERMISSION_DENIED, "a job's token can only use its workspace")
            return caller.workspace_key or ""
        return (self.scope or DEFAULT_WORKSPACE).key

    def experiment(self, caller: Caller, name: str) -> JsonObject:
        ws = self.experiment_workspace(caller)
        if name not in self.store.experiment_names(ws):
            raise MlflowError(
                RESOURCE_DOES_NOT_EXIST, f"No Experiment with id/name={name!r} exists"
            )
        return {
            "experiment_id": name,
            "name": name,
            "artifact_location": "",
            "lifecycle_stage": "active",
            "tags": [],
        }

    def create_experiment(self, caller: Caller, name: str) -> str:
        if caller.job_name is not None:
            raise MlflowError(PERMISSION_DENIED, "a job's token cannot create experiments")
        ws = self.experiment_workspace(caller)
        if name in self.store.experiment_names(ws):
            raise MlflowError(RESOURCE_ALREADY_EXISTS, f"Experiment {name!r} already exists.")
        self.store.put_asset(ws, EXPERIMENT_KIND, name, None, {"name": name})
        return name

    # -- artifacts --------------------------------------------------------------------------
    def artifact_uri(self, job: JobRecord) -> str:
        sub, rg, ws = paths.workspace_parts(job.workspace_key)
        return f"{ARTIFACT_SCHEME}/{sub}/{rg}/{ws}/{job.name}"

    def artifact_target(
        self, caller: Caller, path: str, *, write: bool = False
    ) -> tuple[JobRecord, Path]:
        """(job, local path) of ``{sub}/{rg}/{ws}/{job}/{file...}`` of an artifact URL; for a
        ``write`` the run must still accept the caller's writes (``run_for_write``)."""
        parts = path.strip("/").split("/")
        if len(parts) < 4 or not all(parts[:4]):
            raise MlflowError(
                INVALID_PARAMETER_VALUE,
                f"artifact path {path!r} is not "
                "{subscription}/{group}/{workspace}/{run}/...",
            )
        key = "/".join(parts[:3]).lower()
        job = self._artifact_run(caller, key, parts[3])
        if write:
            _check_writable(caller, job)
        try:
            root = paths.datastore_root(self.settings, key, paths.DEFAULT_DATASTORE)
            outputs = root / paths.artifacts_path(job.name) / "outputs"
            return job, paths.safe_join(outputs, "/".join(parts[4:]))
        except (ValueError, paths.PathEscapeError) as exc:
            raise MlflowError(INVALID_PARAMETER_VALUE, f"invalid artifact path: {exc}") from exc

    def _artifact_run(self, caller: Caller, workspace_key: str, run_id: str) -> JobRecord:
        if caller.job_name is not None and caller.workspace_key != workspace_key:
            raise MlflowError(PERMISSION_DENIED, "a job's token can only use its own run")
        scoped = Tracking(self.store, self.settings, _workspace_of(self.store, workspace_key))
        return scoped.run(caller, run_id)


def _workspace_of(store: Store, key: str) -> WorkspaceRef:
    ws = store.get_workspace(key)
    if ws is None:
        raise MlflowError(RESOURCE_DOES_NOT_EXIST, f"workspace {key!r} does not exist")
    return ws


def _check_writable(caller: Caller, job: JobRecord) -> JobRecord:
    """A job's token writes into its run only while the job has not ended."""
    if caller.job_name is not None and job.status.is_terminal:
        raise MlflowError(
            PERMISSION_DENIED,
            f"job {job.name!r} is {job.status.value}: its token can no longer write to its run",
        )
    return job


def _no_run(run_id: str) -> MlflowError:
    return MlflowError(RESOURCE_DOES_NOT_EXIST, f"Run with id={run_id} not found")


def job_metrics(store: Store, workspace_key: str, name: str) -> JsonObject:
    """A job's metrics (amlite's ``/jobs/{name}/metrics``): the latest value of each metric,
    every metric's history in logged order, and the run's params and MLflow tags."""
    histories = store.all_metric_histories(workspace_key, name)
    return {
        "value": points_json([points[-1] for _, points in sorted(histories.items())]),
        "history": {key: points_json(points) for key, points in histories.items()},
        "params": {k: v for k, v in store.get_params(workspace_key, name).items()},
        "tags": {k: v for k, v in store.get_run_tags(workspace_key, name).items()},
    }


def metric_summaries(
    store: Store, workspace_key: str, sweep_name: str, metric: str, trials: Sequence[str]
) -> dict[str, MetricSummary]:
    """Each of ``trials`` (of a sweep) that logged ``metric``: its values aggregated."""
    return store.metric_summaries(workspace_key, sweep_name, metric, names=trials)


def metric_curves(
    store: Store, workspace_key: str, sweep_name: str, metric: str, trials: Sequence[str]
) -> dict[str, list[float]]:
    """The values of ``metric`` each of ``trials`` (of a sweep) logged, in order."""
    return store.metric_histories(workspace_key, sweep_name, metric, names=trials)
