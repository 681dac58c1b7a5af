"""This server's place among the servers sharing one database (docs/high-availability.md).

On PostgreSQL several servers share the store. Each has a row in ``servers`` whose lease it
renews from a background thread (every third of ``AMLITE_LEASE_SECONDS``, on the
database's clock), and a job's ``owner`` names the server that runs it (or holds a sweep's
controller). A server takes a job by compare-and-set on the owner it read
(``Store.claim_job``), so of the servers racing for a job exactly one gets it; it takes over
a job whose owner is gone:

- an owner without a row left cleanly (its row is dropped when it stops) or was found dead
  on this machine (a server that starts drops the rows of this host whose process is gone):
  free at once;
- an owner whose lease expired may only be partitioned from the database: it is free for a
  server that has itself renewed its lease without a break for a whole lease period (so
  that after a database outage every server renews before any takes over another's jobs).

Every claim raises the job's ``owner_epoch``; the owner and that epoch are the fencing
token of the owner's writes (``fence``): a server that stalled (SIGSTOP, a long pause)
past its lease while another took its job or sweep over has its stale decisions refused by
the database (``amlite.store.Fence``), in the transaction that would have written them.

A job's process is followed by its owner only; a local job (a supervisor on one machine)
can be taken over by a server on the same machine only, a Ray job by any server.

On SQLite there is one server: ``join`` holds an exclusive lock on ``<database>.server-lock``
for the server's life and refuses a second one; the owner checks cost nothing there.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import secrets
import socket
import threading
import time
from collections.abc import Callable
from typing import IO, Any

from amlite.executors.supervisor.procs import pid_alive, process_start_time
from amlite.store import Fence, JobRecord, ServerRecord, Store
from amlite.store.availability import unavailable_reason

log = logging.getLogger("amlite.membership")

DEFAULT_LEASE_SECONDS = 15.0
DEFAULT_UNATTENDED_SECONDS = 86400.0
UNATTENDED = "unattended"
"""The key, in a started local job's runtime, of the note that its server is gone:
``{"server", "host", "since"}`` (valid while ``server`` is still the job's owner)."""


class SecondServer(RuntimeError):
    """Another server already uses this SQLite database."""


def lease_seconds() -> float:
    """``AMLITE_LEASE_SECONDS`` (how long a silent server keeps its jobs), at least 1."""
    value = os.environ.get("AMLITE_LEASE_SECONDS")
    try:
        return max(1.0, float(value)) if value else DEFAULT_LEASE_SECONDS
    except ValueError:
        return DEFAULT_LEASE_SECONDS


def unattended_seconds() -> float:
    """``AMLITE_UNATTENDED_JOB_SECONDS``: how long a local job whose machine has no live
    server stays Running before a server elsewhere fails it; 0: never."""
    value = os.environ.get("AMLITE_UNATTENDED_JOB_SECONDS")
    try:
        return max(0.0, float(value)) if value else DEFAULT_UNATTENDED_SECONDS
    except ValueError:
        return DEFAULT_UNATTENDED_SECONDS


def unattended_note(job: JobRecord) -> dict[str, Any] | None:
    """The note that a started local job's server is gone (``UNATTENDED``), if it still
    holds: written while the server it names owned the job, which it still does."""
    note = job.runtime.get(UNATTENDED)
    if isinstance(note, dict) and note.get("server") == job.owner:
        return note
    return None


def unattended_reason(job: JobRecord, *, ending: bool = False) -> str | None:
    """Why nobody follows a started local job (its server is gone), for ``queueReason``;
    ``ending``: the words for the status reason of the job failed for it."""
    note = unattended_note(job)
    if note is None:
        return None
    host = note.get("host") or "its machine"
    gone = (
        f"its server {note.get('server')} on host {host} has not been seen since "
        f"{note.get('since')}"
    )
    if ending:
        return (
            f"{gone}, and no server on {host} took the job over within "
            f"{unattended_seconds():g} seconds (AMLITE_UNATTENDED_JOB_SECONDS); its process "
            "there may still be running"
        )
    return f"{gone}; its process may still run there, and a server started on {host} takes it over"


class Membership:
    def __init__(self, store: Store, *, multi: bool | None = None, ttl: float | None = None):
        self._store = store
        self.multi = store.multi_server if multi is None else multi
        """Whether other servers may share the store (else every owner check is True)."""
        self.ttl = ttl or lease_seconds()
        self.host = socket.gethostname()
        self.pid = os.getpid()
        self.id = f"{self.host}/{self.pid}/{secrets.token_hex(4)}"
        self._pid_start = process_start_time(self.pid)
        self._view: dict[str, ServerRecord] = {}
        self._epochs: dict[tuple[str, str], int] = {}
        """The epochs of the claims this server won since its last ``look`` (the records
        read after it carry them)."""
        self._steady_since: float | None = None
        """When the lease was last renewed after a failure (monotonic); None: not renewed."""
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock_file: IO[str] | None = None
        self._joined = False
        self._listener: threading.Thread | None = None
        self.on_wake: Callable[[], None] | None = None
        """Called when another server asks this one to look at the store now (``wake``)."""

    # -- lifecycle ---------------------------------------------------------------------
    def join(self) -> None:
        """Take this server's place (idempotent): the SQLite lock, or a lease and its
        renewing thread. Raises ``SecondServer`` on a SQLite database already served."""
        if self._joined:
            return
        self._stop = threading.Event()
        if not self.multi:
            self._lock_sqlite()
        else:
            self._drop_dead_neighbours()
            self.renew()
            self._thread = threading.Thread(
                target=self._renew_loop, name="amlite-lease", daemon=True
            )
            self._thread.start()
            self._listener = threading.Thread(
                target=self._listen_loop, name="amlite-listen", daemon=True
            )
            self._listener.start()
        self._joined = True

    def leave(self) -> None:
        """Give up the lease (the jobs this server owns are free for the others at once)."""
        self._stop.set()
        for thread in (self._thread, self._listener):
            if thread is not None:
                thread.join(timeout=10)
        self._thread = self._listener = None
        if self.multi and self._joined:
            try:
                self._store.remove_servers([self.id])
            except Exception as exc:  # the database is away: the lease expires instead
                log.warning("could not give up the server lease: %s", exc)
        if self._lock_file is not None:
            self._lock_file.close()  # releases the flock
            self._lock_file = None
        self._joined = False

    def renew(self) -> None:
        try:
            self._store.renew_server(self.id, self.host, self.pid, self._pid_start, self.ttl)
        except Exception:
            self._steady_since = None
            raise
        if self._steady_since is None:
            self._steady_since = time.monotonic()

    def _renew_loop(self) -> None:
        failing = False  # one log line per change of state, not one per attempt
        while not self._stop.wait(self.ttl / 3):
            try:
                self.renew()
            except Exception as exc:
                if unavailable_reason(exc) is None:
                    log.exception("could not renew the server lease")
                elif not failing:
                    log.warning("could not renew the server lease: %s", unavailable_reason(exc))
                failing = True
                continue
            if failing:
                log.warning("server lease renewed again")
                failing = False

    def wake_others(self) -> None:
        """Ask the other servers to look at the store now (a trial ended here whose sweep
        another server may hold, a cancel for a job this server cannot reach), instead of at
        their next round; best effort."""
        if self.multi and self._joined:
            try:
                self._store.notify_servers(self.id)
            except Exception as exc:
                log.debug("could not wake the other servers: %s", exc)

    def _listen_loop(self) -> None:
        while not self._stop.is_set():
            try:
                self._store.listen_servers(self.id, self._woken, self._stop)
            except Exception as exc:  # the database went away: listen again in a while
                log.debug("not listening for the other servers: %s", exc)
                self._stop.wait(self.ttl / 3)

    def _woken(self) -> None:
        if self.on_wake is not None:
            self.on_wake()

    def _lock_sqlite(self) -> None:
        path = self._store.database_file
        if path is None:
            return  # an in-memory database: nothing else can reach it
        lock = open(f"{path}.server-lock", "a+", encoding="utf-8")  # noqa: SIM115 - held
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            lock.seek(0)
            holder = lock.read().strip() or "unknown"
            lock.close()
            raise SecondServer(
                f"another amlite server (pid {holder}) already uses the SQLite database "
                f"{path}: SQLite serves one server at a time. Stop that server, give this one "
                "another AMLITE_HOME, or share a PostgreSQL database between servers "
                "(AMLITE_DATABASE_URL, see docs/high-availability.md)."
            ) from None
        lock.seek(0)
        lock.truncate()
        lock.write(f"{self.pid}\n")
        lock.flush()
        self._lock_file = lock

    def _drop_dead_neighbours(self) -> None:
        """Drop the rows of servers of this machine whose process is gone (killed): their
        jobs are free at once instead of after their lease expires."""
        dead = [
            s.id
            for s in self._store.list_servers()
            if s.host == self.host and not pid_alive(s.pid, s.pid_start)
        ]
        self._store.remove_servers(dead)

    # -- ownership ---------------------------------------------------------------------
    def look(self) -> None:
        """Read which servers hold a lease (once per scheduler round)."""
        if self.multi:
            self._view = {s.id: s for s in self._store.list_servers()}
            self._epochs.clear()

    def holds(self, job: JobRecord, *, adoptable: bool = True) -> bool:
        """Whether this server owns ``job``, taking it if it is free and ``adoptable``."""
        if not self.multi or job.owner == self.id:
            return True
        if not adoptable or not self._free(job.owner):
            return False
        epoch = self._store.claim_job(
            job.workspace_key, job.name, self.id, previous=job.owner, status=job.status
        )
        if epoch is None:
            return False
        self._epochs[(job.workspace_key, job.name)] = epoch
        return True

    def fence(self, job: JobRecord) -> Fence | None:
        """The fencing token of a write resting on this server holding ``job`` (as read this
        round, or claimed by ``holds``). None on SQLite (one server), and for a job this
        server does not hold (a queued job any server may fail, a trial its sweep cancels:
        those writes are compare-and-sets of the status alone)."""
        if not self.multi:
            return None
        epoch = self._epochs.get((job.workspace_key, job.name))
        if epoch is None and job.owner == self.id:
            epoch = job.owner_epoch
        return None if epoch is None else Fence(job.workspace_key, job.name, self.id, epoch)

    def still_holds(self, job: JobRecord) -> bool:
        """Whether this server still holds ``job`` now (just before a step the database
        cannot undo, such as starting its process)."""
        fence = self.fence(job)
        return fence is None or self._store.fence_holds(fence)

    def release(self, job: JobRecord) -> None:
        """Give up a queued job this server claimed but has no room for."""
        if self.multi:
            with contextlib.suppress(Exception):
                self._store.claim_job(
                    job.workspace_key, job.name, None, previous=self.id, status=job.status
                )

    def host_of(self, server_id: str | None) -> str | None:
        """The machine of server ``server_id`` (None if it has no lease row)."""
        server = self._view.get(server_id or "")
        if server is None and server_id is not None:
            self.look()
            server = self._view.get(server_id)
        return server.host if server is not None else None

    def last_seen(self, owner: str | None) -> float | None:
        """When server ``owner`` last renewed its lease (seconds since the epoch; now if it
        has no row: it left or was found dead), or None while its lease is live."""
        if not self.multi or owner is None:
            return None
        server = self._view.get(owner)
        if server is None:
            return time.time()
        if server.left > 0:
            return None
        return time.time() + server.left - self.ttl

    def _free(self, owner: str | None) -> bool:
        if owner is None:
            return True
        server = self._view.get(owner)
        if server is None:  # maybe a server that joined after the last look: look again
            self.look()
            server = self._view.get(owner)
        if server is None:
            return True  # it left, or it died on its machine
        if server.left > 0:
            return False
        return self._steady_since is not None and time.monotonic() - self._steady_since >= self.ttl
