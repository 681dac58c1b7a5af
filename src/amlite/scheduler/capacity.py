"""Capacity: what a job asks of its compute, whether it fits now, and why it waits.

Every compute belongs to a pool. The ``local`` pool is this machine's slots (a job holds
one per process, at most all of them). A Ray pool is the nodes of one Ray cluster: a job
needs ``compute.instanceCount`` distinct nodes, each with the resources of its
``instanceType`` free; amlite picks the nodes (and pins the work to them), so its own jobs
never oversubscribe a node and two multi-node jobs never hold half of each other's nodes.

Within a pool the queue is strict: the first job that does not fit stops the pool's round,
so a smaller job behind it cannot overtake it (priority, then submission order).
"""

from __future__ import annotations

import abc
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from amlite.domain.demand import Demand, demand_of, never_fits_reason
from amlite.domain.resources import ClusterNode, Resources, plural
from amlite.domain.specs import Workload
from amlite.executors._base import NodeSlot
from amlite.executors.launchers import process_count


class NeverFits(Exception):
    """The job asks for more than its compute has, even with nothing else running."""


def _demand(work: Workload) -> Demand:
    """The demand of a Command job: its compute, and its launcher's process count."""
    return demand_of(work.compute, lambda: process_count(work))


def place(demand: Demand, free: Mapping[str, Resources]) -> list[str] | None:
    """``demand.nodes`` distinct node ids whose free resources hold ``per_node``; the
    fullest nodes that fit first (best fit), so large holes stay for large jobs. None: not now."""
    fitting = [nid for nid, room in free.items() if demand.per_node.fits_in(room)]
    if len(fitting) < demand.nodes:
        return None
    fitting.sort(key=lambda nid: (free[nid].cpus, free[nid].gpus, free[nid].memory, nid))
    return fitting[: demand.nodes]


def waiting_reason(demand: Demand, free: Mapping[str, Resources]) -> str:
    """E.g. ``needs 2 CPUs on each of 2 nodes; 1 of 2 nodes has that free``."""
    fitting = sum(1 for room in free.values() if demand.per_node.fits_in(room))
    has = "has" if fitting == 1 else "have"
    return f"{demand.describe()}; {fitting} of {plural(len(free), 'node')} {has} that free"


def held_by(runtimes: Iterable[Mapping[str, Any]]) -> dict[str, Resources]:
    """What started jobs hold on each node, from the ``nodes`` of their runtimes."""
    held: dict[str, Resources] = {}
    for runtime in runtimes:
        for node in runtime.get("nodes") or []:
            nid = str(node.get("id"))
            used = Resources(
                float(node.get("cpus") or 0),
                int(node.get("memory") or 0),
                float(node.get("gpus") or 0),
            )
            held[nid] = held.get(nid, Resources()).plus(used)
    return held


class Pool(abc.ABC):
    """The capacity of one compute (or one cluster several computes name)."""

    key: str

    @abc.abstractmethod
    def reset(self, started: Sequence[Any]) -> None:
        """Start a dispatch round: ``started`` are the jobs (``JobRecord``) running here."""

    @abc.abstractmethod
    def take(self, work: Workload) -> list[NodeSlot] | None:
        """Reserve room for a job: its nodes (empty for the local pool), or None when it
        does not fit now (the pool is then closed for this round). Raises ``NeverFits``."""

    @abc.abstractmethod
    def give_back(self, work: Workload, nodes: Sequence[NodeSlot]) -> None:
        """Return what ``take`` reserved (``nodes``) for a job that did not start after all."""

    @abc.abstractmethod
    def reason(self, work: Workload) -> str:
        """Why a queued job of this pool waits, from the last round."""

    @abc.abstractmethod
    def room(self, work: Workload) -> int:
        """How many jobs like this one the whole pool holds at once (at least 1)."""


class LocalPool(Pool):
    """This machine: ``slots`` slots, a job holds one per process, at most all of them."""

    key = "local"

    def __init__(self, slots: int) -> None:
        self.slots = slots
        self.free = slots

    def need(self, work: Workload) -> int:
        try:
            return max(1, min(process_count(work), self.slots))
        except (ValueError, TypeError):
            return 1

    def reset(self, started: Sequence[Any]) -> None:
        self.free = max(0, self.slots - sum(self._held(job) for job in started))

    def _held(self, job: Any) -> int:
        """The slots a started job (``JobRecord``) holds; 1 when its stored spec is malformed."""
        try:
            return self.need(job.job_spec.workload())
        except ValueError:
            return 1

    def take(self, work: Workload) -> list[NodeSlot] | None:
        need = self.need(work)
        if need > self.free:
            return None
        self.free -= need
        return []

    def give_back(self, work: Workload, nodes: Sequence[NodeSlot]) -> None:
        self.free = min(self.slots, self.free + self.need(work))

    def reason(self, work: Workload) -> str:
        need = self.need(work)
        if need > self.free:
            return f"needs {plural(need, 'local slot')}; {self.free} of {self.slots} free"
        return "waiting for its turn: jobs queued before it (priority, then submission) go first"

    def room(self, work: Workload) -> int:
        return max(1, self.slots // self.need(work))


class ClusterPool(Pool):
    """The nodes of a cluster, as its backend reports them, minus what amlite's started
    jobs there hold."""

    def __init__(self, key: str, nodes: Sequence[ClusterNode]) -> None:
        self.key = key
        self.nodes = list(nodes)
        self.free: dict[str, Resources] = {n.id: n.total for n in self.nodes}

    def set_nodes(self, nodes: Sequence[ClusterNode]) -> None:
        self.nodes = list(nodes)

    def reset(self, started: Sequence[Any]) -> None:
        held = held_by(job.runtime for job in started)
        self.free = {n.id: n.total.minus(held.get(n.id, Resources())) for n in self.nodes}

    def take(self, work: Workload) -> list[NodeSlot] | None:
        demand = _demand(work)
        why = never_fits_reason(demand, self.nodes)
        if why is not None:
            raise NeverFits(why)
        chosen = place(demand, self.free)
        if chosen is None:
            return None
        by_id = {n.id: n for n in self.nodes}
        slots = []
        for nid in chosen:
            self.free[nid] = self.free[nid].minus(demand.per_node)
            r = demand.per_node
            slots.append(NodeSlot(nid, by_id[nid].address, r.cpus, r.memory, r.gpus))
        return slots

    def give_back(self, work: Workload, nodes: Sequence[NodeSlot]) -> None:
        for slot in nodes:
            room = self.free.get(slot.id)
            if room is not None:
                self.free[slot.id] = room.plus(Resources(slot.cpus, slot.memory, slot.gpus))

    def reason(self, work: Workload) -> str:
        demand = _demand(work)
        why = never_fits_reason(demand, self.nodes)
        if why is not None:
            return why
        if place(demand, self.free) is None:
            return waiting_reason(demand, self.free)
        return "waiting for its turn: jobs queued before it (priority, then submission) go first"

    def room(self, work: Workload) -> int:
        demand = _demand(work)
        return max(1, sum(copies(demand.per_node, n.total) for n in self.nodes) // demand.nodes)


def copies(each: Resources, total: Resources) -> int:
    """How many ``each`` fit in ``total``."""
    counts = [int(total.cpus // each.cpus + 1e-9)] if each.cpus else []
    if each.memory:
        counts.append(total.memory // each.memory)
    if each.gpus:
        counts.append(int(total.gpus // each.gpus + 1e-9))
    return min(counts) if counts else 1
