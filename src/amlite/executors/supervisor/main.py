"""The supervisor's run: plan in, ``result.json`` out (see the package's docstring)."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import sys
from typing import Any

from . import contract
from .bwrap import own_python_prefixes, sandboxed
from .command import Outcome, process_specs, run_command
from .contract import CANCELED, COMPLETED, FAILED, RunResult
from .control import Canceled, StartError, State, SystemLog, check_cancel, on_sigterm
from .environments import build_environment
from .jobenv import command_env
from .procs import process_start_time
from .steps import run_step, step_text
from .sync import output_sync

GO = "go"
"""The line that starts a spare told its run directory (``wait_for_run_dir``)."""
USAGE = "usage: python -S -E .../executors/supervisor [--notify] RUN_DIR | --wait | --fork-server\n"

own_python_prefixes()  # what a sandbox keeps visible of this Python: found before the job


def supervise(run_dir: str, plan: dict[str, Any] | None = None) -> RunResult:
    """Run ``plan`` (read from ``run_dir`` if not given) and return how it ended."""
    if plan is None:
        plan = contract.read_plan(run_dir)
    if plan is None:
        raise RuntimeError(f"no readable {contract.PLAN} in {run_dir}")
    artifacts = plan["artifacts_dir"]
    system_logs = os.path.join(artifacts, "system_logs")
    os.makedirs(os.path.join(artifacts, "user_logs"), exist_ok=True)
    log = SystemLog(os.path.join(system_logs, "supervisor.log"))
    log.write(f"supervisor {os.getpid()} for {plan.get('job_id')}")
    try:
        result = _supervise(plan, run_dir, system_logs, log)
        log.write(f"outcome {result.outcome}" + (f": {result.reason}" if result.reason else ""))
        return result
    finally:
        log.close()


def _supervise(plan: dict[str, Any], run_dir: str, system_logs: str, log: SystemLog) -> RunResult:
    if plan.get("fail_reason"):
        return RunResult.failed(plan["fail_reason"])
    contract.append_event(run_dir, contract.RUNNING)
    boxed = sandboxed(plan)
    # what file steps are confined to: the job's run directory (a node of a multi-node
    # Ray job has its own run_dir below it, and its working directory beside that)
    job_run_dir = plan.get("job_run_dir") or run_dir
    log.write("sandbox: " + ("bwrap" if boxed else "none (the job runs unconfined)"))
    try:
        ended = _prepare_and_run(plan, run_dir, job_run_dir, system_logs, log)
    except StartError as exc:
        log.write(str(exc))
        return RunResult.failed(str(exc))
    except Exception as exc:
        log.write(f"preparation failed: {exc!r}")
        return RunResult.failed(f"preparation failed: {exc}")
    outcome, reason = _decide(ended, run_dir, several=len(process_specs(plan)) > 1)
    contract.append_event(run_dir, contract.FINALIZING)
    set_aside(os.path.join(run_dir, "tmp"), set_aside_path(run_dir))
    for step in plan.get("finalize") or []:
        try:
            run_step(step, job_run_dir, boxed, confine=job_run_dir)
        except Exception as exc:
            log.write(f"finalize step {step_text(step)} failed: {exc!r}")
            if outcome == COMPLETED:
                outcome, reason = FAILED, f"finalizing failed: {exc}"
    return RunResult(ended.code, outcome, reason, contract.now_iso())


def _prepare_and_run(
    plan: dict[str, Any], run_dir: str, job_run_dir: str, system_logs: str, log: SystemLog
) -> Outcome:
    """The prepare steps, the environment, the command; a cancel before the command ends
    is an ``Outcome`` without code or reason."""
    boxed = sandboxed(plan)
    try:
        if boxed:
            os.makedirs(os.path.join(run_dir, "home"), exist_ok=True)
        for step in plan.get("prepare") or []:
            check_cancel()
            run_step(step, job_run_dir, boxed)
        venv = None
        if plan.get("environment"):
            check_cancel()
            venv = build_environment(plan, system_logs, log)
        check_cancel()
        with output_sync(plan, job_run_dir, log):
            return run_command(plan, command_env(plan, venv), log)
    except Canceled:
        return Outcome(None, None)


def _decide(ended: Outcome, run_dir: str, *, several: bool) -> tuple[str, str | None]:
    """The outcome and reason of how the command ended."""
    others = "; the other processes were stopped" if several else ""
    code, who = ended.code, ended.failed
    if ended.why is None:
        return CANCELED, contract.cancel_reason(run_dir)
    if ended.why:
        return CANCELED, ended.why
    if code == 0:
        return COMPLETED, None
    if code is not None and code < 0:
        return FAILED, f"{who} killed by signal {-code}{others}"
    return FAILED, f"{who} exited with code {code}{others}"


def set_aside_path(run_dir: str) -> str:
    """Where this supervisor moves the run's ``tmp`` (the job's ``/tmp`` in a sandbox) when
    the command has ended; it is removed once the result is handed over (``main``). A
    supervisor killed in between leaves it in the run directory, removed with it."""
    return os.path.join(run_dir, f".tmp.{os.getpid()}.old")


def set_aside(path: str, aside: str) -> None:
    """Rename ``path`` to ``aside``: one system call, where removing a tree takes a few per
    entry; under a name of this process's, so that removing it later cannot touch the
    ``tmp`` of a next attempt in the same run directory. Removed at once if it cannot be
    renamed (``aside`` a full directory a process of the same pid left)."""
    try:
        os.rename(path, aside)
    except FileNotFoundError:
        pass
    except OSError:
        shutil.rmtree(path, ignore_errors=True)


def take_notify_fd() -> int:
    """Keep the server's pipe (standard output) on a private descriptor that no child
    inherits, and point standard output at /dev/null."""
    fd = os.dup(1)  # non-inheritable (PEP 446)
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    os.close(devnull)
    return fd


def sync_file(path: str) -> None:
    """Flush a file and its directory entry to disk."""
    for target in (path, os.path.dirname(path) or "."):
        with contextlib.suppress(OSError):
            fd = os.open(target, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)


def wait_for_run_dir() -> tuple[str, int] | None:
    """A spare supervisor, started ahead of time with ``--wait``, is told its run directory
    on stdin (None: EOF, the server stopped), then ``go`` (``wait_for_go``): at once for a
    job that starts now; later for a staged one (``Executor.stage``: it waits, ready, for a
    run of its group to end). Also returns its ``stderr`` file, opened."""
    line = sys.stdin.readline().strip()
    if not line:
        return None
    err = os.open(
        os.path.join(line, contract.STDERR), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644
    )
    return line, err


def wait_for_go(err: int) -> bool:
    """Wait for ``go``; then standard error goes to ``err`` and standard input is closed.
    EOF first (the server stopped, or withdrew the staged job): False, and nothing of the
    run's state was touched: the job was not started."""
    if sys.stdin.readline().strip() != GO:
        os.close(err)
        return False
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.close(devnull)
    os.dup2(err, 2)
    os.close(err)
    return True


