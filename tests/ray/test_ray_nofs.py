"""A two-node job on a Ray cluster whose worker node shares no filesystem with the server.

The worker runs in its own mount namespace where ``/tmp`` (the server's home is below it)
and this checkout (amlite's source, the tests) are empty tmpfs; only the checkout's venv
(Python, ray, torch, mlflow; its editable install of amlite points into the hidden source)
is bound back in. The job's code, plan and supervisor reach it through Ray; its input
comes through the server's file API; its logs and outputs go back the same way.

The blind worker is the job's node 0 (the test cluster gives it the lowest node id), so
the gang driver runs there too: with both Ray nodes on one machine Ray would connect it to
the head's raylet, whose socket it cannot see (its core worker aborted, issue 13). A second,
one-node job (on the blind worker too) keeps its code and data only in an Azure Blob
container (Azurite).
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from support.azurite import ACCOUNT, KEY, Azurite
from support.ray_cluster import RayTestCluster, ray_available
from support.server import (
    API,
    WS,
    LiveServer,
    command_body,
    job_url,
    read_artifact,
    upload_code,
    wait_terminal,
)

REQUIRE = os.environ.get("AMLITE_REQUIRE_RAY") == "1"
RAY = "raycluster"
CHECKOUT = Path(__file__).resolve().parents[2]
VENV = Path(sys.prefix)


@pytest.fixture(scope="module")
def cluster() -> Iterator[RayTestCluster]:
    if not ray_available():
        if REQUIRE:
            pytest.fail("ray is not installed and AMLITE_REQUIRE_RAY=1")
        pytest.skip("ray is not installed (pip install -e '.[ray]')")
    if os.geteuid() != 0 or not VENV.is_relative_to(CHECKOUT):
        pytest.skip("needs root (unshare -m) and the checkout's own venv")
    started = RayTestCluster(
        cpus_per_node=2,
        memory_gib=4,
        hide_from_worker=("/tmp", str(CHECKOUT)),
        keep_for_worker=(str(VENV),),
    ).start()
    yield started
    started.stop()


@pytest.fixture
def server(tmp_path: Path, cluster: RayTestCluster) -> Iterator[LiveServer]:
    assert str(tmp_path).startswith("/tmp/")  # the server's home: hidden from the worker
    srv = LiveServer(tmp_path / "home").start()
    with srv.client() as c:
        resp = c.put(
            f"{WS}/computes/{RAY}?{API}",
            json={
                "properties": {"computeType": "Ray", "properties": {"address": cluster.dashboard}}
            },
        )
        assert resp.status_code == 201, resp.text
    yield srv
    srv.stop()
    cluster.stop_jobs()


TRAIN = """
import json, os, pathlib, time
import torch
import torch.distributed as dist
import mlflow
try:
    import amlite  # noqa: F401
    sees_amlite = True
except ImportError:
    sees_amlite = False
dist.init_process_group("gloo")
rank = dist.get_rank()
data = pathlib.Path(os.environ["AZURE_ML_INPUT_data"], "a.txt").read_text()
print(f"LIVE rank {rank}", flush=True)
time.sleep(8)  # the test reads the line above before the job ends
value = torch.tensor([float(rank + 1)])
dist.all_reduce(value)
out = pathlib.Path(os.environ["AZURE_ML_OUTPUT_model"])
(out / f"rank{rank}.txt").write_text(f"{data} {value.item()}")
if rank == 0:
    mlflow.log_metric("sum", value.item())
pathlib.Path("outputs").mkdir(exist_ok=True)
pathlib.Path("outputs", f"r{rank}.txt").write_text("ok")
print("RESULT " + json.dumps({"rank": rank, "sum": value.item(), "data": data,
    "cwd": os.getcwd(), "sees_amlite": sees_amlite,
    "sees_home": os.path.exists(os.environ["TEST_SERVER_HOME"]),
    "sees_checkout": os.path.exists(os.environ["TEST_CHECKOUT"])}))
