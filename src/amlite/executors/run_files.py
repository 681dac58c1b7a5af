"""The run directory as the server side uses it (the files themselves: the supervisor's
``contract``): shared by every executor, since every backend runs the same supervisor."""

from __future__ import annotations

import fcntl
import os
import shutil
from pathlib import Path
from typing import Any

from amlite.executors._base import AlreadyStarted, RunPlan
from amlite.executors.supervisor import contract

RUN_DIR = "runDir"
"""The key of a job's runtime (``Executor.start``) that names its run directory."""
START_LOCK = "start.lock"
"""In a run directory: locked by the server that starts the job (``lock_run_dir``)."""


def run_dir_in(runtime: dict[str, Any]) -> str | None:
    """The run directory a runtime names; None before a supervisor was started."""
    value = runtime.get(RUN_DIR) or runtime.get("run_dir")
    return str(value) if value else None


def run_dir_of(runtime: dict[str, Any]) -> Path:
    value = run_dir_in(runtime)
    if not value:
        raise ValueError("runtime has no runDir")
    return Path(value)


def prepare_run_dir(plan: RunPlan) -> Path:
    """A clean run directory holding ``plan.json``, and a fresh working directory."""
    run_dir = Path(plan.run_dir)
    run_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    contract.clear_stale(str(run_dir))
    wd = Path(plan.working_dir)
    if wd.is_dir() and not wd.is_symlink() and wd.resolve().is_relative_to(run_dir.resolve()):
        shutil.rmtree(wd)  # the working directory starts fresh
    contract.write_plan(str(run_dir), plan.to_json())
    return run_dir


def request_cancel(run_dir: Path, reason: str) -> bool:
    """Leave ``cancel_reason`` for the supervisor (which looks for it while it runs);
    False if the run already has its result."""
    return contract.request_cancel(str(run_dir), reason)


def read_events(run_dir: Path) -> list[dict[str, str]]:
    return contract.read_events(str(run_dir))


def read_json_file(path: Path) -> dict[str, Any] | None:
    return contract.read_json(str(path))


def read_result(run_dir: Path) -> contract.RunResult | None:
    """How the run ended (``result.json``, read tolerantly: an unknown outcome is a
    failure); None until the supervisor wrote it."""
    data = contract.read_result(str(run_dir))
    return None if data is None else contract.RunResult.from_json(data)


def lock_run_dir(run_dir: str) -> int:
    """Lock the run directory against a second start (``START_LOCK``, ``flock``: released
    when the returned descriptor is closed, or the server dies); raises ``AlreadyStarted``
    if another start holds it (a server that stalled in the middle of starting the job,
    which another server took over meanwhile: the one that gets the lock starts, the other
    adopts what it started). The local executor holds it until its supervisor exits, the
    Ray executor until its Ray job is submitted."""
    os.makedirs(run_dir, mode=0o700, exist_ok=True)
    fd = os.open(os.path.join(run_dir, START_LOCK), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise AlreadyStarted(f"another server is starting the job in {run_dir}") from None
    return fd
