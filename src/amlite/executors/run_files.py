"""The files of a run directory that the server side reads and writes (see ``_base``):
shared by every executor, since every backend runs the same supervisor."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
from pathlib import Path
from typing import Any

from amlite.executors._base import RunPlan

STALE = ("events.jsonl", "result.json", "cancel_reason", "supervisor.pid")
"""What a previous attempt in the same run directory may have left."""


def write_json_atomic(path: Path, data: dict[str, Any]) -> None:
    """Write ``path`` whole or not at all, readable by its owner only (a plan holds the
    job's token)."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(json.dumps(data, indent=1))
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)


def run_dir_of(runtime: dict[str, Any]) -> Path:
    value = runtime.get("runDir") or runtime.get("run_dir")
    if not value:
        raise ValueError("runtime has no runDir")
    return Path(value)


def prepare_run_dir(plan: RunPlan) -> Path:
    """A clean run directory holding ``plan.json``, and a fresh working directory."""
    run_dir = Path(plan.run_dir)
    run_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    for name in STALE:
        with contextlib.suppress(FileNotFoundError):
            (run_dir / name).unlink()
    wd = Path(plan.working_dir)
    if wd.is_dir() and not wd.is_symlink() and wd.resolve().is_relative_to(run_dir.resolve()):
        shutil.rmtree(wd)  # the working directory starts fresh
    write_json_atomic(run_dir / "plan.json", plan.to_json())
    return run_dir


def request_cancel(run_dir: Path, reason: str) -> bool:
    """Leave ``cancel_reason`` for the supervisor (which looks for it while it runs);
    False if the run already has its result."""
    if (run_dir / "result.json").exists():
        return False
    tmp = run_dir / ".cancel_reason.tmp"
    tmp.write_text(reason, encoding="utf-8")
    os.replace(tmp, run_dir / "cancel_reason")
    return True


def read_events(run_dir: Path) -> list[dict[str, str]]:
    """The complete lines of ``events.jsonl`` (a line being written is skipped)."""
    try:
        text = (run_dir / "events.jsonl").read_text(encoding="utf-8")
    except OSError:
        return []
    events: list[dict[str, str]] = []
    for line in text.splitlines():
        try:
            item = json.loads(line)
        except ValueError:
            continue
        if isinstance(item, dict):
            events.append(item)
    return events


def read_json_file(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def read_result(run_dir: Path) -> dict[str, Any] | None:
    return read_json_file(run_dir / "result.json")
