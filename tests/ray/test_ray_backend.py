"""Jobs on a real two-node Ray cluster on this machine (head + worker, 2 CPUs each).

Ray tests skip without ``ray`` installed, and fail instead when ``AMLITE_REQUIRE_RAY=1``
(as ``scripts/test.sh`` sets it).
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from amlite.executors.ray.cluster import RayCluster, RayUnavailable
from support.postgres import PostgresServer
from support.ray_cluster import RayTestCluster, ray_available
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

REQUIRE = os.environ.get("AMLITE_REQUIRE_RAY") == "1"
RAY = "raycluster"


@pytest.fixture(scope="module")
def cluster() -> Iterator[RayTestCluster]:
    if not ray_available():
        if REQUIRE:
            pytest.fail("ray is not installed and AMLITE_REQUIRE_RAY=1")
        pytest.skip("ray is not installed (pip install -e '.[ray]')")
    started = RayTestCluster(cpus_per_node=2, memory_gib=4).start()
    yield started
    started.stop()


@pytest.fixture
def server(
    tmp_path: Path, cluster: RayTestCluster, monkeypatch: pytest.MonkeyPatch
) -> Iterator[LiveServer]:
    monkeypatch.setenv("AMLITE_KILL_GRACE_SECONDS", "0.5")
    srv = LiveServer(tmp_path / "home").start()
    with srv.client() as c:
        add_ray_compute(c, cluster)
    yield srv
    srv.stop()
    cluster.stop_jobs()  # what a failed test left running must not hold the next one's nodes


def add_ray_compute(c: httpx.Client, cluster: RayTestCluster) -> None:
    resp = c.put(
        f"{WS}/computes/{RAY}?{API}",
        json={"properties": {"computeType": "Ray", "properties": {"address": cluster.dashboard}}},
    )
    assert resp.status_code == 201, resp.text


def on_ray(command: str, **props: Any) -> dict[str, Any]:
    body = command_body(command, **props)
    body["properties"]["compute"] = {"target": RAY, **props.get("compute", {})}
    return body


def submit(c: httpx.Client, name: str, body: dict[str, Any]) -> None:
    resp = c.put(job_url(name), json=body)
    assert resp.status_code == 201, resp.text


ALL_REDUCE = """
import json, os, socket
import torch
import torch.distributed as dist

dist.init_process_group("gloo")
rank, world = dist.get_rank(), dist.get_world_size()
value = torch.tensor([float(rank + 1)])
dist.all_reduce(value)
print("RESULT " + json.dumps({"rank": rank, "world": world, "sum": value.item(),
    "master": os.environ["MASTER_ADDR"], "node_rank": os.environ["NODE_RANK"],
    "node_id": os.environ.get("AMLITE_TEST_NODE", ""), "cwd": os.getcwd()}))
