"""The scheduler's asset cache (``AssetCache``): computes and datastores are read once and
then answered from memory, until this server writes an asset or the next full tick; a
change made by another server is seen at that tick. Real SQLite stores (a second store on
the same file plays another server) and a fake executor."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from amlite.config import Settings
from amlite.domain.status import ACCEPT_PATH, JobStatus
from amlite.executors._base import Executor, RunPlan, RunReport, check_guard
from amlite.scheduler.loop import Scheduler
from amlite.services.asset_cache import AssetCache
from amlite.services.preparation import RuntimeContext
from amlite.store import NewJob, Store, open_store
from support.stores import WS, sqlite_store

LOCAL = {"properties": {"computeType": "AmlCompute"}}


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    yield from sqlite_store(tmp_path, WS)


@pytest.fixture
def other(tmp_path: Path, store: Store) -> Iterator[Store]:
    """Another server's store on the same database."""
    other = open_store(f"sqlite:///{tmp_path / 'amlite.db'}")
    try:
        yield other
    finally:
        other.close()


def test_an_asset_is_read_once_and_then_answered_from_memory(store: Store, other: Store) -> None:
    store.put_asset(WS.key, "computes", "c", None, {"properties": {"computeType": "A"}})
    cache = AssetCache(store)
    first = cache.get_asset(WS.key, "computes", "c")
    assert first is not None and first.body["properties"]["computeType"] == "A"
    other.put_asset(WS.key, "computes", "c", None, {"properties": {"computeType": "B"}})
    assert cache.get_asset(WS.key, "computes", "c") is first  # not read again
    assert cache.get_asset(WS.key, "computes", "missing") is None
    other.put_asset(WS.key, "computes", "missing", None, LOCAL)
    assert cache.get_asset(WS.key, "computes", "missing") is None  # nor is a missing one

    cache.clear()
    again = cache.get_asset(WS.key, "computes", "c")
    assert again is not None and again.body["properties"]["computeType"] == "B"
    assert cache.get_asset(WS.key, "computes", "missing") is not None


def test_an_asset_written_through_the_same_store_is_seen_at_once(store: Store) -> None:
    cache = AssetCache(store)
    assert cache.get_asset(WS.key, "datastores", "workspaceblobstore") is None
    store.put_asset(WS.key, "datastores", "workspaceblobstore", None, {"properties": {}})
    assert cache.get_asset(WS.key, "datastores", "workspaceblobstore") is not None
    store.delete_asset(WS.key, "datastores", "workspaceblobstore")
    assert cache.get_asset(WS.key, "datastores", "workspaceblobstore") is None


class Starter(Executor):
    def __init__(self) -> None:
        self.started: list[str] = []

    def start(self, plan: RunPlan, guard: Callable[[], bool] | None = None) -> dict[str, Any]:
        check_guard(guard)
        self.started.append(plan.run_dir)
        return {"runDir": plan.run_dir, "pid": 0}

    def cancel(self, runtime: dict[str, Any], reason: str) -> None: ...

    def recover(self, run_dir: str) -> dict[str, Any] | None:
        return None

    def report(self, runtime: dict[str, Any]) -> RunReport:
        return RunReport(events=[], result=None, alive=True)


def _queue(store: Store, name: str, compute: str) -> None:
    spec = {"jobType": "Command", "command": "true", "compute": {"target": compute}}
    store.create_job(
        NewJob(workspace=WS, name=name, job_type="Command", spec=spec, compute=compute),
        then=ACCEPT_PATH,
    )


def _status(store: Store, name: str) -> JobStatus:
    job = store.get_job(WS.key, name)
    assert job is not None
    return job.status


def test_a_compute_deleted_by_another_server_is_seen_at_the_next_full_tick(
    tmp_path: Path, store: Store, other: Store
) -> None:
    store.put_asset(WS.key, "computes", "cpu", None, LOCAL)
    ctx = RuntimeContext(Settings(home=tmp_path / "home"), "http://x/mlflow", "http://x")
    scheduler = Scheduler(store, Starter(), ctx, slots=8)
    _queue(store, "a", "cpu")
    scheduler.tick(full=True)
    assert _status(store, "a") is JobStatus.RUNNING

    other.delete_asset(WS.key, "computes", "cpu")
    _queue(store, "b", "cpu")
    scheduler.tick(full=False)  # a trial's end: the compute as read at the last full tick
    assert _status(store, "b") is JobStatus.RUNNING

    _queue(store, "c", "cpu")
    scheduler.tick(full=True)
    assert _status(store, "c") is JobStatus.FAILED
