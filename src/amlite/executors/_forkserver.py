"""Supervisors forked by a fork server (``supervisor.forkserver``), and the process handle the
local executor follows a supervisor through, whichever way it was started.

A supervisor started with ``subprocess.Popen`` costs Python's start-up and the supervisor's
imports (≈ 40-50 ms of CPU) on the machine the jobs run on; one forked by the fork server
costs a ``fork``. The fork server is not the server's child's parent: its children are
followed through their ``--notify`` pipe (as before) and a pidfd (for ``poll``/``wait``), and
reaped by the kernel; their exit status is not known here (``returncode`` is 0 once they are
gone), which the executor never needed: a run's outcome is its ``result.json``.
"""

from __future__ import annotations

import os
import select
import socket
import subprocess
import threading
from typing import IO, Protocol

from amlite.executors.supervisor.forkserver import PID, SPARE

ANSWER_SECONDS = 10.0
"""How long a fork may take before the fork server counts as gone (it forks in ≈ 1 ms)."""


class SupervisorProcess(Protocol):
    """What the local executor uses of a supervisor's process (``subprocess.Popen[bytes]``
    or ``ForkedSupervisor``)."""

    pid: int
    stdin: IO[bytes] | None
    stdout: IO[bytes] | None

    def poll(self) -> int | None: ...

    def wait(self, timeout: float | None = None) -> int: ...


class ForkServerGone(OSError):
    """The fork server did not answer: the caller starts its supervisor another way."""


class ForkedSupervisor:
    """A supervisor forked by the fork server: ``stdin`` (for ``--wait``) and ``stdout`` (the
    ``--notify`` pipe) as a ``Popen`` would have them, ``poll``/``wait`` through a pidfd."""

    def __init__(self, pid: int, stdin: int | None, stdout: int) -> None:
        self.pid = pid
        self.stdin: IO[bytes] | None = open(stdin, "wb") if stdin is not None else None  # noqa: SIM115
        self.stdout: IO[bytes] | None = open(stdout, "rb", buffering=0)  # noqa: SIM115
        self.returncode: int | None = None
        try:
            self._pidfd = os.pidfd_open(pid)
        except ProcessLookupError:  # gone already
            self._pidfd = -1
            self.returncode = 0

    def poll(self) -> int | None:
        return self._wait(0)

    def wait(self, timeout: float | None = None) -> int:
        code = self._wait(timeout)
        if code is None:
            raise subprocess.TimeoutExpired(f"supervisor {self.pid}", timeout or 0)
        return code

    def _wait(self, timeout: float | None) -> int | None:
        if self.returncode is None:
            ready, _, _ = select.select([self._pidfd], [], [], timeout)
            if ready:
                os.close(self._pidfd)
                self._pidfd = -1
                self.returncode = 0
        return self.returncode


class ForkServer:
    """One fork server process, started with ``argv + ["--fork-server"]`` and ``env`` (what
    every supervisor it forks inherits), until ``close``."""

    def __init__(self, argv: list[str], env: dict[str, str]) -> None:
        _check_pidfd()
        self.env = env
        self._lock = threading.Lock()
        self._sock, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        self._sock.settimeout(ANSWER_SECONDS)
        try:
            self._proc = subprocess.Popen(
                [*argv, "--fork-server"],
                env=env,
                stdin=theirs.fileno(),
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                start_new_session=True,
                close_fds=True,
            )
        except BaseException:
            self._sock.close()
            raise
        finally:
            theirs.close()

    def spare(self) -> ForkedSupervisor:
        """A supervisor waiting for its run directory on ``stdin`` (``--wait``)."""
        stdin_r, stdin_w = os.pipe()
        try:
            err = os.open(os.devnull, os.O_WRONLY)
            try:
                return self._fork(SPARE, stdin_r, err, stdin_w)
            finally:
                os.close(err)
        except BaseException:
            os.close(stdin_w)
            raise
        finally:
            os.close(stdin_r)

    def start(self, run_dir: str, err_path: str) -> ForkedSupervisor:
        """A supervisor running ``run_dir`` now, its standard error appended to
        ``err_path``."""
        stdin = os.open(os.devnull, os.O_RDONLY)
        try:
            err = os.open(err_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
            try:
                return self._fork(os.fsencode(run_dir), stdin, err, None)
            finally:
                os.close(err)
        finally:
            os.close(stdin)

    def _fork(self, request: bytes, stdin: int, err: int, keep: int | None) -> ForkedSupervisor:
        out_r, out_w = os.pipe()
        try:
            with self._lock:
                try:
                    socket.send_fds(self._sock, [request], [stdin, out_w, err])
                    reply = self._sock.recv(PID.size, socket.MSG_WAITALL)
                except OSError as exc:
                    raise ForkServerGone(f"the fork server did not answer: {exc}") from exc
            if len(reply) != PID.size:
                raise ForkServerGone("the fork server stopped")
        except BaseException:
            os.close(out_r)
            raise
        finally:
            os.close(out_w)
        (pid,) = PID.unpack(reply)
        return ForkedSupervisor(pid, keep, out_r)

    def alive(self) -> bool:
        return self._proc.poll() is None

    def close(self) -> None:
        """Stop the fork server (EOF on its socket); the supervisors it forked keep running."""
        self._sock.close()
        try:
            self._proc.wait(5)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait()


def _check_pidfd() -> None:
    """Forked supervisors are followed through pidfds (Linux 5.3 and later): OSError where
    there are none, and supervisors are then started with ``Popen``."""
    if not hasattr(os, "pidfd_open"):
        raise OSError("no pidfd_open on this platform")
    os.close(os.pidfd_open(os.getpid()))