def _handle_signals() -> None:
    """SIGTERM is a cancel, and wakes any wait at once (``State.wakeup_fd``); SIGHUP is
    ignored (the supervisor outlives the terminal that started the server)."""
    signal.signal(signal.SIGTERM, on_sigterm)
    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_r, False)
    os.set_blocking(wake_w, False)
    signal.set_wakeup_fd(wake_w)
    State.wakeup_fd = wake_r
    signal.signal(signal.SIGHUP, signal.SIG_IGN)


def main(argv: list[str]) -> int:
    args = argv[1:]
    if args == ["--fork-server"]:
        from .forkserver import serve  # imports this module: not at the top

        return serve()
    notify = bool(args) and args[0] == "--notify"
    if notify:
        args = args[1:]
    if len(args) != 1:
        sys.stderr.write(USAGE)
        return 2
    notify_fd = take_notify_fd() if notify else None
    started_at = process_start_time(os.getpid())
    if args[0] == "--wait":
        told = wait_for_run_dir()
        if told is None:
            return 0
        run_dir, err = os.path.abspath(told[0]), told[1]
    else:
        run_dir, err = os.path.abspath(args[0]), -1
    # what can be done before ``go`` without touching the run's state (a staged spare
    # does it while it waits): the signals, the plan read
    State.run_dir = run_dir
    _handle_signals()
    plan = contract.read_plan(run_dir)  # None: ``supervise`` fails the job with the reason
    if err >= 0 and not wait_for_go(err):
        return 0
    contract.write_pid(run_dir, os.getpid(), started_at)
    try:
        res = supervise(run_dir, plan)
    except BaseException as exc:  # the result must always be written
        res = RunResult.failed(f"supervisor error: {exc!r}")
    result_path = contract.write_result(run_dir, res, sync=notify_fd is None)
    if notify_fd is not None:
        os.close(notify_fd)  # the server reads the result now
        sync_file(result_path)
    shutil.rmtree(set_aside_path(run_dir), ignore_errors=True)  # the run's tmp (``_supervise``)
    return 0
