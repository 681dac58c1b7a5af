"""Distributed Command jobs through a real server: torch.distributed all-reduce over gloo,
TF_CONFIG across workers and a parameter server, mpi4py under mpirun, a failing rank, cancel,
and an Mpi job on a host without mpirun.

Tests needing torch, Open MPI or mpi4py skip without them, and fail instead when
``AMLITE_REQUIRE_DISTRIBUTED=1`` (as ``scripts/test.sh`` sets it).
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from amlite.executors.supervisor.procs import pid_alive
from support.server import (
    API,
    WS,
    LiveServer,
    command_body,
    history,
    job_url,
    read_artifact,
    upload_code,
    wait_status,
    wait_terminal,
)

DS = f"{WS}/datastores/workspaceblobstore"
REQUIRE = os.environ.get("AMLITE_REQUIRE_DISTRIBUTED") == "1"


@pytest.fixture(autouse=True)
def _short_grace(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AMLITE_KILL_GRACE_SECONDS", "0.5")


def need(what: str, present: bool) -> None:
    if not present:
        if REQUIRE:
            pytest.fail(f"{what} is not installed and AMLITE_REQUIRE_DISTRIBUTED=1")
        pytest.skip(f"{what} is not installed")


def has_module(name: str) -> bool:
    return importlib.util.find_spec(name) is not None


def submit(c: httpx.Client, name: str, body: dict) -> None:
    resp = c.put(job_url(name), json=body)
    assert resp.status_code in (200, 201), resp.text


def rank_logs(c: httpx.Client, name: str, count: int) -> list[str]:
    return [read_artifact(c, name, f"user_logs/std_log_process_{r}.txt") for r in range(count)]


def no_std_log(c: httpx.Client, name: str) -> bool:
    resp = c.get(f"{DS}/files/ExperimentRun/dcid.{name}/user_logs/std_log.txt?{API}")
    return resp.status_code == 404


ALL_REDUCE = """
import json, os
import torch
import torch.distributed as dist

dist.init_process_group("gloo")  # env:// rendezvous from MASTER_ADDR / MASTER_PORT
rank, world = dist.get_rank(), dist.get_world_size()
value = torch.tensor([float(rank + 1)])
dist.all_reduce(value)
keys = ["MASTER_ADDR", "MASTER_PORT", "WORLD_SIZE", "RANK", "LOCAL_RANK", "LOCAL_WORLD_SIZE",
        "NODE_RANK"]
print("RESULT " + json.dumps({"rank": rank, "world": world, "sum": value.item(),
                              "env": {k: os.environ[k] for k in keys}}))
dist.destroy_process_group()
"""


@pytest.mark.parametrize(("processes", "nodes"), [(2, 1), (4, 2)])
def test_pytorch_all_reduce_over_gloo(server: LiveServer, processes: int, nodes: int) -> None:
    need("torch", has_module("torch"))
    name = f"torch{processes}"
    with server.client() as c:
        code = upload_code(c, name, {"allreduce.py": ALL_REDUCE})
        body = command_body(
            "python allreduce.py",
            codeId=code,
            compute={"instanceCount": nodes},
            distribution={"distributionType": "PyTorch", "processCount": processes},
        )
        submit(c, name, body)
        done = wait_terminal(c, name, timeout=90)
        logs = rank_logs(c, name, processes)
        assert done["properties"]["status"] == "Completed", (history(c, name), logs)
        assert no_std_log(c, name)
    results = [json.loads(log.split("RESULT ", 1)[1].splitlines()[0]) for log in logs]
    per_node = processes // nodes
    ports = set()
    for rank, res in enumerate(results):
        assert res["rank"] == rank and res["world"] == processes
        assert res["sum"] == processes * (processes + 1) / 2
        env = res["env"]
        assert env["MASTER_ADDR"] == "127.0.0.1"
        assert env["WORLD_SIZE"] == str(processes) and env["RANK"] == str(rank)
        assert env["NODE_RANK"] == str(rank // per_node)
        assert env["LOCAL_RANK"] == str(rank % per_node)
        assert env["LOCAL_WORLD_SIZE"] == str(per_node)
        ports.add(env["MASTER_PORT"])
    assert len(ports) == 1


TF_CHECK = """
import json, os, socket, sys, time

