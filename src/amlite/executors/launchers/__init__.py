"""Launchers: how the processes of a (distributed) job are started, one per distribution type.

``launch(workload, command, artifacts_dir)`` turns a job's ``distribution`` and
``compute.instanceCount`` (its typed ``Workload``) into the ``ProcessSpec`` list of its
``RunPlan``; ``process_count(workload)`` is the number of processes the job runs.
"""

from __future__ import annotations

from amlite.domain.specs import Workload
from amlite.executors._base import ProcessSpec
from amlite.executors.launchers._base import (
    SINGLE_LOG,
    Launch,
    Launcher,
    LaunchRequest,
    PerNodeLauncher,
)
from amlite.executors.launchers.mpi import MpiLauncher
from amlite.executors.launchers.pytorch import PyTorchLauncher
from amlite.executors.launchers.tensorflow import TensorFlowLauncher

__all__ = ["LAUNCHERS", "Launch", "LaunchRequest", "Launcher", "launch", "process_count"]

LAUNCHERS: dict[str, Launcher] = {
    launcher.kind: launcher
    for launcher in (PerNodeLauncher(), PyTorchLauncher(), MpiLauncher(), TensorFlowLauncher())
}
"""By ``distributionType`` (the distribution's ``kind``); ``""`` is a job without distribution."""


def _launcher(work: Workload) -> Launcher:
    kind = work.distribution.kind if work.distribution is not None else ""
    launcher = LAUNCHERS.get(kind)
    if launcher is None:
        raise ValueError(f"unknown distributionType {kind!r}")
    return launcher


def process_count(work: Workload) -> int:
    """How many processes the job (or each trial of a sweep) runs."""
    return _launcher(work).process_count(work.distribution, work.compute.nodes)


def launch(
    work: Workload,
    command: str,
    artifacts_dir: str,
    path: str | None = None,
    hosts: tuple[str, ...] = (),
) -> Launch:
    """The processes of the job; ``path`` is the PATH to check launcher programs against
    (None: do not check); ``hosts`` the address of each node on a cluster (empty: all
    local). Raises ValueError for a distribution that cannot run."""
    result = _launcher(work).launch(
        LaunchRequest(
            work.distribution, work.compute.nodes, command, artifacts_dir, path, tuple(hosts)
        )
    )
    procs = result.processes
    if len(procs) == 1 and procs[0].argv is None:
        # one process logs to std_log.txt, as a job without distribution does
        procs = [ProcessSpec(name="command", log=SINGLE_LOG, env=procs[0].env)]
    return Launch(procs, result.fail_reason)
