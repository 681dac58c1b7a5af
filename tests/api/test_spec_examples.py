"""Replay the spec's example operations against a real server and check every response
against the spec's own JSON schemas (mfe.json)."""

from __future__ import annotations

import json
import time
from typing import Any

import httpx
import pytest

from support.server import TERMINAL, LiveServer
from support.shared import SPEC_DIR
from support.spec import assert_matches_spec

EXAMPLES = SPEC_DIR / "examples"
API = "api-version=2021-03-01-preview"


def load(rel: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((EXAMPLES / rel).read_text())
    return data


def ws_path(params: dict[str, Any]) -> str:
    return (
        f"/subscriptions/{params['subscriptionId']}/resourceGroups/{params['resourceGroupName']}"
        f"/providers/Microsoft.MachineLearningServices/workspaces/{params['workspaceName']}"
    )


def register_referenced_assets(c: httpx.Client, job: dict[str, Any]) -> None:
    """The examples name assets by ARM id; create each one so the job can be accepted."""
    props = job["properties"]
    parts = [props, props.get("trial") or {}]
    ids = [p.get("codeId") for p in parts] + [p.get("environmentId") for p in parts]
    ids.append((props.get("compute") or {}).get("target"))
    for p in parts:
        ids += [b.get("dataId") for b in (p.get("inputDataBindings") or {}).values()]
        ids += [b.get("datastoreId") for b in (p.get("outputDataBindings") or {}).values()]
    for rid in filter(None, ids):
        rid = rid.replace("/datastore/", "/datastores/")
        kind = rid.split("/workspaces/")[1].split("/")[1]
        body: dict[str, Any] = {
            "codes": {"properties": {"path": "src"}},
            "data": {"properties": {"path": "https://127.0.0.1:9/data.csv"}},
            "environments": {"properties": {"condaFile": "dependencies:\n  - python=3.11\n"}},
            "computes": {"properties": {"computeType": "AmlCompute"}},
            "datastores": {
                "properties": {
                    "contents": {
                        "contentsType": "AzureBlob",
                        "accountName": "acct",
                        "containerName": "c",
                        "endpoint": "core.windows.net",
                        "protocol": "https",
                        "credentials": {"credentialsType": "None"},
                    }
                }
            },
        }[kind]
        resp = c.put(f"{rid}?{API}", json=body)
        assert resp.status_code in (200, 201), resp.text
        definition = {
            "codes": "CodeVersionResource",
            "data": "DataVersionResource",
            "environments": "EnvironmentSpecificationVersionResource",
            "datastores": "DatastorePropertiesResource",
        }.get(kind)
        if definition:
            assert_matches_spec(definition, resp.json())


@pytest.mark.parametrize("job_type", ["CommandJob", "SweepJob"])
def test_example_operations_answer_with_the_specs_schemas(
    server: LiveServer, job_type: str
) -> None:
    create = load(f"Job/{job_type}/createOrUpdate.json")["parameters"]
    base = ws_path(create)
    name = create["id"]
    with server.client() as c:
        register_referenced_assets(c, create["body"])
        body = create["body"]
        if job_type == "SweepJob":
            # The example's searchSpace {"name": {}} names no distribution: amlite refuses
            # it (docs/decisions.md), naming exactly that field, and runs it once filled in.
            resp = c.put(f"{base}/jobs/{name}?{API}", json=body)
            assert resp.status_code == 400
            targets = [d["target"] for d in resp.json()["error"]["details"]]
            assert targets == ["properties.searchSpace.name"]
            body = json.loads(json.dumps(body))
            body["properties"]["searchSpace"] = {"name": ["choice", [[1, 2]]]}
        resp = c.put(f"{base}/jobs/{name}?{API}", json=body)
        assert resp.status_code == 201, resp.text
        assert_matches_spec("JobBaseResource", resp.json())
        again = c.put(f"{base}/jobs/{name}?{API}", json=body)
        assert again.status_code == 200, again.text
        assert_matches_spec("JobBaseResource", again.json())

        get = load(f"Job/{job_type}/get.json")["parameters"]
        resp = c.get(f"{ws_path(get)}/jobs/{get['id']}?{API}")
        assert resp.status_code == 200
        assert_matches_spec("JobBaseResource", resp.json())

        listing = load(f"Job/{job_type}/list.json")["parameters"]
        resp = c.get(f"{ws_path(listing)}/jobs?{API}&jobType={listing['jobType']}")
        assert resp.status_code == 200
        assert_matches_spec("JobBaseResourceArmPaginatedResult", resp.json())
        assert [j["name"] for j in resp.json()["value"]] == [name]

        cancel = load("SweepJob/cancel.json")["parameters"]
        resp = c.post(f"{base}/jobs/{name}/cancel?{API}")
        assert resp.status_code == 200
        assert cancel["api-version"] == "2021-03-01-preview"
        for _ in range(600):
            if c.get(f"{base}/jobs/{name}?{API}").json()["properties"]["status"] in TERMINAL:
                break
            time.sleep(0.05)

        delete = load("Job/delete.json")["parameters"]
        resp = c.delete(f"{base}/jobs/{name}?{API}")
        assert resp.status_code in (200, 202, 204)
        assert delete["api-version"] == "2021-03-01-preview"
        if resp.status_code == 202:
            assert "Location" in resp.headers
            poll = c.get(resp.headers["Location"])
            assert poll.status_code in (202, 204)
