"""The studio's trial table reads a sweep's trials once and keeps them while the store's
``sweep_trials_version`` of the sweep is unchanged: any write to a trial's row shows."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import update

from amlite.domain import run_properties as P
from amlite.domain.arm_id import WorkspaceRef
from amlite.domain.status import JobStatus
from amlite.services import trial_table as T
from amlite.store import MetricPoint, NewJob, Store
from amlite.store._sql.tables import jobs

WS = WorkspaceRef("00000000-sub", "rg", "ws")


def trial(i: int) -> NewJob:
    props = {P.HYPERPARAMETERS: json.dumps({"x": i}), P.SWEEP_INDEX: str(i)}
    return NewJob(
        WS, f"sw_{i}", "Command", {"command": "true", "properties": props}, parent_name="sw"
    )


def read(store: Store) -> dict[str, tuple[float | None, bool]]:
    entries, _ = T.read_trials(store, WS.key, "sw", "acc", True, 1000)
    return {e.name: (e.value, e.logged) for e in entries}


@pytest.fixture
def reads(store: Store, monkeypatch: pytest.MonkeyPatch) -> list[datetime | None]:
    """A sweep "sw" with trials 0 and 1; the ``modified_since`` of each ``sweep_trials``
    read from then on (None: a full read)."""
    seen: list[datetime | None] = []
    sweep_trials = store.sweep_trials

    def spy(*args: Any, modified_since: datetime | None = None) -> Any:
        seen.append(modified_since)
        return sweep_trials(*args, modified_since=modified_since)

    monkeypatch.setattr(store, "sweep_trials", spy)
    store.ensure_workspace(WS)
    store.create_job(NewJob(WS, "sw", "Sweep", {"command": "true"}))
    store.create_job(trial(0))
    store.create_job(trial(1))
    return seen


def test_every_write_to_a_trial_changes_the_version(store: Store) -> None:
    store.ensure_workspace(WS)
    store.create_job(NewJob(WS, "sw", "Sweep", {"command": "true"}))
    empty = store.sweep_trials_version(WS.key, "sw")
    store.create_job(trial(0))
    added = store.sweep_trials_version(WS.key, "sw")
    assert added != empty and store.sweep_trials_version(WS.key, "sw") == added
    store.log_metrics(WS.key, "sw_0", [MetricPoint("acc", 0.5)])  # not the trial's row
    assert store.sweep_trials_version(WS.key, "sw") == added
    store.set_system_properties(WS.key, "sw_0", {P.SCORE: "0.5"})
    scored = store.sweep_trials_version(WS.key, "sw")
    assert scored != added and scored.count == 1
    since = [
        r.name for r in store.sweep_trials(WS.key, "sw", 10, modified_since=scored.modified_at)
    ]
    assert since == ["sw_0"]
    store.transition(WS.key, "sw_0", [JobStatus.STARTING])
    assert store.sweep_trials_version(WS.key, "sw") != scored


def test_the_trials_read_are_current_after_each_write(
    store: Store, reads: list[datetime | None]
) -> None:
    assert read(store) == {"sw_0": (None, False), "sw_1": (None, False)}
    store.log_metrics(WS.key, "sw_0", [MetricPoint("acc", 0.2), MetricPoint("acc", 0.7)])
    assert read(store)["sw_0"] == (0.7, True)  # an unscored trial's values: read each time
    store.set_system_properties(WS.key, "sw_0", {P.SCORE: "0.6"})
    assert read(store)["sw_0"] == (0.6, True)  # its score, once it has one
    store.create_job(trial(2))
    assert sorted(read(store)) == ["sw_0", "sw_1", "sw_2"]
    # one full read, then only what changed (a score, a new trial); nothing when unchanged
    assert reads[0] is None and len(reads) == 3 and all(r is not None for r in reads[1:])
    first, _ = T.read_trials(store, WS.key, "sw", "acc", True, 1000)
    assert len(reads) == 3
    first[1].value = 99.0  # a caller's copy of an unscored trial is its own
    assert read(store)["sw_1"] == (None, False)


def test_a_write_that_committed_late_is_seen_at_the_next_check(
    store: Store, reads: list[datetime | None]
) -> None:
    store.set_system_properties(WS.key, "sw_0", {"note": "newest"})  # the newest write
    cache = T._TrialCache(ttl=0.0)  # every call checks
    assert [e.score for e in cache.entries(store, WS.key, "sw", 100)] == [None, None]
    seen = store.sweep_trials_version(WS.key, "sw")
    assert seen.modified_at is not None
    # trial 1 written by a transaction whose timestamp is older than the newest write seen:
    # the version does not change
    with store._engine.begin() as conn:  # type: ignore[attr-defined]
        conn.execute(
            update(jobs)
            .where(jobs.c.workspace_key == WS.key, jobs.c.name == "sw_1")
            .values(
                system_properties={P.SCORE: "0.9"},
                modified_at=seen.modified_at - timedelta(seconds=2),
            )
        )
    assert store.sweep_trials_version(WS.key, "sw") == seen
    assert [e.score for e in cache.entries(store, WS.key, "sw", 100)] == [None, 0.9]
    # read in full once; then only the trials written since the newest write seen, less the
    # margin, whether the version changed or not
    assert reads[0] is None and len(reads) == 2 and reads[1] is not None
    assert reads[1] < seen.modified_at
