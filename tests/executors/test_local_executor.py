"""LocalExecutor + supervisor with real processes."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from amlite_runhelp import make_plan, std_log, wait_done, wait_until

from amlite.executors._base import AlreadyStarted, FileStep
from amlite.executors._local import LocalExecutor
from amlite.executors.supervisor.procs import pid_alive, process_start_time


def _pid_gone(pid: int) -> bool:
    return not pid_alive(pid, None)


def test_success_logs_events_and_on_exit(tmp_path: Path) -> None:
    done = threading.Event()
    seen: list[str] = []

    def on_exit(run_dir: str) -> None:
        seen.append(run_dir)
        done.set()

    ex = LocalExecutor(on_exit=on_exit)
    plan = make_plan(tmp_path, "echo hello; echo oops >&2; pwd")
    rt = ex.start(plan)
    assert rt["runDir"] == plan.run_dir and rt["pid"] > 0 and rt["pidStart"] and rt["host"]
    rep = wait_done(ex, rt)
    assert rep.result is not None
    assert rep.result.outcome == "Completed"
    assert rep.result.exit_code == 0 and rep.result.reason is None
    assert rep.result.finished_at.endswith("+00:00")
    assert [e["status"] for e in rep.events] == ["Running", "Finalizing"]
    log = std_log(plan)
    assert "hello" in log and "oops" in log and plan.working_dir in log
    assert done.wait(5) and seen == [plan.run_dir]
    assert (Path(plan.run_dir) / "supervisor.pid").read_text().split() == [
        str(rt["pid"]),
        str(rt["pidStart"]),
    ]
    assert (Path(plan.artifacts_dir) / "system_logs" / "supervisor.log").exists()


def test_a_start_within_deferring_is_followed_once_the_block_ends(tmp_path: Path) -> None:
    """The scheduler records Running before the executor's threads wake (``deferring``)."""
    seen: list[str] = []
    done = threading.Event()

    def on_exit(run_dir: str) -> None:
        seen.append(run_dir)
        done.set()

    ex = LocalExecutor(on_exit=on_exit)
    plan = make_plan(tmp_path, "true")
    try:
        with ex.deferring():
            wait_done(ex, ex.start(plan))
            assert not done.is_set()  # ended, and nothing followed it yet
        assert done.wait(10) and seen == [plan.run_dir]
        later = make_plan(tmp_path / "later", "true")  # outside a block: followed at once
        done.clear()
        wait_done(ex, ex.start(later))
        assert done.wait(10) and seen == [plan.run_dir, later.run_dir]
    finally:
        ex.close()


def test_nonzero_exit_fails(tmp_path: Path) -> None:
    ex = LocalExecutor()
    rep = wait_done(ex, ex.start(make_plan(tmp_path, "echo bad; exit 3")))
    assert rep.result is not None
    assert rep.result.outcome == "Failed"
    assert rep.result.exit_code == 3
    assert rep.result.reason == "command exited with code 3"


def test_timeout_kills_grandchild_that_ignores_sigterm(tmp_path: Path) -> None:
    ex = LocalExecutor()
    cmd = "bash -c 'trap \"\" TERM; echo $$ > gc.pid; sleep 60' & wait"
    plan = make_plan(tmp_path, cmd, timeout_seconds=1.0)
    rt = ex.start(plan)
    pid_file = Path(plan.working_dir) / "gc.pid"
    wait_until(lambda: pid_file.exists() and pid_file.read_text().strip() != "")
    grandchild = int(pid_file.read_text())
    assert pid_alive(grandchild, None)
    rep = wait_done(ex, rt)
    assert rep.result is not None
    assert rep.result.outcome == "Canceled"
    assert rep.result.reason == "timeout after 1 s"
    wait_until(lambda: _pid_gone(grandchild), timeout=3)
    assert [e["status"] for e in rep.events] == ["Running", "Finalizing"]


def test_cancel_while_running(tmp_path: Path) -> None:
    ex = LocalExecutor()
    plan = make_plan(tmp_path, "echo started; sleep 30")
    rt = ex.start(plan)
    wait_until(lambda: "started" in std_log(plan))
    t0 = time.monotonic()
    ex.cancel(rt, "user asked")
    rep = wait_done(ex, rt)
    assert time.monotonic() - t0 < 5
    assert rep.result is not None
    assert rep.result.outcome == "Canceled"
    assert rep.result.reason == "user asked"


