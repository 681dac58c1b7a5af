"""TensorFlow: ``workerCount`` workers (default ``instanceCount``) and ``parameterServerCount``
parameter servers (default 0), each with a ``TF_CONFIG`` describing the same cluster.

Process ranks (log file numbers) are the workers first, then the parameter servers:
worker ``i`` is rank ``i``, ps ``j`` is rank ``workerCount + j``.
"""

from __future__ import annotations

import json

from amlite.domain.specs import Distribution, TensorFlow
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


class TensorFlowLauncher(Launcher):
    kind = TensorFlow.kind

    def counts(self, distribution: Distribution | None, nodes: int) -> tuple[int, int]:
        """(workers, parameter servers)."""
        tf = own(distribution, TensorFlow)
        return (
            nodes if tf.worker_count is None else tf.worker_count,
            tf.parameter_server_count or 0,
        )

    def process_count(self, distribution: Distribution | None, nodes: int) -> int:
        return sum(self.counts(distribution, nodes))

    def launch(self, request: LaunchRequest) -> Launch:
        workers, ps = self.counts(request.distribution, request.nodes)
        ports = free_ports(workers + ps)
        tasks = [("worker", i) for i in range(workers)] + [("ps", j) for j in range(ps)]
        # workers fill the nodes in order, parameter servers go round them
        nodes = [
            node
            for node, n in enumerate(split_over_nodes(workers, request.nodes))
            for _ in range(n)
        ] + [j % request.nodes for j in range(ps)]
        addresses = [
            f"{request.host(node)}:{port}" for node, port in zip(nodes, ports, strict=True)
        ]
        cluster: dict[str, list[str]] = {"worker": addresses[:workers]}
        if ps:
            cluster["ps"] = addresses[workers:]
        processes = []
        for rank, (kind, index) in enumerate(tasks):
            config = {
                "cluster": cluster,
                "task": {"type": kind, "index": index},
                "environment": "cloud",
            }
            processes.append(
                ProcessSpec(
                    name=f"{kind} {index}",
                    log=process_log(rank),
                    env={"TF_CONFIG": json.dumps(config)},
                    node=nodes[rank],
                )
            )
        return Launch(processes)
