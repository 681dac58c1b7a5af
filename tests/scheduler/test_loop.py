"""The scheduler's rounds with a real SQLite store and a fake executor (no processes):
dispatch by priority within the local slots, start failures, reports applied (Finalizing,
exit code, a vanished supervisor, a cancel that raced the end), cancels, adoption of a
supervisor a stopped server started, and the terminal-status hook."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from amlite.config import Settings
from amlite.data.paths import run_dir
from amlite.domain.status import ACCEPT_PATH, JobStatus
from amlite.errors import AmliteError
from amlite.executors._base import Executor, RunPlan, RunReport, check_guard
from amlite.executors.supervisor.contract import RunResult
from amlite.scheduler.loop import Scheduler
from amlite.services.preparation import RuntimeContext
from amlite.store import JobRecord, NewJob, Store
from support.stores import WS, sqlite_store

S = JobStatus
FINALIZED_AT = "2026-01-02T03:04:05+00:00"


class FakeExecutor(Executor):
    """Starts nothing: records plans and cancels, and reports what the test sets."""

    def __init__(self) -> None:
        self.started: list[str] = []
        self.cancelled: list[tuple[str, str]] = []
        self.reports: dict[str, RunReport] = {}
        self.recoverable: dict[str, dict[str, Any]] = {}
        self.fail_start: Exception | None = None

    def start(self, plan: RunPlan, guard: Callable[[], bool] | None = None) -> dict[str, Any]:
        check_guard(guard)
        if self.fail_start is not None:
            raise self.fail_start
        name = Path(plan.run_dir).name
        self.started.append(name)
        return {"runDir": plan.run_dir, "pid": 0}

    def cancel(self, runtime: dict[str, Any], reason: str) -> None:
        self.cancelled.append((Path(runtime["runDir"]).name, reason))

    def recover(self, run_dir: str) -> dict[str, Any] | None:
        return self.recoverable.get(Path(run_dir).name)

    def report(self, runtime: dict[str, Any]) -> RunReport:
        return self.reports.get(Path(runtime["runDir"]).name, RunReport([], None, alive=True))

    def end(self, name: str, result: RunResult, *events: dict[str, str]) -> None:
        self.reports[name] = RunReport(list(events), result, alive=False)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    yield from sqlite_store(tmp_path, WS)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(home=tmp_path / "home")


def scheduler_for(
    store: Store, settings: Settings, executor: Executor, slots: int = 2, **kw: Any
) -> Scheduler:
    ctx = RuntimeContext(settings, "http://127.0.0.1:1/mlflow", "http://127.0.0.1:1")
    return Scheduler(store, executor, ctx, slots=slots, **kw)


def submit(store: Store, name: str, priority: int = 0, **spec: Any) -> None:
    body = {"jobType": "Command", "command": "true", "compute": {"target": "local"}, **spec}
    store.create_job(
        NewJob(workspace=WS, name=name, job_type="Command", spec=body, priority=priority)
    )
    store.transition(WS.key, name, ACCEPT_PATH)


def job(store: Store, name: str) -> JobRecord:
    found = store.get_job(WS.key, name)
    assert found is not None
    return found


def statuses(store: Store, name: str) -> list[S]:
    return [e.status for e in store.status_history(WS.key, name)]


def test_queued_jobs_start_by_priority_within_the_local_slots(
    store: Store, settings: Settings
) -> None:
    executor = FakeExecutor()
    scheduler = scheduler_for(store, settings, executor, slots=2)
    submit(store, "low", priority=1)
    submit(store, "high", priority=5)
    submit(store, "mid", priority=3)
    scheduler.tick()
    assert executor.started == ["high", "mid"]
    assert job(store, "high").status is S.RUNNING and job(store, "low").status is S.QUEUED
    assert scheduler.queue_reason(job(store, "low")) == "needs 1 local slot; 0 of 2 free"
    executor.end("high", RunResult(0, "Completed"))
    scheduler.tick()
    assert executor.started == ["high", "mid", "low"]


def test_a_job_the_executor_cannot_start_fails_with_the_reason(
    store: Store, settings: Settings
) -> None:
    executor = FakeExecutor()
    executor.fail_start = OSError("no such interpreter")
    submit(store, "a")
    scheduler_for(store, settings, executor).tick()
    failed = job(store, "a")
    assert failed.status is S.FAILED
    assert failed.status_reason == "amlite could not start the job: no such interpreter"


def test_a_report_moves_the_job_through_finalizing_to_its_outcome(
    store: Store, settings: Settings
) -> None:
    executor = FakeExecutor()
    ended: list[str] = []
    scheduler = scheduler_for(store, settings, executor, on_terminal=lambda j: ended.append(j.name))
    submit(store, "a")
    submit(store, "b")
    scheduler.tick()
    finalizing = {"status": "Finalizing", "at": FINALIZED_AT}
    executor.end("a", RunResult(0, "Completed", None, FINALIZED_AT), finalizing)
    executor.end("b", RunResult(3, "Failed", "command exited with code 3"))
    scheduler.tick()
    a, b = job(store, "a"), job(store, "b")
    assert a.status is S.COMPLETED and a.exit_code == 0
    assert statuses(store, "a")[-3:] == [S.RUNNING, S.FINALIZING, S.COMPLETED]
    at = store.status_history(WS.key, "a")[-2].at
    assert at.replace(tzinfo=at.tzinfo or UTC) == datetime.fromisoformat(FINALIZED_AT)
    assert b.status is S.FAILED and b.exit_code == 3
    assert b.status_reason == "command exited with code 3"
    assert sorted(ended) == ["a", "b"]


def test_a_supervisor_that_vanished_without_a_result_fails_its_job(
    store: Store, settings: Settings
) -> None:
    executor = FakeExecutor()
    scheduler = scheduler_for(store, settings, executor)
    submit(store, "a")
    scheduler.tick()
    executor.reports["a"] = RunReport([], None, alive=False, note="node lost")
    scheduler.tick()
    gone = job(store, "a")
    assert gone.status is S.FAILED
    assert (
        gone.status_reason == "the job's supervisor process vanished without a result (node lost)"
    )


def test_a_cancel_wins_over_a_result_that_completed_meanwhile(
    store: Store, settings: Settings
) -> None:
    executor = FakeExecutor()
    scheduler = scheduler_for(store, settings, executor)
    submit(store, "a")
    scheduler.tick()
    scheduler.cancel_job(job(store, "a"), "user asked")
    assert executor.cancelled == [("a", "user asked")]
    assert job(store, "a").status is S.CANCEL_REQUESTED
    executor.end("a", RunResult(0, "Completed"))
    scheduler.tick()
    assert job(store, "a").status is S.CANCELED
    assert job(store, "a").status_reason == "user asked"


def test_a_queued_job_is_cancelled_without_the_executor(store: Store, settings: Settings) -> None:
    executor = FakeExecutor()
    scheduler = scheduler_for(store, settings, executor, slots=1)
    submit(store, "a")
    scheduler.cancel_job(job(store, "a"), "not needed")
    assert job(store, "a").status is S.CANCELED and executor.cancelled == []
    scheduler.tick()
    assert executor.started == []


def test_a_supervisor_a_stopped_server_started_is_adopted_not_started_again(
    store: Store, settings: Settings
) -> None:
    executor = FakeExecutor()
    submit(store, "a")
    left = str(run_dir(settings, WS.key, "a"))
    executor.recoverable["a"] = {"runDir": left, "pid": 0}
    scheduler_for(store, settings, executor).tick()
    assert executor.started == []
    adopted = job(store, "a")
    assert adopted.status is S.RUNNING and adopted.runtime["runDir"] == left


def test_the_slot_of_a_job_that_failed_to_start_goes_to_the_next_in_the_same_round(
    store: Store, settings: Settings
) -> None:
    class FailsFirst(FakeExecutor):
        def start(self, plan: RunPlan, guard: Callable[[], bool] | None = None) -> dict[str, Any]:
            if Path(plan.run_dir).name == "broken":
                raise AmliteError("cannot start this one")
            return super().start(plan, guard)

    executor = FailsFirst()
    scheduler = scheduler_for(store, settings, executor, slots=1)
    submit(store, "broken", priority=5)
    submit(store, "next")
    scheduler.tick()
    assert job(store, "broken").status is S.FAILED
    assert executor.started == ["next"]  # not left for the next round