config = json.loads(os.environ["TF_CONFIG"])
task, cluster = config["task"], config["cluster"]
assert sorted(cluster) == ["ps", "worker"], cluster
assert len(cluster["worker"]) == 2 and len(cluster["ps"]) == 1, cluster
host, port = cluster[task["type"]][task["index"]].split(":")
with socket.socket() as s:  # my address is mine to serve on
    s.bind((host, int(port)))
os.makedirs("outputs", exist_ok=True)
mine = f"outputs/{task['type']}_{task['index']}.json"
with open(mine + ".tmp", "w") as f:
    json.dump(config, f)
os.replace(mine + ".tmp", mine)
deadline = time.monotonic() + 30
while len([n for n in os.listdir("outputs") if n.endswith(".json")]) < 3:
    assert time.monotonic() < deadline, "the other tasks never wrote their view"
    time.sleep(0.05)
views = [json.load(open(f"outputs/{n}")) for n in sorted(os.listdir("outputs"))
         if n.endswith(".json")]
assert all(v["cluster"] == cluster for v in views), views
tasks = sorted((v["task"]["type"], v["task"]["index"]) for v in views)
assert tasks == [("ps", 0), ("worker", 0), ("worker", 1)], tasks
print("consistent", task["type"], task["index"], os.environ["TF_CONFIG"])
"""


def test_tensorflow_tasks_share_one_consistent_tf_config(server: LiveServer) -> None:
    with server.client() as c:
        code = upload_code(c, "tfcheck", {"check.py": TF_CHECK})
        body = command_body(
            "python check.py",
            codeId=code,
            distribution={
                "distributionType": "TensorFlow",
                "workerCount": 2,
                "parameterServerCount": 1,
            },
        )
        submit(c, "tf", body)
        done = wait_terminal(c, "tf", timeout=60)
        logs = rank_logs(c, "tf", 3)
        assert done["properties"]["status"] == "Completed", (history(c, "tf"), logs)
        # ranks: the workers first, then the parameter server
        assert logs[0].startswith("consistent worker 0 ")
        assert logs[1].startswith("consistent worker 1 ")
        assert logs[2].startswith("consistent ps 0 ")
        view = json.loads(read_artifact(c, "tf", "outputs/ps_0.json"))
        assert view["task"] == {"type": "ps", "index": 0}
        assert len(set(view["cluster"]["worker"] + view["cluster"]["ps"])) == 3


MPI_ALL_REDUCE = """
import json, os
from mpi4py import MPI

comm = MPI.COMM_WORLD
total = comm.allreduce(comm.Get_rank() + 1)
keys = ["OMPI_COMM_WORLD_RANK", "OMPI_COMM_WORLD_SIZE", "OMPI_COMM_WORLD_LOCAL_RANK",
        "OMPI_COMM_WORLD_LOCAL_SIZE", "AZ_BATCH_MASTER_NODE"]
print("RESULT " + json.dumps({"rank": comm.Get_rank(), "size": comm.Get_size(), "sum": total,
                              "env": {k: os.environ[k] for k in keys}}))
