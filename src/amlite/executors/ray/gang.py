"""The driver of a multi-node job on a Ray cluster, called by ``node.main``.

It runs as the entrypoint of a Ray Job, on the node the job's rank 0 runs on, shipped to
the cluster with ``node.py`` and the supervisor package (package ``amlite_node``). It imports
``ray`` (present on every Ray node) but not amlite. It:

1. reserves one bundle per node of the job in a placement group (``STRICT_SPREAD``, each
   bundle pinned to the node amlite chose): all nodes are held at once or none is, so two
   multi-node jobs never deadlock on half a cluster each;
2. runs the supervisor on every node (``node.run_node``, a task in that node's bundle)
   with the plan of the processes placed there (``ProcessSpec.node``), run directory
   ``RUN_DIR/nodes/K``; node 0 works in the job's working directory, node K in
   ``WORKING_DIR-nodeK``. A node that sees the job's run directory works there; one that
   does not works below its own root and pushes its logs and outputs to the server;
3. stops the other nodes when one fails, passes a cancel (``RUN_DIR/cancel_reason``) on to
   every node (and cancels their tasks), and writes the job's ``result.json`` from the
   nodes' results.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
from typing import Any

from ..supervisor import contract  # here and in the shipped ``amlite_node``

POLL_SECONDS = 0.25


def node_plan(plan: dict[str, Any], node: int, run_dir: str) -> dict[str, Any]:
    """The plan of one node: its processes, its run and working directories."""
    wd = plan["working_dir"]
    node_wd = wd if node == 0 else f"{wd}-node{node}"

    def move(path: str) -> str:
        return node_wd + path[len(wd) :] if path == wd or path.startswith(wd + os.sep) else path

    def steps(key: str) -> list[dict[str, str]]:
        return [{**s, "src": move(s["src"]), "dst": move(s["dst"])} for s in plan.get(key) or []]

    return {
        **plan,
        "run_dir": run_dir,
        # the job's run directory, which holds every node's working directory: what the
        # node's file steps are confined to (the node's own run_dir is below it)
        "job_run_dir": plan.get("job_run_dir") or plan["run_dir"],
        "working_dir": node_wd,
        "prepare": steps("prepare"),
        "finalize": steps("finalize"),
        "processes": [p for p in plan.get("processes") or [] if int(p.get("node") or 0) == node],
        "nodes": [],
    }


def run_node(plan: dict[str, Any], desc: dict[str, Any], node: int) -> dict[str, Any]:
    """A Ray task: the supervisor for one node's plan, on the node of its bundle (on the
    shared run directory if the node sees it, else below the node's own root)."""
    from . import node as node_side

    return node_side.run_node(plan, desc, node)


class Log:
    def __init__(self, plan: dict[str, Any]) -> None:
        logs = os.path.join(plan["artifacts_dir"], "system_logs")
        os.makedirs(logs, exist_ok=True)
        self.path = os.path.join(logs, "ray_gang.log")

    def write(self, message: str) -> None:
        with open(self.path, "a", encoding="utf-8") as f:
            f.write(f"{contract.now_iso()} {message}\n")


def combine(results: dict[int, dict[str, Any]], first_bad: int | None) -> dict[str, Any]:
    """The job's result from its nodes': the first node that did not complete decides."""
    if first_bad is None:
        first = contract.RunResult.from_json(results[min(results)])
        return first._replace(finished_at=contract.now_iso()).to_json()
    bad = contract.RunResult.from_json(results[first_bad])
    reason = bad.reason
    if bad.outcome == contract.FAILED and len(results) > 1:
        reason = f"node {first_bad}: {reason}; the other nodes were stopped"
    return bad._replace(reason=reason, finished_at=contract.now_iso()).to_json()


def own_ray_temp_dir(pid: int | None = None, proc: str = "/proc") -> str | None:
    """The temp dir (``--temp_dir``) of the Ray node this process runs on: that of the
    raylet it descends from (Ray Jobs starts the entrypoint from its supervisor, a worker of
    the node's raylet); None when there is none to see (Ray then picks the node).

    ``ray.init(address="auto")`` on a machine with several Ray nodes connects to the head's
    raylet, not to the one it runs on (``get_node_to_connect_for_driver`` prefers the head
    among the nodes it sees on the machine; ray-project/ray#44431): on a node with its own
    filesystem the head's socket path does not exist, and the driver's core worker aborts
    (``raylet_ipc_client.cc: Failed to connect to socket``). Given the temp dir, Ray
    connects to this node's raylet."""
    pid = os.getpid() if pid is None else pid
    for _ in range(64):  # a chain of processes, never a loop
        try:
            with open(f"{proc}/{pid}/cmdline", "rb") as f:
                argv = f.read().split(b"\0")
            with open(f"{proc}/{pid}/stat", encoding="utf-8", errors="replace") as f:
                stat = f.read()
        except OSError:
            return None
        if argv and os.path.basename(argv[0]) == b"raylet":
            for arg in argv[1:]:
                if arg.startswith(b"--temp_dir="):
                    return arg[len(b"--temp_dir=") :].decode() or None
            return None
        try:
            pid = int(stat[stat.rfind(")") + 2 :].split()[1])
        except (IndexError, ValueError):
            return None
        if pid <= 1:
            return None
    return None


