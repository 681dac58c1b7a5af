"""``add_trials``: a sweep's trials and its bookkeeping written in one transaction."""

from __future__ import annotations

import pytest
from store_helpers import WS, new_job

from amlite.domain.status import ACCEPT_PATH, JobStatus
from amlite.errors import InvalidTransition, NotFound
from amlite.store import Store

S = JobStatus


def _sweep(store: Store) -> None:
    store.create_job(new_job("sw", job_type="Sweep"))
    store.set_runtime(WS.key, "sw", {"startedAt": 1.0, "nextIndex": 0})


def test_trials_are_created_queued_with_every_status_kept(store: Store) -> None:
    _sweep(store)
    trials = [
        new_job(f"sw_{i}", parent_name="sw", spec={"command": "true"}, tags={"sweep": "sw"})
        for i in range(2)
    ]
    created = store.add_trials(WS.key, "sw", trials, path=ACCEPT_PATH, runtime={"nextIndex": 2})
    assert [t.name for t in created] == ["sw_0", "sw_1"]
    for record in created:
        stored = store.get_job(WS.key, record.name)
        assert stored is not None
        assert (stored.seq, stored.status, stored.parent_name) == (record.seq, S.QUEUED, "sw")
        assert stored.spec == record.spec and stored.created_at == record.created_at
        history = [e.status for e in store.status_history(WS.key, record.name)]
        assert history == [S.NOT_STARTED, S.STARTING, S.PREPARING, S.QUEUED]
    assert [t.name for t in store.list_jobs(WS.key, tag="sweep")] == ["sw_1", "sw_0"]
    sweep = store.get_job(WS.key, "sw")
    assert sweep is not None
    assert sweep.runtime == {"startedAt": 1.0, "nextIndex": 2}  # merged, not replaced


def test_a_trial_that_exists_is_skipped_and_the_rest_created(store: Store) -> None:
    _sweep(store)
    store.add_trials(
        WS.key, "sw", [new_job("sw_0", parent_name="sw")], path=ACCEPT_PATH, runtime={}
    )
    again = [new_job(f"sw_{i}", parent_name="sw") for i in range(2)]
    created = store.add_trials(WS.key, "sw", again, path=ACCEPT_PATH, runtime={"nextIndex": 2})
    assert [t.name for t in created] == ["sw_1"]
    assert len(store.status_history(WS.key, "sw_0")) == 4  # not touched


def test_nothing_is_written_when_the_sweep_is_gone_or_the_path_is_refused(store: Store) -> None:
    with pytest.raises(NotFound):
        store.add_trials(
            WS.key, "missing", [new_job("missing_0")], path=ACCEPT_PATH, runtime={"nextIndex": 1}
        )
    assert store.get_job(WS.key, "missing_0") is None
    _sweep(store)
    with pytest.raises(InvalidTransition):
        store.add_trials(
            WS.key, "sw", [new_job("sw_0")], path=[S.RUNNING], runtime={"nextIndex": 1}
        )
    assert store.get_job(WS.key, "sw_0") is None
    sweep = store.get_job(WS.key, "sw")
    assert sweep is not None and sweep.runtime["nextIndex"] == 0


def test_trial_tokens_are_registered_with_the_trials_they_belong_to(store: Store) -> None:
    _sweep(store)
    store.add_trials(
        WS.key, "sw", [new_job("sw_0", parent_name="sw")], path=ACCEPT_PATH, runtime={}
    )
    trials = [new_job(f"sw_{i}", parent_name="sw") for i in range(3)]
    hashes = {f"sw_{i}": f"hash-{i}" for i in range(3)}
    created = store.add_trials(
        WS.key, "sw", trials, path=ACCEPT_PATH, runtime={"nextIndex": 3}, tokens=hashes
    )
    assert [t.name for t in created] == ["sw_1", "sw_2"]
    for i in (1, 2):
        token = store.find_token(f"hash-{i}")
        assert token is not None and (token.workspace_key, token.job_name) == (WS.key, f"sw_{i}")
    assert store.find_token("hash-0") is None  # sw_0 existed: not created, no token
    store.delete_job(WS.key, "sw_1")
    assert store.find_token("hash-1") is None  # gone with its job
