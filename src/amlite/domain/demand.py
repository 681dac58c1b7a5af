"""What a job asks of a cluster, and whether a cluster can ever hold it (pure rules shared by
the submit-time check in ``services`` and the scheduler's pools)."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from amlite.domain.resources import GIB, ClusterNode, Resources, plural
from amlite.domain.skus import parse_instance_type
from amlite.domain.specs import Compute


@dataclass(frozen=True)
class Demand:
    """What a Command job asks of a cluster: ``nodes`` distinct nodes, ``per_node`` on each."""

    nodes: int
    per_node: Resources

    def describe(self) -> str:
        if self.nodes == 1:
            return f"needs {self.per_node.describe()} on one node"
        return f"needs {self.per_node.describe()} on each of {self.nodes} nodes"


def demand_of(compute: Compute, processes: Callable[[], int]) -> Demand:
    """From ``compute.instanceType`` (a VM size or ``cpu=,memory=,gpu=``) and
    ``instanceCount``; without an instance type, one CPU per process on the busiest node.
    ``processes`` counts the job's processes (its launcher knows; asked only when needed)."""
    nodes = compute.nodes
    kind = compute.instance_type
    if kind:
        sku = parse_instance_type(kind)
        return Demand(nodes, Resources(sku.cpus, int(sku.memory_gib * GIB), sku.gpus))
    per_node = math.ceil(max(1, processes()) / nodes)
    return Demand(nodes, Resources(float(per_node)))


def never_fits_reason(demand: Demand, nodes: Sequence[ClusterNode]) -> str | None:
    """Why ``demand`` cannot run on these nodes even when they are idle; None if it can."""
    big_enough = [n for n in nodes if demand.per_node.fits_in(n.total)]
    if len(big_enough) >= demand.nodes:
        return None
    largest = max((n.total for n in nodes), key=lambda r: (r.cpus, r.memory, r.gpus), default=None)
    have = f"the cluster has {plural(len(nodes), 'node')}"
    if largest is not None:
        have += f" (largest: {largest.describe()})"
    if big_enough:
        have += f", {plural(len(big_enough), 'node')} big enough"
    return f"{demand.describe()}; {have}"
