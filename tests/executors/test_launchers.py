"""Launchers: the processes (env, logs, argv) each distribution type plans."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from amlite.domain.spec_codec import decode_job
from amlite.domain.specs import Workload
from amlite.executors._base import ProcessSpec, RunPlan
from amlite.executors.launchers import launch, process_count
from amlite.executors.launchers._base import free_ports, split_over_nodes


def spec(distribution: dict | None = None, nodes: int | None = None) -> Workload:
    out: dict = {
        "jobType": "Command",
        "command": "true",
        "compute": {} if nodes is None else {"instanceCount": nodes},
    }
    if distribution is not None:
        out["distribution"] = distribution
    return decode_job(out).workload()


def test_no_distribution_on_one_node_is_the_plain_single_process_plan() -> None:
    result = launch(spec(), "true", "/a")
    assert result.processes == [] and result.fail_reason is None
    assert process_count(spec()) == 1


def test_no_distribution_on_several_nodes_runs_the_command_once_per_node() -> None:
    procs = launch(spec(nodes=3), "true", "/a").processes
    assert [p.name for p in procs] == ["node 0", "node 1", "node 2"]
    assert [p.log for p in procs] == [f"user_logs/std_log_process_{i}.txt" for i in range(3)]
    assert all(p.env == {} and p.argv is None for p in procs)


@pytest.mark.parametrize(
    ("count", "nodes", "node_ranks", "local_ranks"),
    [
        (4, 2, [0, 0, 1, 1], [0, 1, 0, 1]),
        (5, 2, [0, 0, 0, 1, 1], [0, 1, 2, 0, 1]),
        (2, 1, [0, 0], [0, 1]),
        (None, 3, [0, 1, 2], [0, 0, 0]),  # default: one process per node
    ],
)
def test_pytorch_process_count_is_the_total_grouped_by_node(
    count: int | None, nodes: int, node_ranks: list[int], local_ranks: list[int]
) -> None:
    dist = {"distributionType": "PyTorch", "processCount": count}
    procs = launch(spec(dist, nodes), "true", "/a").processes
    total = len(node_ranks)
    assert process_count(spec(dist, nodes)) == total
    envs = [p.env for p in procs]
    assert [int(e["RANK"]) for e in envs] == list(range(total))
    assert [int(e["NODE_RANK"]) for e in envs] == node_ranks
    assert [int(e["LOCAL_RANK"]) for e in envs] == local_ranks
    sizes = split_over_nodes(total, nodes)
    assert [int(e["LOCAL_WORLD_SIZE"]) for e in envs] == [sizes[n] for n in node_ranks]
    assert {e["WORLD_SIZE"] for e in envs} == {str(total)}
    assert {e["MASTER_ADDR"] for e in envs} == {"127.0.0.1"}
    assert len({e["MASTER_PORT"] for e in envs}) == 1
    assert [p.log for p in procs] == [f"user_logs/std_log_process_{r}.txt" for r in range(total)]
    assert [p.name for p in procs] == [f"rank {r}" for r in range(total)]


def test_a_single_distributed_process_keeps_its_env_and_logs_to_std_log() -> None:
    (proc,) = launch(spec({"distributionType": "PyTorch", "processCount": 1}), "x", "/a").processes
    assert proc.name == "command" and proc.log == "user_logs/std_log.txt"
    assert proc.env["WORLD_SIZE"] == "1" and proc.env["RANK"] == "0"


def test_pytorch_with_fewer_processes_than_nodes_is_refused() -> None:
    with pytest.raises(ValueError, match="every node needs at least one process"):
        launch(spec({"distributionType": "PyTorch", "processCount": 1}, 2), "true", "/a")


def test_tensorflow_workers_then_parameter_servers_share_one_cluster() -> None:
    dist = {"distributionType": "TensorFlow", "workerCount": 2, "parameterServerCount": 1}
    procs = launch(spec(dist), "true", "/a").processes
    assert process_count(spec(dist)) == 3
    configs = [json.loads(p.env["TF_CONFIG"]) for p in procs]
    assert [c["task"] for c in configs] == [
        {"type": "worker", "index": 0},
        {"type": "worker", "index": 1},
        {"type": "ps", "index": 0},
    ]
    cluster = configs[0]["cluster"]
    assert all(c["cluster"] == cluster for c in configs)
    addresses = cluster["worker"] + cluster["ps"]
    assert len(set(addresses)) == 3 and all(a.startswith("127.0.0.1:") for a in addresses)
    assert [p.name for p in procs] == ["worker 0", "worker 1", "ps 0"]
    assert [p.log for p in procs] == [f"user_logs/std_log_process_{r}.txt" for r in range(3)]


def test_tensorflow_worker_count_defaults_to_the_instance_count_and_no_ps() -> None:
    procs = launch(spec({"distributionType": "TensorFlow"}, 2), "true", "/a").processes
    configs = [json.loads(p.env["TF_CONFIG"]) for p in procs]
    assert [c["task"]["type"] for c in configs] == ["worker", "worker"]
    assert "ps" not in configs[0]["cluster"]


def test_mpi_is_one_mpirun_for_all_ranks(tmp_path: Path) -> None:
    fake = tmp_path / "bin"
    fake.mkdir()
    (fake / "mpirun").write_text("#!/bin/sh\n")
    (fake / "mpirun").chmod(0o755)
    dist = {"distributionType": "Mpi", "processCountPerInstance": 2}
    result = launch(spec(dist, 2), "python x.py", "/arts", str(fake))
    assert result.fail_reason is None and process_count(spec(dist, 2)) == 4
    (proc,) = result.processes
    assert proc.name == "mpirun" and proc.log == "user_logs/mpirun.txt"
    assert proc.argv is not None and proc.argv[:3] == ["mpirun", "-np", "4"]
    assert "--oversubscribe" in proc.argv and "--allow-run-as-root" in proc.argv
    assert proc.argv[-2:] == ["/arts/user_logs/std_log_process_@RANK@.txt", "python x.py"]
    host, port = proc.env["AZ_BATCH_MASTER_NODE"].split(":")
    assert host == "127.0.0.1" and int(port) > 0
    assert proc.env["OMPI_ALLOW_RUN_AS_ROOT"] == "1"


def test_mpi_without_mpirun_fails_clearly(tmp_path: Path) -> None:
    dist = {"distributionType": "Mpi", "processCountPerInstance": 2}
    result = launch(spec(dist), "true", "/a", str(tmp_path))
    assert result.processes == []
    assert result.fail_reason is not None
    assert "mpirun" in result.fail_reason and "Open MPI" in result.fail_reason
    assert str(tmp_path) in result.fail_reason


def test_unknown_distribution_is_refused() -> None:
    with pytest.raises(ValueError, match="Horovod"):
        launch(spec({"distributionType": "Horovod"}), "true", "/a")


def test_free_ports_are_distinct() -> None:
    ports = free_ports(5)
    assert len(set(ports)) == 5 and all(0 < p < 65536 for p in ports)


def test_processes_survive_the_plan_json_round_trip(tmp_path: Path) -> None:
    procs = [
        ProcessSpec(name="rank 0", log="user_logs/a.txt", env={"RANK": "0"}),
        ProcessSpec(name="mpirun", log="user_logs/b.txt", argv=["mpirun", "-np", "2"]),
    ]
    plan = RunPlan("j", str(tmp_path), str(tmp_path), str(tmp_path), "true", {}, processes=procs)
    data = json.loads(json.dumps(plan.to_json()))
    assert RunPlan.from_json(data) == plan
    del data["processes"]  # a plan written before the field existed
    assert RunPlan.from_json(data).processes == []
    assert os.path.basename(RunPlan.from_json(data).run_dir) == tmp_path.name
