"""The command: its processes, each in its own process group, until they all end, one fails,
a cancel or the timeout."""

from __future__ import annotations

import os
import subprocess
import time
from typing import Any

from .bwrap import sandbox_argv, sandboxed
from .control import (
    CANCEL_POLL_SECONDS,
    KILL_GRACE_SECONDS,
    StartError,
    State,
    SystemLog,
    cancel_seen,
    wait_any,
)
from .procs import any_alive, group_alive, terminate_groups


class Outcome:
    """How the command's processes ended."""

    def __init__(self, code: int | None, why: str | None, failed: str = "command") -> None:
        self.code = code
        """The exit code: the first failing process's, else 0 (or the stopped one's)."""
        self.why = why
        """None: canceled; "": ended by itself; else why it was stopped (timeout)."""
        self.failed = failed
        """The name of the process whose code is reported."""


def process_specs(plan: dict[str, Any]) -> list[dict[str, Any]]:
    """The plan's processes; a plan without any runs one ``bash -c COMMAND``."""
    specs: list[dict[str, Any]] = plan.get("processes") or []
    return specs or [{"name": "command", "log": "user_logs/std_log.txt"}]


def start_processes(
    plan: dict[str, Any], env: dict[str, str], log: SystemLog
) -> list[subprocess.Popen[bytes]]:
    """Start every process, each in its own group, or none: when one cannot start, those
    already started are stopped and StartError says which."""
    specs = process_specs(plan)
    procs: list[subprocess.Popen[bytes]] = []
    box = sandbox_argv(plan) if sandboxed(plan) else []
    for spec in specs:
        log_path = os.path.join(plan["artifacts_dir"], spec["log"])
        os.makedirs(os.path.dirname(log_path), exist_ok=True)
        argv = [*box, *(spec.get("argv") or ["bash", "-c", plan["command"]])]
        try:
            with open(log_path, "ab", buffering=0) as out:
                proc = subprocess.Popen(
                    argv,
                    cwd=plan["working_dir"],
                    env={**env, **(spec.get("env") or {})},
                    stdin=subprocess.DEVNULL,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
        except OSError as exc:
            terminate_groups(procs, KILL_GRACE_SECONDS)
            raise StartError(f"cannot start {spec['name']}: {exc}") from exc
        procs.append(proc)
        label = "" if len(specs) == 1 else f" ({spec['name']}, log {spec['log']})"
        log.write(f"command started, pid {proc.pid}{label}")
    return procs


def run_command(plan: dict[str, Any], env: dict[str, str], log: SystemLog) -> Outcome:
    """Run the command's processes until they all end, one fails, a cancel or the timeout."""
    timeout = plan.get("timeout_seconds")
    names = [spec["name"] for spec in process_specs(plan)]
    log.write(f"command: {plan['command']}")
    procs = start_processes(plan, env, log)
    deadline = time.monotonic() + float(timeout) if timeout else None
    timed_out = False
    failed: int | None = None
    try:
        while not cancel_seen():
            codes = [p.poll() for p in procs]
            failed = next((i for i, c in enumerate(codes) if c not in (None, 0)), None)
            alive = [p for p, c in zip(procs, codes, strict=True) if c is None]
            if failed is not None or not alive:
                break
            left = None if deadline is None else deadline - time.monotonic()
            if left is not None and left <= 0:
                timed_out = True
                log.write(f"timeout after {timeout:g} s: stopping the process group")
                break
            wait_any(alive, CANCEL_POLL_SECONDS if left is None else min(left, CANCEL_POLL_SECONDS))
        if failed is not None and len(procs) > 1:
            log.write(f"{names[failed]} failed: stopping the other processes")
        if timed_out or State.cancel_requested or failed is not None:
            terminate_groups(procs, KILL_GRACE_SECONDS)
        else:
            reap_leftovers(procs)
    except BaseException:  # never leave a rank running
        terminate_groups(procs, KILL_GRACE_SECONDS)
        raise
    codes = [p.returncode for p in procs]
    if len(procs) == 1:
        log.write(f"command ended with code {codes[0]}")
    else:
        for name, c in zip(names, codes, strict=True):
            log.write(f"{name} ended with code {c}")
    if failed is None:
        failed = next((i for i, c in enumerate(codes) if c != 0), 0)
    code, name = codes[failed], names[failed]
    if timed_out:
        return Outcome(code, f"timeout after {timeout:g} s", name)
    if State.cancel_requested:
        return Outcome(code, None, name)
    return Outcome(code, "", name)


def reap_leftovers(procs: list[subprocess.Popen[bytes]]) -> None:
    """Background processes the command left in its groups end with it. A group that holds
    only zombies has nothing left to stop (a sandbox's own init stays one, in the command's
    group, until the machine's init reaps it): ``group_alive`` counts them, so the process
    table is read once before stopping anything."""
    left = [p for p in procs if group_alive(p.pid)]
    if left and any_alive({p.pid for p in left}):
        terminate_groups(left, min(KILL_GRACE_SECONDS, 1.0))
