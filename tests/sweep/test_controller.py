"""The sweep controller against a real SQLite store, with a fake of what it needs from the
scheduler (``TrialOps``) and of its clock: trials from the search space, the best trial,
early termination, the sweep's timeout, cancel and a spec it cannot run. No processes."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from amlite.domain.status import ACCEPT_PATH, JobStatus
from amlite.store import JobRecord, MetricPoint, NewJob, Store
from amlite.sweep import controller as controller_module
from amlite.sweep.controller import EARLY_TERMINATION, SweepController
from support.stores import WS, sqlite_store

S = JobStatus


class FakeOps:
    """TrialOps: records cancels and moves the trial as the scheduler would (a queued trial
    ends at once, a running one once its process is gone: here, at once too)."""

    def __init__(self, store: Store, capacity: int = 8) -> None:
        self.store = store
        self.capacity = capacity
        self.cancelled: list[tuple[str, str]] = []

    def cancel_job(self, job: JobRecord, reason: str) -> None:
        self.cancelled.append((job.name, reason))
        self.store.transition(
            job.workspace_key, job.name, [S.CANCEL_REQUESTED, S.CANCELED], reason=reason
        )

    def capacity_for(self, sweep: JobRecord) -> int:
        return self.capacity


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def time(self) -> float:
        return self.now


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    yield from sqlite_store(tmp_path, WS)


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    fake = Clock()
    monkeypatch.setattr(controller_module, "time", SimpleNamespace(time=fake.time))
    return fake


def submit(store: Store, **over: Any) -> None:
    spec: dict[str, Any] = {
        "jobType": "Sweep",
        "algorithm": "Grid",
        "compute": {"target": "local"},
        "objective": {"primaryMetric": "acc", "goal": "Maximize"},
        "searchSpace": {"lr": ["choice", [[0.1, 0.2, 0.3]]], "--depth": ["choice", [[4]]]},
        "maxConcurrentTrials": 2,
        "trial": {"command": "python train.py --lr ${{search_space.lr}}"},
    }
    spec.update(over)
    store.create_job(NewJob(workspace=WS, name="sw", job_type="Sweep", spec=spec))
    store.transition(WS.key, "sw", ACCEPT_PATH)


def tick(controller: SweepController, store: Store) -> JobRecord:
    sweep = store.get_job(WS.key, "sw")
    assert sweep is not None
    controller.advance(sweep)
    controller.score_finished()
    after = store.get_job(WS.key, "sw")
    assert after is not None
    return after


def trials(store: Store) -> dict[str, JobStatus]:
    return {t.name: t.status for t in store.list_jobs(WS.key, parent_name="sw")}


def run(store: Store, name: str, *values: float) -> None:
    store.transition(WS.key, name, S.RUNNING)
    store.log_metrics(WS.key, name, [MetricPoint("acc", v, step=i) for i, v in enumerate(values)])


def finish(controller: SweepController, store: Store, name: str, status: S = S.COMPLETED) -> None:
    path = [S.FINALIZING, S.COMPLETED] if status is S.COMPLETED else [status]
    controller.trial_finished(store.transition(WS.key, name, path))


def test_grid_trials_fill_the_concurrency_and_carry_their_values(
    store: Store, clock: Clock
) -> None:
    submit(store)
    controller = SweepController(store, FakeOps(store))
    sweep = tick(controller, store)
    assert sweep.status is S.RUNNING
    assert trials(store) == {"sw_0": S.QUEUED, "sw_1": S.QUEUED}
    first = store.get_job(WS.key, "sw_0")
    assert first is not None
    # used placeholders are substituted; unused ``--`` parameters become arguments
    assert first.spec["command"] == "python train.py --lr 0.1 --depth 4"
    assert first.spec["environmentVariables"] == {
        "AZUREML_SWEEP_lr": "0.1",
        "AZUREML_SWEEP_depth": "4",
    }
    assert json.loads(first.spec["properties"]["hyperparameters"]) == {"--depth": 4, "lr": 0.1}
    assert first.parent_name == "sw" and first.spec["properties"]["sweep_index"] == "0"
    props = sweep.system_properties
    assert props["max_total_trials"] == "3" and props["max_concurrent_trials"] == "2"


def test_the_best_trial_counts_completed_and_cancelled_ones_not_failed_ones(
    store: Store, clock: Clock
) -> None:
    submit(store)
    controller = SweepController(store, FakeOps(store))
    tick(controller, store)
    run(store, "sw_0", 0.5, 0.7)
    run(store, "sw_1", 0.99)
    finish(controller, store, "sw_0")
    finish(controller, store, "sw_1", S.FAILED)  # its 0.99 does not count
    sweep = tick(controller, store)
    assert sweep.system_properties["best_child_run_id"] == "sw_0"
    assert sweep.system_properties["score"] == "0.7"
    assert trials(store)["sw_2"] is S.QUEUED
    run(store, "sw_2", 0.8)
    finish(controller, store, "sw_2")
    sweep = tick(controller, store)
    assert sweep.status is S.COMPLETED
    assert sweep.system_properties["best_child_run_id"] == "sw_2"
    assert sweep.system_properties["score"] == "0.8"
    assert len(trials(store)) == 3  # the space held 3 points


def test_a_bandit_policy_stops_a_trial_far_behind_the_best(store: Store, clock: Clock) -> None:
    submit(
        store,
        earlyTermination={"policyType": "Bandit", "slackFactor": 0.1, "evaluationInterval": 1},
    )
    ops = FakeOps(store)
    controller = SweepController(store, ops)
    tick(controller, store)
    run(store, "sw_0", 0.9)
    run(store, "sw_1", 0.2)
    tick(controller, store)
    assert [name for name, _ in ops.cancelled] == ["sw_1"]
    assert ops.cancelled[0][1].startswith(EARLY_TERMINATION)
    stopped = store.get_job(WS.key, "sw_1")
    assert stopped is not None and stopped.system_properties["early_terminated"] == "true"
    assert trials(store)["sw_0"] is S.RUNNING


def test_the_sweep_timeout_cancels_its_trials_then_the_sweep(store: Store, clock: Clock) -> None:
    submit(store, timeout="PT10M")
    ops = FakeOps(store)
    controller = SweepController(store, ops)
    tick(controller, store)
    run(store, "sw_0", 0.5)
    clock.now += 9 * 60
    assert tick(controller, store).status is S.RUNNING
    clock.now += 2 * 60
    sweep = tick(controller, store)
    assert sorted(name for name, _ in ops.cancelled) == ["sw_0", "sw_1"]
    assert all(reason == "sweep timeout after 600 s" for _, reason in ops.cancelled)
    assert sweep.status is S.CANCEL_REQUESTED  # ends once no trial is active
    sweep = tick(controller, store)
    assert sweep.status is S.CANCELED and sweep.status_reason == "sweep timeout after 600 s"
    assert len(trials(store)) == 2  # no trial started after the timeout


def test_a_cancelled_sweep_cancels_its_active_trials_only(store: Store, clock: Clock) -> None:
    submit(store)
    ops = FakeOps(store)
    controller = SweepController(store, ops)
    tick(controller, store)
    run(store, "sw_0", 0.5)
    finish(controller, store, "sw_0")
    store.transition(WS.key, "sw", S.CANCEL_REQUESTED, reason="user asked")
    sweep = tick(controller, store)
    assert ops.cancelled == [("sw_1", "user asked")]
    assert sweep.status is S.CANCEL_REQUESTED  # ends once no trial is active
    assert tick(controller, store).status is S.CANCELED
    assert trials(store) == {"sw_0": S.COMPLETED, "sw_1": S.CANCELED}


def test_a_sweep_it_cannot_run_fails_with_the_reason(store: Store, clock: Clock) -> None:
    submit(store, earlyTermination={"policyType": "Bandit"})  # neither slack given
    sweep = tick(SweepController(store, FakeOps(store)), store)
    assert sweep.status is S.FAILED
    assert "slackFactor" in (sweep.status_reason or "")
    assert trials(store) == {}


def test_concurrency_is_capped_by_what_the_compute_holds(store: Store, clock: Clock) -> None:
    submit(store, maxConcurrentTrials=3)
    tick(SweepController(store, FakeOps(store, capacity=1)), store)
    assert trials(store) == {"sw_0": S.QUEUED}
