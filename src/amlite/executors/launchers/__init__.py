"""Launchers: how the processes of a (distributed) job are started, one per distribution type.

``launch(spec, command, artifacts_dir)`` turns a job's ``distribution`` and
``compute.instanceCount`` into the ``ProcessSpec`` list of its ``RunPlan``;
``process_count(spec)`` is the number of processes the job runs.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

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
"""By wire ``distributionType``; ``""`` is a job without distribution."""


def _parts(spec: Mapping[str, Any]) -> tuple[Launcher, Mapping[str, Any], int]:
    distribution = spec.get("distribution") or {}
    nodes = max(1, int((spec.get("compute") or {}).get("instanceCount") or 1))
    kind = str(distribution.get("distributionType") or "")
    launcher = LAUNCHERS.get(kind)
    if launcher is None:
        raise ValueError(f"unknown distributionType {kind!r}")
    return launcher, distribution, nodes


def process_count(spec: Mapping[str, Any]) -> int:
    """How many processes the job (a stored Command job spec, wire form) runs."""
    launcher, distribution, nodes = _parts(spec)
    return launcher.process_count(distribution, nodes)


def launch(
    spec: Mapping[str, Any],
    command: str,
    artifacts_dir: str,
    path: str | None = None,
    hosts: tuple[str, ...] = (),
) -> Launch:
    """The processes of the job; ``path`` is the PATH to check launcher programs against
    (None: do not check); ``hosts`` the address of each node on a cluster (empty: all
    local). Raises ValueError for a distribution that cannot run."""
    launcher, distribution, nodes = _parts(spec)
    result = launcher.launch(
        LaunchRequest(distribution, nodes, command, artifacts_dir, path, tuple(hosts))
    )
    procs = result.processes
    if len(procs) == 1 and procs[0].argv is None:
        # one process logs to std_log.txt, as a job without distribution does
        procs = [ProcessSpec(name="command", log=SINGLE_LOG, env=procs[0].env)]
    return Launch(procs, result.fail_reason)
