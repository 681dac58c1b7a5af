"""Helpers of the tracking tests (import as ``helpers``)."""

from __future__ import annotations

import json
from typing import Any

import httpx

from support.server import (
    WS,
    LiveServer,
    command_body,
    job_url,
    wait_status,
    wait_terminal,
)

ML = "/mlflow/api/2.0/mlflow"
ARTIFACTS = "/mlflow/api/2.0/mlflow-artifacts/artifacts"
WS2 = WS.replace("resourceGroups/rg1", "resourceGroups/rg2").replace(
    "workspaces/ws1", "workspaces/ws2"
)
SCOPED1 = (
    "/mlflow/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg1/workspaces/ws1"
)
SCOPED2 = (
    "/mlflow/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg2/workspaces/ws2"
)
WAITING_JOB = "for i in $(seq 600); do [ -e stop ] && break; sleep 0.1; done"
"""Runs until told to stop (a ``stop`` file in its working directory), at most 60 s."""


def run_job(
    c: httpx.Client, name: str, command: str = "true", ws: str = WS, **props: Any
) -> dict[str, Any]:
    url = job_url(name).replace(WS, ws)
    resp = c.put(url, json=command_body(command, **props))
    assert resp.status_code == 201, resp.text
    if ws == WS:
        return wait_terminal(c, name)
    return {}


def running_job_token(server: LiveServer, name: str, **props: Any) -> str:
    """Start a job that waits (``WAITING_JOB``) and return its token, read from its plan as
    the server's user can; the token writes while the job runs."""
    c = server.client()
    resp = c.put(job_url(name), json=command_body(WAITING_JOB, **props))
    assert resp.status_code == 201, resp.text
    wait_status(c, name, "Running")
    plan = next(server.home.glob(f"runs/*/*/*/{name}/plan.json"))
    token: str = json.loads(plan.read_text())["env"]["AZUREML_RUN_TOKEN"]
    return token


def stop_waiting_job(server: LiveServer, name: str) -> None:
    (server.job_dir(name) / "stop").touch()
    wait_terminal(server.client(), name)


def mlflow_error(resp: httpx.Response, status: int, code: str) -> str:
    assert resp.status_code == status, resp.text
    body = resp.json()
    assert body["error_code"] == code, body
    assert isinstance(body["message"], str) and body["message"]
    return str(body["message"])