dist.destroy_process_group()
"""


def _file(c: httpx.Client, path: str) -> httpx.Response:
    return c.get(f"{WS}/datastores/workspaceblobstore/files/{path}?{API}")


@pytest.mark.timeout(600)  # with the cluster's start: minutes on a loaded machine
def test_two_node_job_without_a_shared_filesystem(
    server: LiveServer, cluster: RayTestCluster
) -> None:
    name = "nofs"
    with server.client() as c:
        code = upload_code(c, "nofs", {"train.py": TRAIN})
        resp = c.put(
            f"{WS}/datastores/workspaceblobstore/files/sets/d1/a.txt?{API}",
            content=b"the input data",
        )
        assert resp.status_code == 201, resp.text
        asset = {"properties": {"path": "azureml://datastores/workspaceblobstore/paths/sets/d1"}}
        resp = c.put(f"{WS}/data/d1/versions/1?{API}", json=asset)
        assert resp.status_code in (200, 201), resp.text
        body = command_body(
            "python train.py",
            codeId=code,
            environmentVariables={
                "TEST_SERVER_HOME": str(server.home),
                "TEST_CHECKOUT": str(CHECKOUT / "src"),
            },
            inputDataBindings={"data": {"dataId": "azureml:d1:1", "mode": "Download"}},
            outputDataBindings={"model": {"mode": "ReadWriteMount"}},
            distribution={"distributionType": "PyTorch", "processCount": 2},
        )
        body["properties"]["compute"] = {
            "target": RAY,
            "instanceCount": 2,
            "instanceType": "cpu=1,memory=1",
        }
        resp = c.put(job_url(name), json=body)
        assert resp.status_code == 201, resp.text

        # the logs of both ranks (one of them on the node that cannot see the server's
        # disk) are readable while the job still runs
        seen_live: dict[int, str] = {}
        deadline = time.monotonic() + 240
        status = ""
        while time.monotonic() < deadline:
            status = c.get(job_url(name)).json()["properties"]["status"]
            for rank in (0, 1):
                log = _file(c, f"ExperimentRun/dcid.{name}/user_logs/std_log_process_{rank}.txt")
                if rank not in seen_live and f"LIVE rank {rank}" in log.text:
                    seen_live[rank] = status
            if status in ("Completed", "Failed", "Canceled"):
                break
            time.sleep(0.3)
        gang = _file(c, f"ExperimentRun/dcid.{name}/system_logs/ray_gang.log").text  # 404: none
        reason = c.get(f"{WS}/jobs/{name}/history?{API}").json().get("reason")
        assert status == "Completed", (status, reason, gang)
        assert seen_live == {0: "Running", 1: "Running"}, seen_live
        results = []
        for rank in (0, 1):
            log = read_artifact(c, name, f"user_logs/std_log_process_{rank}.txt")
            line = next(x for x in log.splitlines() if x.startswith("RESULT "))
            results.append(json.loads(line[len("RESULT ") :]))
        outputs = {r: _file(c, f"azureml/{name}/model/rank{r}.txt").text for r in (0, 1)}
        copied = {r: read_artifact(c, name, f"outputs/r{r}.txt") for r in (0, 1)}
        metrics = json.dumps(c.get(f"{WS}/jobs/{name}/metrics?{API}").json())

    print("ranks:", json.dumps(results), "\nray_gang.log:\n" + gang)  # shown with -rP
    assert [r["sum"] for r in results] == [3.0, 3.0]
    assert [r["data"] for r in results] == ["the input data"] * 2
    # the worker saw neither the server's home nor amlite's source; the head saw both
    blind = [r for r in results if not r["sees_home"]]
    assert len(blind) == 1, results
    assert not blind[0]["sees_checkout"] and not blind[0]["sees_amlite"], results
    assert blind[0]["cwd"].startswith("/tmp/amlite-node-"), results  # the node's own root
    assert outputs == {0: "the input data 3.0", 1: "the input data 3.0"}
    assert copied == {0: "ok", 1: "ok"}
    assert "sum" in metrics and "3.0" in metrics
    assert f"driver on node {cluster.worker_id()[:12]}" in gang  # the blind node's raylet


BLOB_TRAIN = """
import json, os, pathlib, sys
from lib.helper import VALUE
src, out = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])
rows = (src / "rows.csv").read_text().splitlines()
(out / "model.txt").write_text(f"{len(rows)} rows, value {VALUE + 1}")
print("RESULT " + json.dumps({"rows": len(rows), "cwd": os.getcwd(),
    "sees_home": os.path.exists(os.environ["TEST_SERVER_HOME"])}))
