"""The scheduler's reads (``jobs_in_status``, ``queued_jobs``, ``queued_computes``) run as
one statement compiled once, converting the driver's raw rows themselves: every field of a
job they return is what the store's other reads return (JSON columns, aware UTC times,
owner and epoch), on each backend."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from store_helpers import OTHER_WS, WS, new_job

from amlite.domain.status import ACCEPT_PATH, JobStatus
from amlite.store import Store

S = JobStatus


def _queued(store: Store, name: str, **kwargs: Any) -> None:
    store.create_job(new_job(name, **kwargs), then=ACCEPT_PATH)


def test_a_job_read_by_the_scheduler_is_the_job_read_by_name(store: Store) -> None:
    at = datetime(2026, 1, 2, 3, 4, 5, 678000, tzinfo=UTC)
    store.create_job(
        new_job("j", spec={"command": "échè 'x'", "tags": {"k": "v"}}, priority=3, compute="gpu"),
        at=at,
        then=ACCEPT_PATH,
    )
    store.claim_job(WS.key, "j", "server-1", previous=None, status=S.QUEUED)
    store.transition(
        WS.key, "j", S.RUNNING, reason="up", runtime={"runDir": "/r", "pid": 7, "n": [1, None]}
    )
    store.set_system_properties(WS.key, "j", {"score": "0.5"})

    (running,) = store.jobs_in_status([S.RUNNING, S.FINALIZING], job_type="Command")
    assert running == store.get_job(WS.key, "j")
    assert running.runtime == {"runDir": "/r", "pid": 7, "n": [1, None]}
    assert running.created_at == at and running.created_at.tzinfo is not None
    assert running.owner == "server-1" and running.owner_epoch == 1
    assert running.status_reason == "up" and running.exit_code is None


def test_the_scheduler_reads_filter_by_status_type_and_compute(store: Store) -> None:
    _queued(store, "a", compute="cpu")
    _queued(store, "b", compute="gpu", priority=5)
    _queued(store, "c", compute="cpu", workspace=OTHER_WS)
    _queued(store, "s", compute="cpu", job_type="Sweep")
    store.create_job(new_job("new"))  # NotStarted

    assert [j.name for j in store.queued_jobs(10)] == ["b", "a", "c", "s"]
    assert [j.name for j in store.queued_jobs(10, job_type="Command")] == ["b", "a", "c"]
    assert [j.name for j in store.queued_jobs(10, computes=["cpu"])] == ["a", "c", "s"]
    assert [j.name for j in store.queued_jobs(10, computes={"cpu", "gpu"})] == ["b", "a", "c", "s"]
    assert [j.name for j in store.queued_jobs(1, job_type="Command", computes=["cpu"])] == ["a"]
    assert store.queued_jobs(10, computes=[]) == []
    assert store.queued_computes(job_type="Command") == {
        (WS.key, "cpu"),
        (WS.key, "gpu"),
        (OTHER_WS.key, "cpu"),
    }
    assert store.queued_computes(job_type="Sweep") == {(WS.key, "cpu")}
    assert [j.name for j in store.jobs_in_status([S.QUEUED], job_type="Sweep")] == ["s"]
    assert [j.name for j in store.jobs_in_status([S.NOT_STARTED, S.QUEUED])] == [
        "a", "b", "c", "s", "new",
    ]  # fmt: skip
    assert store.jobs_in_status([]) == []
