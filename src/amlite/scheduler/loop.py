"""The scheduler: one thread that dispatches queued jobs and reconciles running ones.

It wakes when a job is submitted or cancelled, when a supervisor exits, and at least once
a second. All it knows survives in the store and in the run directories, so a restarted
server picks up exactly where the last one stopped: running jobs are followed again, jobs
whose supervisor vanished are failed with that reason.

A tick woken only by supervisors ending (``run_ended``) reads the reports of those runs
alone; a full tick (woken by ``wake``: an API request; or once a second, even while other
wakes keep coming) reads every started job's report and lets the sweep controller re-read
its sweeps' active trials. A round woken only by Command jobs submitted (``submitted``)
dispatches and nothing more: nothing at all when they can only run on this machine and it
has no free slot (the end of a running job starts the next, ``run_ended``).

A sweep's trial created ahead of its turn is staged on this machine (``Executor.stage``):
its supervisor waits, ready, and starts the moment another trial of its sweep ends, in the
executor's thread; the next round records it Running (``_record_launched``). It is staged
only while no other job waits ahead of it for this machine's slots, and withdrawn when one
does, when it is cancelled or deleted, or when the server stops.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import shutil
import threading
import time
from collections.abc import Iterable
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from amlite.data.paths import run_dir
from amlite.domain.arm_id import WorkspaceRef
from amlite.domain.status import ACCEPT_PATH, JobStatus
from amlite.errors import AmliteError, Fenced, InvalidTransition, NotFound
from amlite.executors._base import (
    AlreadyStarted,
    Executor,
    Launch,
    NodeSlot,
    RunPlan,
    RunReport,
)
from amlite.executors.ray.cluster import RayUnavailable
from amlite.executors.ray.executor import RayExecutor
from amlite.executors.run_files import run_dir_in
from amlite.scheduler.backends import Backend, Backends
from amlite.scheduler.capacity import LocalPool, NeverFits
from amlite.scheduler.membership import (
    UNATTENDED,
    Membership,
    unattended_note,
    unattended_reason,
    unattended_seconds,
)
from amlite.services.asset_cache import AssetCache
from amlite.services.preparation import RuntimeContext, build_plan
from amlite.services.tokens import mint_job_token
from amlite.store import JobRecord, Store
from amlite.store.availability import unavailable_reason
from amlite.sweep.controller import SweepController

log = logging.getLogger("amlite.scheduler")

S = JobStatus
STARTED = (S.RUNNING, S.FINALIZING, S.CANCEL_REQUESTED)
LIVE_SWEEPS = (S.QUEUED, S.RUNNING, S.CANCEL_REQUESTED)
UNFINISHED_SUBMISSIONS = (S.NOT_STARTED, S.STARTING, S.PREPARING)
RECONCILE_SECONDS = 1.0
BURST_WAKES = 2
"""Wakes during one tick that make a burst (see ``Scheduler._coalesce_pause``)."""
MAX_COALESCE_SECONDS = 0.05
MAX_BACKOFF_SECONDS = 30.0


class Scheduler:
    def __init__(
        self,
        store: Store,
        executor: Executor,
        ctx: RuntimeContext,
        *,
        slots: int,
        on_terminal: Any = None,
        membership: Membership | None = None,
    ) -> None:
        self._store = store
        self.membership = membership or Membership(store)
        """Which jobs this server runs when others share the store (on SQLite: all)."""
        self.membership.on_wake = self.wake
        self._told: set[tuple[str, str]] = set()
        """Jobs in CancelRequested whose supervisor this server told (several servers: the
        cancel may have reached another one)."""
        self._assets = AssetCache(store)
        """Computes and datastores, read again at each full tick (``asset_cache``)."""
        self._backends = Backends(
            store, executor, slots, on_exit=self.run_ended, assets=self._assets
        )
        self._ctx = ctx
        self._slots = slots
        self._on_terminal = on_terminal
        self._wake = threading.Event()
        self._wakes = 0
        """How many times ``wake`` was called (to tell a burst of submissions)."""
        self._full = True
        """Whether the next tick reads every started job (set by ``wake``)."""
        self._ended: set[str] = set()
        """Run directories whose supervisor ended since the last tick read them."""
        self._submitted: set[tuple[str, str]] = set()
        """The (workspace key, compute) of the Command jobs submitted since the last round."""
        self._last_full = float("-inf")
        """When the last full round began (``time.monotonic``)."""
        self._signals = threading.Lock()
        """Guards ``_full``, ``_ended`` and ``_submitted``, set by other threads."""
        self._trial_ended = False
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._sweeps = SweepController(
            store, self, fence=self.membership.fence, look_ahead=not self.membership.multi
        )
        self._workspaces: dict[str, WorkspaceRef] = {}
        self._staged: dict[tuple[str, str], tuple[JobRecord, str]] = {}
        """Trials staged on the local executor (the job as queued, its run directory), by
        (workspace key, name)."""
        self._local_blocked = False
        """Whether the last dispatch round of this machine's pool stopped at a job that did
        not fit (a trial created after it must not be staged ahead of it)."""
        self._orphans: list[tuple[Backend, dict[str, Any], str, str]] = []
        """Processes started for a job deleted while it was starting: stopped, and their run
        directory removed once they are gone."""

    # -- lifecycle ---------------------------------------------------------------------
    def join(self) -> None:
        """Take this server's place among those sharing the store (``Membership.join``):
        raises ``SecondServer`` on a SQLite database another server uses."""
        self.membership.join()

    def start(self) -> None:
        self.join()
        self._finish_interrupted_submissions()
        self._thread = threading.Thread(target=self._run, name="amlite-scheduler", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
        self._backends.close()
        self.membership.leave()

    def wake(self) -> None:
        """A full round now (an API write that may change started jobs: a cancel, a delete,
        a sweep submitted; another server asking)."""
        with self._signals:
            self._full = True
        self._wakes += 1
        self._wake.set()

    def submitted(self, computes: Iterable[tuple[str, str]]) -> None:
        """Command jobs were queued on ``computes`` (workspace key, compute name): a
        dispatch round (``_dispatch_submitted``), not a full one."""
        with self._signals:
            self._submitted.update(computes)
        self._wakes += 1
        self._wake.set()

    def run_ended(self, run_dir: str) -> None:
        """A supervisor ended (the executors call this): read its report at once.
        Not counted as a wake: a trial's end ticks at once, never coalesced."""
        with self._signals:
            self._ended.add(run_dir)
        self._wake.set()

    def cancel_running(self, job: JobRecord, reason: str) -> None:
        if self._reachable(job):
            self._backends.for_job(job).executor.cancel(job.runtime, reason)
        else:  # on another machine: the server there that owns the job tells it
            self.membership.wake_others()  # (``_reconcile``) on the round this starts

    def _reachable(self, job: JobRecord) -> bool:
        """Whether this server can reach the job's process: a Ray job, or one on this host."""
        runtime = job.runtime
        if runtime.get("executor") == RayExecutor.kind:
            return True
        return runtime.get("host") in (None, self.membership.host)

    # -- what the sweep controller needs (TrialOps) -------------------------------------------
    def capacity_for(self, sweep: JobRecord) -> int:
        """How many trials of ``sweep`` fit on its compute at once (when nothing else runs)."""
        try:
            backend = self._backends.for_compute(sweep.workspace_key, sweep.compute)
            backend.refresh()
            return backend.pool.room(sweep.job_spec.workload())
        except (AmliteError, ValueError, TypeError):
            return self._slots

    def cancel_job(self, job: JobRecord, reason: str) -> None:
        """Cancel a trial from inside the scheduler thread."""
        current = self._unstage(job)
        if current is None:
            return
        job = current
        was_started = job.status in (S.RUNNING, S.FINALIZING)
        try:
            job = self._store.transition(
                job.workspace_key, job.name, S.CANCEL_REQUESTED, reason=reason, expect=job.status
            )
        except (InvalidTransition, NotFound):  # cancelled or deleted by a user meanwhile
            return
        if was_started and run_dir_in(job.runtime):
            self.cancel_running(job, reason)
        elif not was_started:
            self._finish(job, S.CANCELED, reason)

    def _run(self) -> None:
        outage: str | None = None  # why the database is unavailable, while it is
        delay = RECONCILE_SECONDS
        while not self._stop.is_set():
            if outage is None:
                woken = self._wake.wait(RECONCILE_SECONDS)
            else:  # back off: wake-ups do not help a database that is away
                self._stop.wait(delay)
                woken = False
            self._wake.clear()
            wakes, began = self._wakes, time.monotonic()
            try:
                self.round(woken=woken, began=began)
            except Exception as exc:  # keep scheduling whatever one tick hit
                reason = unavailable_reason(exc)
                if reason is None:
                    log.exception("scheduler tick failed")
                    continue
                if outage is None:  # one line per change of state, not one per tick
                    log.warning("database unavailable, scheduling paused: %s", reason)
                    delay = RECONCILE_SECONDS
                outage = reason
                delay = min(delay * 2, MAX_BACKOFF_SECONDS)
                continue
            if outage is not None:
                log.warning("database available again, scheduling resumed")
                outage = None
            self._stop.wait(self._coalesce_pause(self._wakes - wakes, time.monotonic() - began))

    @staticmethod
    def _coalesce_pause(wakes_during_tick: int, tick_seconds: float) -> float:
        """How long to let wakes pile up before the next tick.

        Wakes are coalesced: each sets one event and the next tick serves all of them. When
        a burst of them (submissions pouring in) arrived during the tick, wait as long as
        the tick took (at most ``MAX_COALESCE_SECONDS``) so that one tick serves many of
        them and the scheduler thread takes at most about half the time from the requests.
        A lone wake, and the scheduler's own wakes (a trial that ended), tick at once.
        """
        if wakes_during_tick < BURST_WAKES:
            return 0.0
        return min(tick_seconds, MAX_COALESCE_SECONDS)

    def round(self, *, woken: bool, began: float) -> None:
        """One round of the loop, as the signals since the last one ask: full when ``wake``
        was called, when no signal came (``woken`` False) or once ``RECONCILE_SECONDS`` have
        passed since the last full round; a dispatch round when only submissions came; else
        the round of the supervisors that ended. ``began``: ``time.monotonic()`` now."""
        with self._signals:
            full = self._full or not woken or began - self._last_full >= RECONCILE_SECONDS
            self._full = False
            submitted, self._submitted = self._submitted, set()
            dispatch_only = bool(submitted) and not self._ended
        if full:
            self._last_full = began
        if dispatch_only and not full:
            self._dispatch_submitted(submitted)
        else:
            self.tick(full=full)

    def tick(self, full: bool = True) -> None:
        """One round: reconcile started jobs (all of them when ``full``, else those whose
        supervisor ended), then let the sweeps add trials, then fill free capacity, then let
        the sweeps create the trials that wait ahead (``SweepController.look_ahead``)."""
        with self._signals:
            ended, self._ended = self._ended, set()
        self._clear_orphans()
        self.membership.look()
        self._record_launched()
        if full:
            self._assets.clear()
            self._sweeps.refresh()
            self._check_staged()
        started = self._reconcile(None if full else ended)
        self._trial_ended = False  # trials ended above are seen by the sweeps below
        for sweep in self._store.jobs_in_status(LIVE_SWEEPS, job_type="Sweep"):
            if self.membership.holds(sweep):  # each sweep's controller runs on one server
                self._sweeps.advance(sweep)  # one broken sweep fails alone
            else:
                self._sweeps.forget(sweep)
        self._dispatch(started)
        # the trials to start when these end, off their path, ready to go at their end
        self._stage(self._sweeps.look_ahead())
        self._sweeps.score_finished()
        if self._trial_ended:
            self._wake.set()  # a trial ended after its sweep's turn: let it start the next
            self.membership.wake_others()  # another server may hold its sweep

    # -- dispatch ------------------------------------------------------------------------
    def queue_reason(self, job: JobRecord) -> str | None:
        """Why a queued job still waits, from the last dispatch round; why nobody follows a
        started local job whose server is gone."""
        if job.status in STARTED:
            return unattended_reason(job)
        if job.status is not S.QUEUED:
            return None
        if job.job_type != "Command":
            return "sweeps run their trials as jobs; this one has not started yet"
        if job.parent_name and (limit := self._sweeps.held_back(job)) is not None:
            staged = (job.workspace_key, job.name) in self._staged
            how = "starts the moment" if staged else "waits until"
            return f"{how} a running trial of its sweep ends (maxConcurrentTrials {limit} reached)"
        try:
            backend = self._backends.for_compute(job.workspace_key, job.compute)
            return backend.reason(job.job_spec.workload())
        except (ValueError, TypeError) as exc:
            return f"cannot be placed: {exc}"

    def _dispatch_submitted(self, computes: set[tuple[str, str]]) -> None:
        """The round of jobs just submitted on ``computes``. When all of them run on this
        machine and it has no free slot, nothing can start: neither the queue nor the started
        jobs are read (this pool's free slots are exact between rounds: only this thread
        takes them, gives back those of a job that then did not start, and a job that ends
        calls ``run_ended``). Else a dispatch round
        (``tick(full=False)``: no report read but those of supervisors that ended), which
        also fails a job whose compute can no longer be placed, or can never fit."""
        local = self._backends.local
        # a staged trial is withdrawn if one of these goes first (``_fill``): not skipped
        if isinstance(local.pool, LocalPool) and local.pool.free == 0 and not self._staged:
            try:
                if all(self._backends.for_compute(*each) is local for each in computes):
                    return
            except ValueError:  # a compute that is gone, or an unusable Ray address
                pass
        self.tick(full=False)

    def _dispatch(self, started: list[JobRecord]) -> None:
        """Start queued jobs, pool by pool (this machine, each Ray cluster), in priority
        order while they fit. In each pool the first job that does not fit ends the round,
        so a smaller job behind it cannot overtake it."""
        by_pool: dict[str, tuple[Backend, set[tuple[str, str]]]] = {
            self._backends.local.pool.key: (self._backends.local, set())
        }
        for key, compute in self._store.queued_computes(job_type="Command"):
            try:
                backend = self._backends.for_compute(key, compute)
            except ValueError as exc:
                for job in self._store.queued_jobs(10_000, job_type="Command", computes=[compute]):
                    if job.workspace_key == key:
                        self._finish(job, S.FAILED, f"compute '{compute}': {exc}")
                continue
            by_pool.setdefault(backend.pool.key, (backend, set()))[1].add((key, compute))
        self._local_blocked = False
        for pool_key, (backend, computes) in by_pool.items():
            try:
                backend.refresh()
            except RayUnavailable as exc:  # the cluster does not answer: its jobs wait a while
                if not backend.note_trouble("nodes", str(exc)):
                    for job in self._queued_on(computes, 10_000):
                        self._finish(job, S.FAILED, f"compute '{job.compute}': {exc}")
                continue
            backend.clear_trouble("nodes")
            backend.pool.reset(
                [j for j in started if self._backends.pool_key(j.runtime) == pool_key]
            )
            if computes:
                self._fill(backend, computes)

    def _queued_on(self, computes: set[tuple[str, str]], limit: int) -> list[JobRecord]:
        return self._queued_batch(computes, limit)[0]

    def _queued_batch(
        self, computes: set[tuple[str, str]], limit: int
    ) -> tuple[list[JobRecord], bool]:
        """Up to ``limit`` queued jobs on ``computes``, and whether that was all of them."""
        names = {name for _, name in computes}
        batch = self._store.queued_jobs(limit, job_type="Command", computes=names)
        mine = [job for job in batch if (job.workspace_key, job.compute) in computes]
        return mine, len(batch) < limit

    def _fill(self, backend: Backend, computes: set[tuple[str, str]]) -> None:
        tried: set[tuple[str, str]] = set()
        everything = False
        while not everything:
            batch, everything = self._queued_batch(computes, len(tried) + 16)
            fresh = [job for job in batch if (job.workspace_key, job.name) not in tried]
            if not fresh:
                return
            for job in fresh:
                tried.add((job.workspace_key, job.name))
                if not self.membership.holds(job):
                    continue  # another server claimed it
                if job.parent_name and not self._sweeps.may_start(job):
                    continue  # a trial created ahead: its sweep's trials fill their limit
                try:
                    work = job.job_spec.workload()
                    nodes = backend.pool.take(work)
                except NeverFits as exc:
                    self._finish(
                        job, S.FAILED, f"compute '{job.compute}' cannot run the job: {exc}"
                    )
                    continue
                except (ValueError, TypeError) as exc:
                    self._finish(job, S.FAILED, f"compute '{job.compute}': {exc}")
                    continue
                if nodes is None:
                    self.membership.release(job)  # a server with room may take it
                    if backend is self._backends.local:
                        self._local_blocked = True
                        self._withdraw_behind(tried)
                    return
                with backend.executor.deferring():  # its threads wait for Running
                    started = self._start(job, backend, nodes)
                if started is None:
                    return
                if not started:  # failed, cancelled or taken over: it holds nothing
                    backend.pool.give_back(work, nodes)

    def _start(self, job: JobRecord, backend: Backend, nodes: list[NodeSlot]) -> bool | None:
        """Start a queued job's supervisor, then mark it Running. True if it now holds a slot.

        The supervisor starts before the job is marked Running, so a server killed in
        between leaves a Queued job whose run directory shows the supervisor: the next
        server adopts it instead of starting the job twice.
        Returns None when the backend could not take it for now (a cluster that does not
        answer yet): the job stays queued and the pool's round ends.
        """
        key, name = job.workspace_key, job.name
        at: datetime | None = None
        staged = self._staged.pop((key, name), None)
        launch = backend.executor.go(staged[1]) if staged is not None else None
        runtime: dict[str, Any] | None
        if launch is not None:  # staged, and its turn came in this round
            runtime, at = launch.runtime, launch.at
        else:
            runtime = self._recover(job, backend.executor)
        if runtime is None:
            try:
                # a trial's token was registered with the trial (``SweepController``)
                token = self._sweeps.take_token(job) or mint_job_token(self._store, key, name)
                plan = self._plan(job, token, nodes)
                # asked just before the spawn or submission: a server that stalled past its
                # lease starts nothing (another server may have started the job)
                runtime = backend.executor.start(plan, lambda: self.membership.still_holds(job))
                at = datetime.now(UTC)  # Running from the start, not from when it is written
            except AlreadyStarted:  # by the server that took the job over while this one stalled
                return False
            except RayUnavailable as exc:
                if exc.transient and backend.note_trouble("submit", str(exc)):
                    return None
                self._finish(job, S.FAILED, str(exc))
                return False
            except AmliteError as exc:
                self._finish(job, S.FAILED, str(exc))
                return False
            except Exception as exc:
                log.exception("could not start job %s", name)
                self._finish(job, S.FAILED, f"amlite could not start the job: {exc}")
                return False
        backend.clear_trouble("submit")
        return self._mark_running(job, backend, runtime, at=at)

    def _plan(self, job: JobRecord, token: str, nodes: list[NodeSlot]) -> RunPlan:
        return build_plan(
            self._store,
            job,
            token=token,
            ctx=self._ctx,
            nodes=nodes,
            workspace=self._workspace(job.workspace_key),
            assets=self._assets,
        )

    def _mark_running(
        self,
        job: JobRecord,
        backend: Backend,
        runtime: dict[str, Any],
        *,
        at: datetime | None = None,
    ) -> bool:
        """Record the queued ``job`` Running with the ``runtime`` of the supervisor started
        for it (at ``at``: when it was told to go, for a staged one). True if it holds a
        slot; else the process is stopped (the job was cancelled, deleted or taken over
        meanwhile)."""
        key, name = job.workspace_key, job.name
        try:
            self._store.move_job(
                job,
                S.RUNNING,
                at=at,
                runtime={**job.runtime, **runtime},
                fence=self.membership.fence(job),
            )
        except Fenced:
            # taken over while this server stalled: a server on this machine adopted this
            # process (its run directory shows it) and follows it, as its owner does a Ray
            # job's; a server on another machine started its own: this one is a duplicate
            current = self._store.get_job(key, name)
            if current is not None and _duplicate(runtime, current, self.membership):
                backend.executor.cancel(runtime, "another server took the job over")
            return False
        except (InvalidTransition, NotFound):
            # cancelled or deleted while it was starting: that transition won, and nothing
            # but this thread knows the process, so it stops it here
            current = self._store.get_job(key, name)
            why = current.status_reason if current is not None else None
            backend.executor.cancel(runtime, why or "canceled by user")
            if current is None:
                self._orphans.append((backend, runtime, key, name))
            return False
        if job.parent_name:
            self._sweeps.trial_started(job)
        return True

    # -- staged starts -------------------------------------------------------------------
    def _stage(self, trials: list[JobRecord]) -> None:
        """Stage the trials just created ahead of their turn on this machine (``stage``):
        unless another job already waits for its slots (it goes first), or several servers
        share the store. A trial not staged starts as any job does."""
        local = self._backends.local
        if self._local_blocked or self.membership.multi:
            return
        for trial in trials:
            key = (trial.workspace_key, trial.name)
            try:
                if self._backends.for_compute(trial.workspace_key, trial.compute) is not local:
                    continue
                token = self._sweeps.take_token(trial) or mint_job_token(self._store, *key)
                plan = self._plan(trial, token, [])
                if local.executor.stage(
                    plan, functools.partial(self.membership.still_holds, trial)
                ):
                    self._staged[key] = (trial, plan.run_dir)
            except (AmliteError, ValueError, OSError, AlreadyStarted) as exc:
                log.debug("trial %s not staged: %s", trial.name, exc)  # it starts in its turn

    def _record_launched(self) -> None:
        """Record Running the staged trials that started as a trial of their sweep ended."""
        local = self._backends.local
        for launch in local.executor.launched():
            key = next((k for k, (_, rd) in self._staged.items() if rd == launch.run_dir), None)
            if key is not None:
                job, _ = self._staged.pop(key)
                self._mark_running(job, local, launch.runtime, at=launch.at)

    def _withdraw(self, job: JobRecord) -> tuple[JobRecord, Launch] | None:
        """Withdraw ``job`` if it is staged; if it had gone already, the job as staged and its
        ``Launch`` (its process runs: the caller records or stops it)."""
        staged = self._staged.pop((job.workspace_key, job.name), None)
        launch = self._backends.local.executor.withdraw(staged[1]) if staged else None
        return (staged[0], launch) if staged is not None and launch is not None else None

    def _unstage(self, job: JobRecord) -> JobRecord | None:
        """Withdraw ``job`` if it is staged: as it is now (Running if it had started; None
        if it was gone or stopped meanwhile)."""
        went = self._withdraw(job)
        if went is None:
            return job
        staged, launch = went
        if not self._mark_running(staged, self._backends.local, launch.runtime, at=launch.at):
            return None
        return self._store.get_job(job.workspace_key, job.name)

    def _withdraw_behind(self, tried: set[tuple[str, str]]) -> None:
        """This machine's round stopped at a job that does not fit: the staged trials behind
        it (not ``tried`` this round) must not take a slot before it."""
        for key in [k for k in self._staged if k not in tried]:
            self._unstage(self._staged[key][0])

    def _check_staged(self) -> None:
        """Withdraw the staged trials that are no longer queued (cancelled or deleted
        through the API)."""
        for key, (job, _) in list(self._staged.items()):
            current = self._store.get_job(*key)
            if current is None or current.status is not S.QUEUED:
                self._unstage(job)

    def _workspace(self, key: str) -> WorkspaceRef | None:
        """The workspace ``key`` (workspaces are never deleted: read once); None if unknown."""
        ws = self._workspaces.get(key)
        if ws is None:
            ws = self._store.get_workspace(key)
            if ws is not None:
                self._workspaces[key] = ws
        return ws

    # -- reconcile -----------------------------------------------------------------------
    def _reconcile(self, ended: set[str] | None = None) -> list[JobRecord]:
        """Apply what supervisors reported (only those of the run directories in ``ended``
        if given); return the jobs that still hold capacity."""
        active: list[JobRecord] = []
        for job in self._store.jobs_in_status(STARTED, job_type="Command"):
            if not self.membership.holds(job, adoptable=self._reachable(job)):
                if self._backends.pool_key(job.runtime) != self._backends.local.pool.key:
                    active.append(job)  # another server's job on a shared Ray cluster
                elif not self._reachable(job):
                    self._unattended(job)
                continue
            if ended is not None and run_dir_in(job.runtime) not in ended:
                active.append(job)
                continue
            try:
                executor = self._backends.for_job(job).executor
            except ValueError as exc:
                self._finish(job, S.FAILED, f"compute '{job.compute}': {exc}")
                continue
            runtime = job.runtime if run_dir_in(job.runtime) else self._recover(job, executor)
            if runtime is None:
                # jobs start synchronously in this thread, so a started job without a
                # supervisor was left behind by a server that stopped while starting it
                if job.status is S.CANCEL_REQUESTED:
                    self._finish(job, S.CANCELED, job.status_reason or "canceled by user")
                else:
                    self._finish(
                        job, S.FAILED, "the server stopped before the job's process started"
                    )
                continue
            if job.status is S.CANCEL_REQUESTED and self.membership.multi:
                self._tell_cancel(job, executor, runtime)
            report = executor.report(runtime)
            if not self._apply(job, report):
                active.append(job if run_dir_in(job.runtime) else _with_runtime(job, runtime))
        return active

    def _unattended(self, job: JobRecord) -> None:
        """A local job on another machine whose server is gone (and no server there took it
        over): note since when (shown as its ``queueReason``); once that is longer ago than
        ``AMLITE_UNATTENDED_JOB_SECONDS``, take it over and fail it."""
        seen = self.membership.last_seen(job.owner)
        if seen is None or job.owner is None:
            return
        note = unattended_note(job)
        if note is None:
            since = datetime.fromtimestamp(seen, UTC).isoformat(timespec="seconds")
            note = {"server": job.owner, "host": job.runtime.get("host"), "since": since}
            self._store.set_owned_runtime(
                job.workspace_key, job.name, {UNATTENDED: note}, owner=job.owner
            )
            return
        grace, since_at = unattended_seconds(), _parse_time(note.get("since"))
        if not grace or since_at is None:
            return
        if (datetime.now(UTC) - since_at).total_seconds() < grace:
            return
        if self.membership.holds(job):  # taken over, to end it
            cancel = job.status is S.CANCEL_REQUESTED
            why = unattended_reason(job, ending=True)
            self._finish(job, S.CANCELED if cancel else S.FAILED, why)

    def _tell_cancel(self, job: JobRecord, executor: Executor, runtime: dict[str, Any]) -> None:
        """Tell the supervisor of a job cancelled through any server (once per server)."""
        key = (job.workspace_key, job.name)
        if key not in self._told:
            self._told.add(key)
            executor.cancel(runtime, job.status_reason or "canceled by user")

    def _clear_orphans(self) -> None:
        """Remove the run directory of each stopped orphan whose job is still gone."""
        waiting = []
        for orphan in self._orphans:
            backend, runtime, key, name = orphan
            try:
                alive = backend.executor.report(runtime).alive
            except (AmliteError, OSError):  # a cluster that does not answer: ask again later
                alive = True
            if alive:
                waiting.append(orphan)
            elif self._store.get_job(key, name) is None:
                shutil.rmtree(run_dir(self._ctx.settings, key, name), ignore_errors=True)
        self._orphans = waiting

    def _recover(self, job: JobRecord, executor: Executor) -> dict[str, Any] | None:
        """Adopt a supervisor that a stopped server started but did not record."""
        runtime = executor.recover(str(run_dir(self._ctx.settings, job.workspace_key, job.name)))
        if runtime is not None and job.status is not S.QUEUED:
            self._store.set_runtime(job.workspace_key, job.name, {**job.runtime, **runtime})
        return runtime

    def _apply(self, job: JobRecord, report: RunReport) -> bool:
        """Apply a report to the store. True when the job reached a terminal status."""
        finalizing: datetime | None = None
        if job.status is S.RUNNING:
            for event in report.events:
                if event.get("status") == S.FINALIZING.value:
                    finalizing = _parse_time(event.get("at")) or datetime.now(UTC)
        result = report.result
        if result is None and finalizing is not None:
            job = self._move(job, S.FINALIZING, at=finalizing)
        if result is None:
            if report.alive:
                return False
            if job.status is S.CANCEL_REQUESTED:  # killed before it could write its result
                self._finish(job, S.CANCELED, job.status_reason or "canceled by user")
            else:
                why = "the job's supervisor process vanished without a result"
                self._finish(job, S.FAILED, f"{why} ({report.note})" if report.note else why)
            return True
        outcome, reason, exit_code = result.outcome, result.reason, result.exit_code
        at = _parse_time(result.finished_at)
        if job.status is S.CANCEL_REQUESTED and outcome == S.COMPLETED.value:
            outcome, reason = S.CANCELED.value, job.status_reason or "canceled by user"
        target = {"Completed": S.COMPLETED, "Canceled": S.CANCELED}.get(outcome, S.FAILED)
        self._finish(job, target, reason, at=at, exit_code=exit_code, finalizing=finalizing)
        return True

    def _finish(
        self,
        job: JobRecord,
        target: JobStatus,
        reason: str | None,
        *,
        at: datetime | None = None,
        exit_code: int | None = None,
        finalizing: datetime | None = None,
    ) -> None:
        """Move a job to a terminal status, with the statuses on the way (CancelRequested,
        Finalizing at the time the supervisor reported it) in one transaction.

        Only from the status ``job`` was read in: if a user cancelled it meanwhile, the
        decision was taken on a stale record, and the next round decides again."""
        key, name = job.workspace_key, job.name
        self._told.discard((key, name))
        went = self._withdraw(job)
        if went is not None:  # it ends before its turn: nothing of it may run
            self._backends.local.executor.cancel(went[1].runtime, reason or "")
        end = at or datetime.now(UTC)
        path, times = [target], [end]
        if target is S.CANCELED and job.status is not S.CANCEL_REQUESTED:
            path.insert(0, S.CANCEL_REQUESTED)
            times.insert(0, end)
        if job.status is S.RUNNING and (finalizing is not None or target is S.COMPLETED):
            path.insert(0, S.FINALIZING)
            times.insert(0, finalizing or end)
        try:
            job = self._store.move_job(
                job,
                path,
                reason=reason,
                at=times,
                exit_code=exit_code,
                fence=self.membership.fence(job),
            )
        except NotFound:  # deleted meanwhile
            return
        except Fenced as exc:  # another server took it over while this one stalled
            log.warning("job %s: %s", name, exc)
            return
        except InvalidTransition:
            log.warning(
                "job %s: could not move from %s to %s", name, job.status.value, target.value
            )
            return
        if job.parent_name:
            self._sweeps.trial_finished(job)
            self._trial_ended = True
        if self._on_terminal is not None:
            self._on_terminal(job)

    def _move(self, job: JobRecord, status: JobStatus, *, at: datetime | None) -> JobRecord:
        try:
            return self._store.transition(
                job.workspace_key, job.name, status, at=at, fence=self.membership.fence(job)
            )
        except InvalidTransition:
            return job

    def _finish_interrupted_submissions(self) -> None:
        """Jobs a stopped server had validated and stored but not yet queued."""
        for job in self._store.jobs_in_status(UNFINISHED_SUBMISSIONS):
            rest = (
                ACCEPT_PATH[ACCEPT_PATH.index(job.status) + 1 :]
                if job.status in ACCEPT_PATH
                else ACCEPT_PATH
            )
            with contextlib.suppress(InvalidTransition):
                self._store.transition(job.workspace_key, job.name, rest)


def _duplicate(runtime: dict[str, Any], current: JobRecord, membership: Membership) -> bool:
    """Whether the local process ``runtime`` that this server started for ``current``, now
    another server's, is a second copy: that server is on another machine, or recorded a
    process of its own. Not when it adopted this one, nor before it recorded any (it may be
    adopting it); a Ray job is left to its owner."""
    if runtime.get("executor") == RayExecutor.kind:
        return False
    if membership.host_of(current.owner) != membership.host:
        return True
    theirs = current.runtime.get("pid")
    return theirs is not None and theirs != runtime.get("pid")


def _with_runtime(job: JobRecord, runtime: dict[str, Any]) -> JobRecord:
    return replace(job, runtime={**job.runtime, **runtime})


def _parse_time(value: Any) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None
