"""One sweep whose controller step raises fails alone: the other sweeps and plain jobs keep
being dispatched. In-process scheduler, real SQLite store, local processes."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from amlite.config import Settings
from amlite.domain.arm_id import WorkspaceRef
from amlite.domain.status import ACCEPT_PATH, JobStatus
from amlite.executors._local import LocalExecutor
from amlite.scheduler.loop import Scheduler
from amlite.services.preparation import RuntimeContext
from amlite.services.workspaces import Workspaces
from amlite.store import NewJob, Store, open_store
from amlite.sweep.samplers import GridSampler

WS = WorkspaceRef("00000000-0000-0000-0000-000000000000", "rg1", "ws1")
S = JobStatus


def sweep_spec(**over: Any) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "jobType": "Sweep",
        "algorithm": "Grid",
        "compute": {},
        "objective": {"primaryMetric": "acc", "goal": "Maximize"},
        "searchSpace": {"n": ["choice", [[1, 2]]]},
        "trial": {"command": "echo ${{search_space.n}}"},
    }
    spec.update(over)
    return spec


def submit(store: Store, name: str, job_type: str, spec: dict[str, Any]) -> None:
    store.create_job(NewJob(workspace=WS, name=name, job_type=job_type, spec=spec))
    store.transition(WS.key, name, ACCEPT_PATH)


def status(store: Store, name: str) -> tuple[S, str]:
    job = store.get_job(WS.key, name)
    assert job is not None
    return job.status, job.status_reason or ""


def test_a_sweep_that_raises_fails_alone(tmp_path: Path, monkeypatch: Any) -> None:
    store = open_store(f"sqlite:///{tmp_path / 'amlite.db'}")
    Workspaces(store).ensure(WS)
    # stored before validation caught it (or by an older version): no objective at all
    submit(store, "broken", "Sweep", sweep_spec(objective={}))
    # a sampler that blows up on its first proposal
    submit(store, "boom", "Sweep", sweep_spec(searchSpace={"m": ["choice", [[7, 8]]]}))
    real_propose = GridSampler.propose

    def propose(self: GridSampler, index: int, history: Any) -> Any:
        if "m" in self.space:
            raise MemoryError("the sampler ran out of memory")
        return real_propose(self, index, history)

    monkeypatch.setattr(GridSampler, "propose", propose)
    submit(store, "good", "Sweep", sweep_spec())
    submit(store, "plain", "Command", {"jobType": "Command", "command": "true", "compute": {}})
    settings = Settings(home=tmp_path / "home")
    ctx = RuntimeContext(settings, "http://127.0.0.1:1/mlflow", "http://127.0.0.1:1")
    scheduler = Scheduler(store, LocalExecutor(spare=False), ctx, slots=4)
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            scheduler.tick()
            if status(store, "plain")[0] is S.COMPLETED and status(store, "good")[0] is S.COMPLETED:
                break
            time.sleep(0.1)
        assert status(store, "plain")[0] is S.COMPLETED
        assert status(store, "good")[0] is S.COMPLETED
        broken, why = status(store, "broken")
        assert broken is S.FAILED and "objective.goal: is required" in why, why
        boom, why = status(store, "boom")
        assert boom is S.FAILED and "MemoryError: the sampler ran out of memory" in why, why
        last = store.status_history(WS.key, "boom")[-1]
        assert last.status is S.FAILED and "MemoryError" in (last.reason or "")
    finally:
        scheduler.stop()
