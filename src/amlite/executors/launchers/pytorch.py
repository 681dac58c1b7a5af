"""PyTorch: ``processCount`` processes in total (the 2021-03-01-preview meaning, default one
per node), ranks grouped by node, each with the ``env://`` rendezvous variables of
``torch.distributed``."""

from __future__ import annotations

from amlite.domain.specs import Distribution, PyTorch
from amlite.executors._base import ProcessSpec
from amlite.executors.launchers._base import (
    Launch,
    Launcher,
    LaunchRequest,
    free_ports,
    own,
    process_log,
    split_over_nodes,
)


class PyTorchLauncher(Launcher):
    kind = PyTorch.kind

    def process_count(self, distribution: Distribution | None, nodes: int) -> int:
        count = own(distribution, PyTorch).process_count
        return nodes if count is None else count

    def launch(self, request: LaunchRequest) -> Launch:
        nodes = request.nodes
        total = self.process_count(request.distribution, nodes)
        if total < nodes:  # refused at submit already; a stored job may predate that
            raise ValueError(
                f"processCount {total} is less than compute.instanceCount {nodes}: "
                "every node needs at least one process"
            )
        (port,) = free_ports(1)
        processes: list[ProcessSpec] = []
        rank = 0
        for node, local_size in enumerate(split_over_nodes(total, nodes)):
            for local in range(local_size):
                env = {
                    "MASTER_ADDR": request.host(0),
                    "MASTER_PORT": str(port),
                    "WORLD_SIZE": str(total),
                    "RANK": str(rank),
                    "LOCAL_RANK": str(local),
                    "LOCAL_WORLD_SIZE": str(local_size),
                    "NODE_RANK": str(node),
                }
                processes.append(
                    ProcessSpec(name=f"rank {rank}", log=process_log(rank), env=env, node=node)
                )
                rank += 1
        return Launch(processes)
