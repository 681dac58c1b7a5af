"""Blob datastores against a real Azurite: the file endpoints, a job whose code and data live
only in a container, its outputs and logs uploaded there, ``amlite job download``, and a
server whose ``workspaceblobstore`` is a container (``--default-datastore``)."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import tarfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from support.azurite import ACCOUNT, KEY, Azurite
from support.server import (
    API,
    WS,
    LiveServer,
    command_body,
    history,
    job_url,
    wait_status,
    wait_terminal,
)

TRAIN = """\
import os, sys
from lib.helper import VALUE
src, out = sys.argv[1], sys.argv[2]
rows = open(os.path.join(src, "iris.csv")).read().splitlines()
nested = open(os.path.join(src, "more", "extra.txt")).read()
os.makedirs("outputs", exist_ok=True)
open("outputs/metrics.txt", "w").write(f"rows={len(rows)} value={VALUE + 1}")
open(os.path.join(out, "model.txt"), "w").write(f"model from {len(rows)} rows, {nested}")
print("trained on", len(rows), "rows")
"""


def tar_gz(files: dict[str, str]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for name, text in files.items():
            data = text.encode()
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def blob_names(azurite: Azurite, container: str, prefix: str = "") -> dict[str, bytes]:
    from azure.storage.blob import ContainerClient

    client = ContainerClient.from_connection_string(azurite.connection_string, container)
    return {
        b.name: client.download_blob(b.name).readall()
        for b in client.list_blobs(name_starts_with=prefix or None)
    }


def make_container(azurite: Azurite, container: str) -> None:
    from azure.storage.blob import BlobServiceClient

    BlobServiceClient.from_connection_string(azurite.connection_string).create_container(container)


def blob_datastore(azurite: Azurite, container: str) -> dict:
    return {
        "properties": {
            "contents": {
                "contentsType": "AzureBlob",
                "accountName": ACCOUNT,
                "containerName": container,
                "endpoint": azurite.endpoint,
                "protocol": "http",
                "credentials": {
                    "credentialsType": "AccountKey",
                    "secrets": {"secretsType": "AccountKey", "key": KEY},
                },
            }
        }
    }


@pytest.fixture
def blob_server(tmp_path: Path, azurite: Azurite) -> Iterator[LiveServer]:
    """A server whose workspaceblobstore is the container ``ws-default`` on Azurite."""
    env = {
        "AMLITE_DEFAULT_DATASTORE": f"azureblob://{ACCOUNT}/ws-default?endpoint={azurite.endpoint}"
        "&protocol=http",
        "AMLITE_DEFAULT_DATASTORE_KEY": KEY,
        "AMLITE_OUTPUT_SYNC_SECONDS": "1",  # outputs uploaded every second while jobs run
    }
    srv = LiveServer(tmp_path / "home", env=env).start()
    yield srv
    srv.stop()


def upload(c: httpx.Client, datastore: str, files: dict[str, str], remote: str) -> None:
    resp = c.post(f"{WS}/datastores/{datastore}/upload?{API}&path={remote}", content=tar_gz(files))
    assert resp.status_code == 200, resp.text
    assert resp.json()["files"] == len(files)


def test_a_job_whose_code_and_data_live_only_in_containers(
    blob_server: LiveServer, azurite: Azurite, tmp_path: Path
) -> None:
    make_container(azurite, "team-data")
    ds = f"{WS}/datastores/teamblobs"
    with blob_server.client() as c:
        resp = c.put(f"{ds}?{API}", json=blob_datastore(azurite, "team-data"))
        assert resp.status_code in (200, 201), resp.text

        # the file endpoints, on the container
        upload(c, "teamblobs", {"train.py": TRAIN, "lib/helper.py": "VALUE = 41\n"}, "code/v1")
        upload(
            c,
            "teamblobs",
            {"iris.csv": "a,b\n1,2\n3,4\n", "more/extra.txt": "nested ok"},
            "data/iris",
        )
        stored = blob_names(azurite, "team-data")
        assert stored["code/v1/lib/helper.py"] == b"VALUE = 41\n"
        assert stored["data/iris/more/extra.txt"] == b"nested ok"
        listed = c.get(f"{ds}/list?{API}&path=data/iris").json()["value"]
        assert listed == [
            {"path": "iris.csv", "size": 12},
            {"path": "more/extra.txt", "size": 9},
        ]
        got = c.get(f"{ds}/files/data/iris/iris.csv?{API}&offset=4")
        assert got.status_code == 200 and got.content == b"1,2\n3,4\n"
        assert got.headers["x-amlite-file-size"] == "12"
        assert c.get(f"{ds}/files/data/nothing.csv?{API}").status_code == 404
        bad = c.get(f"{ds}/list?{API}&path=../../etc")
        assert bad.status_code == 400 and bad.json()["error"]["target"] == "path"
        evil = c.post(
            f"{ds}/upload?{API}&path=y", content=tar_gz({"ok.txt": "1", "../evil.txt": "2"})
        )
        assert evil.status_code == 400 and evil.json()["error"]["target"] == "body", evil.text
        assert not blob_names(azurite, "team-data", "y/")  # all of it or nothing
        assert c.put(f"{ds}/files/x/single.txt?{API}", content=b"one").status_code == 201
        assert blob_names(azurite, "team-data", "x/")["x/single.txt"] == b"one"

        code = c.put(
            f"{WS}/codes/train/versions/1?{API}",
            json={"properties": {"datastoreId": ds, "path": "code/v1"}},
        )
        assert code.status_code in (200, 201), code.text
        data = c.put(
            f"{WS}/data/iris/versions/1?{API}",
            json={"properties": {"datastoreId": ds, "path": "data/iris"}},
        )
        assert data.status_code in (200, 201), data.text

        body = command_body(
            "python train.py ${{inputs.iris}} ${{outputs.model}}",
            codeId=f"{WS}/codes/train/versions/1",
            inputDataBindings={
                "iris": {"dataId": f"{WS}/data/iris/versions/1", "mode": "Download"}
            },
            outputDataBindings={"model": {"datastoreId": ds, "mode": "ReadWriteMount"}},
        )
        assert c.put(job_url("blobjob"), json=body).status_code in (200, 201)
        done = wait_terminal(c, "blobjob", timeout=180)
        assert done["properties"]["status"] == "Completed", done

    # the named output is in the team container, ./outputs and logs in the default one
    model = blob_names(azurite, "team-data", "azureml/blobjob/model/")
    assert model == {"azureml/blobjob/model/model.txt": b"model from 3 rows, nested ok"}
    artifacts = blob_names(azurite, "ws-default", "ExperimentRun/dcid.blobjob/")
    prefix = "ExperimentRun/dcid.blobjob/"
    assert artifacts[prefix + "outputs/metrics.txt"] == b"rows=3 value=42"
    assert b"trained on 3 rows" in artifacts[prefix + "user_logs/std_log.txt"]
    assert not any(b"sig=" in v for v in artifacts.values())  # no SAS in any log

    # nothing of the job is only on the server's disk
    local = blob_server.home / "datastores"
    for path in local.rglob("*"):
        if path.is_file() and "dcid.blobjob" in path.as_posix():
            rel = path.as_posix().split("/workspaceblobstore/", 1)[1]
            assert rel in artifacts, f"{rel} is only on the server's disk"

    # amlite job download reads both containers through the server
    dest = tmp_path / "dl"
    env = dict(
        os.environ,
        AMLITE_HOME=str(blob_server.home),
        AMLITE_URL=blob_server.url,
        AMLITE_SUBSCRIPTION="00000000-0000-0000-0000-000000000000",
        AMLITE_RESOURCE_GROUP="rg1",
        AMLITE_WORKSPACE="ws1",
    )
    cli = [sys.executable, "-m", "amlite.cli.main", "job", "download", "blobjob"]
    proc = subprocess.run(
        [*cli, "--download-path", str(dest)], env=env, capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    files = {p.relative_to(dest).as_posix(): p.read_bytes() for p in dest.rglob("*") if p.is_file()}
    model_file = next(v for k, v in files.items() if k.endswith("named-outputs/model/model.txt"))
    assert model_file == b"model from 3 rows, nested ok"
    metrics = next(v for k, v in files.items() if k.endswith("artifacts/outputs/metrics.txt"))
    assert metrics == b"rows=3 value=42"


def test_a_missing_blob_input_fails_the_job_naming_it(
    blob_server: LiveServer, azurite: Azurite
) -> None:
    with blob_server.client() as c:
        data = c.put(
            f"{WS}/data/gone/versions/1?{API}",
            json={
                "properties": {"path": "azureml://datastores/workspaceblobstore/paths/not/there"}
            },
        )
        assert data.status_code in (200, 201), data.text
        body = command_body(
            "echo never",
            inputDataBindings={
                "gone": {"dataId": f"{WS}/data/gone/versions/1", "mode": "Download"}
            },
        )
        assert c.put(job_url("missing"), json=body).status_code in (200, 201)
        done = wait_terminal(c, "missing", timeout=60)
        reason = history(c, "missing")["reason"] or ""
    assert done["properties"]["status"] == "Failed"
    assert "inputDataBindings.gone" in reason and "does not exist" in reason, reason


def test_logs_and_outputs_of_a_running_job_are_read_live_and_uploaded_while_it_runs(
    blob_server: LiveServer, azurite: Azurite
) -> None:
    log = f"{WS}/datastores/workspaceblobstore/files/ExperimentRun/dcid.live/user_logs/std_log.txt"
    script = (
        "import os, sys, time; os.makedirs('outputs', exist_ok=True); "
        "open('outputs/early.txt', 'w').write('early'); "
        "open(os.path.join(sys.argv[1], 'm.txt'), 'w').write('model'); "
        "print('hello-live', flush=True); time.sleep(60)"
    )
    body = command_body(
        f'python -c "{script}" ${{{{outputs.model}}}}',
        outputDataBindings={"model": {"mode": "ReadWriteMount"}},
    )
    run = "ExperimentRun/dcid.live/"
    with blob_server.client() as c:
        assert c.put(job_url("live"), json=body).status_code in (200, 201)
        wait_status(c, "live", "Running", timeout=60)
        deadline = time.monotonic() + 60
        while b"hello-live" not in (resp := c.get(f"{log}?{API}")).content:
            assert time.monotonic() < deadline, resp.text
            time.sleep(0.2)
        # ./outputs, the logs and the named output reach the container while it runs
        wanted = [f"{run}outputs/early.txt", "azureml/live/model/m.txt"]
        while True:  # (one round uploads them one folder after the other)
            stored = {**blob_names(azurite, "ws-default", run),
                      **blob_names(azurite, "ws-default", "azureml/live/")}  # fmt: skip
            logged = b"hello-live" in stored.get(f"{run}user_logs/std_log.txt", b"")
            if logged and all(name in stored for name in wanted):
                break
            assert time.monotonic() < deadline, sorted(stored)
            time.sleep(0.2)
        assert stored[f"{run}outputs/early.txt"] == b"early"
        assert stored["azureml/live/model/m.txt"] == b"model"
        assert c.get(job_url("live")).json()["properties"]["status"] == "Running"
        assert not any(b"sig=" in v for v in stored.values())  # no SAS in any log
        assert c.post(f"{WS}/jobs/live/cancel?{API}").status_code in (200, 202)
        done = wait_terminal(c, "live", timeout=60)
        assert done["properties"]["status"] == "Canceled"
        stored = blob_names(azurite, "ws-default", run)
        assert b"hello-live" in stored[f"{run}user_logs/std_log.txt"]
        assert b"output sync: every 1 s" in stored[f"{run}system_logs/supervisor.log"]
