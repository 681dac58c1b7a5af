"""The local executor: one supervisor process per job on this machine.

The supervisor (the ``supervisor`` package, stdlib only, run by path) is started in its own
session, so jobs outlive the server; everything the server needs to know later is in the run
directory (``supervisor.contract``).
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import selectors
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from amlite.executors._base import (
    AlreadyStarted,
    Executor,
    Launch,
    RunPlan,
    RunReport,
    SandboxSpec,
    check_guard,
)
from amlite.executors._forkserver import ForkServer, ForkServerGone, SupervisorProcess
from amlite.executors.run_files import (
    RUN_DIR,
    lock_run_dir,
    prepare_run_dir,
    read_events,
    read_result,
    request_cancel,
    run_dir_of,
)
from amlite.executors.supervisor import ENTRY_POINT as SUPERVISOR
from amlite.executors.supervisor import contract
from amlite.executors.supervisor.jobenv import job_environ, supervisor_settings
from amlite.executors.supervisor.main import GO
from amlite.executors.supervisor.procs import pid_alive, process_start_time

SPARES = 2
"""How many spare supervisors wait for a job: two jobs ending at about the same time (a
sweep at maxConcurrentTrials 2) both find one."""


class LocalExecutor(Executor):
    """Runs each plan under ``python -S -E .../executors/supervisor RUN_DIR``.

    To keep Python's start-up (~20 ms) off each job's path, ``spares`` spare supervisors are
    started ahead of time (``supervisor --wait``, their imports done) and one is told its
    run directory on stdin when a job starts. They are started again by a background thread,
    off the starting job's path. A spare exits when its stdin closes (the server stopped).
    Supervisors are forked by a fork server (``_forkserver``), which spares the machine
    Python's start-up and imports for each (≈ 40-50 ms of CPU, taken from the jobs running
    on it); ``fork_server=False``, or a fork server that does not answer, starts them with
    ``subprocess.Popen``.

    ``on_exit(run_dir)`` is called from a daemon thread as soon as a supervisor this
    executor started has written its result (it closes its standard output, a pipe, before
    syncing the result to disk and exiting) or has died, so the scheduler can react
    without polling.

    A staged plan (``stage``) takes a spare at once: the spare is told its run directory and
    waits for ``go``, which ``_ended`` writes as soon as a run of the same ``slot_group``
    ends, in the waiter thread, before the scheduler hears of that end. The job is recorded
    Running afterwards (``launched``).

    ``sandbox`` confines every job this executor starts (``amlite.executors.sandbox``); the
    supervisors never inherit the server's settings (``job_environ``).
    """

    def __init__(
        self,
        on_exit: Callable[[str], None] | None = None,
        *,
        spare: bool = True,
        spares: int = SPARES,
        sandbox: SandboxSpec | None = None,
        fork_server: bool = True,
    ) -> None:
        self._on_exit = on_exit
        self._sandbox = sandbox
        self._keep = max(0, spares) if spare else 0
        self._spares: list[SupervisorProcess] = []
        self._lock = threading.Lock()
        self._want = threading.Event()
        self._closed = False
        self._refiller: threading.Thread | None = None
        self._waiter = _Waiter(self._ended)
        self._deferred = threading.local()
        """``deferring``: the work each thread's starts left for the end of its block."""
        self._staged: dict[str, _Staged] = {}
        """Staged plans by run directory, until returned by ``launched``, ``go`` or
        ``withdraw`` (guarded by ``_lock``)."""
        self._went: list[str] = []
        """Run directories of staged plans started by ``_ended``, not yet returned."""
        self._groups: dict[str, str] = {}
        """The ``slot_group`` of each run this executor started that has one, by run dir."""
        self._forking = fork_server
        self._fork_server: ForkServer | None = None
        self._fork_lock = threading.Lock()
        """Guards ``_fork_server`` (starting one takes ~50 ms: not under ``_lock``)."""

    def start(self, plan: RunPlan, guard: Callable[[], bool] | None = None) -> dict[str, Any]:
        plan = self._confined(plan)
        lock, run_dir = self._prepare(plan)
        try:
            check_guard(guard)
            proc = self._assign_spare(run_dir) or self._spawn(run_dir)
        except BaseException:
            os.close(lock)
            raise
        runtime = _runtime_of(run_dir, proc)
        if plan.slot_group:
            with self._lock:
                self._groups[str(run_dir)] = plan.slot_group
        pending: list[Callable[[], None]] | None = getattr(self._deferred, "pending", None)
        self._waiter.add(proc, str(run_dir), lock, wake=pending is None)
        if pending is not None:  # ``deferring``: at the end of the block
            pending.append(self._waiter.wake)
            if self._keep:
                pending.append(self._want_spares)
        elif self._keep:
            self._want_spares()
        return runtime

    def _confined(self, plan: RunPlan) -> RunPlan:
        if plan.sandbox is None and self._sandbox is not None:
            return dataclasses.replace(plan, sandbox=self._sandbox)
        return plan

    def _prepare(self, plan: RunPlan) -> tuple[int, Path]:
        """Lock the plan's run directory (held until the supervisor exits) and write it."""
        lock = lock_run_dir(plan.run_dir)
        try:
            running = contract.read_pid(plan.run_dir)
            if running and pid_alive(*running) and not contract.read_result(plan.run_dir):
                raise AlreadyStarted(f"a supervisor (pid {running[0]}) already runs {plan.run_dir}")
            return lock, prepare_run_dir(plan)
        except BaseException:
            os.close(lock)
            raise

    # -- staged starts ---------------------------------------------------------------------
    def stage(self, plan: RunPlan, guard: Callable[[], bool] | None = None) -> bool:
        if not plan.slot_group or not self._keep:
            return False
        with self._lock:
            if not self._spares or self._closed:
                return False  # no spare ready: the plan starts cold when its turn comes
        plan = self._confined(plan)
        lock, run_dir = self._prepare(plan)
        try:
            check_guard(guard)
            proc = self._assign_spare(run_dir, go=False)
        except BaseException:
            os.close(lock)
            raise
        if proc is None:
            os.close(lock)
            return False
        staged = _Staged(str(run_dir), proc, lock, plan.slot_group, _runtime_of(run_dir, proc))
        with self._lock:
            self._staged[staged.run_dir] = staged
        self._want_spares()
        return True

    def go(self, run_dir: str) -> Launch | None:
        with self._lock:
            staged, launch = self._take_locked(run_dir)
            if staged is None or launch is not None:
                return launch
            launch = self._go_locked(staged)
        self._follow(staged, launch)
        return launch

    def withdraw(self, run_dir: str) -> Launch | None:
        with self._lock:
            staged, launch = self._take_locked(run_dir)
        if staged is not None and launch is None:
            self._let_go(staged)
        return launch

    def _take_locked(self, run_dir: str) -> tuple[_Staged | None, Launch | None]:
        """Remove the plan staged in ``run_dir`` (``_lock`` held): it, and its ``Launch`` if
        it went already (then returned here, not by ``launched``)."""
        staged = self._staged.pop(run_dir, None)
        if staged is None or staged.launch is None:
            return staged, None
        self._went.remove(run_dir)
        return staged, staged.launch

    def launched(self) -> list[Launch]:
        with self._lock:
            went, self._went = self._went, []
            return [launch for rd in went if (launch := self._staged.pop(rd).launch)]

    def _go_locked(self, staged: _Staged) -> Launch | None:
        """Tell a staged spare to start (``_lock`` held); None if it is gone (it then starts
        cold when the scheduler gets to it)."""
        stdin = staged.proc.stdin
        try:
            assert stdin is not None
            stdin.write(f"{GO}\n".encode())
            stdin.close()
        except (OSError, ValueError):
            return None
        if staged.group:
            self._groups[staged.run_dir] = staged.group
        staged.launch = Launch(staged.run_dir, staged.runtime, datetime.now(UTC))
        return staged.launch

    def _follow(self, staged: _Staged, launch: Launch | None) -> None:
        """After ``_go_locked``: follow the started supervisor, or let go of a dead spare."""
        if launch is None:
            self._let_go(staged)
        else:
            self._waiter.add(staged.proc, staged.run_dir, staged.lock)

    def _let_go(self, staged: _Staged) -> None:
        """A staged spare that will not start: closing its stdin makes it exit untouched; its
        run directory's lock is released once it is gone."""
        with contextlib.suppress(OSError, ValueError):
            if staged.proc.stdin is not None:
                staged.proc.stdin.close()
        self._waiter.add(staged.proc, "", staged.lock)

    @contextlib.contextmanager
    def deferring(self) -> Iterator[None]:
        pending: list[Callable[[], None]] = []
        self._deferred.pending = pending
        try:
            yield
        finally:
            self._deferred.pending = None
            for work in pending:
                work()

    def close(self) -> None:
        """Let the spare supervisors go (each exits when its stdin closes)."""
        with self._lock:
            self._closed = True
            spares, self._spares = self._spares, []
            refiller = self._refiller
            staged = [s for s in self._staged.values() if s.launch is None]
            for each in staged:
                del self._staged[each.run_dir]
        self._want.set()
        if refiller is not None:
            refiller.join(10)
        for spare in spares:
            _release(spare)
        for each in staged:
            _release(each.proc)
            os.close(each.lock)
        with self._fork_lock:
            server, self._fork_server = self._fork_server, None
        if server is not None:
            server.close()

    def _spawn(self, run_dir: Path | None) -> SupervisorProcess:
        """A supervisor for ``run_dir`` (None: a spare), forked if a fork server answers."""
        env = {**job_environ(os.environ), **supervisor_settings(os.environ)}
        err_path = run_dir / contract.STDERR if run_dir else os.devnull
        server = self._fork_server_for(env)
        if server is not None:
            try:
                return server.start(str(run_dir), str(err_path)) if run_dir else server.spare()
            except ForkServerGone:
                self._drop_fork_server(server)
        args = [sys.executable, "-S", "-E", SUPERVISOR, "--notify"]
        args.append(str(run_dir) if run_dir else "--wait")
        with open(err_path, "ab") as err:
            return subprocess.Popen(
                args,
                env=env,
                stdin=subprocess.PIPE if run_dir is None else subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=err,
                start_new_session=True,
                close_fds=True,
            )

    def _fork_server_for(self, env: dict[str, str]) -> ForkServer | None:
        """The fork server, started (again) if it is not running with ``env``; None if
        supervisors are not forked."""
        with self._fork_lock:
            server = self._fork_server
            if not self._forking or self._closed:
                return None
            if server is not None and (server.env != env or not server.alive()):
                server.close()
                server = self._fork_server = None
            if server is None:
                try:
                    server = ForkServer([sys.executable, "-S", "-E", SUPERVISOR], env)
                except OSError:
                    self._forking = False  # cannot start one: Popen from now on
                    return None
                self._fork_server = server
            return server

    def _drop_fork_server(self, server: ForkServer) -> None:
        """``server`` did not answer: stop it; the next supervisor starts another."""
        with self._fork_lock:
            if self._fork_server is server:
                self._fork_server = None
        server.close()

    def _assign_spare(self, run_dir: Path, *, go: bool = True) -> SupervisorProcess | None:
        """Tell a spare its run directory, and ``go`` unless staged (its stdin then stays
        open for ``_go_locked``); None if no spare is ready."""
        while True:
            with self._lock:
                if not self._spares:
                    return None
                spare = self._spares.pop(0)
            if spare.poll() is not None or spare.stdin is None:
                continue
            try:
                spare.stdin.write(f"{run_dir}\n{GO}\n".encode() if go else f"{run_dir}\n".encode())
                if go:
                    spare.stdin.close()
                else:
                    spare.stdin.flush()
            except OSError:
                continue
            return spare

    def _want_spares(self) -> None:
        with self._lock:
            if self._closed:
                return
            if self._refiller is None:
                self._refiller = threading.Thread(
                    target=self._refill, name="amlite-spares", daemon=True
                )
                self._refiller.start()
        self._want.set()

    def _refill(self) -> None:
        """Keep ``spares`` spare supervisors waiting (a background thread)."""
        while True:
            self._want.wait()
            self._want.clear()
            while True:
                with self._lock:
                    if self._closed:
                        return
                    if len(self._spares) >= self._keep:
                        break
                try:
                    spare = self._spawn(None)
                except OSError:
                    break  # jobs start cold until the next one asks again
                with self._lock:
                    if not self._closed:
                        self._spares.append(spare)
                        continue
                _release(spare)
                return

    def _ended(self, run_dir: str) -> None:
        """A supervisor ended (the waiter thread): a plan staged in its group starts now,
        then the scheduler hears of the end."""
        with self._lock:
            group = self._groups.pop(run_dir, None)
            waiting = [s for s in self._staged.values() if s.launch is None]
            staged = next((s for s in waiting if group and s.group == group), None)
            launch = self._go_locked(staged) if staged is not None else None
            if launch is not None:
                self._went.append(launch.run_dir)
            elif staged is not None:  # its spare is gone: it starts cold in its turn
                del self._staged[staged.run_dir]
        if staged is not None:
            self._follow(staged, launch)
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
        if pid_alive(pid, runtime.get("pidStart")):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)

    def recover(self, run_dir: str) -> dict[str, Any] | None:
        """Runtime of a supervisor a stopped server started but never recorded, read from
        its ``supervisor.pid``; None if no supervisor ever started there."""
        found = contract.read_pid(run_dir)
        if found is None:
            return None
        pid, start = found
        return {
            RUN_DIR: run_dir,
            "pid": pid,
            "pidStart": start,
            "host": socket.gethostname(),
        }

    def report(self, runtime: dict[str, Any]) -> RunReport:
        run_dir = run_dir_of(runtime)
        alive = pid_alive(int(runtime.get("pid") or 0), runtime.get("pidStart"))
        # read the result after the liveness check: a supervisor that ends in between
        # has written its result before exiting
        return RunReport(events=read_events(run_dir), result=read_result(run_dir), alive=alive)


