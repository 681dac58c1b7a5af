"""The run directory: the one contract between the server side and the supervisor.

Both sides import this module (the supervisor by its relative path, without amlite). Files
in ``RUN_DIR``:

- ``plan.json``          the plan (``RunPlan.to_json()``), written by the executor; readable
                         by its owner only (it holds the job's token);
- ``supervisor.pid``     ``PID START``: the supervisor's pid and start time (clock ticks since
                         boot), so a reader can tell it from a later process reusing the pid;
- ``events.jsonl``       one ``{"status": "Running"|"Finalizing", "at": ISO-8601}`` per line;
- ``cancel_reason``      appears when the job is cancelled: its text is the reason (a cluster
                         backend cancels through it, without a signal);
- ``result.json``        written last, atomically: ``RunResult.to_json()``;
- ``supervisor.stderr``  the supervisor's own standard error.

Stdlib only, cheap to import: the supervisor starts with ``python -S -E``.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, NamedTuple

PLAN = "plan.json"
PID = "supervisor.pid"
EVENTS = "events.jsonl"
CANCEL = "cancel_reason"
RESULT = "result.json"
STDERR = "supervisor.stderr"
STALE = (EVENTS, RESULT, CANCEL, PID)
"""What a previous attempt in the same run directory may have left."""

RUNNING = "Running"
FINALIZING = "Finalizing"
"""The statuses of ``events.jsonl``."""
COMPLETED = "Completed"
FAILED = "Failed"
CANCELED = "Canceled"
"""The outcomes of ``result.json``."""


def now_iso() -> str:
    return datetime.now(UTC).isoformat()


class RunResult(NamedTuple):
    """``result.json``: how the run ended."""

    exit_code: int | None
    """The exit code of the process that decided the outcome; None if none ran."""
    outcome: str
    """``COMPLETED``, ``FAILED`` or ``CANCELED``."""
    reason: str | None = None
    finished_at: str | None = None
    """ISO-8601."""

    @classmethod
    def failed(cls, reason: str, exit_code: int | None = None) -> RunResult:
        return cls(exit_code, FAILED, reason, now_iso())

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> RunResult:
        """Tolerant of a partial or foreign file: anything but a known outcome is a failure."""
        outcome = data.get("outcome")
        code = data.get("exitCode")
        reason = data.get("reason")
        at = data.get("finishedAt")
        return cls(
            code if isinstance(code, int) and not isinstance(code, bool) else None,
            outcome if outcome in (COMPLETED, FAILED, CANCELED) else FAILED,
            None if reason is None else str(reason),
            None if at is None else str(at),
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "exitCode": self.exit_code,
            "outcome": self.outcome,
            "reason": self.reason,
            "finishedAt": self.finished_at,
        }


def write_file(path: str, text: str, flags: int, mode: int = 0o666, *, sync: bool = False) -> None:
    """Write ``text`` to ``path`` opened with ``flags`` (with ``O_WRONLY | O_CREAT``).
    The files of the run directory are small and the supervisor writes them on the job's
    path: os-level calls, one ``write``, no buffered file object (which adds four system
    calls to each open)."""
    data = text.encode("utf-8")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC | flags, mode)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        if sync:
            os.fsync(fd)
    finally:
        os.close(fd)


def write_json_atomic(path: str, data: Mapping[str, Any], *, sync: bool = False) -> None:
    """Write ``path`` whole or not at all, readable by its owner only; ``sync``: on disk
    before this returns."""
    tmp = os.path.join(os.path.dirname(path), f".{os.path.basename(path)}.{os.getpid()}.tmp")
    write_file(tmp, json.dumps(data), os.O_TRUNC, 0o600, sync=sync)
    os.replace(tmp, path)


def read_bytes(path: str) -> bytes:
    """The whole of ``path`` (os-level calls, as ``write_file``); raises OSError."""
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        chunks = []
        while chunk := os.read(fd, 1 << 16):
            chunks.append(chunk)
    finally:
        os.close(fd)
    return b"".join(chunks)


def read_json(path: str) -> dict[str, Any] | None:
    """The JSON object in ``path``; None if it is missing, partial or not an object."""
    try:
        data = json.loads(read_bytes(path))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def read_text(path: str) -> str | None:
    try:
        with open(path, encoding="utf-8") as f:
            return f.read().strip()
    except OSError:
        return None


def read_plan(run_dir: str) -> dict[str, Any] | None:
    return read_json(os.path.join(run_dir, PLAN))


def write_plan(run_dir: str, plan: Mapping[str, Any]) -> None:
    write_json_atomic(os.path.join(run_dir, PLAN), plan)


def clear_stale(run_dir: str) -> None:
    """Remove what a previous attempt in ``run_dir`` left (``STALE``)."""
    for name in STALE:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(os.path.join(run_dir, name))


def append_event(run_dir: str, status: str) -> None:
    line = json.dumps({"status": status, "at": now_iso()}) + "\n"
    write_file(os.path.join(run_dir, EVENTS), line, os.O_APPEND)  # one write: a whole line


def read_events(run_dir: str) -> list[dict[str, str]]:
    """The complete lines of ``events.jsonl``, oldest first (a line being written is skipped)."""
    try:
        with open(os.path.join(run_dir, EVENTS), encoding="utf-8") as f:
            text = f.read()
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


def has_event(run_dir: str, status: str) -> bool:
    return any(event.get("status") == status for event in read_events(run_dir))


def request_cancel(run_dir: str, reason: str) -> bool:
    """Leave ``cancel_reason`` for the supervisor; False if the run already has its result."""
    if os.path.exists(os.path.join(run_dir, RESULT)):
        return False
    tmp = os.path.join(run_dir, f".{CANCEL}.{os.getpid()}.tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(reason)
    os.replace(tmp, os.path.join(run_dir, CANCEL))
    return True


def cancel_requested(run_dir: str) -> bool:
    return os.path.exists(os.path.join(run_dir, CANCEL))


def cancel_reason(run_dir: str) -> str:
    """The reason a cancel gave (``canceled`` when it gave none)."""
    return read_text(os.path.join(run_dir, CANCEL)) or "canceled"


def write_pid(run_dir: str, pid: int, start_time: int | None) -> None:
    text = f"{pid} {'-' if start_time is None else start_time}\n"
    write_file(os.path.join(run_dir, PID), text, os.O_TRUNC)


def read_pid(run_dir: str) -> tuple[int, int | None] | None:
    """The supervisor's pid and start time; None if no supervisor ever started there."""
    fields = (read_text(os.path.join(run_dir, PID)) or "").split()
    if not fields or not fields[0].isdigit():
        return None
    start = int(fields[1]) if len(fields) > 1 and fields[1].isdigit() else None
    return int(fields[0]), start


def read_result(run_dir: str) -> dict[str, Any] | None:
    """``result.json`` as written (``RunResult.from_json`` reads it); None until it exists."""
    return read_json(os.path.join(run_dir, RESULT))


def write_result(run_dir: str, result: RunResult, *, sync: bool = True) -> str:
    """Write ``result.json`` (last); returns its path."""
    path = os.path.join(run_dir, RESULT)
    write_json_atomic(path, result.to_json(), sync=sync)
    return path
