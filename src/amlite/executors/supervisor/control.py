"""The supervisor's own state: cancel (SIGTERM or the ``cancel_reason`` file), waiting on
processes while staying cancellable, its system log and the commands it runs to build."""

from __future__ import annotations

import contextlib
import os
import select
import signal
import subprocess
import time

from . import contract
from .jobenv import job_environ
from .procs import signal_group, terminate_group

KILL_GRACE_SECONDS = float(os.environ.get("AMLITE_KILL_GRACE_SECONDS") or 3.0)
"""How long a process group gets between SIGTERM and SIGKILL."""


CANCEL_POLL_SECONDS = 0.25
"""How often waits look for the ``cancel_reason`` file."""


class Canceled(Exception):
    """Raised between steps once a cancel was requested."""


class StartError(Exception):
    """A process of the command could not be started (the others were stopped)."""


class State:
    """What the SIGTERM handler needs to reach."""

    cancel_requested = False
    child: subprocess.Popen[bytes] | None = None
    """A build step's process."""
    wakeup_fd: int | None = None
    """Readable once a signal arrived (``signal.set_wakeup_fd``), so waits end at once."""
    run_dir: str | None = None
    """Where ``cancel_reason`` appears when the job is cancelled."""


def cancel_seen() -> bool:
    """Whether a cancel arrived, by signal or by the ``cancel_reason`` file."""
    run_dir = State.run_dir
    if not State.cancel_requested and run_dir is not None:
        State.cancel_requested = contract.cancel_requested(run_dir)
    return State.cancel_requested


def check_cancel() -> None:
    if cancel_seen():
        raise Canceled()


def on_sigterm(signum: int, frame: object) -> None:
    """A cancel. A build step is stopped here; the command's processes are stopped by
    ``run_command``, woken through the wakeup fd, which first finds their descendants."""
    State.cancel_requested = True
    child = State.child
    if child is not None and child.returncode is None:
        signal_group(child.pid, signal.SIGTERM)


def wait_any(procs: list[subprocess.Popen[bytes]], timeout: float | None) -> None:
    """Block until one of ``procs`` ends, a signal arrives, or ``timeout`` passes."""
    fds: list[int] = []
    try:
        try:
            fds = [os.pidfd_open(p.pid) for p in procs]
        except (AttributeError, OSError):  # no pidfds (old kernel): poll
            time.sleep(0.02 if timeout is None else max(0.0, min(0.02, timeout)))
            return
        wakeup = [] if State.wakeup_fd is None else [State.wakeup_fd]
        ready, _, _ = select.select(fds + wakeup, [], [], timeout)
        if State.wakeup_fd is not None and State.wakeup_fd in ready:
            with contextlib.suppress(OSError):
                os.read(State.wakeup_fd, 512)
    finally:
        for fd in fds:
            os.close(fd)


class SystemLog:
    """``supervisor.log``: a line per event, each one ``write`` (appended whole, at once)."""

    def __init__(self, path: str) -> None:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        self._fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o666)

    def write(self, message: str) -> None:
        data = memoryview(f"{contract.now_iso()} {message}\n".encode("utf-8", "replace"))
        while data:
            data = data[os.write(self._fd, data) :]

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1


def run_logged(argv: list[str], log_path: str, log: SystemLog) -> None:
    """Run a build command in its own group, output appended to ``log_path``; cancellable."""
    log.write("$ " + " ".join(argv[argv.index("--") + 1 :] if "--" in argv else argv))
    with open(log_path, "ab") as out:
        proc = subprocess.Popen(
            argv,
            env=job_environ(os.environ),
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        State.child = proc
        try:
            while True:
                try:
                    code = proc.wait(CANCEL_POLL_SECONDS)
                    break
                except subprocess.TimeoutExpired:
                    if cancel_seen():
                        terminate_group(proc, KILL_GRACE_SECONDS)
                        code = proc.wait()
                        break
        finally:
            State.child = None
    if State.cancel_requested:
        terminate_group(proc, KILL_GRACE_SECONDS)
        raise Canceled()
    if code != 0:
        shown = argv[argv.index("--") + 1 :] if "--" in argv else argv
        raise RuntimeError(f"{shown[0]} {shown[1]} exited with code {code} (see {log_path})")
