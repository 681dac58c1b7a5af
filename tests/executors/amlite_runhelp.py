"""Test helpers for running plans through the real LocalExecutor and supervisor."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from amlite.executors._base import FileStep, RunPlan, RunReport
from amlite.executors._local import LocalExecutor


def make_plan(tmp_path: Path, command: str, **kw: Any) -> RunPlan:
    run_dir = tmp_path / "run"
    wd = run_dir / "wd"
    prepare = kw.pop("prepare", [])
    return RunPlan(
        job_id="/subscriptions/s/resourceGroups/r/providers/Microsoft.MachineLearningServices"
        "/workspaces/w/jobs/j1",
        run_dir=str(run_dir),
        working_dir=str(wd),
        artifacts_dir=str(tmp_path / "artifacts"),
        command=command,
        env=kw.pop("env", {}),
        prepare=[FileStep("mkdir", "", str(wd)), *prepare],
        **kw,
    )


def wait_until(cond: Callable[[], bool], timeout: float = 10.0) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if cond():
            return
        time.sleep(0.01)
    raise AssertionError("condition not met in time")


def wait_done(ex: LocalExecutor, runtime: dict[str, Any], timeout: float = 10.0) -> RunReport:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        rep = ex.report(runtime)
        if rep.result is not None and not rep.alive:
            return rep
        time.sleep(0.01)
    raise AssertionError(f"job did not finish: {ex.report(runtime)}")


def std_log(plan: RunPlan) -> str:
    path = Path(plan.artifacts_dir) / "user_logs" / "std_log.txt"
    return path.read_text() if path.exists() else ""
