"""A submission wakes the scheduler for a dispatch round only (``Scheduler.submitted``): it
starts the new job without reading the started jobs' reports, refreshing the sweeps or
emptying the asset cache, and reads nothing at all when the jobs can only run on this
machine and it has no free slot; the once-a-second full round still comes while
submissions pour in. In-process scheduler, real SQLite store, an executor that records
what it was asked."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from amlite.config import Settings
from amlite.domain.arm_id import WorkspaceRef
from amlite.domain.status import ACCEPT_PATH, JobStatus
from amlite.executors._base import Executor, RunPlan, RunReport
from amlite.executors.supervisor.contract import RunResult
from amlite.scheduler.loop import RECONCILE_SECONDS, Scheduler
from amlite.services.preparation import RuntimeContext
from amlite.services.workspaces import Workspaces
from amlite.store import NewJob, Store, open_store

WS = WorkspaceRef("00000000-0000-0000-0000-000000000000", "rg1", "ws1")
LOCAL = (WS.key, "local")
SPEC = {"jobType": "Command", "command": "true", "compute": {"target": "local"}}


class Recorder(Executor):
    """Starts every job (a run directory of its name); reports what ``results`` says."""

    def __init__(self) -> None:
        self.read: list[str] = []
        self.started: list[str] = []
        self.results: dict[str, RunResult] = {}

    def start(self, plan: RunPlan, guard: Callable[[], bool] | None = None) -> dict[str, Any]:
        name = Path(plan.run_dir).name
        self.started.append(name)
        return {"runDir": f"/runs/{name}", "pid": 0}

    def cancel(self, runtime: dict[str, Any], reason: str) -> None: ...

    def recover(self, run_dir: str) -> dict[str, Any] | None:
        return None

    def report(self, runtime: dict[str, Any]) -> RunReport:
        run_dir = str(runtime["runDir"])
        self.read.append(run_dir)
        result = self.results.get(run_dir)
        return RunReport(events=[], result=result, alive=result is None)


class Counting:
    """The store, counting the scheduler's reads of the queue and of the started jobs."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self.reads: list[str] = []

    def queued_jobs(self, *args: Any, **kwargs: Any) -> Any:
        self.reads.append("queued_jobs")
        return self._store.queued_jobs(*args, **kwargs)

    def queued_computes(self, *args: Any, **kwargs: Any) -> Any:
        self.reads.append("queued_computes")
        return self._store.queued_computes(*args, **kwargs)

    def jobs_in_status(self, *args: Any, **kwargs: Any) -> Any:
        self.reads.append("jobs_in_status")
        return self._store.jobs_in_status(*args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    opened = open_store(f"sqlite:///{tmp_path / 'amlite.db'}")
    Workspaces(opened).ensure(WS)
    yield opened
    opened.close()


def scheduler_of(store: Store, tmp_path: Path, slots: int) -> tuple[Scheduler, Recorder, Counting]:
    executor, counting = Recorder(), Counting(store)
    ctx = RuntimeContext(Settings(home=tmp_path / "home"), "http://x/mlflow", "http://x")
    scheduler = Scheduler(counting, executor, ctx, slots=slots)  # type: ignore[arg-type]
    return scheduler, executor, counting


def queue(store: Store, name: str, compute: str = "local") -> None:
    store.create_job(
        NewJob(workspace=WS, name=name, job_type="Command", spec=SPEC, compute=compute),
        then=ACCEPT_PATH,
    )


def status(store: Store, name: str) -> JobStatus:
    job = store.get_job(WS.key, name)
    assert job is not None
    return job.status


def test_a_submission_round_starts_the_new_job_without_reading_the_started_jobs_reports(
    store: Store, tmp_path: Path
) -> None:
    scheduler, executor, _ = scheduler_of(store, tmp_path, slots=2)
    queue(store, "a")
    scheduler.round(woken=False, began=100.0)  # the first, full round starts "a"
    assert executor.started == ["a"]

    executor.read.clear()
    queue(store, "b")
    scheduler.submitted([LOCAL])
    scheduler.round(woken=True, began=100.1)
    assert executor.started == ["a", "b"]
    assert status(store, "b") is JobStatus.RUNNING
    assert executor.read == []  # "a" is not reconciled by a submission


def test_with_no_free_slot_a_submission_round_reads_nothing_and_the_slot_s_end_starts_it(
    store: Store, tmp_path: Path
) -> None:
    scheduler, executor, counting = scheduler_of(store, tmp_path, slots=1)
    queue(store, "a")
    scheduler.round(woken=False, began=100.0)
    assert executor.started == ["a"]

    counting.reads.clear()
    for name in ("b", "c"):
        queue(store, name)
        scheduler.submitted([LOCAL])
        scheduler.round(woken=True, began=100.1)
    assert counting.reads == []  # neither the queue nor the started jobs
    assert status(store, "b") is JobStatus.QUEUED

    executor.results["/runs/a"] = RunResult(0, "Completed")
    scheduler.run_ended("/runs/a")
    scheduler.round(woken=True, began=100.2)
    assert status(store, "a") is JobStatus.COMPLETED
    assert executor.started == ["a", "b"]  # in submission order
    assert status(store, "c") is JobStatus.QUEUED


def test_a_job_that_cannot_be_placed_fails_at_its_submission_though_every_slot_is_busy(
    store: Store, tmp_path: Path
) -> None:
    scheduler, executor, _ = scheduler_of(store, tmp_path, slots=1)
    queue(store, "a")
    scheduler.round(woken=False, began=100.0)
    queue(store, "lost", compute="gone")  # its compute was deleted after the PUT
    scheduler.submitted([(WS.key, "gone")])
    scheduler.round(woken=True, began=100.1)
    job = store.get_job(WS.key, "lost")
    assert job is not None and job.status is JobStatus.FAILED
    assert "gone" in (job.status_reason or "")
    assert executor.started == ["a"]


def test_submissions_pouring_in_still_get_the_full_round_once_a_second(
    store: Store, tmp_path: Path
) -> None:
    scheduler, executor, _ = scheduler_of(store, tmp_path, slots=1)
    queue(store, "a")
    scheduler.round(woken=False, began=100.0)
    executor.read.clear()
    queue(store, "b")
    for began in (100.2, 100.5, 100.9):
        scheduler.submitted([LOCAL])
        scheduler.round(woken=True, began=began)
    assert executor.read == []
    scheduler.submitted([LOCAL])
    scheduler.round(woken=True, began=100.0 + RECONCILE_SECONDS)
    assert executor.read == ["/runs/a"]  # the full round reconciles the started job


def test_an_api_wake_is_still_a_full_round(store: Store, tmp_path: Path) -> None:
    scheduler, executor, _ = scheduler_of(store, tmp_path, slots=2)
    queue(store, "a")
    scheduler.round(woken=False, began=100.0)
    executor.read.clear()
    scheduler.submitted([LOCAL])
    scheduler.wake()  # e.g. a cancel, with a submission in the same round
    scheduler.round(woken=True, began=100.1)
    assert executor.read == ["/runs/a"]
