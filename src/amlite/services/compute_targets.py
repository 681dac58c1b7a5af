"""Which backend runs a compute, and the checks a job on a Ray compute gets at submit.

A compute of type ``Ray`` names a Ray cluster by its dashboard address; every other
compute (``local``, and Azure types kept for templates) runs on this machine.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from amlite.domain.arm_id import parse_resource_id
from amlite.domain.demand import demand_of, never_fits_reason
from amlite.domain.specs import JobSpec, Mpi
from amlite.errors import ValidationFailed, Violation
from amlite.executors.launchers import process_count
from amlite.executors.ray.cluster import RayCluster, RayUnavailable, normalise_address
from amlite.services.asset_cache import AssetReader
from amlite.services.envelopes import DEFAULT_COMPUTE
from amlite.store import Store

REACH_TIMEOUT_SECONDS = 3.0
"""How long a submit waits for a Ray cluster to answer before refusing the job."""


@dataclass(frozen=True)
class ComputeTarget:
    name: str
    address: str | None = None
    """The Ray dashboard's base URL; None: this machine."""
    python: str | None = None
    """The interpreter on the Ray nodes (the server's own if None)."""

    @property
    def is_ray(self) -> bool:
        return self.address is not None


def target_of(store: AssetReader, workspace_key: str, compute: str) -> ComputeTarget:
    """Raises ValueError for a compute that was deleted (or a Ray address that is unusable)."""
    elsewhere = parse_resource_id(compute)
    if elsewhere is not None:  # a compute of another workspace
        workspace_key = elsewhere.workspace.key
    record = store.get_asset(workspace_key, "computes", elsewhere.name if elsewhere else compute)
    if record is None and compute.lower() != DEFAULT_COMPUTE:
        raise ValueError(f"the compute '{compute}' no longer exists")
    body = (record.body.get("properties") or {}) if record is not None else {}
    if str(body.get("computeType") or "").lower() != "ray":
        return ComputeTarget(compute)
    inner = body.get("properties") or {}
    python = inner.get("python")
    return ComputeTarget(
        compute, normalise_address(str(inner.get("address") or "")), str(python) if python else None
    )


def runs_here(store: Store, workspace_key: str, compute: str) -> bool:
    """True for a compute that exists and runs on this machine (not a Ray cluster)."""
    try:
        return not target_of(store, workspace_key, compute).is_ray
    except ValueError:
        return False


def check_ray_compute(resource: Mapping[str, Any]) -> None:
    """A Ray compute's address must answer when it is registered (400 naming it)."""
    props = resource.get("properties") or {}
    if str(props.get("computeType") or "").lower() != "ray":
        return
    field = "properties.properties.address"
    address = str((props.get("properties") or {}).get("address") or "")
    try:
        RayCluster(normalise_address(address), REACH_TIMEOUT_SECONDS).version()
    except ValueError as exc:
        raise ValidationFailed.one(field, str(exc)) from None
    except RayUnavailable as exc:
        raise ValidationFailed.one(field, f"{exc}; is the Ray dashboard running there?") from None


def check_job_on_ray(store: Store, workspace_key: str, spec: JobSpec, compute: str) -> None:
    """Refuse at submit (400 naming the field) a job its Ray compute can never run: the
    cluster does not answer, no nodes are big enough, or MPI across nodes."""
    try:
        target = target_of(store, workspace_key, compute)
    except ValueError as exc:
        raise ValidationFailed.one("properties.compute.target", str(exc)) from None
    if not target.is_ray or target.address is None:
        return
    work = spec.workload()
    if isinstance(work.distribution, Mpi) and work.compute.nodes > 1:
        raise ValidationFailed.one(
            "properties.distribution.distributionType",
            "Mpi jobs on more than one node need mpirun to reach every node over ssh, which "
            "a Ray compute does not provide: use instanceCount 1 or PyTorch distribution",
        )
    try:
        nodes = RayCluster(target.address, REACH_TIMEOUT_SECONDS).nodes()
    except RayUnavailable as exc:
        raise ValidationFailed.one(
            "properties.compute.target", f"Ray compute '{compute}': {exc}"
        ) from None
    demand = demand_of(work.compute, lambda: process_count(work))
    why = never_fits_reason(demand, nodes)
    if why is None:
        return
    if any(demand.per_node.fits_in(n.total) for n in nodes):
        field = "properties.compute.instanceCount"
    elif work.compute.instance_type:
        field = "properties.compute.instanceType"
    else:  # one CPU per process: too many processes for one node
        field = "properties.distribution"
    raise ValidationFailed(
        [Violation(field, f"Ray compute '{compute}' cannot run this job: {why}", "Unplaceable")]
    )