class _Waiter:
    """One daemon thread that follows every supervisor this executor started: the end of
    file on a supervisor's standard output (the result is written, or it died) calls
    ``ended(run_dir)`` after releasing the run directory's start lock (``lock_run_dir``:
    from then on the result is there, or the supervisor is gone); the process is reaped
    once it has exited. One thread for all of them, so starting a job starts no thread (a
    thread's start waits for it to be scheduled, on the starting job's path)."""

    def __init__(self, ended: Callable[[str], None]) -> None:
        self._ended = ended
        self._lock = threading.Lock()
        self._added: list[tuple[SupervisorProcess, str, int]] = []
        self._thread: threading.Thread | None = None
        self._wake_r, self._wake_w = -1, -1

    def add(self, proc: SupervisorProcess, run_dir: str, lock: int, *, wake: bool = True) -> None:
        """Follow ``proc``; unless ``wake``, not before the next ``wake``."""
        if proc.stdout is None:  # no pipe to watch: a thread of its own waits for the exit
            threading.Thread(
                target=self._exit_of, args=(proc, run_dir, lock), name="amlite-wait", daemon=True
            ).start()
            return
        with self._lock:
            self._added.append((proc, run_dir, lock))
            if self._thread is None:
                self._wake_r, self._wake_w = os.pipe()
                os.set_blocking(self._wake_w, False)
                self._thread = threading.Thread(target=self._run, name="amlite-wait", daemon=True)
                self._thread.start()
            if wake:
                self._wake_locked()

    def wake(self) -> None:
        """Let the thread take up what was added."""
        with self._lock:
            if self._thread is not None:  # else nothing is left to take up
                self._wake_locked()

    def _wake_locked(self) -> None:
        with contextlib.suppress(BlockingIOError):  # a full pipe: a wake-up is pending
            os.write(self._wake_w, b"\0")

    def _exit_of(self, proc: SupervisorProcess, run_dir: str, lock: int) -> None:
        try:
            proc.wait()
        finally:
            os.close(lock)  # the run directory may be started again
        self._ended(run_dir)

    def _run(self) -> None:
        """Until nothing is left to follow (then the thread ends; the next ``add`` starts
        another)."""
        sel = selectors.DefaultSelector()
        sel.register(self._wake_r, selectors.EVENT_READ)
        exiting: list[SupervisorProcess] = []  # ended: reaped once they have exited
        while True:
            if not exiting and len(sel.get_map()) == 1:
                with self._lock:
                    if not self._added:
                        self._thread = None
                        sel.close()
                        os.close(self._wake_r)
                        os.close(self._wake_w)
                        return
            for key, _ in sel.select(0.2 if exiting else None):
                if key.fd == self._wake_r:
                    os.read(self._wake_r, 4096)
                    with self._lock:
                        added, self._added = self._added, []
                    for proc, run_dir, lock in added:
                        assert proc.stdout is not None
                        sel.register(proc.stdout, selectors.EVENT_READ, (proc, run_dir, lock))
                    continue
                proc, run_dir, lock = key.data
                stdout = proc.stdout
                assert stdout is not None
                try:
                    more = os.read(stdout.fileno(), 65536)
                except OSError:
                    more = b""
                if more:
                    continue
                sel.unregister(stdout)
                with contextlib.suppress(OSError):
                    stdout.close()
                os.close(lock)  # the run directory may be started again
                if run_dir:  # else a staged spare let go of: nothing ran
                    self._ended(run_dir)
                exiting.append(proc)
            exiting = [proc for proc in exiting if proc.poll() is None]


@dataclass
class _Staged:
    """A spare told the run directory of a staged plan, waiting for ``go``."""

    run_dir: str
    proc: SupervisorProcess
    lock: int
    """The run directory's start lock (``lock_run_dir``), held from ``stage`` on."""
    group: str
    runtime: dict[str, Any]
    launch: Launch | None = None
    """Set when it was told to go."""


def _runtime_of(run_dir: Path, proc: SupervisorProcess) -> dict[str, Any]:
    return {
        RUN_DIR: str(run_dir),
        "pid": proc.pid,
        "pidStart": process_start_time(proc.pid),
        "host": socket.gethostname(),
    }


def _release(spare: SupervisorProcess) -> None:
    """Close a spare's stdin, which makes it exit, and reap it."""
    if spare.stdin is not None:
        with contextlib.suppress(OSError):
            spare.stdin.close()
    with contextlib.suppress(subprocess.TimeoutExpired):
        spare.wait(5)
    if spare.stdout is not None:
        spare.stdout.close()
