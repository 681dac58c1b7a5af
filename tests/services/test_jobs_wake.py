"""How a PUT wakes the scheduler: a new Command job asks for a dispatch round naming its
compute (``Dispatcher.submitted``), through the group commit and the synchronous path alike;
a new sweep, a cancel and a delete ask for a full round (``wake``); an update of an existing
job wakes nothing."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import pytest

from amlite.config import Settings
from amlite.domain.arm_id import WorkspaceRef
from amlite.services.jobs import Jobs
from amlite.services.workspaces import Workspaces
from amlite.store import JobRecord, open_store

WS = WorkspaceRef("sub", "rg", "ws")
BODY = {"properties": {"jobType": "Command", "command": "true", "compute": {}}}
SWEEP = {
    "properties": {
        "jobType": "Sweep",
        "algorithm": "Random",
        "compute": {},
        "objective": {"goal": "Maximize", "primaryMetric": "accuracy"},
        "searchSpace": {"lr": ["uniform", [0.01, 0.1]]},
        "trial": {"command": "true"},
    }
}


class Calls:
    """A dispatcher that records what it was asked."""

    def __init__(self) -> None:
        self.calls: list[Any] = []

    def wake(self) -> None:
        self.calls.append("wake")

    def submitted(self, computes: Iterable[tuple[str, str]]) -> None:
        self.calls.append(("submitted", sorted(computes)))

    def cancel_running(self, job: JobRecord, reason: str) -> None: ...

    def queue_reason(self, job: JobRecord) -> str | None:
        return None


@pytest.fixture
def service(tmp_path: Path) -> Iterator[tuple[Jobs, Calls]]:
    store = open_store(f"sqlite:///{tmp_path / 'amlite.db'}")
    calls = Calls()
    jobs = Jobs(store, Settings(home=tmp_path / "home"), Workspaces(store), "http://x", calls)
    yield jobs, calls
    store.close()


def test_a_new_command_job_asks_for_a_dispatch_round_on_its_compute(
    service: tuple[Jobs, Calls],
) -> None:
    jobs, calls = service

    async def put(name: str) -> bool:
        return (await jobs.submit(WS, name, BODY, local_reads=True))[1]

    assert asyncio.run(put("a"))
    _, created = jobs.create_or_update(WS, "b", BODY)
    assert created
    assert calls.calls == [("submitted", [(WS.key, "local")])] * 2
    calls.calls.clear()
    assert not asyncio.run(put("a"))  # an update: nothing to dispatch
    assert calls.calls == []


def test_a_sweep_and_a_cancel_ask_for_a_full_round(service: tuple[Jobs, Calls]) -> None:
    jobs, calls = service
    _, created = jobs.create_or_update(WS, "s", SWEEP)
    assert created
    assert calls.calls == ["wake"]
    jobs.create_or_update(WS, "c", BODY)
    calls.calls.clear()
    jobs.cancel(WS, "c")
    assert calls.calls == ["wake"]
