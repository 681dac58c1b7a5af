"""The sweep controller: turns one Sweep job into child Command jobs (trials).

Everything it knows lives in the store, so a server killed mid-sweep resumes exactly:
- trial ``n`` is the job ``{sweep}_{n}``; creating it twice is impossible (the name is
  unique), so a crash between "create" and "remember" never runs a trial twice;
- ``nextIndex`` (in the sweep's runtime) is saved in the same transaction that creates the
  trials below it, so it always matches the trials that exist;
- Random values depend only on (sweep seed, trial index), so the stream continues where it
  stopped; Grid is positional; Bayesian rebuilds its history from the trials' records;
- the best trial is recomputed from every trial's metrics when a controller first sees a
  sweep, then kept up to date as trials finish.

Between ticks the controller keeps what it learnt in memory (``_Memory``): the next index,
the best score, and which trials are still active. Memory can only be behind the store in
one direction: a trial it counts as active may have ended without it hearing (cancelled
through the API); then it waits for a slot a little longer, never starts one too many. The
scheduler calls ``refresh`` when something outside its thread may have changed a sweep (an
API request, and once a second), and the active trials are read from the store again; so
are they before a sweep is declared complete, and a restarted server rebuilds all of it.

Samplers and policies are pure (``amlite.sweep.samplers`` / ``.policies``); this module is
the only part of the sweep that touches the store. Starting and cancelling jobs goes through
``TrialOps``, which the scheduler provides.
"""

from __future__ import annotations

import functools
import json
import logging
import time
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from typing import Protocol

from sqlalchemy.exc import SQLAlchemyError

from amlite.domain import run_properties as P
from amlite.domain.arm_id import WorkspaceRef
from amlite.domain.json_value import JsonValue
from amlite.domain.placeholders import referenced, shell_word, substitute_group
from amlite.domain.search_space import count_text
from amlite.domain.spec_codec import encode_job
from amlite.domain.specs import CommandJobSpec, Objective, SweepJobSpec
from amlite.domain.status import ACCEPT_PATH, TERMINAL, JobStatus
from amlite.domain.tokens import JOB_TOKEN_PREFIX, hash_token, new_token
from amlite.errors import Conflict, Fenced, InvalidTransition
from amlite.store import Fence, JobRecord, NewJob, Store
from amlite.sweep.parameter_values import format_value, substitutions
from amlite.sweep.policies import Policy, make_policy
from amlite.sweep.samplers import Sampler, TrialOutcome, TrialState, make_sampler, sweep_seed

log = logging.getLogger("amlite.sweep")

S = JobStatus
TRIAL_ACTIVE = (
    S.NOT_STARTED,
    S.STARTING,
    S.PREPARING,
    S.QUEUED,
    S.RUNNING,
    S.FINALIZING,
    S.CANCEL_REQUESTED,
)
TRIAL_WAITING = (S.NOT_STARTED, S.STARTING, S.PREPARING, S.QUEUED)
DEFAULT_MAX_TOTAL = 1000
LOOK_AHEAD = 2
"""Trials a non-adaptive sweep keeps created and queued beyond ``maxConcurrentTrials``
(``SweepController.look_ahead``; at most ``maxConcurrentTrials`` of them), so a slot that
frees starts the next trial at once: two, so that two trials ending within one scheduler
round (the round that records the first end and stages the trial after it) both find one
staged."""
EARLY_TERMINATION = "early termination"


class TrialOps(Protocol):
    """What the controller needs from the scheduler."""

    def cancel_job(self, job: JobRecord, reason: str) -> None: ...

    def capacity_for(self, sweep: JobRecord) -> int:
        """How many of the sweep's trials its compute can run at once."""
        ...


@dataclass
class _SweepPlan:
    """What a sweep's spec means for running it, worked out once per sweep."""

    spec: SweepJobSpec
    sampler: Sampler
    policy: Policy | None
    max_total: int
    max_concurrent: int
    space_size: int | None

    @property
    def objective(self) -> Objective:
        return self.spec.objective

    @property
    def metric(self) -> str:
        return self.spec.objective.primary_metric

    @property
    def timeout_s(self) -> float | None:
        return self.spec.timeout.seconds if self.spec.timeout else None


