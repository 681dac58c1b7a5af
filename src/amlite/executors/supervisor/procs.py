"""Processes on Linux: one liveness rule (a pid plus its start time names one process despite
pid reuse; a zombie is gone), process groups and how to stop a process tree.

Stdlib only: the supervisor uses it, and so do the server (``LocalExecutor``), the CLI and
the tests, so there is one answer to "does this process still run?".
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time


def stat_fields(pid: int) -> list[str] | None:
    """Fields of ``/proc/<pid>/stat`` from field 3 (state) on; None if the process is gone."""
    try:  # os-level calls: three system calls (``open`` takes seven), once per process in a scan
        fd = os.open(f"/proc/{pid}/stat", os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        raw = os.read(fd, 4096).decode("utf-8", "replace")
    except OSError:
        return None
    finally:
        os.close(fd)
    # the command name (field 2) is in parentheses and may itself contain ") "
    return raw[raw.rfind(")") + 2 :].split()


def process_start_time(pid: int) -> int | None:
    """Field 22 of ``/proc/<pid>/stat``: start time in clock ticks since boot."""
    fields = stat_fields(pid)
    if fields is None or len(fields) < 20:
        return None
    return int(fields[19])


def pid_alive(pid: int, start_time: int | None = None) -> bool:
    """True if ``pid`` runs, is not a zombie, and (when given) started at ``start_time``."""
    if pid <= 0:
        return False
    fields = stat_fields(pid)
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


def group_alive(pgid: int) -> bool:
    """Whether process group ``pgid`` has a member (zombies included)."""
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def signal_group(pgid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


def proc_table() -> dict[int, tuple[int, int, str]]:
    """pid -> (parent pid, process group, state) of every process, from ``/proc``."""
    table: dict[int, tuple[int, int, str]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        fields = stat_fields(int(entry))
        try:
            if fields is not None:
                table[int(entry)] = (int(fields[1]), int(fields[2]), fields[0])
        except (IndexError, ValueError):
            continue
    return table


def tree_groups(roots: list[int]) -> set[int]:
    """The process groups of ``roots`` (each leads its own) and of all their descendants."""
    try:
        table = proc_table()
    except OSError:
        return set(roots)
    children: dict[int, list[int]] = {}
    for pid, (ppid, _, _) in table.items():
        children.setdefault(ppid, []).append(pid)
    groups, todo = set(roots), list(roots)
    while todo:
        for child in children.get(todo.pop(), []):
            groups.add(table[child][1])
            todo.append(child)
    groups.discard(os.getpgrp())
    return groups


def any_alive(groups: set[int]) -> bool:
    """Whether a process of ``groups`` still runs; zombies do not count (orphans may stay
    zombies for a while where the init process does not reap them)."""
    try:
        table = proc_table()
    except OSError:
        return any(map(group_alive, groups))
    return any(pgid in groups and state != "Z" for _, pgid, state in table.values())


def terminate_groups(procs: list[subprocess.Popen[bytes]], grace: float) -> None:
    """SIGTERM the process groups of ``procs`` and of their descendants; SIGKILL whatever is
    left after ``grace``."""
    roots = [p.pid for p in procs]
    groups = tree_groups(roots)
    for pgid in groups:
        signal_group(pgid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    pause = 0.001  # most groups are gone within a millisecond or two (a sandbox's init
    while time.monotonic() < deadline:  # still exiting after bwrap did): look again soon
        if all(p.poll() is not None for p in procs) and not any_alive(groups):
            return
        time.sleep(pause)
        pause = min(pause * 2, 0.02)
    groups |= tree_groups(roots)
    for pgid in groups:
        signal_group(pgid, signal.SIGKILL)
    for p in procs:
        p.wait()
    end = time.monotonic() + 2.0
    while any_alive(groups) and time.monotonic() < end:
        time.sleep(0.01)


def terminate_group(proc: subprocess.Popen[bytes], grace: float) -> None:
    """SIGTERM the process group of ``proc``; SIGKILL whatever is left after ``grace``."""
    terminate_groups([proc], grace)
