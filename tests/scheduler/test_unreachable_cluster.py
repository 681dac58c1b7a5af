"""A Ray compute whose cluster stops answering: its queued jobs wait (saying why) for the
grace period, then fail with the error; jobs on this machine are not held up by it.
In-process scheduler, real SQLite store, a dashboard address where nothing listens."""

from __future__ import annotations

from pathlib import Path

import pytest

from amlite.config import Settings
from amlite.domain.arm_id import WorkspaceRef
from amlite.domain.status import ACCEPT_PATH, JobStatus
from amlite.executors._local import LocalExecutor
from amlite.scheduler import backends
from amlite.scheduler.loop import Scheduler
from amlite.services.preparation import RuntimeContext
from amlite.services.workspaces import Workspaces
from amlite.store import NewJob, open_store

WS = WorkspaceRef("00000000-0000-0000-0000-000000000000", "rg1", "ws1")


def test_queued_jobs_wait_for_an_unanswering_cluster_then_fail(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = open_store(f"sqlite:///{tmp_path / 'amlite.db'}")
    Workspaces(store).ensure(WS)
    # registered while it answered; nothing listens there now
    store.put_asset(
        WS.key,
        "computes",
        "gone",
        None,
        {"properties": {"computeType": "Ray", "properties": {"address": "127.0.0.1:9"}}},
    )
    spec = {"jobType": "Command", "command": "true", "compute": {"target": "gone"}}
    store.create_job(
        NewJob(workspace=WS, name="onray", job_type="Command", spec=spec, compute="gone")
    )
    store.transition(WS.key, "onray", ACCEPT_PATH)
    settings = Settings(home=tmp_path / "home")
    ctx = RuntimeContext(settings, "http://127.0.0.1:1/mlflow", "http://127.0.0.1:1")
    scheduler = Scheduler(store, LocalExecutor(spare=False), ctx, slots=1)

    scheduler.tick()
    job = store.get_job(WS.key, "onray")
    assert job is not None and job.status is JobStatus.QUEUED
    reason = scheduler.queue_reason(job) or ""
    assert reason.startswith("waiting for the Ray cluster to answer: Ray cluster at")

    monkeypatch.setattr(backends, "UNREACHABLE_GRACE_SECONDS", 0.0)
    scheduler.tick()
    job = store.get_job(WS.key, "onray")
    assert job is not None and job.status is JobStatus.FAILED
    assert "compute 'gone'" in (job.status_reason or "")
    assert "cannot be reached" in (job.status_reason or "")
