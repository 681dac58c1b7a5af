"""A sweep's trial created ahead is staged (``Executor.stage``) and starts the moment a
trial of its sweep ends, before any scheduler round; the round after records it Running,
at the time it went. It is withdrawn when a job queued ahead of it waits for the slot, when
it or its sweep is cancelled, and a staged trial that went while it was being cancelled is
stopped. Real SQLite store, the scheduler's rounds called directly, a fake executor that
stages as the local one does (no processes)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from amlite.config import Settings
from amlite.domain.status import ACCEPT_PATH, JobStatus
from amlite.executors._base import Executor, Launch, RunPlan, RunReport
from amlite.executors.supervisor.contract import RunResult
from amlite.scheduler.loop import Scheduler
from amlite.services.preparation import RuntimeContext
from amlite.store import NewJob, Store
from support.stores import WS, sqlite_store

S = JobStatus


class StagingExecutor(Executor):
    """Starts nothing; a started job runs until ``end``, which also starts the plan staged
    in the ended run's group (as ``LocalExecutor._ended`` does)."""

    def __init__(self, *, can_stage: bool = True) -> None:
        self.can_stage = can_stage
        self.started: list[str] = []
        self.launches: list[str] = []
        self.withdrawn: list[str] = []
        self.cancelled: list[str] = []
        self.reports: dict[str, RunReport] = {}
        self.groups: dict[str, str] = {}
        self.staged: dict[str, str] = {}  # run dir -> group
        self.went: list[Launch] = []
        self.went_at: dict[str, datetime] = {}

    def start(self, plan: RunPlan, guard: Callable[[], bool] | None = None) -> dict[str, Any]:
        self.started.append(Path(plan.run_dir).name)
        self.groups[plan.run_dir] = plan.slot_group
        return {"runDir": plan.run_dir, "pid": 0}

    def stage(self, plan: RunPlan, guard: Callable[[], bool] | None = None) -> bool:
        assert plan.slot_group == f"{WS.key}/jobs/sw"
        if self.can_stage:
            self.staged[plan.run_dir] = plan.slot_group
        return self.can_stage

    def _launch(self, run_dir: str) -> Launch:
        self.launches.append(Path(run_dir).name)
        self.groups[run_dir] = self.staged.pop(run_dir)
        at = self.went_at[Path(run_dir).name] = datetime(
            2026, 1, 1, 0, 0, len(self.launches), tzinfo=UTC
        )
        return Launch(run_dir, {"runDir": run_dir, "pid": 0}, at)

    def go(self, run_dir: str) -> Launch | None:
        for launch in self.went:
            if launch.run_dir == run_dir:
                self.went.remove(launch)
                return launch
        return self._launch(run_dir) if run_dir in self.staged else None

    def withdraw(self, run_dir: str) -> Launch | None:
        for launch in self.went:
            if launch.run_dir == run_dir:
                self.went.remove(launch)
                return launch
        if run_dir in self.staged:
            del self.staged[run_dir]
            self.withdrawn.append(Path(run_dir).name)
        return None

    def launched(self) -> list[Launch]:
        went, self.went = self.went, []
        return went

    def cancel(self, runtime: dict[str, Any], reason: str) -> None:
        self.cancelled.append(Path(runtime["runDir"]).name)

    def recover(self, run_dir: str) -> dict[str, Any] | None:
        return None

    def report(self, runtime: dict[str, Any]) -> RunReport:
        return self.reports.get(Path(runtime["runDir"]).name, RunReport([], None, alive=True))

    def end(self, run_dir: str) -> None:
        """The run's supervisor ends: the first plan staged in its group goes."""
        self.reports[Path(run_dir).name] = RunReport([], RunResult(0, "Completed"), alive=False)
        group = self.groups.pop(run_dir, None)
        for staged, its_group in list(self.staged.items()):
            if group and its_group == group:
                self.went.append(self._launch(staged))
                break


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    yield from sqlite_store(tmp_path, WS)


def scheduler(store: Store, tmp_path: Path, executor: Executor, slots: int = 2) -> Scheduler:
    settings = Settings(home=tmp_path / "home")
    ctx = RuntimeContext(settings, "http://127.0.0.1:1/mlflow", "http://127.0.0.1:1")
    return Scheduler(store, executor, ctx, slots=slots)


def submit_sweep(store: Store, total: int = 4) -> None:
    spec = {
        "jobType": "Sweep",
        "algorithm": "Random",
        "compute": {"target": "local"},
        "objective": {"primaryMetric": "acc", "goal": "Maximize"},
        "searchSpace": {"x": ["uniform", [0.0, 1.0]]},
        "maxTotalTrials": total,
        "maxConcurrentTrials": 1,
        "trial": {"command": "echo ${{search_space.x}}"},
    }
    store.create_job(NewJob(workspace=WS, name="sw", job_type="Sweep", spec=spec))
    store.transition(WS.key, "sw", ACCEPT_PATH)


def submit_command(store: Store, name: str, priority: int = 0) -> None:
    spec = {"jobType": "Command", "command": "true", "compute": {"target": "local"}}
    job = NewJob(workspace=WS, name=name, job_type="Command", spec=spec, priority=priority)
    store.create_job(job)
    store.transition(WS.key, name, ACCEPT_PATH)


def statuses(store: Store) -> dict[str, S]:
    return {t.name: t.status for t in store.list_jobs(WS.key, parent_name="sw")}


