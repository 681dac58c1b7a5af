"""Backends: the executor and capacity pool behind each compute.

The local executor and pool serve every compute that is not of type Ray. Each Ray cluster
(by dashboard address, however many computes name it) has one ``RayExecutor`` and one
``ClusterPool`` whose nodes are refreshed from the cluster before each dispatch round.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from amlite.domain.specs import Workload
from amlite.executors._base import Executor
from amlite.executors.ray.cluster import RayCluster
from amlite.executors.ray.executor import RayExecutor
from amlite.executors.run_files import run_dir_in
from amlite.scheduler.capacity import ClusterPool, LocalPool, Pool
from amlite.services.asset_cache import AssetReader
from amlite.services.compute_targets import ComputeTarget, target_of
from amlite.store import JobRecord, Store

UNREACHABLE_GRACE_SECONDS = 60.0
"""How long queued jobs wait for a cluster that does not answer before they fail."""


@dataclass
class Backend:
    pool: Pool
    executor: Executor
    cluster: RayCluster | None = None
    troubles: dict[str, tuple[float, str]] = field(default_factory=dict)
    """What the cluster failed at (``nodes``, ``submit``): since when, and the last error."""

    def refresh(self) -> None:
        """Read the cluster's nodes (raises ``RayUnavailable``); nothing for local."""
        if self.cluster is not None and isinstance(self.pool, ClusterPool):
            self.pool.set_nodes(self.cluster.nodes())

    def note_trouble(self, what: str, message: str) -> bool:
        """Record that the cluster failed at ``what``; True while its jobs should keep
        waiting (a head node still starting), False once the grace period is over."""
        now = time.monotonic()
        since = self.troubles.get(what, (now, ""))[0]
        self.troubles[what] = (since, message)
        return now - since < UNREACHABLE_GRACE_SECONDS

    def clear_trouble(self, what: str) -> None:
        self.troubles.pop(what, None)

    def reason(self, work: Workload) -> str:
        if self.troubles:
            _, message = next(iter(self.troubles.values()))
            return f"waiting for the Ray cluster to answer: {message}"
        return self.pool.reason(work)


class Backends:
    def __init__(
        self,
        store: Store,
        local_executor: Executor,
        slots: int,
        on_exit: Callable[[str], None] | None = None,
        assets: AssetReader | None = None,
    ) -> None:
        self._store = store
        self._assets = assets or store
        """Where computes are read (the scheduler's ``AssetCache``)."""
        self._on_exit = on_exit
        self.local = Backend(LocalPool(slots), local_executor)
        self._ray: dict[str, Backend] = {}
        self._lock = threading.Lock()

    def _ray_backend(self, address: str, python: str | None = None) -> Backend:
        with self._lock:
            backend = self._ray.get(address)
            if backend is None:
                cluster = RayCluster(address)
                backend = Backend(
                    ClusterPool(address, []), RayExecutor(cluster, python, self._on_exit), cluster
                )
                self._ray[address] = backend
            return backend

    def target(self, workspace_key: str, compute: str) -> ComputeTarget:
        return target_of(self._assets, workspace_key, compute)

    def for_compute(self, workspace_key: str, compute: str) -> Backend:
        """Raises ValueError for a Ray compute whose address is unusable."""
        target = self.target(workspace_key, compute)
        if target.address is None:
            return self.local
        return self._ray_backend(target.address, target.python)

    def for_job(self, job: JobRecord) -> Backend:
        """The backend a started job runs on (from its runtime), else its compute's."""
        if job.runtime.get("executor") == RayExecutor.kind and job.runtime.get("address"):
            return self._ray_backend(str(job.runtime["address"]))
        if run_dir_in(job.runtime):
            return self.local
        return self.for_compute(job.workspace_key, job.compute)

    def pool_key(self, runtime: Mapping[str, Any]) -> str:
        if runtime.get("executor") == RayExecutor.kind:
            return str(runtime.get("address"))
        return self.local.pool.key

    def close(self) -> None:
        self.local.executor.close()
        for backend in list(self._ray.values()):
            backend.executor.close()