@dataclass
class _Memory:
    """In-memory caches of one sweep; all of it can be rebuilt from the store."""

    plan: _SweepPlan
    scored: bool = False
    evaluated: dict[str, int] = field(default_factory=dict)
    next_index: int | None = None
    """The index of the next trial to create; None: read it from the sweep's runtime."""
    active: dict[str, bool] | None = None
    """Trials not yet terminal, by name: True once cancel was requested. None: read them
    from the store on the next tick."""
    best: float | None = None
    """The sweep's best score so far (its ``score`` system property)."""
    unscored: list[JobRecord] = field(default_factory=list)
    """Trials that ended and are not scored yet (``score_finished``)."""
    tokens: dict[str, str] = field(default_factory=dict)
    """The job token of each trial created by this server and not yet started, by name: its
    hash was stored with the trial (``Store.add_trials``), so starting it writes no token.
    Lost on a restart: a trial started then gets a token of its own (``mint_job_token``)."""
    waiting: set[str] = field(default_factory=set)
    """Active trials not started yet (created, queued): they do not count against
    ``maxConcurrentTrials`` until the scheduler starts them (``may_start``)."""
    sweep: JobRecord | None = None
    """The sweep as this round's ``tick`` left it running, for ``look_ahead``."""
    watching: set[str] = field(default_factory=set)
    """Trials last seen active. One that leaves the store's active set without
    ``trial_finished`` ended on another server (several servers on one database): it is
    scored when the active trials are read again."""


def _no_fence(sweep: JobRecord) -> Fence | None:
    return None


