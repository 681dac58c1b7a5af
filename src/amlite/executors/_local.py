"""The local executor: one supervisor process per job on this machine.

The supervisor (``supervisor.py``, stdlib only) is started in its own session, so jobs outlive
the server; everything the server needs to know later is in the run directory.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from amlite.executors._base import Executor, RunPlan, RunReport
from amlite.executors.procs import is_same_process_alive, process_start_time
from amlite.executors.run_files import (
    prepare_run_dir,
    read_events,
    read_result,
    request_cancel,
    run_dir_of,
)

SUPERVISOR = str(Path(__file__).with_name("supervisor.py"))


class LocalExecutor(Executor):
    """Runs each plan under ``python -S -E supervisor.py RUN_DIR``.

    To keep Python's start-up (~20 ms) off each job's path, one spare supervisor is started
    ahead of time (``supervisor.py --wait``, its imports done) and told its run directory on
    stdin when a job starts. A spare exits when its stdin closes (the server stopped).

    ``on_exit(run_dir)`` is called from a daemon thread as soon as a supervisor this
    executor started ends, so the scheduler can react without polling.
    """

    def __init__(self, on_exit: Callable[[str], None] | None = None, *, spare: bool = True) -> None:
        self._on_exit = on_exit
        self._keep_spare = spare
        self._spare: subprocess.Popen[bytes] | None = None
        self._lock = threading.Lock()

    def start(self, plan: RunPlan) -> dict[str, Any]:
        run_dir = prepare_run_dir(plan)
        proc = self._assign_spare(run_dir) or self._spawn(run_dir)
        runtime = {
            "runDir": str(run_dir),
            "pid": proc.pid,
            "pidStart": process_start_time(proc.pid),
            "host": socket.gethostname(),
        }
        threading.Thread(
            target=self._wait,
            args=(proc, str(run_dir)),
            name=f"amlite-wait-{proc.pid}",
            daemon=True,
        ).start()
        if self._keep_spare:
            self._refill()
        return runtime

    def close(self) -> None:
        """Let the spare supervisor go (it exits when its stdin closes)."""
        with self._lock:
            spare, self._spare = self._spare, None
        if spare is not None and spare.stdin is not None:
            with contextlib.suppress(OSError):
                spare.stdin.close()
            with contextlib.suppress(subprocess.TimeoutExpired):
                spare.wait(5)

    def _spawn(self, run_dir: Path | None) -> subprocess.Popen[bytes]:
        args = [sys.executable, "-S", "-E", SUPERVISOR, str(run_dir) if run_dir else "--wait"]
        err_path = run_dir / "supervisor.stderr" if run_dir else os.devnull
        with open(err_path, "ab") as err:
            return subprocess.Popen(
                args,
                stdin=subprocess.PIPE if run_dir is None else subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=err,
                start_new_session=True,
                close_fds=True,
            )

    def _assign_spare(self, run_dir: Path) -> subprocess.Popen[bytes] | None:
        with self._lock:
            spare, self._spare = self._spare, None
        if spare is None or spare.poll() is not None or spare.stdin is None:
            return None
        try:
            spare.stdin.write(f"{run_dir}\n".encode())
            spare.stdin.close()
        except OSError:
            return None
        return spare

    def _refill(self) -> None:
        with self._lock:
            if self._spare is None:
                self._spare = self._spawn(None)

    def _wait(self, proc: subprocess.Popen[bytes], run_dir: str) -> None:
        proc.wait()
        if self._on_exit is not None:
            with contextlib.suppress(Exception):
                self._on_exit(run_dir)

    def cancel(self, runtime: dict[str, Any], reason: str) -> None:
        try:
            if not request_cancel(run_dir_of(runtime), reason):
                return
        except OSError:  # the run directory is gone (deleted while starting): signal anyway
            pass
        pid = int(runtime.get("pid") or 0)
        if is_same_process_alive(pid, runtime.get("pidStart")):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)

    def recover(self, run_dir: str) -> dict[str, Any] | None:
        """Runtime of a supervisor a stopped server started but never recorded, read from
        its ``supervisor.pid``; None if no supervisor ever started there."""
        try:
            fields = (Path(run_dir) / "supervisor.pid").read_text().split()
        except OSError:
            return None
        if not fields or not fields[0].isdigit():
            return None
        start = int(fields[1]) if len(fields) > 1 and fields[1].isdigit() else None
        return {
            "runDir": run_dir,
            "pid": int(fields[0]),
            "pidStart": start,
            "host": socket.gethostname(),
        }

    def report(self, runtime: dict[str, Any]) -> RunReport:
        run_dir = run_dir_of(runtime)
        alive = is_same_process_alive(int(runtime.get("pid") or 0), runtime.get("pidStart"))
        # read the result after the liveness check: a supervisor that ends in between
        # has written its result before exiting
        return RunReport(events=read_events(run_dir), result=read_result(run_dir), alive=alive)