def test_env_vars_and_python_on_path(tmp_path: Path) -> None:
    ex = LocalExecutor()
    plan = make_plan(
        tmp_path,
        'echo "FOO=$FOO"; echo "PY=$(command -v python)"; echo "UNBUF=$PYTHONUNBUFFERED"',
        env={"FOO": "bar baz"},
    )
    rep = wait_done(ex, ex.start(plan))
    assert rep.result is not None and rep.result.outcome == "Completed"
    log = std_log(plan)
    assert "FOO=bar baz" in log
    assert f"PY={os.path.join(os.path.dirname(sys.executable), 'python')}" in log
    assert "UNBUF=1" in log


def test_server_token_does_not_leak(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("AMLITE_ADMIN_TOKEN", "secret")
    ex = LocalExecutor()
    plan = make_plan(tmp_path, 'echo "T=${AMLITE_ADMIN_TOKEN:-none}"')
    wait_done(ex, ex.start(plan))
    assert "T=none" in std_log(plan)


def test_supervisor_survives_its_starter(tmp_path: Path) -> None:
    plan = make_plan(tmp_path, "sleep 1; echo survived")
    plan_file = tmp_path / "p.json"
    plan_file.write_text(json.dumps(plan.to_json()))
    starter = (
        "import json, sys, time\n"
        "from amlite.executors._base import RunPlan\n"
        "from amlite.executors._local import LocalExecutor\n"
        f"plan = RunPlan.from_json(json.load(open({str(plan_file)!r})))\n"
        "print(json.dumps(LocalExecutor().start(plan)), flush=True)\n"
        "time.sleep(60)\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", starter], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    rt = json.loads(proc.stdout.readline())
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    ex = LocalExecutor()
    assert ex.report(rt).alive
    rep = wait_done(ex, rt)
    assert rep.result is not None and rep.result.outcome == "Completed"
    assert "survived" in std_log(plan)


def test_report_on_dead_pid_without_result(tmp_path: Path) -> None:
    (tmp_path / "run").mkdir()
    proc = subprocess.Popen(["true"])
    start = process_start_time(proc.pid)
    proc.wait()
    ex = LocalExecutor()
    rep = ex.report({"runDir": str(tmp_path / "run"), "pid": proc.pid, "pidStart": start})
    assert rep == rep.__class__(events=[], result=None, alive=False)
    # a live pid with another start time is another process
    me = {"runDir": str(tmp_path / "run"), "pid": os.getpid(), "pidStart": 1}
    assert not ex.report(me).alive


def test_a_run_directory_with_a_live_supervisor_is_not_started_again(tmp_path: Path) -> None:
    """A server that stalled inside its start while another server started the job: the
    stale start finds the other's supervisor and leaves its run directory alone."""
    ex = LocalExecutor()
    plan = make_plan(tmp_path, "echo started; sleep 30")
    first = ex.start(plan)
    try:
        wait_until(lambda: "started" in std_log(plan))
        (Path(plan.working_dir) / "mine.txt").write_text("the running job's")
        with pytest.raises(AlreadyStarted):
            ex.start(plan)
        assert (Path(plan.working_dir) / "mine.txt").exists()  # not prepared again
    finally:
        ex.cancel(first, "done")
    wait_done(ex, first, timeout=60)
    # the server that started it died (its lock with it): its live supervisor still counts
    other = make_plan(tmp_path / "other", "echo never")
    Path(other.run_dir).mkdir(parents=True)
    me = f"{os.getpid()} {process_start_time(os.getpid())}\n"
    (Path(other.run_dir) / "supervisor.pid").write_text(me)
    with pytest.raises(AlreadyStarted, match="already runs"):
        ex.start(other)
    rerun = ex.start(plan)  # once it ended, the job may run there again (a retry)
    # the retry's own line (a cancel before its supervisor is up would leave no result)
    wait_until(lambda: std_log(plan).count("started") == 2)
    ex.cancel(rerun, "done")
    assert wait_done(ex, rerun, timeout=60).result is not None


def test_a_run_directory_being_started_by_another_server_is_not_started(
    tmp_path: Path,
) -> None:
    """A server that stalled in the middle of its start holds the run directory's lock:
    the server that took the job over meanwhile does not start a second copy (it adopts
    the stalled one's process once that one resumes and spawns it)."""
    import fcntl

    ex = LocalExecutor()
    plan = make_plan(tmp_path, "echo once")
    Path(plan.run_dir).mkdir(parents=True, exist_ok=True)
    with open(Path(plan.run_dir) / "start.lock", "a") as held:
        fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)  # the stalled server's start
        with pytest.raises(AlreadyStarted, match="another server is starting"):
            ex.start(plan)
        assert not (Path(plan.run_dir) / "plan.json").exists()  # nothing prepared
    rt = ex.start(plan)  # the lock is free again
    assert wait_done(ex, rt, timeout=60).result is not None
    wait_until(lambda: _lock_free(Path(plan.run_dir) / "start.lock"))  # released at its end