class SweepController:
    def __init__(
        self,
        store: Store,
        ops: TrialOps,
        fence: Callable[[JobRecord], Fence | None] = _no_fence,
        *,
        look_ahead: bool = False,
    ) -> None:
        self._store = store
        self._look_ahead = look_ahead
        """Keep ``LOOK_AHEAD`` trials of non-adaptive sweeps queued ahead, their start held
        back by ``may_start``: only with one server (several servers may each start trials
        of one sweep, and only this one's memory would know what was started)."""
        self._ops = ops
        self._fence = fence
        """The fencing token of this server's writes to a sweep it holds
        (``Membership.fence``): a controller that stalled while another server took its
        sweep over cannot end it or add trials."""
        self._memory: dict[tuple[str, str], _Memory] = {}
        self._workspaces: dict[str, WorkspaceRef] = {}

    # -- entry points -----------------------------------------------------------------
    def advance(self, sweep: JobRecord) -> None:
        """``tick``, isolated: whatever one sweep's step raises (a malformed stored spec, a
        sampler out of memory) fails that sweep, its trials are canceled and the reason is in
        its status and history; the scheduler goes on with the other sweeps and jobs. Store
        errors are not the sweep's fault: they propagate (the scheduler's round retries)."""
        self._isolated(sweep, self.tick)

    def _isolated(self, sweep: JobRecord, step: Callable[[JobRecord], object]) -> None:
        try:
            step(sweep)
        except SQLAlchemyError:
            raise
        except Fenced as exc:  # another server holds it now: what this one knew is stale
            log.warning("sweep %s: %s", sweep.name, exc)
            self.forget(sweep)
            return
        except Exception as exc:
            log.exception("sweep %s: its controller step failed", sweep.name)
            reason = f"the sweep controller failed: {type(exc).__name__}: {exc}"
            try:
                self._fail_broken(sweep, reason)
            except SQLAlchemyError:
                raise
            except Exception:  # even failing it failed: try again next round, others go on
                log.exception("sweep %s: could not be failed", sweep.name)

    def _fail_broken(self, sweep: JobRecord, reason: str) -> None:
        self.forget(sweep)
        active = self._store.list_jobs(
            sweep.workspace_key, parent_name=sweep.name, statuses=TRIAL_ACTIVE, limit=100_000
        )
        self._cancel_trials(active, reason)
        current = self._store.get_job(sweep.workspace_key, sweep.name)
        if current is not None and not current.status.is_terminal:
            self._end(current, S.FAILED, reason[:2000])

    def tick(self, sweep: JobRecord) -> None:
        """Advance one sweep: start it, score finished trials, stop poor ones, add trials,
        enforce limits, and end it when nothing is left to run."""
        key = (sweep.workspace_key, sweep.name)
        try:
            memory = self._memory.get(key) or self._remember(sweep)
        except ValueError as exc:
            self._end(sweep, S.FAILED, f"the sweep cannot run: {exc}")
            return
        if sweep.status is S.QUEUED:
            sweep = self._start(sweep, memory)
        if sweep.status is S.RUNNING and self._timed_out(sweep, memory.plan):
            sweep = self._request_cancel(sweep, f"sweep timeout after {memory.plan.timeout_s:g} s")
        if not memory.scored:
            self._rescore(sweep, memory)
            memory.scored = True
        if sweep.status is S.CANCEL_REQUESTED:
            active = self._load_active(sweep, memory)
            self._cancel_trials(active, sweep.status_reason or "the sweep was canceled")
            if not active:
                self._end(sweep, S.CANCELED, sweep.status_reason or "canceled by user")
            return
        if sweep.status is not S.RUNNING:
            return
        plan = memory.plan
        if plan.policy is not None:
            self._early_terminate(sweep, memory, self._load_active(sweep, memory))
        elif memory.active is None:
            self._load_active(sweep, memory)
        assert memory.active is not None
        created = self._add_trials(sweep, memory, _running(memory), plan.max_concurrent)
        # memory may lag behind the store in one direction only: look before ending
        if (
            not created
            and not memory.active
            and self._exhausted(sweep, memory)
            and not self._load_active(sweep, memory)
        ):
            self._end(sweep, S.COMPLETED, None)
        elif self._look_ahead and not plan.sampler.needs_history:
            memory.sweep = sweep

    def look_ahead(self) -> list[JobRecord]:
        """Create the next trial of each non-adaptive sweep ticked this round ahead of its
        turn (``LOOK_AHEAD`` beyond ``maxConcurrentTrials``), queued: when one of its trials
        ends, the scheduler starts it at once (``may_start``), and the one after it is
        created off that path (the scheduler calls this after starting trials). Created
        like any trial, with ``nextIndex`` in one transaction: a restart neither loses nor
        repeats it. Adaptive samplers (Bayesian) propose from the trials that ended, so they
        are left to ``tick``. Returns the trials created."""
        created: list[JobRecord] = []
        for memory in list(self._memory.values()):
            sweep, memory.sweep = memory.sweep, None
            if sweep is not None and memory.active is not None:
                add = functools.partial(self._add_ahead, memory=memory, into=created)
                self._isolated(sweep, add)
        return created

    def _add_ahead(self, sweep: JobRecord, memory: _Memory, into: list[JobRecord]) -> None:
        limit = memory.plan.max_concurrent + min(LOOK_AHEAD, memory.plan.max_concurrent)
        into.extend(self._add_trials(sweep, memory, _running(memory), limit))

    def may_start(self, trial: JobRecord) -> bool:
        """Whether the scheduler may start the queued ``trial`` now: its sweep's started
        trials (active, not yet cancelled, not waiting) are fewer than its
        ``maxConcurrentTrials``. Memory lags the store in one direction only (a trial it
        counts may have ended), so it errs towards waiting; ``refresh`` catches up."""
        if not self._look_ahead:
            return True
        memory = self._memory.get((trial.workspace_key, trial.parent_name or ""))
        if memory is None:
            return True  # not a live sweep of this controller's: nothing was created ahead
        if memory.active is None:
            return False  # its sweep's next tick reads them (``refresh``)
        return _started(memory.active, memory.waiting) < memory.plan.max_concurrent

    def held_back(self, trial: JobRecord) -> int | None:
        """The ``maxConcurrentTrials`` that holds the queued ``trial`` back (its sweep runs
        that many), else None. Safe from another thread (an API request's ``queueReason``):
        it reads copies of this controller's memory."""
        memory = self._memory.get((trial.workspace_key, trial.parent_name or ""))
        if not self._look_ahead or memory is None:
            return None
        active, waiting = memory.active, memory.waiting
        if active is None:
            return None
        limit = memory.plan.max_concurrent
        # copies: another thread's dict may change while counting (each copy is atomic)
        return limit if _started(dict(active), set(waiting)) >= limit else None

    def trial_started(self, trial: JobRecord) -> None:
        """The scheduler marked ``trial`` Running: it counts against the concurrency now."""
        memory = self._memory.get((trial.workspace_key, trial.parent_name or ""))
        if memory is not None:
            memory.waiting.discard(trial.name)

    def trial_finished(self, trial: JobRecord) -> None:
        """Score a trial that reached a terminal status and update its sweep's best."""
        memory = self._memory.get((trial.workspace_key, trial.parent_name or ""))
        if memory is None:
            return  # the first tick rescores everything anyway
        if memory.active is not None:
            memory.active.pop(trial.name, None)
        memory.watching.discard(trial.name)
        memory.waiting.discard(trial.name)
        memory.tokens.pop(trial.name, None)
        if memory.scored:
            memory.unscored.append(trial)

    def take_token(self, trial: JobRecord) -> str | None:
        """The job token registered with ``trial`` when it was created (once; None if this
        server does not hold it)."""
        memory = self._memory.get((trial.workspace_key, trial.parent_name or ""))
        return memory.tokens.pop(trial.name, None) if memory is not None else None

    def score_finished(self) -> None:
        """Score the trials that ended since the last call (the scheduler calls this after
        starting the next trials, so scoring is not on their way)."""
        for memory in list(self._memory.values()):
            self._score_pending(memory)

    def refresh(self) -> None:
        """Something outside the scheduler thread may have changed trials (an API request):
        read each sweep's active trials from the store again on its next tick."""
        for memory in self._memory.values():
            memory.active = None

    def forget(self, sweep: JobRecord) -> None:
        self._memory.pop((sweep.workspace_key, sweep.name), None)

    # -- start, end, cancel -------------------------------------------------------------
    def _remember(self, sweep: JobRecord) -> _Memory:
        spec = sweep.job_spec
        if not isinstance(spec, SweepJobSpec):
            raise ValueError(f"{sweep.name} is a {spec.job_type} job, not a sweep")
        sampler = make_sampler(
            spec.algorithm,
            spec.search_space,
            seed=sweep_seed(f"{sweep.workspace_key}/{sweep.name}"),
            goal=spec.objective.goal,
        )
        size = sampler.size()
        max_total = spec.max_total_trials or (size or DEFAULT_MAX_TOTAL)
        if size is not None:
            max_total = min(max_total, size)
        concurrent = spec.max_concurrent_trials or max_total
        plan = _SweepPlan(
            spec=spec,
            sampler=sampler,
            policy=make_policy(spec.early_termination),
            max_total=max_total,
            max_concurrent=max(
                1, min(concurrent, max_total, max(1, self._ops.capacity_for(sweep)))
            ),
            space_size=size,
        )
        best = sweep.system_properties.get(P.SCORE)
        memory = _Memory(plan, best=_float(best))
        self._memory[(sweep.workspace_key, sweep.name)] = memory
        return memory

    def _start(self, sweep: JobRecord, memory: _Memory) -> JobRecord:
        try:
            sweep = self._store.transition(
                sweep.workspace_key, sweep.name, S.RUNNING, fence=self._fence(sweep)
            )
        except Fenced:
            raise
        except InvalidTransition:
            return self._store.get_job(sweep.workspace_key, sweep.name) or sweep
        runtime = {**sweep.runtime, "startedAt": time.time(), "nextIndex": 0}
        self._store.set_runtime(sweep.workspace_key, sweep.name, runtime)
        size = memory.plan.space_size
        props = {P.SPACE_SIZE: count_text(size)} if size else {}
        props[P.PRIMARY_METRIC] = memory.plan.metric
        props[P.MAX_TOTAL_TRIALS] = str(memory.plan.max_total)
        props[P.MAX_CONCURRENT_TRIALS] = str(memory.plan.max_concurrent)
        self._store.set_system_properties(sweep.workspace_key, sweep.name, props)
        return self._store.get_job(sweep.workspace_key, sweep.name) or sweep

    def _timed_out(self, sweep: JobRecord, plan: _SweepPlan) -> bool:
        started = sweep.runtime.get("startedAt")
        return bool(plan.timeout_s and started and time.time() - float(started) > plan.timeout_s)

    def _request_cancel(self, sweep: JobRecord, reason: str) -> JobRecord:
        try:
            return self._store.transition(
                sweep.workspace_key,
                sweep.name,
                S.CANCEL_REQUESTED,
                reason=reason,
                fence=self._fence(sweep),
            )
        except Fenced:
            raise
        except InvalidTransition:
            return self._store.get_job(sweep.workspace_key, sweep.name) or sweep

    def _load_active(self, sweep: JobRecord, memory: _Memory) -> list[JobRecord]:
        """The sweep's active trials from the store, remembered."""
        active = self._store.list_jobs(
            sweep.workspace_key, parent_name=sweep.name, statuses=TRIAL_ACTIVE, limit=100_000
        )
        memory.active = {t.name: t.status is S.CANCEL_REQUESTED for t in active}
        memory.waiting = {t.name for t in active if t.status in TRIAL_WAITING}
        gone, memory.watching = memory.watching - memory.active.keys(), set(memory.active)
        for name in sorted(gone):  # ended on another server
            trial = self._store.get_job(sweep.workspace_key, name)
            if trial is not None and trial.status.is_terminal and memory.scored:
                memory.unscored.append(trial)
        return active

    def _cancel_trials(self, active: list[JobRecord], reason: str) -> None:
        for trial in active:
            if trial.status is not S.CANCEL_REQUESTED:
                self._ops.cancel_job(trial, reason)

    def _end(self, sweep: JobRecord, status: JobStatus, reason: str | None) -> None:
        memory = self._memory.get((sweep.workspace_key, sweep.name))
        if memory is not None:
            self._score_pending(memory)  # the best trial is known before the sweep ends
        path = [status]
        if status is S.CANCELED and sweep.status is not S.CANCEL_REQUESTED:
            path.insert(0, S.CANCEL_REQUESTED)
        if status is S.COMPLETED and sweep.status is S.RUNNING:
            path.insert(0, S.FINALIZING)
        try:
            self._store.transition(
                sweep.workspace_key, sweep.name, path, reason=reason, fence=self._fence(sweep)
            )
        except InvalidTransition:
            log.warning("sweep %s: could not end as %s", sweep.name, status.value)
        self.forget(sweep)

    # -- trials -------------------------------------------------------------------------
    def _next_index(self, sweep: JobRecord, memory: _Memory) -> int:
        if memory.next_index is None:
            memory.next_index = int(sweep.runtime.get("nextIndex") or 0)
        return memory.next_index

    def _exhausted(self, sweep: JobRecord, memory: _Memory) -> bool:
        return self._next_index(sweep, memory) >= memory.plan.max_total

    def _add_trials(
        self, sweep: JobRecord, memory: _Memory, running: int, limit: int
    ) -> list[JobRecord]:
        """Create trials while fewer than ``limit`` are active and the total allows; return
        them.

        The trials and the sweep's new ``nextIndex`` are written in one transaction, so a
        crash leaves both or neither: no trial is ever created twice or skipped.
        """
        plan = memory.plan
        start = index = self._next_index(sweep, memory)
        history: list[TrialOutcome] | None = None
        batch: list[NewJob] = []
        while running + len(batch) < limit and index < plan.max_total:
            if history is None and plan.sampler.needs_history:
                history = self._history(sweep, plan)
            params = plan.sampler.propose(index, history or [])
            if params is None:  # the space is exhausted
                index = plan.max_total
                break
            batch.append(self._trial_job(sweep, plan, index, params))
            index += 1
            if history is not None:
                history.append(TrialOutcome(index - 1, params, "running", None))
        if index == start:
            return []
        tokens = {job.name: new_token(JOB_TOKEN_PREFIX) for job in batch}
        created = self._store.add_trials(
            sweep.workspace_key,
            sweep.name,
            batch,
            path=ACCEPT_PATH,
            runtime={"nextIndex": index},
            fence=self._fence(sweep),
            tokens={name: hash_token(token) for name, token in tokens.items()},
        )
        memory.tokens.update((trial.name, tokens[trial.name]) for trial in created)
        memory.next_index = index
        memory.watching.update(trial.name for trial in created)
        memory.waiting.update(trial.name for trial in created)
        if memory.active is not None:
            memory.active.update((trial.name, False) for trial in created)
        return created

    def _trial_job(
        self, sweep: JobRecord, plan: _SweepPlan, index: int, params: Mapping[str, JsonValue]
    ) -> NewJob:
        spec = plan.spec
        trial = spec.trial
        values = substitutions(params)
        command = substitute_group(trial.command, "search_space", values)
        used = referenced(trial.command)["search_space"]
        extra = [
            f"{shell_word(name)} {shell_word(format_value(value))}"
            for name, value in params.items()
            if name.startswith("--") and name not in used
        ]
        if extra:
            command = " ".join([command, *extra])
        env = dict(trial.environment_variables or {})
        env.update(
            {f"AZUREML_SWEEP_{name.lstrip('-')}": format_value(v) for name, v in params.items()}
        )
        child = CommandJobSpec(
            command=command,
            compute=spec.compute,
            properties={
                P.HYPERPARAMETERS: json.dumps(dict(params), sort_keys=True),
                P.SWEEP_INDEX: str(index),
                P.PARENT_RUN_ID: sweep.name,
            },
            tags={"sweep": sweep.name},
            code_id=trial.code_id,
            distribution=trial.distribution,
            environment_id=trial.environment_id,
            environment_variables=env,
            experiment_name=spec.experiment_name or "Default",
            identity=spec.identity,
            input_data_bindings=trial.input_data_bindings,
            output_data_bindings=trial.output_data_bindings,
            timeout=trial.timeout,
        )
        return NewJob(
            workspace=self._workspace(sweep),
            name=f"{sweep.name}_{index}",
            job_type=child.job_type,
            spec=encode_job(child),
            priority=spec.priority or 0,
            experiment_name=child.experiment_name or "Default",
            parent_name=sweep.name,
            compute=sweep.compute,
        )

    def _workspace(self, sweep: JobRecord) -> WorkspaceRef:
        ws = self._workspaces.get(sweep.workspace_key) or self._store.get_workspace(
            sweep.workspace_key
        )
        if ws is None:
            raise Conflict(f"workspace {sweep.workspace_key} is gone")
        self._workspaces[sweep.workspace_key] = ws
        return ws

    def _history(self, sweep: JobRecord, plan: _SweepPlan) -> list[TrialOutcome]:
        """Every trial as the sampler sees it, rebuilt from the store."""
        trials = self._store.list_jobs(sweep.workspace_key, parent_name=sweep.name, limit=100_000)
        values = self._store.metric_histories(sweep.workspace_key, sweep.name, plan.metric)
        out = []
        for trial in trials:
            props = trial.spec.get("properties") or {}
            try:
                params = json.loads(props.get(P.HYPERPARAMETERS, "{}"))
                index = int(props.get(P.SWEEP_INDEX, "-1"))
            except ValueError:
                continue
            score = plan.objective.best(values.get(trial.name) or [])
            state = _outcome_state(trial)
            out.append(TrialOutcome(index, params, state, score))
        out.sort(key=lambda t: t.index)
        return out

    # -- early termination ------------------------------------------------------------
    def _early_terminate(self, sweep: JobRecord, memory: _Memory, active: list[JobRecord]) -> None:
        policy = memory.plan.policy
        running = [t for t in active if t.status in (S.RUNNING, S.FINALIZING)]
        if policy is None or not running:
            return
        histories = self._store.metric_histories(
            sweep.workspace_key, sweep.name, memory.plan.metric
        )
        for trial in running:
            values = histories.get(trial.name) or []
            done = memory.evaluated.get(trial.name, 0)
            for n in range(done + 1, len(values) + 1):
                memory.evaluated[trial.name] = n
                if not policy.should_evaluate(n):
                    continue
                decision = policy.decide(trial.name, n, histories, memory.plan.objective.goal)
                if decision.terminate:
                    self._store.set_system_properties(
                        trial.workspace_key, trial.name, {P.EARLY_TERMINATED: "true"}
                    )
                    self._ops.cancel_job(trial, f"{EARLY_TERMINATION}: {decision.reason}")
                    break

    # -- objective ----------------------------------------------------------------------
    def _rescore(self, sweep: JobRecord, memory: _Memory) -> None:
        plan = memory.plan
        histories = self._store.metric_histories(sweep.workspace_key, sweep.name, plan.metric)
        trials = self._store.list_jobs(
            sweep.workspace_key, parent_name=sweep.name, statuses=TERMINAL, limit=100_000
        )
        best: tuple[float, str] | None = None
        for trial in trials:
            values = histories.get(trial.name) or []
            score = plan.objective.best(values) if _eligible(trial) else None
            if score is None:
                continue
            if best is None or plan.objective.better(score, best[0]):
                best = (score, trial.name)
        if best is not None:
            self._store.set_system_properties(
                sweep.workspace_key,
                sweep.name,
                {P.BEST_CHILD_RUN_ID: best[1], P.SCORE: format_value(best[0])},
            )
            memory.best = best[0]

    def _score_pending(self, memory: _Memory) -> None:
        while memory.unscored:
            self._score(memory, memory.unscored.pop(0))

    def _score(self, memory: _Memory, trial: JobRecord) -> None:
        plan = memory.plan
        points = self._store.metric_history(trial.workspace_key, trial.name, plan.metric)
        score = plan.objective.best([p.value for p in points])
        if score is None:
            return
        self._store.set_system_properties(
            trial.workspace_key, trial.name, {P.SCORE: format_value(score)}
        )
        if not _eligible(trial):
            return
        if memory.best is None or plan.objective.better(score, memory.best):
            self._store.set_system_properties(
                trial.workspace_key,
                trial.parent_name or "",
                {P.BEST_CHILD_RUN_ID: trial.name, P.SCORE: format_value(score)},
            )
            memory.best = score


def _started(active: Mapping[str, bool], waiting: Collection[str]) -> int:
    """Active trials started (not waiting to start) and not being cancelled."""
    return sum(1 for name, cancelling in active.items() if not cancelling and name not in waiting)


def _running(memory: _Memory) -> int:
    """Active trials not being cancelled (started or waiting to start)."""
    assert memory.active is not None
    return sum(1 for cancelling in memory.active.values() if not cancelling)


def _float(value: str | None) -> float | None:
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


def _eligible(trial: JobRecord) -> bool:
    """Completed and cancelled trials count with what they reported; failed ones do not."""
    return trial.status in (S.COMPLETED, S.CANCELED)


def _outcome_state(trial: JobRecord) -> TrialState:
    if trial.status is S.COMPLETED:
        return "complete"
    if trial.status is S.CANCELED and (trial.status_reason or "").startswith(EARLY_TERMINATION):
        return "pruned"
    if trial.status in TERMINAL:
        return "failed"
    return "running"
