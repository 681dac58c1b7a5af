"""The sweep controller's memory between ticks against the store it mirrors: a restarted
controller resumes from the store alone, memory that lags behind the store never starts a
trial too many, and ``refresh`` brings it back in step. Real SQLite store, no scheduler."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from amlite.domain.status import ACCEPT_PATH, JobStatus
from amlite.services.tokens import hash_token
from amlite.store import JobRecord, NewJob, Store
from amlite.sweep.controller import SweepController
from support.stores import WS, sqlite_store

S = JobStatus


class Ops:
    """TrialOps without a scheduler: cancelling moves the trial in the store."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def cancel_job(self, job: JobRecord, reason: str) -> None:
        self.store.transition(job.workspace_key, job.name, [S.CANCEL_REQUESTED, S.CANCELED])

    def capacity_for(self, sweep: JobRecord) -> int:
        return 8


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    yield from sqlite_store(tmp_path)


def _submit_sweep(store: Store, total: int = 5, concurrent: int = 2) -> None:
    spec = {
        "jobType": "Sweep",
        "algorithm": "Random",
        "compute": {"target": "local"},
        "objective": {"primaryMetric": "accuracy", "goal": "Maximize"},
        "searchSpace": {"x": ["uniform", [0.0, 1.0]]},
        "maxTotalTrials": total,
        "maxConcurrentTrials": concurrent,
        "trial": {"command": "echo ${{search_space.x}}"},
    }
    store.create_job(NewJob(workspace=WS, name="sw", job_type="Sweep", spec=spec))
    store.transition(WS.key, "sw", ACCEPT_PATH)


def _tick(controller: SweepController, store: Store) -> JobRecord:
    sweep = store.get_job(WS.key, "sw")
    assert sweep is not None
    controller.tick(sweep)
    after = store.get_job(WS.key, "sw")
    assert after is not None
    return after


def _trials(store: Store) -> dict[str, JobStatus]:
    return {t.name: t.status for t in store.list_jobs(WS.key, parent_name="sw")}


def _complete(store: Store, name: str) -> JobRecord:
    store.transition(WS.key, name, S.RUNNING)
    return store.transition(WS.key, name, [S.FINALIZING, S.COMPLETED])


def test_trials_and_next_index_are_written_together(store: Store) -> None:
    _submit_sweep(store)
    controller = SweepController(store, Ops(store))
    sweep = _tick(controller, store)
    assert sweep.status is S.RUNNING
    assert _trials(store) == {"sw_0": S.QUEUED, "sw_1": S.QUEUED}
    assert sweep.runtime["nextIndex"] == 2
    history = [e.status for e in store.status_history(WS.key, "sw_0")]
    assert history == [S.NOT_STARTED, S.STARTING, S.PREPARING, S.QUEUED]


def test_a_finished_trial_reported_to_memory_frees_its_slot(store: Store) -> None:
    _submit_sweep(store)
    controller = SweepController(store, Ops(store))
    _tick(controller, store)
    controller.trial_finished(_complete(store, "sw_0"))
    sweep = _tick(controller, store)
    assert _trials(store) == {"sw_0": S.COMPLETED, "sw_1": S.QUEUED, "sw_2": S.QUEUED}
    assert sweep.runtime["nextIndex"] == 3


def test_memory_behind_the_store_waits_and_refresh_catches_up(store: Store) -> None:
    _submit_sweep(store)
    controller = SweepController(store, Ops(store))
    _tick(controller, store)
    _complete(store, "sw_0")  # ended without the controller hearing of it
    _tick(controller, store)
    assert set(_trials(store)) == {"sw_0", "sw_1"}  # never more than maxConcurrentTrials
    controller.refresh()
    _tick(controller, store)
    assert set(_trials(store)) == {"sw_0", "sw_1", "sw_2"}


def test_a_restarted_controller_resumes_from_the_store(store: Store) -> None:
    _submit_sweep(store, total=4)
    first = SweepController(store, Ops(store))
    _tick(first, store)
    first.trial_finished(_complete(store, "sw_0"))
    _tick(first, store)  # sw_2 created
    del first  # the server stops; only the store is left
    _complete(store, "sw_1")
    restarted = SweepController(store, Ops(store))
    sweep = _tick(restarted, store)
    assert _trials(store) == {
        "sw_0": S.COMPLETED,
        "sw_1": S.COMPLETED,
        "sw_2": S.QUEUED,
        "sw_3": S.QUEUED,
    }
    assert sweep.runtime["nextIndex"] == 4
    for name in ("sw_2", "sw_3"):
        restarted.trial_finished(_complete(store, name))
    sweep = _tick(restarted, store)
    assert sweep.status is S.COMPLETED
    assert len(_trials(store)) == 4  # no trial created twice, none skipped


def test_the_sweep_does_not_complete_while_the_store_has_active_trials(store: Store) -> None:
    _submit_sweep(store, total=2)
    controller = SweepController(store, Ops(store))
    _tick(controller, store)
    controller.trial_finished(_complete(store, "sw_0"))
    # memory wrongly forgets sw_1, which is still queued in the store
    controller.trial_finished(store.get_job(WS.key, "sw_1"))  # type: ignore[arg-type]
    sweep = _tick(controller, store)
    assert sweep.status is S.RUNNING
    controller.trial_finished(_complete(store, "sw_1"))
    assert _tick(controller, store).status is S.COMPLETED


def test_each_trial_is_created_with_its_own_job_token_handed_out_once(store: Store) -> None:
    _submit_sweep(store, total=3, concurrent=2)
    controller = SweepController(store, Ops(store))
    _tick(controller, store)
    trials = sorted(store.list_jobs(WS.key, parent_name="sw"), key=lambda t: t.name)
    assert [t.name for t in trials] == ["sw_0", "sw_1"]
    tokens = [controller.take_token(trial) for trial in trials]
    assert all(tokens) and tokens[0] != tokens[1]
    for trial, token in zip(trials, tokens, strict=True):
        assert token is not None
        record = store.find_token(hash_token(token))  # stored with the trial
        assert record is not None and (record.workspace_key, record.job_name) == (
            WS.key,
            trial.name,
        )
        assert controller.take_token(trial) is None  # once only
    # a trial that ends before it started drops its token; a restarted controller has none
    _tick(controller, store)
    ended = _complete(store, "sw_0")
    controller.trial_finished(ended)
    _tick(controller, store)
    third = store.get_job(WS.key, "sw_2")
    assert third is not None
    controller.trial_finished(store.transition(WS.key, "sw_2", [S.CANCEL_REQUESTED, S.CANCELED]))
    assert controller.take_token(third) is None
    assert SweepController(store, Ops(store)).take_token(trials[1]) is None
