"""Supervisors forked by the fork server (``executors/_forkserver.py``,
``supervisor/forkserver.py``): they run jobs as a started supervisor does, the fork server
going away costs nothing but speed, and jobs outlive it."""

from __future__ import annotations

import os
import signal
import socket
from pathlib import Path

import pytest
from amlite_runhelp import make_plan, std_log, wait_done, wait_until

from amlite.executors._forkserver import ForkServer, ForkServerGone
from amlite.executors._local import SUPERVISOR, LocalExecutor


def _parent(pid: int) -> int:
    return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])


def _environ(pid: int) -> dict[str, str]:
    raw = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    return dict(item.decode().split("=", 1) for item in raw if b"=" in item)


def _gone(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return True
    return state == "Z"


def test_a_cold_start_is_forked_and_runs_its_job(tmp_path: Path) -> None:
    """No spare (``spares=0``): the fork server forks a supervisor for the run directory; it
    runs the job (its own children waited for: SIGCHLD is not ignored in it) in a session of
    its own, with the job's environment and no server setting."""
    os.environ["AMLITE_SECRET_FOR_TEST"] = "x"
    try:
        ex = LocalExecutor(spares=0)
        plan = make_plan(tmp_path, "sh -c 'exit 0' && echo ran && echo oops >&2")
        try:
            runtime = ex.start(plan)
            server = ex._fork_server
            assert server is not None
            pid = runtime["pid"]
            assert _parent(pid) == server._proc.pid
            assert os.getsid(pid) == pid  # its own session: it outlives the server
            assert "AMLITE_SECRET_FOR_TEST" not in _environ(pid)
            rep = wait_done(ex, runtime, timeout=30)
        finally:
            ex.close()
    finally:
        del os.environ["AMLITE_SECRET_FOR_TEST"]
    assert rep.result is not None and rep.result.outcome == "Completed", rep.result
    assert "ran" in std_log(plan) and "oops" in std_log(plan)


def test_a_dead_fork_server_is_replaced(tmp_path: Path) -> None:
    ex = LocalExecutor(spares=0)
    try:
        rep = wait_done(ex, ex.start(make_plan(tmp_path / "a", "true")), timeout=30)
        assert rep.result is not None and rep.result.outcome == "Completed"
        first = ex._fork_server
        assert first is not None
        os.kill(first._proc.pid, signal.SIGKILL)
        first._proc.wait()
        plan = make_plan(tmp_path / "b", "echo again")
        rep = wait_done(ex, ex.start(plan), timeout=30)
        assert rep.result is not None and rep.result.outcome == "Completed"
        assert "again" in std_log(plan)
        assert ex._fork_server is not None and ex._fork_server is not first
    finally:
        ex.close()


def test_a_fork_server_that_does_not_answer_is_gone(tmp_path: Path) -> None:
    """Its socket closed under it: ``ForkServerGone``, which the executor answers with a
    ``Popen`` start."""
    server = ForkServer(["python3", "-S", "-E", SUPERVISOR], dict(os.environ))
    try:
        server._sock.shutdown(socket.SHUT_RDWR)
        with pytest.raises(ForkServerGone):
            server.spare()
    finally:
        server.close()
    assert server._proc.returncode is not None


def test_closing_the_executor_stops_the_fork_server_not_its_jobs(tmp_path: Path) -> None:
    ex = LocalExecutor(spares=1)
    marker = tmp_path / "later"
    plan = make_plan(tmp_path, f"sleep 1; echo done > {marker}")
    runtime = ex.start(plan)
    wait_until(lambda: len(ex._spares) == 1, timeout=30)
    server = ex._fork_server
    assert server is not None
    spare = ex._spares[0]
    ex.close()
    assert server._proc.returncode is not None  # it exited on EOF
    wait_until(lambda: _gone(spare.pid), timeout=10)  # a spare exits when its stdin closes
    assert spare.poll() is not None
    wait_until(lambda: marker.exists(), timeout=30)  # the job ran on
    wait_until(lambda: Path(runtime["runDir"], "result.json").exists(), timeout=30)


def test_a_changed_supervisor_setting_starts_a_new_fork_server(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Supervisors inherit the fork server's environment, so a setting the supervisor reads
    (``SUPERVISOR_SETTINGS``) that changed since it started takes a new one."""
    ex = LocalExecutor(spares=0)
    try:
        wait_done(ex, ex.start(make_plan(tmp_path / "a", "true")), timeout=30)
        first = ex._fork_server
        monkeypatch.setenv("AMLITE_KILL_GRACE_SECONDS", "7")
        runtime = ex.start(make_plan(tmp_path / "b", "sleep 0.5"))
        assert _environ(runtime["pid"]).get("AMLITE_KILL_GRACE_SECONDS") == "7"
        assert ex._fork_server is not first
        wait_done(ex, runtime, timeout=30)
    finally:
        ex.close()


@pytest.mark.parametrize("why", ["fork_server=False", "no pidfds"])
def test_without_a_fork_server_supervisors_are_started(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, why: str
) -> None:
    """Asked for (``fork_server=False``), or on a kernel before 5.3 (a platform without
    ``pidfd_open``): the server starts each supervisor itself."""
    if why == "no pidfds":
        monkeypatch.delattr(os, "pidfd_open")
    ex = LocalExecutor(spares=0, fork_server=why != "fork_server=False")
    try:
        runtime = ex.start(make_plan(tmp_path, "true"))
        assert _parent(runtime["pid"]) == os.getpid()
        rep = wait_done(ex, runtime, timeout=30)
        assert rep.result is not None and rep.result.outcome == "Completed"
        assert ex._fork_server is None
    finally:
        ex.close()


def test_a_forked_supervisor_sees_its_command_exit_code(tmp_path: Path) -> None:
    """The fork server ignores SIGCHLD (the kernel reaps its children); a supervisor that
    kept that would see every command exit 0 (``subprocess`` reads ECHILD as 0)."""
    ex = LocalExecutor(spares=1)
    try:
        ex.start(make_plan(tmp_path / "a", "true"))
        wait_until(lambda: len(ex._spares) == 1, timeout=30)
        rep = wait_done(ex, ex.start(make_plan(tmp_path / "b", "exit 3")), timeout=30)
    finally:
        ex.close()
    assert rep.result is not None and rep.result.outcome == "Failed"
    assert "exited with code 3" in (rep.result.reason or "")


def _shared_dirty_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
        if line.startswith("Shared_Dirty:"):
            return int(line.split()[1])
    raise AssertionError("no Shared_Dirty line")


@pytest.mark.skipif(
    tuple(int(p) for p in os.uname().release.split(".")[:2]) < (5, 14),
    reason="MADV_POPULATE_WRITE is Linux 5.14+",
)
def test_a_spare_owns_its_pages_before_it_is_told_to_go(tmp_path: Path) -> None:
    """A forked spare copies the pages it shares with the fork server while it waits
    (``own_pages``), not one copy-on-write fault at a time on its job's path: what it
    still shares dirty is a few pages, not the fork server's megabytes."""
    ex = LocalExecutor(spares=1)
    try:
        ex.start(make_plan(tmp_path, "true"))
        wait_until(lambda: len(ex._spares) == 1, timeout=30)
        spare = ex._spares[0].pid
        wait_until(lambda: _shared_dirty_kb(spare) < 512, timeout=10)
    finally:
        ex.close()
