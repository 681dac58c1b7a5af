"""Helpers of the tracking tests (import as ``helpers``)."""

from __future__ import annotations

from typing import Any

import httpx

from support.server import WS, command_body, job_url, read_artifact, wait_terminal

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
TOKEN_JOB = 'mkdir -p outputs && printf %s "$MLFLOW_TRACKING_TOKEN" > outputs/token'


def run_job(
    c: httpx.Client, name: str, command: str = "true", ws: str = WS, **props: Any
) -> dict[str, Any]:
    url = job_url(name).replace(WS, ws)
    resp = c.put(url, json=command_body(command, **props))
    assert resp.status_code == 201, resp.text
    if ws == WS:
        return wait_terminal(c, name)
    return {}


def job_token(c: httpx.Client, name: str, **props: Any) -> str:
    """Run a job that hands back its own token (through its outputs)."""
    done = run_job(c, name, TOKEN_JOB, **props)
    assert done["properties"]["status"] == "Completed", done
    return read_artifact(c, name, "outputs/token").strip()


def mlflow_error(resp: httpx.Response, status: int, code: str) -> str:
    assert resp.status_code == status, resp.text
    body = resp.json()
    assert body["error_code"] == code, body
    assert isinstance(body["message"], str) and body["message"]
    return str(body["message"])