"""


def test_mpi_all_reduce_under_mpirun(server: LiveServer) -> None:
    need("mpirun (Open MPI)", shutil.which("mpirun") is not None)
    need("mpi4py", has_module("mpi4py"))
    with server.client() as c:
        code = upload_code(c, "mpi", {"allreduce.py": MPI_ALL_REDUCE})
        body = command_body(
            "python allreduce.py",
            codeId=code,
            compute={"instanceCount": 2},
            distribution={"distributionType": "Mpi", "processCountPerInstance": 2},
        )
        submit(c, "mpi", body)
        done = wait_terminal(c, "mpi", timeout=60)
        logs = rank_logs(c, "mpi", 4)
        assert done["properties"]["status"] == "Completed", (history(c, "mpi"), logs)
    for rank, log in enumerate(logs):
        res = json.loads(log.split("RESULT ", 1)[1].splitlines()[0])
        assert res["rank"] == rank and res["size"] == 4 and res["sum"] == 10
        assert res["env"]["OMPI_COMM_WORLD_RANK"] == str(rank)
        assert res["env"]["OMPI_COMM_WORLD_SIZE"] == "4"
        assert res["env"]["AZ_BATCH_MASTER_NODE"].startswith("127.0.0.1:")


# every rank records its pid and waits forever; rank 0 also ignores SIGTERM
WAIT_FOREVER = (
    'mkdir -p pids; [ "$RANK" = 0 ] && trap "" TERM; echo $$ > pids/$RANK.tmp; '
    "mv pids/$RANK.tmp pids/$RANK; while true; do sleep 0.1; done"
)


def rank_pids(server: LiveServer, job: str, count: int) -> list[int]:
    folder = next(server.home.glob(f"runs/*/*/*/{job}")) / "wd" / "pids"
    deadline = time.monotonic() + 30
    while len([p for p in folder.glob("*") if not p.name.endswith(".tmp")]) < count:
        assert time.monotonic() < deadline, "the ranks did not all start"
        time.sleep(0.05)
    # the pids the ranks wrote are those of their sandbox's pid namespace: find each rank's
    # shell on the host by its environment
    found = _rank_shells(job)
    assert sorted(found) == [str(r) for r in range(count)], found
    return [found[str(r)] for r in range(count)]


def _rank_shells(job: str) -> dict[str, int]:
    """Rank -> host pid of the ``bash`` of each rank of ``job``."""
    return {
        env[b"RANK"].decode(): pid
        for pid, (argv0, env) in _job_table(job).items()
        if argv0 == b"bash" and b"RANK" in env
    }


def _job_processes(job: str) -> list[int]:
    """Host pids of the live processes of ``job`` (found by ``AZUREML_RUN_ID``)."""
    return [pid for pid in _job_table(job) if pid_alive(pid)]


def _job_table(job: str) -> dict[int, tuple[bytes, dict[bytes, bytes]]]:
    """pid -> (argv[0], environment) of every process whose ``AZUREML_RUN_ID`` is ``job``."""
    table: dict[int, tuple[bytes, dict[bytes, bytes]]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                argv0 = f.read().split(b"\0")[0]
            with open(f"/proc/{entry}/environ", "rb") as f:
                env = dict(item.split(b"=", 1) for item in f.read().split(b"\0") if b"=" in item)
        except OSError:
            continue
        if env.get(b"AZUREML_RUN_ID") == job.encode():
            table[int(entry)] = (argv0, env)
    return table


def test_a_failing_rank_fails_the_job_and_stops_the_others(server: LiveServer) -> None:
    cmd = (
        'if [ "$RANK" = 2 ]; then while [ ! -f pids/1 ]; do sleep 0.05; done; exit 4; fi; '
        f"{WAIT_FOREVER}"
    )
    with server.client() as c:
        body = command_body(cmd, distribution={"distributionType": "PyTorch", "processCount": 3})
        submit(c, "onefails", body)
        done = wait_terminal(c, "onefails", timeout=60)
        assert done["properties"]["status"] == "Failed"
        events = history(c, "onefails")
        assert events["exitCode"] == 4
        assert events["reason"] == "rank 2 exited with code 4; the other processes were stopped"
    assert len(list(next(server.home.glob("runs/*/*/*/onefails/wd")).glob("pids/?"))) >= 2
    assert not _job_processes("onefails"), "a rank outlived the failed job"


def test_cancel_stops_every_rank(server: LiveServer) -> None:
    with server.client() as c:
        body = command_body(
            WAIT_FOREVER,
            compute={"instanceCount": 2},
            distribution={"distributionType": "PyTorch", "processCount": 4},
        )
        submit(c, "stopall", body)
        wait_status(c, "stopall", "Running")
        pids = rank_pids(server, "stopall", 4)
        assert all(pid_alive(pid) for pid in pids)
        assert c.post(f"{WS}/jobs/stopall/cancel?{API}").status_code == 200
        done = wait_terminal(c, "stopall", timeout=30)
        assert done["properties"]["status"] == "Canceled"
    for pid in pids:
        assert not pid_alive(pid), "a rank outlived the canceled job"
    assert not _job_processes("stopall")


@pytest.fixture
def server_without_mpirun(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[LiveServer]:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("bash", "sleep"):
        found = shutil.which(tool)
        assert found is not None
        (bin_dir / tool).symlink_to(found)
    monkeypatch.setenv("PATH", str(bin_dir))
    srv = LiveServer(tmp_path / "home").start()
    yield srv
    srv.stop()


def test_mpi_without_mpirun_fails_with_a_clear_message(server_without_mpirun: LiveServer) -> None:
    with server_without_mpirun.client() as c:
        body = command_body(
            "echo should not run",
            distribution={"distributionType": "Mpi", "processCountPerInstance": 2},
        )
        submit(c, "nompi", body)
        done = wait_terminal(c, "nompi")
        assert done["properties"]["status"] == "Failed"
        reason = history(c, "nompi")["reason"]
        assert "mpirun" in reason and "Open MPI" in reason and "not on the job's PATH" in reason
