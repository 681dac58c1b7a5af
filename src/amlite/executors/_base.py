"""The executor contract: a fully resolved ``RunPlan`` in, process bookkeeping and reports out.

A plan is plain data (JSON-serialisable): the supervisor process executes it without the
server, so a job keeps running when the server stops, and the server reconciles it when it
starts again from the files the supervisor leaves in ``run_dir`` (``plan.json``,
``supervisor.pid``, ``events.jsonl``, ``cancel_reason``, ``result.json``: the contract is
``amlite.executors.supervisor.contract``).

A plan runs one process (``bash -c COMMAND``, logging to ``user_logs/std_log.txt``) unless
``processes`` lists several (a distributed job, see ``amlite.executors.launchers``).
"""

from __future__ import annotations

import abc
import contextlib
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any, Literal

from amlite.domain.file_steps import FileStep
from amlite.executors.supervisor.contract import RunResult


class AlreadyStarted(RuntimeError):
    """Nothing was started: the job already runs, or is being started, elsewhere (another
    server started it while this one stalled: a live supervisor in its run directory, the
    run directory's start lock, a Ray job under its submission id), or this server no
    longer holds it (``Executor.start``'s ``guard``)."""


def check_guard(guard: Callable[[], bool] | None) -> None:
    """Raise ``AlreadyStarted`` unless ``guard`` (``Executor.start``'s) lets the start go on."""
    if guard is not None and not guard():
        raise AlreadyStarted("this server no longer holds the job: another server took it over")


@dataclass(frozen=True)
class EnvironmentBuild:
    """A cached virtualenv the supervisor makes (once, under a file lock) before the command."""

    dir: str
    """Where the venv lives; ``dir/.ready`` marks a finished build."""
    python: str
    """The interpreter to build it from."""
    requirements: list[str]
    """pip requirement specifiers."""
    notes: list[str] = field(default_factory=list)
    """Lines for the job's system log (e.g. a python version the host cannot provide)."""


@dataclass(frozen=True)
class ProcessSpec:
    """One process of a multi-process (distributed) job, in its own process group."""

    name: str
    """How the job's messages call it: ``rank 1``, ``worker 0``, ``ps 0``, ``mpirun``."""
    log: str
    """Its stdout and stderr, relative to the plan's ``artifacts_dir``
    (``user_logs/std_log_process_{rank}.txt``)."""
    env: dict[str, str] = field(default_factory=dict)
    """Added on top of the plan's ``env`` (``RANK``, ``TF_CONFIG``, ...)."""
    argv: list[str] | None = None
    """None: ``bash -c COMMAND`` (the plan's command)."""
    node: int = 0
    """Which of the job's nodes (``compute.instanceCount``) runs it."""


@dataclass(frozen=True)
class NodeSlot:
    """One node of a job placed on a cluster, and what the job holds there."""

    id: str
    """The cluster's id of the node."""
    address: str
    """Its IP address (``MASTER_ADDR`` when it is node 0)."""
    cpus: float
    memory: int
    """Bytes."""
    gpus: float = 0


@dataclass(frozen=True)
class SandboxSpec:
    """How the supervisor confines the job's processes (and its environment build); see
    ``amlite.executors.sandbox`` and docs/security.md."""

    mode: Literal["bwrap", "none"]
    program: str = ""
    """The ``bwrap`` executable (mode ``bwrap``)."""
    hide: list[str] = field(default_factory=list)
    """Directories the job must not see (the server's home): an empty tmpfs in their place;
    the job's own paths under them are bound back (working directory, inputs, outputs,
    mounts, its environment's venv read-only)."""


@dataclass(frozen=True)
class RunPlan:
    job_id: str
    """The job's ARM id, for logs."""
    run_dir: str
    """Supervisor state: plan, events, result."""
    working_dir: str
    """Fresh directory holding the code snapshot; the command runs here."""
    artifacts_dir: str
    """Where ``user_logs/``, ``system_logs/``, ``outputs/`` and ``logs/`` of the job end up."""
    command: str
    """Placeholders already substituted; run with ``bash -c``."""
    env: dict[str, str]
    """The complete extra environment (user's variables, then the runtime's, which win)."""
    timeout_seconds: float | None = None
    prepare: list[FileStep] = field(default_factory=list)
    finalize: list[FileStep] = field(default_factory=list)
    """Run after the command whatever its outcome (outputs upload, ``./outputs`` and ``./logs``)."""
    environment: EnvironmentBuild | None = None
    """None: run with the server's own Python first on PATH."""
    fail_reason: str | None = None
    """If set, the supervisor fails the job at once with this reason (e.g. docker-only
    environment)."""
    processes: list[ProcessSpec] = field(default_factory=list)
    """Empty: one process, ``bash -c COMMAND`` logging to ``user_logs/std_log.txt``. Otherwise
    all of them start together in the working directory; the first to fail fails the job and
    stops the others, and a cancel or timeout stops them all."""

    nodes: list[NodeSlot] = field(default_factory=list)
    """Where a cluster backend placed the job, node 0 first; empty on the local executor."""
    sandbox: SandboxSpec | None = None
    """None: the job runs unconfined, as the supervisor's user (cluster backends)."""
    start_id: str = ""
    """What starts of this job have in common on every server (workspace, name, submission
    number and creation time: never the same for two jobs, even one deleted and created
    again under the same name): a cluster backend names the job's submission after it,
    so that the cluster itself refuses a second copy. Empty: a plan not built for a
    stored job."""
    slot_group: str = ""
    """Jobs whose runs may pass their slot on to each other (``Executor.stage``): the
    trials of one sweep, which ask for the same resources and share one concurrency limit.
    Empty: none."""

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> RunPlan:
        data = dict(data)
        data["prepare"] = [FileStep(**s) for s in data.get("prepare", [])]
        data["finalize"] = [FileStep(**s) for s in data.get("finalize", [])]
        env = data.get("environment")
        data["environment"] = EnvironmentBuild(**env) if env else None
        data["processes"] = [ProcessSpec(**p) for p in data.get("processes") or []]
        data["nodes"] = [NodeSlot(**n) for n in data.get("nodes") or []]
        box = data.get("sandbox")
        data["sandbox"] = SandboxSpec(**box) if box else None
        return cls(**data)