def supervise(run_dir: str, desc: dict[str, Any]) -> dict[str, Any]:
    from ray.util.placement_group import placement_group, remove_placement_group
    from ray.util.scheduling_strategies import PlacementGroupSchedulingStrategy

    import ray

    plan = contract.read_plan(run_dir)
    if plan is None:
        raise RuntimeError(f"no {contract.PLAN} in {run_dir}")
    log = Log(plan)
    nodes: list[dict[str, Any]] = plan["nodes"]

    def bundle(node: dict[str, Any]) -> dict[str, float]:
        wanted = {"CPU": node["cpus"], "memory": node["memory"], "GPU": node["gpus"]}
        return {k: float(v) for k, v in wanted.items() if v}

    # this node's raylet, not the head's (see there); None: Ray's choice
    ray.init(
        address="auto",
        logging_level=logging.ERROR,
        log_to_driver=False,
        _temp_dir=own_ray_temp_dir(),
    )
    log.write(f"driver on node {ray.get_runtime_context().get_node_id()[:12]}")
    pg = placement_group(
        [bundle(n) for n in nodes],
        strategy="STRICT_SPREAD" if len(nodes) > 1 else "PACK",
        bundle_label_selector=[{"ray.io/node-id": n["id"]} for n in nodes],
    )
    log.write(f"reserving {len(nodes)} node(s): " + ", ".join(n["id"][:12] for n in nodes))
    waited = 0.0
    while not pg.wait(timeout_seconds=1):
        waited += 1
        if contract.cancel_requested(run_dir):
            remove_placement_group(pg)
            return contract.RunResult(
                None, contract.CANCELED, contract.cancel_reason(run_dir)
            ).to_json()
        if waited in (5, 60) or waited % 600 == 0:
            log.write(f"still waiting for the nodes after {waited:g} s (busy with other work?)")
    log.write("all nodes reserved")

    task = ray.remote(max_retries=0)(run_node)
    node_dirs: dict[int, str] = {}
    refs: dict[Any, int] = {}
    for index, node in enumerate(nodes):
        sub = node_plan(plan, index, os.path.join(run_dir, "nodes", str(index)))
        if not sub["processes"]:
            continue  # e.g. fewer TensorFlow tasks than nodes
        node_dirs[index] = sub["run_dir"]
        b = bundle(node)
        ref = task.options(
            num_cpus=b.get("CPU", 0),
            num_gpus=b.get("GPU", 0),
            memory=b.get("memory", 0),
            scheduling_strategy=PlacementGroupSchedulingStrategy(
                placement_group=pg, placement_group_bundle_index=index
            ),
        ).remote(sub, desc, index)
        refs[ref] = index
        log.write(f"node {index} ({node['address']}): {len(sub['processes'])} process(es)")

    results: dict[int, dict[str, Any]] = {}
    first_bad: int | None = None
    stopping = False
    stopped_for = ""
    finalizing = False
    pending = list(refs)
    while pending:
        done, pending = ray.wait(pending, num_returns=1, timeout=POLL_SECONDS)
        for ref in done:
            index = refs[ref]
            try:
                results[index] = ray.get(ref)
            except Exception as exc:  # the task died (node lost, worker killed) or was stopped
                results[index] = (
                    contract.RunResult(None, contract.CANCELED, stopped_for).to_json()
                    if stopping
                    else contract.RunResult.failed(repr(exc)).to_json()
                )
            ended = contract.RunResult.from_json(results[index])
            if ended.outcome != contract.COMPLETED and first_bad is None:
                first_bad = index
        reason = None
        if not stopping and contract.cancel_requested(run_dir):
            reason = contract.cancel_reason(run_dir)
        elif not stopping and first_bad is not None and pending:
            reason = f"node {first_bad} failed: stopping the other nodes"
            log.write(reason)
        if reason is not None:
            stopping, stopped_for = True, reason
            for index, path in node_dirs.items():
                if index not in results and os.path.isdir(path):  # a node that shares it
                    contract.request_cancel(path, reason)
            for ref in pending:  # every node: its task passes the cancel to its supervisor
                ray.cancel(ref)
        if not finalizing and any(
            contract.has_event(p, contract.FINALIZING) for p in node_dirs.values()
        ):
            finalizing = True
            contract.append_event(run_dir, contract.FINALIZING)
    remove_placement_group(pg)
    if not results:
        return contract.RunResult.failed("no node had a process to run").to_json()
    result = combine(results, first_bad)
    if contract.cancel_requested(run_dir) and result["outcome"] == contract.COMPLETED:
        cancel = contract.RunResult.from_json(result)._replace(
            outcome=contract.CANCELED, reason=contract.cancel_reason(run_dir)
        )
        result = cancel.to_json()
    log.write(f"outcome {result['outcome']}: {result.get('reason') or ''}")
    return result


def main(argv: list[str], desc: dict[str, Any]) -> int:
    """Run the job's nodes; ``desc`` is the job's descriptor (``node.DESCRIPTOR``)."""
    if len(argv) != 2:
        sys.stderr.write("usage: gang.py RUN_DIR\n")
        return 2
    run_dir = os.path.abspath(argv[1])

    def on_sigterm(signum: int, frame: object) -> None:
        # a stop through Ray Jobs: the wait loop passes it on to the nodes
        if not contract.cancel_requested(run_dir):
            contract.request_cancel(run_dir, "stopped through Ray Jobs")

    signal.signal(signal.SIGTERM, on_sigterm)
    try:
        result = supervise(run_dir, desc)
    except BaseException as exc:  # the result must always be written
        result = contract.RunResult.failed(f"Ray driver error: {exc!r}").to_json()
    ended = contract.RunResult.from_json(result)
    contract.write_result(
        run_dir, ended._replace(finished_at=ended.finished_at or contract.now_iso())
    )
    return 0
