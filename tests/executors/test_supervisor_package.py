"""The supervisor package on its own: its run-directory contract, the one process-liveness
rule, and a copy of its folder running a plan where amlite cannot be imported."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from amlite_runhelp import make_plan

import amlite.executors.supervisor as supervisor_package
from amlite.executors.supervisor import contract, steps
from amlite.executors.supervisor.contract import RunResult
from amlite.executors.supervisor.procs import pid_alive, process_start_time


def test_a_result_round_trips_and_a_foreign_one_reads_as_a_failure() -> None:
    done = RunResult(0, contract.COMPLETED, None, "2026-01-01T00:00:00+00:00")
    assert RunResult.from_json(json.loads(json.dumps(done.to_json()))) == done
    odd = RunResult.from_json({"outcome": "Exploded", "exitCode": True, "reason": 3})
    assert odd == RunResult(None, contract.FAILED, "3", None)
    assert RunResult.failed("why", 2)[:3] == (2, contract.FAILED, "why")


def test_the_run_directory_files(tmp_path: Path) -> None:
    run = str(tmp_path)
    assert contract.read_pid(run) is None and contract.read_result(run) is None
    contract.write_pid(run, 42, None)
    assert contract.read_pid(run) == (42, None)
    contract.append_event(run, contract.RUNNING)
    with open(tmp_path / contract.EVENTS, "a") as f:
        f.write('{"status": "Fin')  # a line being written is skipped
    assert [e["status"] for e in contract.read_events(run)] == [contract.RUNNING]
    assert not contract.has_event(run, contract.FINALIZING)
    assert contract.cancel_reason(run) == "canceled" and not contract.cancel_requested(run)
    assert contract.request_cancel(run, "user asked")
    assert contract.cancel_requested(run) and contract.cancel_reason(run) == "user asked"
    contract.write_result(run, RunResult(None, contract.CANCELED, "user asked"))
    assert (tmp_path / contract.RESULT).stat().st_mode & 0o077 == 0  # owner only
    assert not contract.request_cancel(run, "too late")  # it already has its result
    contract.clear_stale(run)
    assert not any((tmp_path / name).exists() for name in contract.STALE)


def test_pid_alive_tells_a_zombie_and_a_reused_pid_from_a_live_process() -> None:
    assert pid_alive(os.getpid(), process_start_time(os.getpid()))
    assert not pid_alive(os.getpid(), (process_start_time(os.getpid()) or 0) + 1)
    assert not pid_alive(0) and not pid_alive(2**22 + 12345)
    child = subprocess.Popen(["true"])
    wait = os.waitid(os.P_PID, child.pid, os.WEXITED | os.WNOWAIT)  # a zombie until reaped
    assert wait is not None and not pid_alive(child.pid)
    child.wait()


def test_a_copy_of_the_folder_runs_a_plan_without_amlite(tmp_path: Path) -> None:
    """What a node without amlite gets: the folder, under any name, run by path."""
    shipped = tmp_path / "shipped" / "any_name"
    shutil.copytree(supervisor_package.ENTRY_POINT, shipped)
    plan = make_plan(tmp_path, "echo hello; exit 3")
    run_dir = Path(plan.run_dir)
    run_dir.mkdir(parents=True)
    contract.write_plan(str(run_dir), plan.to_json())
    probe = subprocess.run(
        [sys.executable, "-S", "-E", "-c", "import amlite"], capture_output=True, check=False
    )
    assert probe.returncode != 0  # -S: the editable install is out of reach
    done = subprocess.run(
        [sys.executable, "-S", "-E", str(shipped), str(run_dir)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    result = RunResult.from_json(contract.read_result(str(run_dir)) or {})
    assert result[:3] == (3, contract.FAILED, "command exited with code 3")
    log = Path(plan.artifacts_dir) / "user_logs" / "std_log.txt"
    assert log.read_text() == "hello\n"


def test_file_steps_outside_a_sandbox(tmp_path: Path) -> None:
    run = str(tmp_path)
    src = tmp_path / "src"
    (src / "sub").mkdir(parents=True)
    (src / "sub" / "a.txt").write_text("a")
    steps.run_step({"op": "mkdir", "src": "", "dst": str(tmp_path / "made")}, run)
    steps.run_step({"op": "copy", "src": str(src), "dst": str(tmp_path / "copied")}, run)
    steps.run_step({"op": "copy_into", "src": str(src), "dst": str(tmp_path / "made")}, run)
    steps.run_step({"op": "mount_ro", "src": str(src), "dst": str(tmp_path / "mounted")}, run)
    assert (tmp_path / "copied" / "sub" / "a.txt").read_text() == "a"
    assert (tmp_path / "made" / "sub" / "a.txt").read_text() == "a"
    assert os.readlink(tmp_path / "mounted") == str(src)  # without a sandbox: a symlink
    with pytest.raises(ValueError, match="unknown file operation 'chmod'"):
        steps.run_step({"op": "chmod", "src": "", "dst": str(tmp_path / "x")}, run)
    with pytest.raises(ValueError, match="outside the run directory"):
        steps.run_step({"op": "copy", "src": str(src), "dst": "/elsewhere/x"}, run)