dist.destroy_process_group()
"""


def result_line(log: str) -> dict[str, Any]:
    line = next(x for x in log.splitlines() if x.startswith("RESULT "))
    return dict(json.loads(line[len("RESULT ") :]))


def test_two_node_torch_all_reduce_runs_across_both_nodes(
    server: LiveServer, cluster: RayTestCluster
) -> None:
    pytest.importorskip("torch")
    with server.client() as c:
        code = upload_code(c, "allreduce", {"allreduce.py": ALL_REDUCE})
        body = on_ray(
            "python allreduce.py",
            codeId=code,
            compute={"instanceCount": 2, "instanceType": "cpu=1,memory=1"},
            distribution={"distributionType": "PyTorch", "processCount": 2},
        )
        submit(c, "ddp2", body)
        done = wait_terminal(c, "ddp2", timeout=180)
        gang = read_artifact(c, "ddp2", "system_logs/ray_gang.log")
        why = history(c, "ddp2").get("reason")
        assert done["properties"]["status"] == "Completed", (why, gang)
        results = [
            result_line(read_artifact(c, "ddp2", f"user_logs/std_log_process_{r}.txt"))
            for r in range(2)
        ]
    assert [r["sum"] for r in results] == [3.0, 3.0]  # 1 + 2 on both ranks
    assert [r["node_rank"] for r in results] == ["0", "1"]
    # MASTER_ADDR is rank 0's node (Ray's node address, not loopback)
    assert {r["master"] for r in results} == {cluster.node_ip}
    # each rank ran on its own node: node 1 in its own working directory
    assert results[0]["cwd"] != results[1]["cwd"]
    ids = cluster.node_ids()
    assert all(node_id[:12] in gang for node_id in ids), gang


def test_job_metrics_outputs_and_logs_come_back_from_ray(server: LiveServer) -> None:
    script = (
        "import mlflow, os, pathlib\n"
        "mlflow.log_metric('loss', 0.5, step=0)\n"
        "mlflow.log_metric('loss', 0.25, step=1)\n"
        "pathlib.Path('outputs').mkdir(exist_ok=True)\n"
        "pathlib.Path('outputs/model.txt').write_text('trained on ray')\n"
        "print('hello from', os.environ.get('RAY_JOB_ID') or os.environ.get('RAY_ADDRESS'))\n"
    )
    with server.client() as c:
        code = upload_code(c, "metrics", {"train.py": script})
        submit(c, "raymetrics", on_ray("python train.py", codeId=code))
        done = wait_terminal(c, "raymetrics", timeout=120)
        log = read_artifact(c, "raymetrics", "user_logs/std_log.txt")
        assert done["properties"]["status"] == "Completed", (done, log)
        assert "hello from" in log
        assert read_artifact(c, "raymetrics", "outputs/model.txt") == "trained on ray"
        metrics = c.get(f"{WS}/jobs/raymetrics/metrics?{API}").json()
    text = json.dumps(metrics)
    assert "loss" in text and "0.25" in text


def test_cancel_kills_the_remote_processes(server: LiveServer) -> None:
    with server.client() as c:
        submit(
            c,
            "raycancel",
            on_ray("mkdir -p outputs; echo $$ > outputs/pid; trap '' TERM; sleep 600"),
        )
        wait_status(c, "raycancel", "Running", timeout=60)
        # ./outputs reaches the datastore only at the end (or at the periodic upload): the
        # pid is read from the job's working directory, which this one-machine cluster shares
        deadline = time.monotonic() + 60
        pid = ""
        while time.monotonic() < deadline and not pid:
            found = list((server.home / "runs").rglob("outputs/pid"))
            pid = found[0].read_text().strip() if found else ""
            time.sleep(0.2)
        assert pid, "the job never wrote its pid"
        assert Path(f"/proc/{pid}").exists()
        started = time.monotonic()
        resp = c.post(f"{WS}/jobs/raycancel/cancel?{API}")
        assert resp.status_code in (200, 202), resp.text
        done = wait_terminal(c, "raycancel", timeout=60)
        took = time.monotonic() - started
    assert done["properties"]["status"] == "Canceled"
    assert not _running(int(pid)), "the job's process outlived the cancel"
    assert took < 30


def _running(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def test_more_than_the_cluster_has_is_refused_naming_the_field(server: LiveServer) -> None:
    with server.client() as c:
        three_nodes = on_ray("true", compute={"instanceCount": 3})
        resp = c.put(job_url("toomany"), json=three_nodes)
        assert resp.status_code == 400, resp.text
        error = resp.json()["error"]
        assert "properties.compute.instanceCount" in json.dumps(error)
        assert "3 nodes" in error["message"]

        gpu = on_ray("true", compute={"instanceType": "Standard_NC6"})
        resp = c.put(job_url("gpu"), json=gpu)
        assert resp.status_code == 400, resp.text
        assert "properties.compute.instanceType" in json.dumps(resp.json()["error"])

        mpi = on_ray(
            "true",
            compute={"instanceCount": 2},
            distribution={"distributionType": "Mpi", "processCountPerInstance": 1},
        )
        resp = c.put(job_url("mpi2"), json=mpi)
        assert resp.status_code == 400, resp.text
        assert "properties.distribution.distributionType" in json.dumps(resp.json()["error"])
        # nothing was created
        assert c.get(job_url("toomany")).status_code == 404


def test_unreachable_ray_compute_is_refused(server: LiveServer) -> None:
    with server.client() as c:
        resp = c.put(
            f"{WS}/computes/nowhere?{API}",
            json={"properties": {"computeType": "Ray", "properties": {"address": "127.0.0.1:9"}}},
        )
    assert resp.status_code == 400, resp.text
    assert "properties.properties.address" in json.dumps(resp.json()["error"])


def test_whole_cluster_jobs_queue_instead_of_oversubscribing(server: LiveServer) -> None:
    """Two jobs that each need both nodes whole: the second waits in Queued (saying why)
    and runs once the first is done; neither holds half the cluster."""
    whole = {"instanceCount": 2, "instanceType": "cpu=2"}
    with server.client() as c:
        submit(c, "gangA", on_ray("sleep 4", compute=whole))
        wait_status(c, "gangA", "Running", timeout=60)
        submit(c, "gangB", on_ray("true", compute=whole))
        time.sleep(1.5)
        assert c.get(job_url("gangB")).json()["properties"]["status"] == "Queued"
        reason = history(c, "gangB").get("queueReason") or ""
        assert "needs 2 CPUs on each of 2 nodes; 0 of 2 nodes have that free" in reason
        a = wait_terminal(c, "gangA", timeout=120)
        b = wait_terminal(c, "gangB", timeout=120)
    assert a["properties"]["status"] == "Completed"
    assert b["properties"]["status"] == "Completed"


def test_server_restart_keeps_track_of_ray_jobs(server: LiveServer) -> None:
    with server.client() as c:
        submit(c, "survivor", on_ray("sleep 3; echo done"))
        wait_status(c, "survivor", "Running", timeout=60)
    server.kill()
    time.sleep(4)
    server.start()
    with server.client() as c:
        done = wait_terminal(c, "survivor", timeout=60)
        assert done["properties"]["status"] == "Completed"
        assert "done" in read_artifact(c, "survivor", "user_logs/std_log.txt")
        events = [e["status"] for e in history(c, "survivor")["value"]]
    assert events.count("Running") == 1


def test_another_server_on_the_database_takes_over_a_ray_job(
    cluster: RayTestCluster, postgres_server: PostgresServer, tmp_path: Path
) -> None:
    """Servers ``a`` and ``b`` on one PostgreSQL database and home; ``a`` starts a job on
    the Ray compute and is SIGKILLed while it runs. ``b`` takes the job over once ``a``'s
    lease expired, follows the Ray job and records it Completed. It ran once: one Ray job
    (Ray refuses its id a second time), one line in its ledger."""
    import psycopg

    url = postgres_server.create_database("amlite_ray_ha")
    env = {"AMLITE_LEASE_SECONDS": "2"}
    a = LiveServer(tmp_path / "home", url, env=env).start()
    b = LiveServer(tmp_path / "home", url, env=env)  # started once a holds the job
    ledger, go = tmp_path / "ran.txt", tmp_path / "go"  # the nodes share this machine's disk

    def owner() -> str:  # HOST/PID/RANDOM
        db = url.rsplit("/", 1)[1]
        with psycopg.connect(
            host="127.0.0.1", port=postgres_server.port, user="postgres", dbname=db
        ) as conn:
            row = conn.execute("SELECT owner FROM jobs WHERE name = 'adopted'").fetchone()
        return str(row[0] if row else "")

    try:
        with a.client() as c:
            add_ray_compute(c, cluster)
            ray_jobs = len(cluster.jobs())
            command = f"echo ran >> {ledger}; until [ -e {go} ]; do sleep 0.1; done; echo done"
            submit(c, "adopted", on_ray(command))
            wait_status(c, "adopted", "Running", timeout=60)
        b.start()
        assert a.proc is not None and b.proc is not None and f"/{a.proc.pid}/" in owner()
        a.kill()
        deadline = time.monotonic() + 60
        while f"/{b.proc.pid}/" not in owner():  # taken over while it runs
            assert time.monotonic() < deadline, "b never took the job over"
            time.sleep(0.2)
        go.touch()
        with b.client() as c:
            done = wait_terminal(c, "adopted", timeout=60)
            assert done["properties"]["status"] == "Completed", done["properties"]
            assert "done" in read_artifact(c, "adopted", "user_logs/std_log.txt")
            events = [e["status"] for e in history(c, "adopted")["value"]]
        assert events.count("Running") == 1
        assert ledger.read_text().split() == ["ran"]
        assert len(cluster.jobs()) == ray_jobs + 1
        # what keeps a stalled server from submitting it again: Ray refuses the job's id
        # (answering 500 with its ValueError's traceback)
        sid = _submission_of(b, "adopted")
        assert sid is not None
        with pytest.raises(RayUnavailable):
            RayCluster(cluster.dashboard).submit(
                sid, "true", node_id=cluster.node_ids()[0], resources=None
            )
        assert len(cluster.jobs()) == ray_jobs + 1
    finally:
        go.touch()  # a failed test must not leave the job waiting
        b.kill()
        a.kill()


def _submission_of(server: LiveServer, name: str) -> str | None:
    found = sorted(server.home.glob(f"runs/*/*/*/{name}/ray_submission_id"))
    return found[0].read_text(encoding="utf-8").strip() if found else None


def test_sweep_trials_run_on_the_ray_compute(server: LiveServer, cluster: RayTestCluster) -> None:
    script = (
        "import argparse, mlflow\n"
        "p = argparse.ArgumentParser(); p.add_argument('--lr', type=float)\n"
        "a = p.parse_args()\n"
        "mlflow.log_metric('acc', 1 - a.lr)\n"
    )
    with server.client() as c:
        code = upload_code(c, "sweepcode", {"train.py": script})
        body = {
            "properties": {
                "jobType": "Sweep",
                "compute": {"target": RAY},
                "algorithm": "Grid",
                "searchSpace": {"lr": ["choice", [[0.1, 0.2, 0.3]]]},
                "objective": {"primaryMetric": "acc", "goal": "Maximize"},
                "maxTotalTrials": 3,
                "maxConcurrentTrials": 2,
                "trial": {"command": "python train.py --lr ${{search_space.lr}}", "codeId": code},
            }
        }
        submit(c, "raysweep", body)
        done = wait_terminal(c, "raysweep", timeout=240)
        trials = c.get(f"{WS}/jobs?{API}&parentJobName=raysweep").json()["value"]
        assert done["properties"]["status"] == "Completed", done
        why = {t["name"]: read_artifact(c, t["name"], "user_logs/std_log.txt") for t in trials}
        assert {t["properties"]["status"] for t in trials} == {"Completed"}, why
    assert len(trials) == 3
    # each trial was a Ray job of its own (the submission id its run directory records),
    # which succeeded. amlite reads a trial's result from its run, so Ray may still be
    # finishing the job's driver for a moment after the trial is Completed.
    submissions = {t["name"]: _submission_of(server, t["name"]) for t in trials}
    deadline = time.monotonic() + 30
    while True:
        ray_jobs = {job["submission_id"]: job["status"] for job in cluster.jobs()}
        seen = {name: ray_jobs.get(sid) for name, sid in submissions.items()}
        if all(s not in ("PENDING", "RUNNING") for s in seen.values()):
            break
        if time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert seen == {t["name"]: "SUCCEEDED" for t in trials}
    assert all(RAY in t["properties"]["compute"]["target"] for t in trials)
    best = done["properties"]["properties"]
    assert best.get("best_child_run_id") == "raysweep_0", best


def test_cli_registers_a_ray_compute_and_says_why_a_job_waits(
    server: LiveServer, cluster: RayTestCluster, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from typer.testing import CliRunner

    from amlite.cli.main import app

    monkeypatch.setenv("AMLITE_URL", server.url)
    monkeypatch.setenv("AMLITE_TOKEN", server.token)
    monkeypatch.setenv("AMLITE_SUBSCRIPTION", WS.split("/")[2])
    monkeypatch.setenv("AMLITE_RESOURCE_GROUP", WS.split("/")[4])
    monkeypatch.setenv("AMLITE_WORKSPACE", WS.rsplit("/", 1)[1])
    runner = CliRunner()

    def cli(*args: str) -> tuple[int, str]:
        result = runner.invoke(app, list(args))
        return result.exit_code, result.stdout + result.stderr

    compute = tmp_path / "ray.yml"
    compute.write_text(f"name: raycli\ntype: ray\naddress: {cluster.dashboard}\n")
    code, out = cli("compute", "create", "-f", str(compute))
    assert code == 0, out
    code, out = cli(
        "compute", "create", "-n", "deadray", "--type", "ray", "--set", "address=127.0.0.1:9"
    )
    assert code != 0 and "properties.properties.address" in out, out

    job = tmp_path / "whole.yml"
    job.write_text(
        "command: sleep 5\n"
        "compute: azureml:raycli\n"
        "resources:\n  instance_count: 2\n  instance_type: cpu=2\n"
    )
    code, out = cli("job", "create", "-f", str(job), "-n", "whole1")
    assert code == 0, out
    with server.client() as c:
        wait_status(c, "whole1", "Running", timeout=60)
    code, out = cli("job", "create", "-f", str(job), "-n", "whole2")
    assert code == 0, out
    time.sleep(1.5)
    code, out = cli("job", "show", "whole2")
    assert code == 0, out
    assert "waiting: needs 2 CPUs on each of 2 nodes; 0 of 2 nodes have that free" in out
    with server.client() as c:
        assert wait_terminal(c, "whole2", timeout=120)["properties"]["status"] == "Completed"


def test_a_failing_rank_on_one_node_stops_the_other_node(server: LiveServer) -> None:
    command = 'if [ "$RANK" = 1 ]; then sleep 1; exit 3; fi; trap "" TERM; sleep 600'
    with server.client() as c:
        submit(
            c,
            "rankfail",
            on_ray(
                command,
                compute={"instanceCount": 2, "instanceType": "cpu=1"},
                distribution={"distributionType": "PyTorch", "processCount": 2},
            ),
        )
        started = time.monotonic()
        done = wait_terminal(c, "rankfail", timeout=90)
        took = time.monotonic() - started
        why = history(c, "rankfail").get("reason") or ""
    assert done["properties"]["status"] == "Failed"
    assert "node 1: rank 1 exited with code 3; the other nodes were stopped" in why
    assert took < 60


def test_timeout_stops_every_node(server: LiveServer) -> None:
    with server.client() as c:
        submit(
            c,
            "raytimeout",
            on_ray(
                "sleep 600",
                timeout="PT3S",
                compute={"instanceCount": 2, "instanceType": "cpu=1"},
            ),
        )
        done = wait_terminal(c, "raytimeout", timeout=90)
        why = history(c, "raytimeout").get("reason") or ""
    assert done["properties"]["status"] in ("Canceled", "Failed")
    assert "timeout after 3 s" in why


def test_a_job_deleted_and_created_again_runs_again(server: LiveServer) -> None:
    with server.client() as c:
        for attempt in ("first", "second"):
            submit(c, "again", on_ray(f"echo {attempt}"))
            done = wait_terminal(c, "again", timeout=60)
            assert done["properties"]["status"] == "Completed", attempt
            assert attempt in read_artifact(c, "again", "user_logs/std_log.txt")
            resp = c.delete(job_url("again"))
            assert resp.status_code in (200, 202, 204), resp.text
            deadline = time.monotonic() + 30
            while c.get(job_url("again")).status_code != 404:
                assert time.monotonic() < deadline, "the job was never deleted"
                time.sleep(0.1)


def test_cancel_stops_every_rank_on_every_node(server: LiveServer, tmp_path: Path) -> None:
    pids = tmp_path / "pids"
    pids.mkdir()
    command = f"echo $$ > {pids}/$RANK; trap '' TERM; sleep 600"
    with server.client() as c:
        submit(
            c,
            "gangcancel",
            on_ray(
                command,
                compute={"instanceCount": 2, "instanceType": "cpu=1"},
                distribution={"distributionType": "PyTorch", "processCount": 2},
            ),
        )
        deadline = time.monotonic() + 60
        while len(list(pids.iterdir())) < 2:
            assert time.monotonic() < deadline, "the ranks never started"
            time.sleep(0.2)
        ranks = [int((pids / str(r)).read_text()) for r in range(2)]
        assert all(_running(pid) for pid in ranks)
        assert c.post(f"{WS}/jobs/gangcancel/cancel?{API}").status_code in (200, 202)
        done = wait_terminal(c, "gangcancel", timeout=60)
    assert done["properties"]["status"] == "Canceled"
    assert not any(_running(pid) for pid in ranks), "a rank outlived the cancel"
