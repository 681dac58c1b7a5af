"""What a launcher is: a distribution (``PyTorch``, ``Mpi``, ``TensorFlow``) in, the processes
of the job out (``ProcessSpec``: name, log file, per-process environment, argv).

On the local executor every "node" of ``compute.instanceCount`` is this machine: the processes
all run here, rendezvous on the loopback address, and share the job's working directory.
"""

from __future__ import annotations

import abc
import contextlib
import socket
from dataclasses import dataclass, field
from typing import ClassVar, TypeVar

from amlite.domain.specs import Distribution
from amlite.executors._base import ProcessSpec

D = TypeVar("D", bound=Distribution)

LOCAL_ADDR = "127.0.0.1"
"""The rendezvous address of every local job: only the loopback interface is used."""

SINGLE_LOG = "user_logs/std_log.txt"


def process_log(rank: int) -> str:
    """The log of process ``rank`` of a distributed job (Azure's name)."""
    return f"user_logs/std_log_process_{rank}.txt"


def free_ports(count: int) -> list[int]:
    """``count`` distinct TCP ports free on the loopback address right now (held together
    while choosing, so they differ; a process may still take one before the job binds it)."""
    socks: list[socket.socket] = []
    try:
        for _ in range(count):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            socks.append(s)
            s.bind((LOCAL_ADDR, 0))
        return [int(s.getsockname()[1]) for s in socks]
    finally:
        for s in socks:
            with contextlib.suppress(OSError):
                s.close()


def split_over_nodes(total: int, nodes: int) -> list[int]:
    """How many of ``total`` processes each of ``nodes`` nodes runs: as even as possible,
    the first nodes taking one more when it does not divide."""
    base, extra = divmod(total, nodes)
    return [base + (1 if i < extra else 0) for i in range(nodes)]


@dataclass(frozen=True)
class LaunchRequest:
    distribution: Distribution | None
    """The job's ``distribution``, None if none."""
    nodes: int
    """``compute.instanceCount`` (at least 1)."""
    command: str
    """The job's command, placeholders substituted."""
    artifacts_dir: str
    """Where ``user_logs/`` goes (for launchers whose processes write their own logs)."""
    path: str | None = None
    """PATH to find launcher programs (``mpirun``) on; None: do not check when planning
    (the supervisor still fails clearly if one is missing)."""
    hosts: tuple[str, ...] = ()
    """The address of each node when the job runs on a cluster; empty: every node is this
    machine, reached on the loopback address."""

    def host(self, node: int) -> str:
        return self.hosts[node] if self.hosts else LOCAL_ADDR


@dataclass(frozen=True)
class Launch:
    processes: list[ProcessSpec] = field(default_factory=list)
    """Empty: the plan's single ``bash -c COMMAND``."""
    fail_reason: str | None = None
    """Set when the job cannot run (e.g. ``mpirun`` is missing): it fails with this reason."""


class Launcher(abc.ABC):
    """One distribution type."""

    kind: ClassVar[str]
    """The wire ``distributionType`` ("" for a job without distribution)."""

    @abc.abstractmethod
    def process_count(self, distribution: Distribution | None, nodes: int) -> int:
        """How many processes the job runs in total (for capacity accounting too)."""

    @abc.abstractmethod
    def launch(self, request: LaunchRequest) -> Launch:
        """The job's processes."""


def own(distribution: Distribution | None, kind: type[D]) -> D:
    """``distribution`` as the type its launcher handles (the registry picks by ``kind``)."""
    if not isinstance(distribution, kind):
        raise TypeError(f"the {kind.kind} launcher was given {distribution!r}")
    return distribution


class PerNodeLauncher(Launcher):
    """No distribution: Azure runs the command once on each node. Locally that is one process
    per ``instanceCount`` (sharing the working directory), without any rank variables;
    a single node is the plain single-process plan."""

    kind = ""

    def process_count(self, distribution: Distribution | None, nodes: int) -> int:
        return nodes

    def launch(self, request: LaunchRequest) -> Launch:
        if request.nodes <= 1:
            return Launch()
        return Launch(
            [
                ProcessSpec(name=f"node {i}", log=process_log(i), node=i)
                for i in range(request.nodes)
            ]
        )