@dataclass(frozen=True)
class Launch:
    """A staged plan that started (``Executor.stage``)."""

    run_dir: str
    runtime: dict[str, Any]
    """As ``Executor.start`` returns it."""
    at: datetime
    """When it was told to go."""


@dataclass(frozen=True)
class RunReport:
    """What the executor can tell about a started job."""

    events: list[dict[str, str]]
    """Status events the supervisor wrote, oldest first (``status``, ``at``)."""
    result: RunResult | None
    """How the run ended (``result.json``) once the supervisor finished."""
    alive: bool
    """Whether the supervisor process still runs."""
    note: str | None = None
    """What the backend knows of a run that ended without a result."""


class Executor(abc.ABC):
    @abc.abstractmethod
    def start(self, plan: RunPlan, guard: Callable[[], bool] | None = None) -> dict[str, Any]:
        """Start the supervisor for ``plan``; return the runtime bookkeeping to store
        (at least ``run_dir``, ``pid`` and ``pidStart``, the process start time that guards
        against pid reuse). ``guard`` is asked just before the step that cannot be undone
        (the spawn, the submission; the scheduler's fence check): if it answers False,
        nothing is started and ``AlreadyStarted`` is raised."""

    @abc.abstractmethod
    def cancel(self, runtime: dict[str, Any], reason: str) -> None:
        """Ask the supervisor to kill the job's whole process tree and finish as Canceled."""

    @abc.abstractmethod
    def recover(self, run_dir: str) -> dict[str, Any] | None:
        """The runtime of a supervisor started in ``run_dir`` whose runtime was never stored
        (the server stopped right after starting it); None if none ever started there."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release what the executor holds between jobs (e.g. a spare process)."""

    @contextlib.contextmanager
    def deferring(self) -> Iterator[None]:
        """Within the block, ``start`` in this thread leaves the background work a start
        sets off (threads woken to follow the process, to start a spare) until the block
        ends: the scheduler records Running first, without those threads competing with it
        for the interpreter. The default has none to defer."""
        yield

    # -- staged starts (optional) ----------------------------------------------------------
    # A staged plan's supervisor is made ready ahead (its run directory written, a process
    # waiting) and starts the moment a run of its ``slot_group`` ends on this executor,
    # without a round of the scheduler in between: the end of a sweep's trial starts the
    # next one within a millisecond. Until it goes, nothing of it runs and its job stays
    # Queued; the scheduler records it Running afterwards (``launched``). The default
    # executor cannot stage: ``stage`` answers None, and every job starts with ``start``.

    def stage(self, plan: RunPlan, guard: Callable[[], bool] | None = None) -> bool:
        """Make ``plan`` ready to start when a run of ``plan.slot_group`` that this executor
        started ends (or when ``go`` is called). False: not staged (the executor cannot
        stage, or has no process ready for it); start it with ``start`` when its turn comes.
        Raises as ``start`` does."""
        return False

    def go(self, run_dir: str) -> Launch | None:
        """Start the plan staged in ``run_dir`` now (its turn came in a scheduler round);
        its ``Launch`` also if it had started already. None if nothing is staged there."""
        return None

    def withdraw(self, run_dir: str) -> Launch | None:
        """Let go of the plan staged in ``run_dir``: None once nothing of it runs (also when
        nothing was staged there); its ``Launch`` if it started before this call (it runs:
        the caller records or stops it)."""
        return None

    def launched(self) -> list[Launch]:
        """The staged plans that started since the last call, as a run of their group
        ended; each is returned once (by this, ``go`` or ``withdraw``)."""
        return []

    @abc.abstractmethod
    def report(self, runtime: dict[str, Any]) -> RunReport:
        """Read what the supervisor left so far. Never blocks."""
