"""A job's token writes into its run while the job runs and only reads once it ended."""

from __future__ import annotations

import json

import httpx
import pytest

from support.server import API, WS, LiveServer, command_body, job_url, wait_status, wait_terminal

ML = "/mlflow/api/2.0/mlflow"
ARTIFACTS = (
    "/mlflow/api/2.0/mlflow-artifacts/artifacts/00000000-0000-0000-0000-000000000000/rg1/ws1"
)


def _writes(c: httpx.Client, run: str) -> dict[str, httpx.Response]:
    metric = {"run_id": run, "key": "m", "value": 1.0, "timestamp": 0, "step": 0}
    return {
        "log-metric": c.post(f"{ML}/runs/log-metric", json=metric),
        "log-batch": c.post(f"{ML}/runs/log-batch", json={"run_id": run, "metrics": [metric]}),
        "log-parameter": c.post(
            f"{ML}/runs/log-parameter", json={"run_id": run, "key": "p", "value": "1"}
        ),
        "set-tag": c.post(f"{ML}/runs/set-tag", json={"run_id": run, "key": "t", "value": "v"}),
        "update": c.post(f"{ML}/runs/update", json={"run_id": run, "run_name": "renamed"}),
        "artifact": c.put(f"{ARTIFACTS}/{run}/a.txt", content=b"late"),
    }


def _history(c: httpx.Client) -> list[object]:
    resp = c.get(f"{ML}/metrics/get-history", params={"run_id": "r1", "metric_key": "m"})
    assert resp.status_code == 200, resp.text
    points: list[object] = resp.json().get("metrics") or []
    return points


@pytest.mark.parametrize("end", ["cancel", "complete"])
def test_a_finished_jobs_token_is_read_only(server: LiveServer, end: str) -> None:
    c = server.client()
    command = "sleep 60" if end == "cancel" else "while [ ! -e go ]; do sleep 0.05; done"
    assert c.put(job_url("r1"), json=command_body(command)).status_code == 201
    wait_status(c, "r1", "Running")
    plan = next(server.home.glob("runs/*/*/*/r1/plan.json"))
    job = server.client(json.loads(plan.read_text())["env"]["AZUREML_RUN_TOKEN"])

    while_running = _writes(job, "r1")
    assert {k: r.status_code for k, r in while_running.items()} == dict.fromkeys(while_running, 200)
    points = len(_history(job))
    assert points >= 1

    if end == "cancel":
        c.post(f"{WS}/jobs/r1/cancel?{API}")
    else:
        (server.job_dir("r1") / "go").touch()
    final = wait_terminal(c, "r1")["properties"]["status"]
    assert final == ("Canceled" if end == "cancel" else "Completed")

    after = _writes(job, "r1")
    assert {k: r.status_code for k, r in after.items()} == dict.fromkeys(after, 403)
    assert all(r.json()["error_code"] == "PERMISSION_DENIED" for r in after.values())
    # reads still work, and nothing of the late writes landed
    got = job.get(f"{ML}/runs/get", params={"run_id": "r1"})
    assert got.status_code == 200
    assert len(_history(job)) == points
    artifact = c.get(ARTIFACTS + "/r1/a.txt")
    assert artifact.content == b"late"  # the one written while running
    # the admin token still writes (e.g. an operator's tag)
    admin_tag = c.post(f"{ML}/runs/set-tag", json={"run_id": "r1", "key": "ops", "value": "1"})
    assert admin_tag.status_code == 200