def started_sweep(
    store: Store, tmp_path: Path, slots: int = 2
) -> tuple[StagingExecutor, Scheduler]:
    """A sweep submitted and a first round run: its first trial started, the next staged."""
    submit_sweep(store)
    executor = StagingExecutor()
    sched = scheduler(store, tmp_path, executor, slots)
    sched.tick()
    return executor, sched


def end(store: Store, sched: Scheduler, executor: StagingExecutor, name: str) -> None:
    job = store.get_job(WS.key, name)
    assert job is not None
    executor.end(job.runtime["runDir"])
    sched.run_ended(job.runtime["runDir"])


def test_each_trial_after_the_first_goes_at_the_end_of_the_one_before(
    store: Store, tmp_path: Path
) -> None:
    executor, sched = started_sweep(store, tmp_path)
    assert statuses(store) == {"sw_0": S.RUNNING, "sw_1": S.QUEUED}
    assert [Path(rd).name for rd in executor.staged] == ["sw_1"]
    for n in range(1, 4):
        end(store, sched, executor, f"sw_{n - 1}")
        assert executor.launches[-1] == f"sw_{n}"  # went before any round
        sched.tick(full=n % 2 == 0)
        assert statuses(store)[f"sw_{n}"] is S.RUNNING
        history = store.status_history(WS.key, f"sw_{n}")
        running = next(e for e in history if e.status is S.RUNNING)
        assert running.at == executor.went_at[f"sw_{n}"]  # when it went, not when recorded
        went = store.get_job(WS.key, f"sw_{n}")
        assert went is not None and went.runtime["runDir"].endswith(f"sw_{n}")
    end(store, sched, executor, "sw_3")
    sched.tick(full=False)
    sched.tick()
    assert executor.started == ["sw_0"]  # every other trial went staged
    assert executor.launches == ["sw_1", "sw_2", "sw_3"]  # each once
    assert set(statuses(store).values()) == {S.COMPLETED}
    sweep = store.get_job(WS.key, "sw")
    assert sweep is not None and sweep.status is S.COMPLETED


def test_a_job_queued_ahead_of_the_staged_trial_takes_the_slot_first(
    store: Store, tmp_path: Path
) -> None:
    executor, sched = started_sweep(store, tmp_path, slots=1)
    assert [Path(rd).name for rd in executor.staged] == ["sw_1"]
    submit_command(store, "later")  # same priority, after sw_1: sw_1 keeps its turn
    sched.submitted([(WS.key, "local")])
    sched.round(woken=True, began=float("inf"))
    assert executor.withdrawn == [] and [Path(rd).name for rd in executor.staged] == ["sw_1"]
    submit_command(store, "urgent", priority=10)  # ahead of sw_1 in the queue
    sched.submitted([(WS.key, "local")])
    sched.round(woken=True, began=float("-inf"))
    assert executor.withdrawn == ["sw_1"] and executor.staged == {}
    end(store, sched, executor, "sw_0")
    assert executor.launches == []  # nothing staged went
    sched.tick(full=False)
    assert executor.started == ["sw_0", "urgent"]
    assert statuses(store)["sw_1"] is S.QUEUED


def test_cancelling_the_sweep_withdraws_its_staged_trial(store: Store, tmp_path: Path) -> None:
    executor, sched = started_sweep(store, tmp_path)
    store.transition(WS.key, "sw", S.CANCEL_REQUESTED, reason="enough")
    sched.wake()
    sched.tick()
    assert executor.withdrawn == ["sw_1"]
    assert statuses(store)["sw_1"] is S.CANCELED
    assert executor.cancelled == ["sw_0"]  # the running trial is told
    assert executor.launches == []


def test_a_trial_cancelled_through_the_api_while_staged_is_withdrawn(
    store: Store, tmp_path: Path
) -> None:
    executor, sched = started_sweep(store, tmp_path)
    store.transition(WS.key, "sw_1", [S.CANCEL_REQUESTED, S.CANCELED], expect=S.QUEUED)
    sched.tick()  # a full round, as the API's wake asks
    assert executor.withdrawn == ["sw_1"]
    end(store, sched, executor, "sw_0")
    assert executor.launches == ["sw_2"]  # the trial created in its place
    sched.tick(full=False)
    assert statuses(store) == {
        "sw_0": S.COMPLETED,
        "sw_1": S.CANCELED,
        "sw_2": S.RUNNING,
        "sw_3": S.QUEUED,
    }


def test_a_staged_trial_that_went_as_it_was_cancelled_is_stopped(
    store: Store, tmp_path: Path
) -> None:
    executor, sched = started_sweep(store, tmp_path)
    end(store, sched, executor, "sw_0")  # sw_1 goes...
    store.transition(WS.key, "sw_1", [S.CANCEL_REQUESTED, S.CANCELED], expect=S.QUEUED)
    sched.tick(full=False)  # ...and the round that records it finds it cancelled
    assert executor.cancelled == ["sw_1"]
    assert statuses(store)["sw_1"] is S.CANCELED


@pytest.mark.parametrize("can_stage", [True, False])
def test_a_trial_held_back_by_its_sweep_says_why(
    store: Store, tmp_path: Path, can_stage: bool
) -> None:
    submit_sweep(store)
    sched = scheduler(store, tmp_path, StagingExecutor(can_stage=can_stage))
    sched.tick()
    waiting = store.get_job(WS.key, "sw_1")
    assert waiting is not None and waiting.status is S.QUEUED
    how = "starts the moment" if can_stage else "waits until"
    assert sched.queue_reason(waiting) == (
        f"{how} a running trial of its sweep ends (maxConcurrentTrials 1 reached)"
    )
