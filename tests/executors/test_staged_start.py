"""Staged starts on the LocalExecutor, with real supervisors: a staged plan's spare waits,
having touched nothing of the run's state, and starts the moment a run of its
``slot_group`` ends (or on ``go``); a withdrawn one, or one left when the executor closes,
never runs."""

from __future__ import annotations

import dataclasses
import os
import threading
from pathlib import Path

from amlite_runhelp import make_plan, std_log, wait_done, wait_until

from amlite.executors._base import RunPlan
from amlite.executors._local import LocalExecutor
from amlite.executors.run_files import lock_run_dir
from amlite.executors.supervisor.procs import pid_alive


def _plan(tmp_path: Path, name: str, command: str, group: str) -> RunPlan:
    return dataclasses.replace(make_plan(tmp_path / name, command), slot_group=group)


def _ready(ex: LocalExecutor) -> None:
    wait_until(lambda: len(ex._spares) == 2, timeout=60)


def _untouched(plan: RunPlan) -> bool:
    """Nothing ran: no supervisor recorded itself, no event, no result."""
    run = Path(plan.run_dir)
    return not any((run / f).exists() for f in ("supervisor.pid", "events.jsonl", "result.json"))


def test_a_staged_plan_goes_when_a_run_of_its_group_ends(tmp_path: Path) -> None:
    ended: list[str] = []
    ex = LocalExecutor(on_exit=ended.append)
    gate = tmp_path / "gate"
    try:
        ex.start(_plan(tmp_path, "warm", "true", ""))
        _ready(ex)
        first = _plan(tmp_path, "first", f"while [ ! -e {gate} ]; do sleep 0.02; done", "g")
        first_rt = ex.start(first)
        _ready(ex)
        nxt = _plan(tmp_path, "next", "echo ran", "g")
        assert ex.stage(nxt)
        other = _plan(tmp_path, "other", "true", "h")  # another group's end: not its turn
        wait_done(ex, ex.start(other), timeout=60)
        wait_until(lambda: other.run_dir in ended, timeout=30)
        assert ex.launched() == [] and _untouched(nxt)
        gate.touch()
        wait_done(ex, first_rt, timeout=60)
        wait_until(lambda: first.run_dir in ended, timeout=30)
        launches = ex.launched()
        assert [launch.run_dir for launch in launches] == [nxt.run_dir]
        report = wait_done(ex, launches[0].runtime, timeout=60)
        assert report.result is not None and report.result.outcome == "Completed"
        assert "ran" in std_log(nxt)
        wait_until(lambda: nxt.run_dir in ended, timeout=30)  # followed like any run
        assert ex.launched() == [] and ex.go(nxt.run_dir) is None  # returned once
    finally:
        gate.touch()
        ex.close()


def test_go_starts_a_staged_plan_at_once(tmp_path: Path) -> None:
    done = threading.Event()
    ex = LocalExecutor(on_exit=lambda _: done.set())
    try:
        ex.start(_plan(tmp_path, "warm", "true", ""))
        _ready(ex)
        plan = _plan(tmp_path, "staged", "echo went", "g")
        assert ex.stage(plan)
        launch = ex.go(plan.run_dir)
        assert launch is not None and launch.run_dir == plan.run_dir
        report = wait_done(ex, launch.runtime, timeout=60)
        assert report.result is not None and report.result.outcome == "Completed"
        assert "went" in std_log(plan)
        assert ex.launched() == [] and ex.withdraw(plan.run_dir) is None
    finally:
        ex.close()


def test_a_withdrawn_plan_never_runs_and_can_start_later(tmp_path: Path) -> None:
    ex = LocalExecutor()
    try:
        ex.start(_plan(tmp_path, "warm", "true", ""))
        _ready(ex)
        plan = _plan(tmp_path, "staged", "echo ran > ran.txt", "g")
        assert ex.stage(plan)
        pid = ex._staged[plan.run_dir].proc.pid
        assert ex.withdraw(plan.run_dir) is None
        wait_until(lambda: not pid_alive(pid, None), timeout=30)
        assert _untouched(plan) and not (Path(plan.working_dir) / "ran.txt").exists()
        wait_until(lambda: _lockable(plan.run_dir), timeout=30)  # its lock went with it
        report = wait_done(ex, ex.start(plan), timeout=60)
        assert report.result is not None and report.result.outcome == "Completed"
    finally:
        ex.close()


def test_closing_the_executor_lets_a_staged_spare_go_untouched(tmp_path: Path) -> None:
    ex = LocalExecutor()
    ex.start(_plan(tmp_path, "warm", "true", ""))
    _ready(ex)
    plan = _plan(tmp_path, "staged", "echo ran", "g")
    assert ex.stage(plan)
    spare = ex._staged[plan.run_dir].proc
    ex.close()
    assert spare.poll() is not None  # it exited when its stdin closed
    assert _untouched(plan)


def test_a_plan_without_a_group_or_a_ready_spare_is_not_staged(tmp_path: Path) -> None:
    ex = LocalExecutor(spare=False)
    try:
        assert not ex.stage(_plan(tmp_path, "a", "true", "g"))
    finally:
        ex.close()
    ex = LocalExecutor()
    try:
        ex.start(_plan(tmp_path, "warm", "true", ""))
        _ready(ex)
        plan = _plan(tmp_path, "b", "true", "")
        assert not ex.stage(plan) and not Path(plan.run_dir).exists()
    finally:
        ex.close()


def _lockable(run_dir: str) -> bool:
    try:
        os.close(lock_run_dir(run_dir))
    except Exception:
        return False
    return True
