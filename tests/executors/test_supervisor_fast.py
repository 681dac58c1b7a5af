"""The supervisor's own work around the command, kept off the job's path: no process-table
scans when the command's group holds only zombies, the run's ``tmp`` removed after the
result is handed over."""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
from pathlib import Path

import pytest
from amlite_runhelp import make_plan

from amlite.executors.supervisor import ENTRY_POINT, bwrap, command, contract, main, procs
from amlite.executors.supervisor.contract import RunResult
from amlite.executors.supervisor.control import SystemLog


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


def test_the_runs_tmp_is_set_aside_before_the_result(tmp_path: Path) -> None:
    """Removing a tree is a system call per entry; renaming it is one: the run's ``tmp`` is
    renamed before the result is written, and removed once the server has been told
    (``main``, the next test)."""
    plan = make_plan(tmp_path, "true").to_json()
    run_dir = plan["run_dir"]
    os.makedirs(os.path.join(run_dir, "tmp", "left", "by", "the-job"))
    system_logs = os.path.join(plan["artifacts_dir"], "system_logs")
    log = SystemLog(os.path.join(system_logs, "supervisor.log"))
    try:
        result = main._supervise(plan, run_dir, system_logs, log)
    finally:
        log.close()
    assert result.outcome == contract.COMPLETED
    aside = main.set_aside_path(run_dir)
    assert not os.path.exists(os.path.join(run_dir, "tmp"))
    assert os.path.isdir(os.path.join(aside, "left", "by", "the-job"))  # not removed yet


def test_the_supervisor_leaves_neither_tmp_nor_its_set_aside_copy(tmp_path: Path) -> None:
    plan = make_plan(tmp_path, "mkdir -p ../tmp/made/by/the-job")
    run_dir = Path(plan.run_dir)
    run_dir.mkdir(parents=True)
    contract.write_plan(str(run_dir), plan.to_json())
    done = subprocess.run(
        [sys.executable, "-S", "-E", ENTRY_POINT, str(run_dir)], capture_output=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert RunResult.from_json(contract.read_result(str(run_dir)) or {}).outcome == "Completed"
    assert sorted(p.name for p in run_dir.iterdir() if "tmp" in p.name) == []


def test_the_run_directory_files_written_and_read_with_os_level_calls(tmp_path: Path) -> None:
    path = str(tmp_path / "f")
    contract.write_file(path, "é\n", os.O_APPEND)
    contract.write_file(path, "x" * 200_000, os.O_APPEND)
    assert contract.read_bytes(path) == "é\n".encode() + b"x" * 200_000
    contract.write_file(path, "{}", os.O_TRUNC)
    assert contract.read_json(path) == {}
    contract.write_file(path, '{"a": "\xff', os.O_TRUNC)  # partial
    assert contract.read_json(path) is None
    (tmp_path / "f").write_bytes(b'{"a": "\xff"}')  # not UTF-8
    assert contract.read_json(path) is None
    assert contract.read_json(str(tmp_path / "missing")) is None


def test_the_system_log_appends_whole_lines(tmp_path: Path) -> None:
    path = tmp_path / "logs" / "supervisor.log"
    for message in ("one", "two \udcff"):  # a name that is not UTF-8 is logged, replaced
        log = SystemLog(str(path))
        log.write(message)
        log.close()
        log.close()  # closing twice is harmless
    lines = path.read_text().splitlines()
    assert [line.split(" ", 1)[1] for line in lines] == ["one", "two ?"]
    assert all(line.split(" ", 1)[0].endswith("+00:00") for line in lines)


def test_stopping_a_group_looks_again_soon_then_less_often(monkeypatch: pytest.MonkeyPatch) -> None:
    """A group that is already exiting (a sandbox's init after bwrap ended) is seen gone
    after a millisecond, not after a whole 20 ms pause; a group that takes its time is
    looked at every 20 ms."""
    pauses: list[float] = []
    looks = iter([True] * 7 + [False])
    monkeypatch.setattr(procs.time, "sleep", pauses.append)
    monkeypatch.setattr(procs, "any_alive", lambda groups: next(looks))
    monkeypatch.setattr(procs, "tree_groups", lambda roots: set())
    done = subprocess.Popen(["true"])
    done.wait()
    procs.terminate_groups([done], 60.0)
    assert pauses == [0.001, 0.002, 0.004, 0.008, 0.016, 0.02, 0.02]


def test_a_spare_finds_its_pythons_prefixes_before_its_job() -> None:
    """What a sandbox keeps visible of this Python (``bwrap``) is looked up when the
    supervisor's modules load, while a spare waits, not on the job's path."""
    bwrap.own_python_prefixes.cache_clear()
    importlib.reload(main)
    assert bwrap.own_python_prefixes.cache_info().currsize == 1
    assert sys.prefix in bwrap.own_python_prefixes()
    venv = {"environment": {"python": sys.executable}}
    assert bwrap._python_prefixes(venv) == set(bwrap.own_python_prefixes())
