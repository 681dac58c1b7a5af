"""Wakes are coalesced: a burst of them during a tick (submissions pouring in) makes the
scheduler let more pile up before its next tick, so one tick serves many submissions; a lone
wake, and the scheduler's own wakes, tick at once. No timing: the pauses are recorded."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest

from amlite.config import Settings
from amlite.executors._local import LocalExecutor
from amlite.scheduler import loop
from amlite.scheduler.loop import Scheduler
from amlite.services.preparation import RuntimeContext
from amlite.store import open_store


def _run_ticks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, wakes_per_tick: list[int]
) -> list[float]:
    """Run the scheduler loop for ``len(wakes_per_tick)`` ticks, each calling ``wake`` that
    many times; return the pauses the loop took after each tick."""
    store = open_store(f"sqlite:///{tmp_path / 'amlite.db'}")
    settings = Settings(home=tmp_path / "home")
    ctx = RuntimeContext(settings, "http://127.0.0.1:1/mlflow", "http://127.0.0.1:1")
    scheduler = Scheduler(store, LocalExecutor(spare=False), ctx, slots=1)
    pauses: list[float] = []
    ticks = iter(wakes_per_tick)
    clock = iter(float(i) for i in range(1000))
    # each tick "takes" 1 s on the loop's clock
    monkeypatch.setattr(loop, "time", SimpleNamespace(monotonic=lambda: next(clock)))

    def tick(full: bool = True) -> None:
        for _ in range(next(ticks)):
            scheduler.wake()

    def pause(seconds: float | None = None) -> bool:
        pauses.append(float(seconds or 0.0))
        if len(pauses) == len(wakes_per_tick):
            scheduler._stop.set()
        return scheduler._stop.is_set()

    monkeypatch.setattr(scheduler, "tick", tick)
    monkeypatch.setattr(scheduler._stop, "wait", pause)
    scheduler._wake.set()
    try:
        scheduler._run()
    finally:
        store.close()
    return pauses


def test_a_burst_of_wakes_during_a_tick_is_served_by_one_later_tick(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pauses = _run_ticks(tmp_path, monkeypatch, [0, 1, 40, 0])
    assert pauses[0] == 0.0  # nothing new: wait for the next wake as before
    assert pauses[1] == 0.0  # one wake (a job exited, one submission): tick at once
    assert pauses[2] == loop.MAX_COALESCE_SECONDS  # a burst: let more land first (capped)
    assert pauses[3] == 0.0


def test_the_pause_follows_the_tick_time_up_to_a_cap() -> None:
    assert Scheduler._coalesce_pause(1, 0.004) == 0.0
    assert Scheduler._coalesce_pause(loop.BURST_WAKES, 0.004) == 0.004
    assert Scheduler._coalesce_pause(100, 10.0) == loop.MAX_COALESCE_SECONDS