"""


@pytest.mark.timeout(600)
def test_a_job_whose_code_and_data_live_only_in_a_container(
    server: LiveServer, cluster: RayTestCluster, azurite: Azurite
) -> None:
    """A one-node job (placed on the blind worker, the lowest node id) whose code, input and
    output are on an Azure Blob datastore: the node reads and writes the container itself."""
    from azure.storage.blob import BlobServiceClient

    BlobServiceClient.from_connection_string(azurite.connection_string).create_container("nofs")
    ds = f"{WS}/datastores/teamblobs"
    key = {"credentialsType": "AccountKey", "secrets": {"secretsType": "AccountKey", "key": KEY}}
    store = {"contentsType": "AzureBlob", "accountName": ACCOUNT, "containerName": "nofs",
             "endpoint": azurite.endpoint, "protocol": "http", "credentials": key}  # fmt: skip
    name = "nofsblob"
    with server.client() as c:
        assert c.put(f"{ds}?{API}", json={"properties": {"contents": store}}).status_code in (
            200,
            201,
        )
        files = {"code/v1/train.py": BLOB_TRAIN, "code/v1/lib/helper.py": "VALUE = 41\n",
                 "data/d/rows.csv": "a\nb\nc\n"}  # fmt: skip
        for path, text in files.items():
            assert c.put(f"{ds}/files/{path}?{API}", content=text.encode()).status_code == 201
        for kind, asset, path in (("codes", "blobcode", "code/v1"), ("data", "blobdata", "data/d")):
            resp = c.put(
                f"{WS}/{kind}/{asset}/versions/1?{API}",
                json={"properties": {"datastoreId": ds, "path": path}},
            )
            assert resp.status_code in (200, 201), resp.text
        body = command_body(
            "python train.py ${{inputs.rows}} ${{outputs.model}}",
            codeId=f"{WS}/codes/blobcode/versions/1",
            environmentVariables={"TEST_SERVER_HOME": str(server.home)},
            inputDataBindings={
                "rows": {"dataId": f"{WS}/data/blobdata/versions/1", "mode": "Download"}
            },
            outputDataBindings={"model": {"datastoreId": ds, "mode": "ReadWriteMount"}},
        )
        body["properties"]["compute"] = {"target": RAY, "instanceType": "cpu=1,memory=1"}
        assert c.put(job_url(name), json=body).status_code == 201
        done = wait_terminal(c, name, timeout=240)
        reason = c.get(f"{WS}/jobs/{name}/history?{API}").json().get("reason")
        assert done["properties"]["status"] == "Completed", (done, reason)
        log = read_artifact(c, name, "user_logs/std_log.txt")
        model = c.get(f"{ds}/files/azureml/{name}/model/model.txt?{API}")
    line = next(x for x in log.splitlines() if x.startswith("RESULT "))
    result = json.loads(line[len("RESULT ") :])
    assert result["rows"] == 3 and not result["sees_home"], result  # ran on the blind node
    assert result["cwd"].startswith("/tmp/amlite-node-"), result
    assert model.text == "3 rows, value 42"
    stored = BlobServiceClient.from_connection_string(azurite.connection_string)
    blob = stored.get_blob_client("nofs", f"azureml/{name}/model/model.txt")
    assert blob.download_blob().readall() == b"3 rows, value 42"  # in the container itself
