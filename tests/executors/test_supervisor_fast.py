"""The supervisor's own work around the command, kept off the job's path: no process-table
scans when the command's group holds only zombies, the run's ``tmp`` removed after the
result is handed over."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from amlite.executors.supervisor import command


def _spy_on_stops(monkeypatch: pytest.MonkeyPatch) -> list[list[int]]:
    """The pids whose groups ``command`` would stop, each call's."""
    stopped: list[list[int]] = []

    def stop(procs: list[subprocess.Popen[bytes]], grace: float) -> None:
        stopped.append([p.pid for p in procs])

    monkeypatch.setattr(command, "terminate_groups", stop)
    return stopped


def test_a_group_left_with_only_a_zombie_is_not_stopped(monkeypatch: pytest.MonkeyPatch) -> None:
    """A sandbox's own init is left a zombie in the command's group (its parent exited and
    the machine's init has not reaped it yet): nothing runs there, so nothing is stopped
    (stopping scans the process table, several milliseconds, on every sandboxed job)."""
    stopped = _spy_on_stops(monkeypatch)
    lead = subprocess.Popen(["sleep", "0.2"], process_group=0)  # its own group
    zombie = subprocess.Popen([sys.executable, "-c", "pass"], process_group=lead.pid)
    os.waitid(os.P_PID, zombie.pid, os.WEXITED | os.WNOWAIT)  # a zombie until reaped
    lead.wait()
    try:
        assert command.group_alive(lead.pid)  # the zombie keeps the group
        command.reap_leftovers([lead])
        assert stopped == []
    finally:
        zombie.wait()


def test_a_group_with_a_live_leftover_is_stopped(monkeypatch: pytest.MonkeyPatch) -> None:
    stopped = _spy_on_stops(monkeypatch)
    lead = subprocess.Popen(["sleep", "0.2"], process_group=0)
    left = subprocess.Popen(["sleep", "30"], process_group=lead.pid)
    try:
        lead.wait()
        command.reap_leftovers([lead])
        assert stopped == [[lead.pid]]
    finally:
        left.kill()
        left.wait()
