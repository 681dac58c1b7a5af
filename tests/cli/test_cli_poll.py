"""How often following a job looks at it: soon after a change, less and less often while
nothing changes (no timing: the waits are recorded, not slept)."""

from __future__ import annotations

import io
from typing import Any

import pytest
from rich.console import Console

from amlite.cli import follow
from amlite.cli.follow import FIRST_POLL, PollDelay, follow_job


@pytest.fixture
def waits(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    recorded: list[float] = []
    monkeypatch.setattr(follow.time, "sleep", recorded.append)
    return recorded


def test_the_wait_doubles_up_to_the_poll_and_starts_over_after_a_change(
    waits: list[float],
) -> None:
    delay = PollDelay(1.0)
    for _ in range(7):
        delay.wait()
    delay.changed()
    delay.wait()
    assert waits == [0.05, 0.1, 0.2, 0.4, 0.8, 1.0, 1.0, FIRST_POLL]


def test_a_poll_shorter_than_the_first_wait_is_kept(waits: list[float]) -> None:
    delay = PollDelay(0.01)
    delay.wait()
    delay.wait()
    assert waits == [0.01, 0.01]


class StatusesClient:
    """get_job answers these statuses in turn (the last one for ever)."""

    def __init__(self, statuses: list[str]) -> None:
        self.statuses = statuses
        self.gets = 0

    def get_job(self, name: str) -> dict[str, Any]:
        status = self.statuses[min(self.gets, len(self.statuses) - 1)]
        self.gets += 1
        return {"name": name, "properties": {"jobType": "Command", "status": status}}


def test_following_a_job_looks_again_soon_after_each_change(waits: list[float]) -> None:
    client = StatusesClient(["Queued", "Running", "Running", "Running", "Running", "Completed"])
    console = Console(file=io.StringIO(), force_terminal=False)
    status = follow_job(client, "j", console, logs=False)  # type: ignore[arg-type]
    assert status == "Completed"
    # Queued (change) -> 0.05; Running (change) -> 0.05; unchanged -> 0.1, 0.2, 0.4
    assert waits == [0.05, 0.05, 0.1, 0.2, 0.4]
