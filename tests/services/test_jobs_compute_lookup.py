"""A burst of PUTs reads the job's compute once, and again once the verdict is old."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from amlite.config import Settings
from amlite.domain.arm_id import WorkspaceRef
from amlite.services import jobs as jobs_module
from amlite.services.jobs import LOCAL_COMPUTE_SECONDS, Jobs
from amlite.services.workspaces import Workspaces
from amlite.store import Store, open_store

WS = WorkspaceRef("sub", "rg", "ws")
BODY = {"properties": {"jobType": "Command", "command": "true", "compute": {}}}


class CountingStore:
    """The store, counting reads of computes."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self.compute_reads = 0

    def get_asset(self, workspace_key: str, kind: str, name: str, *args: Any) -> Any:
        if kind == "computes":
            self.compute_reads += 1
        return self._store.get_asset(workspace_key, kind, name, *args)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)


@pytest.fixture
def counted(tmp_path: Path) -> Iterator[tuple[Jobs, CountingStore]]:
    store = open_store(f"sqlite:///{tmp_path / 'amlite.db'}")
    counting = CountingStore(store)
    service = Jobs(counting, Settings(home=tmp_path / "home"), Workspaces(store), "http://x")  # type: ignore[arg-type]
    yield service, counting
    store.close()


def test_a_burst_of_puts_reads_the_compute_once(
    counted: tuple[Jobs, CountingStore], monkeypatch: pytest.MonkeyPatch
) -> None:
    service, counting = counted
    now = [1000.0]
    monkeypatch.setattr(jobs_module.time, "monotonic", lambda: now[0])
    for i in range(5):
        _, created = service.create_or_update(WS, f"job{i}", BODY)
        assert created
    assert counting.compute_reads == 1
    now[0] += LOCAL_COMPUTE_SECONDS + 0.1
    service.create_or_update(WS, "later", BODY)
    assert counting.compute_reads == 2
