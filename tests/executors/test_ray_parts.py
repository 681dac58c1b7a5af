"""The pure parts of the Ray backend: node plans of the gang driver, how nodes' results
combine, dashboard addresses, and launchers given the nodes' addresses."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from amlite.domain.specs import Compute, PyTorch, TensorFlow, Workload
from amlite.executors.launchers import launch
from amlite.executors.ray.cluster import normalise_address
from amlite.executors.ray.gang import combine, node_plan, own_ray_temp_dir

PLAN = {
    "working_dir": "/home/runs/j/wd",
    "run_dir": "/home/runs/j",
    "prepare": [{"op": "copy", "src": "/code/snap", "dst": "/home/runs/j/wd"}],
    "finalize": [{"op": "copy_into", "src": "/home/runs/j/wd/outputs", "dst": "/art/outputs"}],
    "processes": [
        {"name": "rank 0", "log": "user_logs/std_log_process_0.txt", "env": {}, "node": 0},
        {"name": "rank 1", "log": "user_logs/std_log_process_1.txt", "env": {}, "node": 1},
    ],
    "nodes": [{"id": "n0"}, {"id": "n1"}],
}


def test_node_plans_split_processes_and_working_directories() -> None:
    zero = node_plan(PLAN, 0, "/home/runs/j/nodes/0")
    one = node_plan(PLAN, 1, "/home/runs/j/nodes/1")
    # each node's file steps are confined to the job's run directory, not the node's own
    assert zero["job_run_dir"] == one["job_run_dir"] == PLAN["run_dir"]
    assert [p["name"] for p in zero["processes"]] == ["rank 0"]
    assert [p["name"] for p in one["processes"]] == ["rank 1"]
    assert zero["working_dir"] == "/home/runs/j/wd"
    assert one["working_dir"] == "/home/runs/j/wd-node1"
    assert one["prepare"][0] == {"op": "copy", "src": "/code/snap", "dst": "/home/runs/j/wd-node1"}
    assert one["finalize"][0]["src"] == "/home/runs/j/wd-node1/outputs"
    assert one["finalize"][0]["dst"] == "/art/outputs"  # the job's outputs: shared
    assert one["run_dir"] == "/home/runs/j/nodes/1" and one["nodes"] == []


def test_the_first_node_that_does_not_complete_decides_the_outcome() -> None:
    ok = {"exitCode": 0, "outcome": "Completed", "reason": None}
    bad = {"exitCode": 3, "outcome": "Failed", "reason": "rank 1 exited with code 3"}
    stopped = {"exitCode": -15, "outcome": "Canceled", "reason": "node 1 failed"}
    assert combine({0: ok, 1: ok}, None)["outcome"] == "Completed"
    out = combine({0: stopped, 1: bad}, 1)
    assert out["outcome"] == "Failed" and out["exitCode"] == 3
    assert out["reason"] == "node 1: rank 1 exited with code 3; the other nodes were stopped"


def _fake_proc(root: Path, pid: int, ppid: int, *argv: str) -> None:
    (root / str(pid)).mkdir(parents=True)
    (root / str(pid) / "stat").write_text(f"{pid} (x y) S {ppid} {pid} {pid} 0 -1\n")
    (root / str(pid) / "cmdline").write_bytes(b"\0".join(a.encode() for a in argv) + b"\0")


def test_the_gang_driver_finds_the_temp_dir_of_the_node_it_runs_on(tmp_path: Path) -> None:
    """The raylet the driver runs under names its node's temp dir: ``ray.init`` is given it,
    else with several Ray nodes on one machine it connects to the head's raylet (whose socket
    a node in its own mount namespace does not see: the core worker aborts)."""
    raylet = "/venv/lib/python3.11/site-packages/ray/core/src/ray/raylet/raylet"
    _fake_proc(tmp_path, 10, 1, raylet, "--node_id=aa", "--temp_dir=/var/tmp/w1", "--x=1")
    _fake_proc(tmp_path, 20, 10, "ray::JobSupervisor", "", "")
    _fake_proc(tmp_path, 30, 20, "/bin/sh", "-c", "exec python -m amlite_node.ray.node")
    _fake_proc(tmp_path, 40, 1, raylet, "--node_id=bb", "--temp_dir=/var/tmp/head")  # not ours
    assert own_ray_temp_dir(30, str(tmp_path)) == "/var/tmp/w1"
    assert own_ray_temp_dir(40, str(tmp_path)) == "/var/tmp/head"
    _fake_proc(tmp_path, 50, 1, "python", "driver.py")  # not below a raylet: Ray decides
    assert own_ray_temp_dir(50, str(tmp_path)) is None
    assert own_ray_temp_dir(99, str(tmp_path)) is None  # no such process


def test_dashboard_addresses() -> None:
    assert normalise_address("10.0.0.5:8265") == "http://10.0.0.5:8265"
    assert normalise_address("http://127.0.0.1:8265/") == "http://127.0.0.1:8265"
    with pytest.raises(ValueError, match="dashboard address"):
        normalise_address("ray://10.0.0.5:10001")


def test_launchers_use_the_nodes_addresses_on_a_cluster() -> None:
    torch = Workload(Compute(instance_count=2), PyTorch(process_count=4))
    procs = launch(torch, "python t.py", "/art", None, ("10.0.0.1", "10.0.0.2")).processes
    assert {p.env["MASTER_ADDR"] for p in procs} == {"10.0.0.1"}
    assert [p.node for p in procs] == [0, 0, 1, 1]
    tf = Workload(Compute(instance_count=2), TensorFlow(worker_count=2, parameter_server_count=1))
    procs = launch(tf, "python t.py", "/art", None, ("10.0.0.1", "10.0.0.2")).processes
    cluster = json.loads(procs[0].env["TF_CONFIG"])["cluster"]
    assert [a.split(":")[0] for a in cluster["worker"]] == ["10.0.0.1", "10.0.0.2"]
    assert [a.split(":")[0] for a in cluster["ps"]] == ["10.0.0.1"]
    assert [p.node for p in procs] == [0, 1, 0]
    local = launch(torch, "python t.py", "/art").processes
    assert {p.env["MASTER_ADDR"] for p in local} == {"127.0.0.1"}
