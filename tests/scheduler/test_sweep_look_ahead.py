"""A non-adaptive sweep's next trial is created ahead of its turn (``LOOK_AHEAD``) and
started as soon as a slot of the sweep frees: never more trials at once than
``maxConcurrentTrials`` (even with free local slots), never more than ``maxTotalTrials``,
and a restarted server neither loses nor repeats the trial created ahead. Real SQLite
store, the scheduler's rounds called directly, a fake executor (no processes)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from amlite.config import Settings
from amlite.domain.status import ACCEPT_PATH, JobStatus
from amlite.executors._base import Executor, RunPlan, RunReport
from amlite.executors.supervisor.contract import RunResult
from amlite.scheduler.loop import Scheduler
from amlite.services.preparation import RuntimeContext
from amlite.store import NewJob, Store
from support.stores import WS, sqlite_store

S = JobStatus


class Executor_(Executor):
    """Starts nothing; each started job runs until ``end``."""

    def __init__(self) -> None:
        self.started: list[str] = []
        self.reports: dict[str, RunReport] = {}

    def start(self, plan: RunPlan, guard: Callable[[], bool] | None = None) -> dict[str, Any]:
        self.started.append(Path(plan.run_dir).name)
        return {"runDir": plan.run_dir, "pid": 0}

    def cancel(self, runtime: dict[str, Any], reason: str) -> None:
        pass

    def recover(self, run_dir: str) -> dict[str, Any] | None:
        return None

    def report(self, runtime: dict[str, Any]) -> RunReport:
        return self.reports.get(Path(runtime["runDir"]).name, RunReport([], None, alive=True))

    def end(self, name: str) -> None:
        self.reports[name] = RunReport([], RunResult(0, "Completed"), alive=False)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    yield from sqlite_store(tmp_path, WS)


def scheduler(store: Store, tmp_path: Path, executor: Executor) -> Scheduler:
    settings = Settings(home=tmp_path / "home")
    ctx = RuntimeContext(settings, "http://127.0.0.1:1/mlflow", "http://127.0.0.1:1")
    return Scheduler(store, executor, ctx, slots=2)


def submit_sweep(store: Store, algorithm: str = "Random", total: int = 4) -> None:
    spec = {
        "jobType": "Sweep",
        "algorithm": algorithm,
        "compute": {"target": "local"},
        "objective": {"primaryMetric": "acc", "goal": "Maximize"},
        "searchSpace": {"x": ["uniform", [0.0, 1.0]]},
        "maxTotalTrials": total,
        "maxConcurrentTrials": 1,  # fewer than the two local slots
        "trial": {"command": "echo ${{search_space.x}}"},
    }
    store.create_job(NewJob(workspace=WS, name="sw", job_type="Sweep", spec=spec))
    store.transition(WS.key, "sw", ACCEPT_PATH)


def trials(store: Store) -> dict[str, S]:
    return {t.name: t.status for t in store.list_jobs(WS.key, parent_name="sw")}


def end(store: Store, sched: Scheduler, executor: Executor_, name: str) -> None:
    """The trial's process ends and its supervisor tells the scheduler."""
    executor.end(name)
    trial = store.get_job(WS.key, name)
    assert trial is not None
    sched.run_ended(trial.runtime["runDir"])


def running(store: Store) -> list[str]:
    return sorted(name for name, status in trials(store).items() if status is S.RUNNING)


def test_the_trial_created_ahead_waits_for_its_sweeps_slot(store: Store, tmp_path: Path) -> None:
    submit_sweep(store)
    executor = Executor_()
    sched = scheduler(store, tmp_path, executor)
    sched.tick()
    assert trials(store) == {"sw_0": S.RUNNING, "sw_1": S.QUEUED}  # sw_1 created ahead
    sched.tick(full=False)
    sched.tick()  # a full round reads the trials again: still one at a time
    assert executor.started == ["sw_0"]
    for n in range(1, 4):
        end(store, sched, executor, f"sw_{n - 1}")
        sched.tick(full=n % 2 == 0)
        assert running(store) == [f"sw_{n}"]  # started in the round that saw the end
        assert len(trials(store)) == min(n + 2, 4)  # one ahead, never past maxTotalTrials
    end(store, sched, executor, "sw_3")
    sched.tick(full=False)
    sched.tick()
    assert executor.started == ["sw_0", "sw_1", "sw_2", "sw_3"]
    assert set(trials(store).values()) == {S.COMPLETED}
    sweep = store.get_job(WS.key, "sw")
    assert sweep is not None and sweep.status is S.COMPLETED


def test_a_restarted_server_starts_the_trial_created_ahead_once(
    store: Store, tmp_path: Path
) -> None:
    submit_sweep(store)
    first = Executor_()
    sched = scheduler(store, tmp_path, first)
    sched.tick()
    end(store, sched, first, "sw_0")
    sched.tick(full=False)
    assert trials(store) == {"sw_0": S.COMPLETED, "sw_1": S.RUNNING, "sw_2": S.QUEUED}
    # the server stops; a new one starts from the store alone, sw_1 still running
    second = Executor_()
    second.reports = first.reports
    restarted = scheduler(store, tmp_path, second)
    restarted.tick()
    assert second.started == [] and running(store) == ["sw_1"]  # sw_2 still waits
    end(store, restarted, second, "sw_1")
    restarted.tick(full=False)
    assert second.started == ["sw_2"] and running(store) == ["sw_2"]
    for name in ("sw_2", "sw_3"):
        end(store, restarted, second, name)
        restarted.tick(full=False)
    restarted.tick()
    assert first.started + second.started == ["sw_0", "sw_1", "sw_2", "sw_3"]  # each once
    assert trials(store) == {f"sw_{n}": S.COMPLETED for n in range(4)}
    sweep = store.get_job(WS.key, "sw")
    assert sweep is not None and sweep.status is S.COMPLETED
    assert sweep.runtime["nextIndex"] == 4


def test_an_adaptive_sweep_creates_no_trial_ahead(store: Store, tmp_path: Path) -> None:
    submit_sweep(store, algorithm="Bayesian", total=3)
    sched = scheduler(store, tmp_path, Executor_())
    sched.tick()
    assert trials(store) == {"sw_0": S.RUNNING}  # it proposes from the trials that ended
