"""Capacity of the local machine and of a cluster: placement, queue reasons, never-fits."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from amlite.domain.demand import Demand, never_fits_reason
from amlite.domain.resources import GIB, ClusterNode, Resources
from amlite.domain.spec_codec import decode_job
from amlite.domain.specs import Compute, PyTorch, Workload
from amlite.executors.launchers import process_count
from amlite.scheduler.capacity import ClusterPool, LocalPool, NeverFits, place

NODES = [
    ClusterNode("a", "10.0.0.1", Resources(2, 8 * GIB)),
    ClusterNode("b", "10.0.0.2", Resources(2, 8 * GIB)),
]


def spec(**compute: Any) -> Workload:
    return decode_job({"jobType": "Command", "command": "true", "compute": compute}).workload()


def demand_of(work: Workload) -> Demand:
    from amlite.domain.demand import demand_of

    return demand_of(work.compute, lambda: process_count(work))


def started(*nodes: dict[str, Any]) -> SimpleNamespace:
    return SimpleNamespace(runtime={"executor": "ray", "nodes": list(nodes)}, spec={})


def test_demand_comes_from_the_instance_type_or_one_cpu_per_process() -> None:
    assert demand_of(spec(instanceType="Standard_DS3_v2", instanceCount=2)) == Demand(
        2, Resources(4, 14 * GIB)
    )
    assert demand_of(spec(instanceType="cpu=1,memory=2,gpu=1")) == Demand(
        1, Resources(1, 2 * GIB, 1)
    )
    torch = Workload(Compute(instance_count=2), PyTorch(process_count=5))
    assert demand_of(torch) == Demand(2, Resources(3))  # 3 + 2 processes: the busiest node


def test_place_picks_distinct_nodes_best_fit_first() -> None:
    free = {"a": Resources(2), "b": Resources(1), "c": Resources(4)}
    assert place(Demand(1, Resources(1)), free) == ["b"]
    assert place(Demand(2, Resources(2)), free) == ["a", "c"]
    assert place(Demand(3, Resources(2)), free) is None


def test_never_fits_names_what_the_cluster_has() -> None:
    assert never_fits_reason(Demand(2, Resources(2)), NODES) is None
    why = never_fits_reason(Demand(3, Resources(1)), NODES)
    assert why == (
        "needs 1 CPU on each of 3 nodes; the cluster has 2 nodes "
        "(largest: 2 CPUs, 8 GiB memory), 2 nodes big enough"
    )
    gpu = never_fits_reason(Demand(1, Resources(1, 0, 1)), NODES)
    assert gpu is not None and gpu.startswith("needs 1 CPU, 1 GPU on one node")


def test_cluster_pool_counts_what_started_jobs_hold_and_says_why_a_job_waits() -> None:
    pool = ClusterPool("http://ray", NODES)
    pool.reset([started({"id": "a", "cpus": 2, "memory": 0, "gpus": 0})])
    whole = spec(instanceType="cpu=2", instanceCount=2)
    assert pool.take(whole) is None
    assert pool.reason(whole) == "needs 2 CPUs on each of 2 nodes; 1 of 2 nodes has that free"
    one = pool.take(spec(instanceType="cpu=1"))
    assert one is not None and [n.id for n in one] == ["b"] and one[0].address == "10.0.0.2"
    assert pool.reason(spec(instanceType="cpu=2")) == (
        "needs 2 CPUs on one node; 0 of 2 nodes have that free"
    )
    with pytest.raises(NeverFits):
        pool.take(spec(instanceCount=3))


def test_two_whole_cluster_jobs_take_turns_instead_of_half_each() -> None:
    pool = ClusterPool("http://ray", NODES)
    pool.reset([])
    whole = spec(instanceType="cpu=2", instanceCount=2)
    first = pool.take(whole)
    assert first is not None and sorted(n.id for n in first) == ["a", "b"]
    assert pool.take(whole) is None  # all or nothing: the second waits whole


def test_local_pool_holds_a_slot_per_process_up_to_the_machine() -> None:
    pool = LocalPool(2)
    pool.reset([])
    four = Workload(Compute(), PyTorch(process_count=4))
    assert pool.take(four) == []  # capped at the machine: it runs alone
    assert pool.take(spec()) is None
    assert pool.reason(spec()) == "needs 1 local slot; 0 of 2 free"


def test_local_pool_counts_what_started_jobs_hold_from_their_stored_spec() -> None:
    two = {
        "jobType": "Command",
        "command": "x",
        "compute": {},
        "distribution": {"distributionType": "PyTorch", "processCount": 2},
    }
    broken = {"jobType": "Command", "command": "x", "compute": {"instanceCount": "2"}}
    pool = LocalPool(4)
    pool.reset([JobLike(two), JobLike(broken)])  # a malformed stored spec holds one slot
    assert pool.free == 1


class JobLike:
    def __init__(self, spec: dict[str, Any]) -> None:
        self.spec = spec

    @property
    def job_spec(self) -> Any:
        return decode_job(self.spec)


def test_room_is_how_many_such_jobs_the_idle_pool_holds() -> None:
    pool = ClusterPool("http://ray", NODES)
    assert pool.room(spec(instanceType="cpu=1")) == 4
    assert pool.room(spec(instanceType="cpu=1", instanceCount=2)) == 2
    assert pool.room(spec(instanceType="cpu=1,memory=5")) == 2  # memory bounds it
    assert LocalPool(4).room(spec()) == 4
