"""The real ``mlflow`` client inside real jobs: plain ``mlflow.log_*`` calls reach amlite,
artifacts land in the job's outputs, a crash ends Failed, a job cannot log into another run.
Read back through ``GET {ws}/jobs/{name}/metrics`` and ``amlite job metrics``."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from tracking_helpers import ML, run_job

from support.server import API, WS, LiveServer, history, read_artifact

TRAIN = """
import os
import mlflow

with mlflow.start_run() as run:
    assert run.info.run_id == os.environ["AZUREML_RUN_ID"], run.info
    for i in range(30):
        mlflow.log_metric("loss", 1.0 / (i + 1), step=100 - i)  # steps fall, order must not
    mlflow.log_param("lr", 0.01)
    mlflow.log_params({"layers": 3, "optimizer": "adam"})
    mlflow.set_tag("team", "vision")
    mlflow.log_metrics({"acc": 0.9, "f1": 0.8}, step=3)
    with open("file.txt", "w") as f:
        f.write("artifact body")
    mlflow.log_artifact("file.txt")
    mlflow.log_artifact("file.txt", artifact_path="nested")
    client = mlflow.MlflowClient()
    print("history", len(client.get_metric_history(run.info.run_id, "loss")))
    print("params", sorted(mlflow.get_run(run.info.run_id).data.params.items()))
    print("artifacts", sorted(a.path for a in client.list_artifacts(run.info.run_id)))
print("done")
"""

CRASH = """
import mlflow

mlflow.log_metric("loss", 0.5)  # no start_run: the fluent API resumes MLFLOW_RUN_ID
mlflow.log_metric("loss", 0.4)
raise RuntimeError("boom after logging")
"""

INTRUDER = """
import mlflow
from mlflow.exceptions import MlflowException

try:
    mlflow.MlflowClient().log_metric("victim", "stolen", 1.0)
except MlflowException as exc:
    print("denied", exc.error_code)
    raise SystemExit(3)
print("not denied")
"""


def _script_job(server: LiveServer, name: str, script: str) -> dict:
    c = server.client()
    return run_job(c, name, 'python -c "$SCRIPT"', environmentVariables={"SCRIPT": script})


def test_mlflow_client_in_a_job(sqlite_server: LiveServer) -> None:
    c = sqlite_server.client()
    done = _script_job(sqlite_server, "train", TRAIN)
    log = read_artifact(c, "train", "user_logs/std_log.txt")
    assert done["properties"]["status"] == "Completed", log
    assert "history 30" in log and "done" in log
    assert "('layers', '3'), ('lr', '0.01'), ('optimizer', 'adam')" in log
    assert "artifacts ['file.txt', 'nested']" in log

    data = c.get(f"{WS}/jobs/train/metrics?{API}").json()
    loss = data["history"]["loss"]
    assert [p["value"] for p in loss] == [1.0 / (i + 1) for i in range(30)]
    assert [p["step"] for p in loss] == [100 - i for i in range(30)]
    assert {m["key"]: m["value"] for m in data["value"]} == {"acc": 0.9, "f1": 0.8, "loss": 1 / 30}
    assert data["params"] == {"layers": "3", "lr": "0.01", "optimizer": "adam"}
    assert data["tags"]["team"] == "vision"
    assert read_artifact(c, "train", "outputs/file.txt") == "artifact body"
    assert read_artifact(c, "train", "outputs/nested/file.txt") == "artifact body"

    env = dict(
        os.environ,
        AMLITE_URL=sqlite_server.url,
        AMLITE_TOKEN=sqlite_server.token,
        AMLITE_SUBSCRIPTION="00000000-0000-0000-0000-000000000000",
        AMLITE_RESOURCE_GROUP="rg1",
        AMLITE_WORKSPACE="ws1",
    )
    cli = [sys.executable, "-m", "amlite.cli.main", "job", "metrics", "train"]
    out = subprocess.run([*cli, "-o", "json"], env=env, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["history"]["loss"] == loss
    table = subprocess.run([*cli, "--history"], env=env, capture_output=True, text=True, timeout=60)
    assert table.returncode == 0, table.stderr
    assert "loss" in table.stdout and "0.0333333" in table.stdout and "optimizer" in table.stdout
    missing = subprocess.run(
        [*cli[:-1], "ghost"], env=env, capture_output=True, text=True, timeout=60
    )
    assert missing.returncode == 2 and "ghost" in missing.stderr


def test_crash_after_logging_ends_failed(sqlite_server: LiveServer) -> None:
    c = sqlite_server.client()
    done = _script_job(sqlite_server, "crash", CRASH)
    assert done["properties"]["status"] == "Failed"
    assert history(c, "crash")["exitCode"] == 1
    assert "boom after logging" in read_artifact(c, "crash", "user_logs/std_log.txt")
    data = c.get(f"{WS}/jobs/crash/metrics?{API}").json()
    assert [p["value"] for p in data["history"]["loss"]] == [0.5, 0.4]
    run = c.get(f"{ML}/runs/get", params={"run_id": "crash"}).json()["run"]
    assert run["info"]["status"] == "FAILED"


def test_a_job_cannot_log_into_another_run(sqlite_server: LiveServer) -> None:
    c = sqlite_server.client()
    run_job(c, "victim")
    done = _script_job(sqlite_server, "intruder", INTRUDER)
    log = read_artifact(c, "intruder", "user_logs/std_log.txt")
    assert "denied PERMISSION_DENIED" in log, log
    assert done["properties"]["status"] == "Failed" and history(c, "intruder")["exitCode"] == 3
    assert c.get(f"{WS}/jobs/victim/metrics?{API}").json()["history"] == {}
