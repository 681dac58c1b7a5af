"""Process identity on Linux: a pid plus its start time names one process despite pid reuse."""

from __future__ import annotations

import os


def _stat_fields(pid: int) -> list[str] | None:
    """Fields of ``/proc/<pid>/stat`` from field 3 (state) on; None if the process is gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            raw = f.read().decode("utf-8", "replace")
    except OSError:
        return None
    # the command name (field 2) is in parentheses and may itself contain ") "
    return raw[raw.rfind(")") + 2 :].split()


def process_start_time(pid: int) -> int | None:
    """Field 22 of ``/proc/<pid>/stat``: start time in clock ticks since boot."""
    fields = _stat_fields(pid)
    if fields is None or len(fields) < 20:
        return None
    return int(fields[19])


def is_same_process_alive(pid: int, start_time: int | None) -> bool:
    """True if ``pid`` runs, is not a zombie, and (when given) started at ``start_time``."""
    if pid <= 0:
        return False
    fields = _stat_fields(pid)
    if fields is None:
        if not os.path.isdir("/proc/self"):  # no procfs: fall back on signal 0
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                return False
            except PermissionError:
                return True
            return True
        return False
    if fields[0] in ("Z", "X"):
        return False
    return start_time is None or int(fields[19]) == int(start_time)
