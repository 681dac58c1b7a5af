"""TensorFlow: ``workerCount`` workers (default ``instanceCount``) and ``parameterServerCount``
parameter servers (default 0), each with a ``TF_CONFIG`` describing the same cluster.

Process ranks (log file numbers) are the workers first, then the parameter servers:
worker ``i`` is rank ``i``, ps ``j`` is rank ``workerCount + j``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from amlite.executors._base import ProcessSpec
from amlite.executors.launchers._base import (
    Launch,
    Launcher,
    LaunchRequest,
    count_field,
    free_ports,
    process_log,
    split_over_nodes,
)


class TensorFlowLauncher(Launcher):
    kind = "TensorFlow"

    def counts(self, distribution: Mapping[str, Any], nodes: int) -> tuple[int, int]:
        """(workers, parameter servers)."""
        return (
            count_field(distribution, "workerCount", nodes),
            count_field(distribution, "parameterServerCount", 0),
        )

    def process_count(self, distribution: Mapping[str, Any], nodes: int) -> int:
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