def _lock_free(path: Path) -> bool:
    import fcntl

    with open(path, "a") as probe:
        try:
            fcntl.flock(probe, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        return True


def test_outputs_and_logs_collected(tmp_path: Path) -> None:
    ex = LocalExecutor()
    art = tmp_path / "artifacts"
    wd = tmp_path / "run" / "wd"
    plan = make_plan(
        tmp_path,
        "mkdir -p outputs/sub logs; echo m > outputs/sub/model.txt; echo l > logs/x.log",
        finalize=[
            FileStep("copy_into", str(wd / "outputs"), str(art / "outputs")),
            FileStep("copy_into", str(wd / "logs"), str(art / "logs")),
            FileStep("copy_into", str(wd / "missing"), str(art / "missing")),
        ],
    )
    rep = wait_done(ex, ex.start(plan))
    assert rep.result is not None and rep.result.outcome == "Completed"
    assert (art / "outputs" / "sub" / "model.txt").read_text() == "m\n"
    assert (art / "logs" / "x.log").read_text() == "l\n"
    assert not (art / "missing").exists()


def test_fail_reason_runs_nothing(tmp_path: Path) -> None:
    ex = LocalExecutor()
    plan = make_plan(tmp_path, "touch ran", fail_reason="docker-only environment")
    rep = wait_done(ex, ex.start(plan))
    assert rep.result is not None
    assert rep.result.outcome == "Failed" and rep.result.reason == "docker-only environment"
    assert rep.events == []
    assert not (Path(plan.working_dir) / "ran").exists()


def test_preparation_error_fails_clearly(tmp_path: Path) -> None:
    ex = LocalExecutor()
    missing = tmp_path / "nope"
    plan = make_plan(
        tmp_path,
        "touch ran",
        prepare=[FileStep("copy", str(missing), str(tmp_path / "run" / "x"))],
    )
    rep = wait_done(ex, ex.start(plan))
    assert rep.result is not None and rep.result.outcome == "Failed"
    assert "preparation failed" in rep.result.reason and str(missing) in rep.result.reason
    assert not (Path(plan.working_dir) / "ran").exists()


def test_failed_finalize_fails_a_successful_command(tmp_path: Path) -> None:
    ex = LocalExecutor()
    bad = [FileStep("copy", str(tmp_path / "nope"), str(tmp_path / "x"))]
    ok = wait_done(ex, ex.start(make_plan(tmp_path / "a", "true", finalize=bad)))
    assert ok.result is not None and ok.result.outcome == "Failed"
    assert ok.result.reason.startswith("finalizing failed")
    failed = wait_done(ex, ex.start(make_plan(tmp_path / "b", "exit 2", finalize=bad)))
    assert failed.result is not None and failed.result.reason == "command exited with code 2"


def test_background_processes_end_with_the_job(tmp_path: Path) -> None:
    ex = LocalExecutor()
    plan = make_plan(tmp_path, "sleep 60 & echo $! > bg.pid")
    rep = wait_done(ex, ex.start(plan))
    assert rep.result is not None and rep.result.outcome == "Completed"
    bg = int((Path(plan.working_dir) / "bg.pid").read_text())
    wait_until(lambda: _pid_gone(bg), timeout=3)


def test_cancel_after_finish_is_harmless(tmp_path: Path) -> None:
    ex = LocalExecutor()
    rt = ex.start(make_plan(tmp_path, "true"))
    rep = wait_done(ex, rt)
    ex.cancel(rt, "late")
    assert ex.report(rt).result == rep.result


def test_steps_may_not_write_outside_the_run_dir(tmp_path: Path) -> None:
    """Defence in depth: a plan built from a hostile name cannot copy, link or download
    outside the run directory, nor use '..' anywhere."""
    ex = LocalExecutor()
    src = tmp_path / "data.txt"
    src.write_text("secret")
    outside = tmp_path / "outside"
    for i, (op, climb) in enumerate(
        [("copy", True), ("copy", False), ("link", False), ("download", False), ("mkdir", True)]
    ):
        run = tmp_path / f"p{i}" / "run"
        dst = run / "inputs" / ".." / ".." / ".." / "outside" if climb else outside
        source = "http://127.0.0.1:9/x" if op == "download" else str(src)
        plan = make_plan(tmp_path / f"p{i}", "touch ran", prepare=[FileStep(op, source, str(dst))])
        rep = wait_done(ex, ex.start(plan))
        assert rep.result is not None and rep.result.outcome == "Failed", op
        assert "outside the run directory" in rep.result.reason or "plain absolute" in (
            rep.result.reason
        ), rep.result
        assert not os.path.lexists(outside)
        assert not (Path(plan.working_dir) / "ran").exists()


def _parent(pid: int) -> int | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return None  # gone (the job ended)
    return int(stat.rsplit(")", 1)[1].split()[1])


def test_jobs_started_back_to_back_each_get_a_spare_supervisor(tmp_path: Path) -> None:
    ex = LocalExecutor(spares=2)
    try:
        ex.start(make_plan(tmp_path / "a", "true"))  # nothing waits yet: a cold start
        wait_until(lambda: len(ex._spares) == 2, timeout=60)
        spares = {p.pid for p in ex._spares}
        plans = [make_plan(tmp_path / name, "echo ran") for name in ("b", "c")]
        runtimes = [ex.start(plan) for plan in plans]
        assert {rt["pid"] for rt in runtimes} == spares  # both handed to a waiting spare
        assert ex._fork_server is not None  # the spares were forked by the fork server
        fork_server = ex._fork_server._proc.pid
        assert all(_parent(pid) in (fork_server, None) for pid in spares)
        for plan, rt in zip(plans, runtimes, strict=True):
            rep = wait_done(ex, rt, timeout=60)
            assert rep.result is not None and rep.result.outcome == "Completed"
            assert "ran" in std_log(plan)
        wait_until(lambda: len(ex._spares) == 2, timeout=60)  # refilled in the background
        left = list(ex._spares)
    finally:
        ex.close()
    for spare in left:
        assert spare.poll() is not None  # a closed executor lets its spares go


def test_on_exit_comes_with_the_result_even_if_the_job_left_a_daemon(tmp_path: Path) -> None:
    """The supervisor's pipe to the server is its own: a process the command leaves behind
    in another session does not hold it open, and the result is there when it closes."""
    seen: list[bool] = []
    done = threading.Event()
    ex = LocalExecutor(
        on_exit=lambda run_dir: (seen.append(Path(run_dir, "result.json").exists()), done.set())
    )
    daemon = tmp_path / "daemon.pid"
    plan = make_plan(tmp_path, f"setsid sleep 60 > /dev/null 2>&1 < /dev/null & echo $! > {daemon}")
    try:
        ex.start(plan)
        assert done.wait(50)  # well before the daemon's 60 s
        assert seen == [True]
        result = json.loads(Path(plan.run_dir, "result.json").read_text())
        assert result["outcome"] == "Completed"
    finally:
        ex.close()
        if daemon.exists():
            with contextlib.suppress(ProcessLookupError, ValueError):
                os.kill(int(daemon.read_text()), signal.SIGKILL)


def test_one_thread_follows_every_running_supervisor_and_is_reaped(tmp_path: Path) -> None:
    """Starting a job starts no thread of its own: one waiter follows them all, reaps each
    supervisor, and ends when none is left."""
    ended: list[str] = []
    ex = LocalExecutor(on_exit=ended.append)
    gate = tmp_path / "gate"
    plans = [
        make_plan(tmp_path / f"j{i}", f"while [ ! -e {gate} ]; do sleep 0.05; done")
        for i in range(3)
    ]

    def running_waiters() -> list[threading.Thread]:
        return [t for t in threading.enumerate() if t.name.startswith("amlite-wait")]

    wait_until(lambda: not running_waiters(), timeout=30)  # earlier tests' executors' ended
    try:
        runtimes = [ex.start(plan) for plan in plans]
        waiters = running_waiters()
        assert len(waiters) == 1
        gate.touch()
        for rt in runtimes:
            assert wait_done(ex, rt, timeout=60).result is not None
        wait_until(lambda: sorted(ended) == sorted(p.run_dir for p in plans), timeout=30)
        wait_until(lambda: not waiters[0].is_alive(), timeout=30)
        for rt in runtimes:  # reaped: no zombie left behind
            assert not Path(f"/proc/{rt['pid']}").exists()
    finally:
        gate.touch()
        ex.close()
