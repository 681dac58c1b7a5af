"""A tick woken by a supervisor's end reads that run's report only; a full tick (an API
request, or the once-a-second round) reads every started job's. In-process scheduler, real
SQLite store, an executor that records which reports were read."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from amlite.config import Settings
from amlite.domain.arm_id import WorkspaceRef
from amlite.domain.status import ACCEPT_PATH, JobStatus
from amlite.executors._base import Executor, RunPlan, RunReport
from amlite.executors.supervisor.contract import RunResult
from amlite.scheduler.loop import Scheduler
from amlite.services.preparation import RuntimeContext
from amlite.services.workspaces import Workspaces
from amlite.store import NewJob, Store, open_store

WS = WorkspaceRef("00000000-0000-0000-0000-000000000000", "rg1", "ws1")
DONE = RunResult(0, "Completed")


class Recorder(Executor):
    def __init__(self) -> None:
        self.read: list[str] = []
        self.results: dict[str, RunResult] = {}

    def start(self, plan: RunPlan, guard: Callable[[], bool] | None = None) -> dict[str, Any]:
        raise AssertionError("nothing is queued")

    def cancel(self, runtime: dict[str, Any], reason: str) -> None: ...

    def recover(self, run_dir: str) -> dict[str, Any] | None:
        return None

    def report(self, runtime: dict[str, Any]) -> RunReport:
        run_dir = str(runtime["runDir"])
        self.read.append(run_dir)
        result = self.results.get(run_dir)
        return RunReport(events=[], result=result, alive=result is None)


def _running(store: Store, name: str, run_dir: str) -> None:
    spec = {"jobType": "Command", "command": "true", "compute": {"target": "local"}}
    store.create_job(NewJob(workspace=WS, name=name, job_type="Command", spec=spec))
    store.transition(WS.key, name, ACCEPT_PATH)
    store.transition(WS.key, name, JobStatus.RUNNING, runtime={"runDir": run_dir, "pid": 0})


def test_a_tick_woken_by_an_ended_run_reads_that_run_only(tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path / 'amlite.db'}")
    Workspaces(store).ensure(WS)
    _running(store, "a", "/runs/a")
    _running(store, "b", "/runs/b")
    executor = Recorder()
    ctx = RuntimeContext(Settings(home=tmp_path / "home"), "http://x/mlflow", "http://x")
    scheduler = Scheduler(store, executor, ctx, slots=2)

    executor.results["/runs/a"] = DONE
    scheduler.run_ended("/runs/a")
    scheduler.tick(full=False)
    assert executor.read == ["/runs/a"]
    job_a, job_b = store.get_job(WS.key, "a"), store.get_job(WS.key, "b")
    assert job_a is not None and job_a.status is JobStatus.COMPLETED
    assert job_b is not None and job_b.status is JobStatus.RUNNING

    executor.read.clear()
    scheduler.tick(full=False)  # nothing ended since
    assert executor.read == []

    executor.results["/runs/b"] = DONE  # ended without a word (e.g. started by a stopped server)
    scheduler.tick(full=True)
    assert executor.read == ["/runs/b"]
    job_b = store.get_job(WS.key, "b")
    assert job_b is not None and job_b.status is JobStatus.COMPLETED
    store.close()
