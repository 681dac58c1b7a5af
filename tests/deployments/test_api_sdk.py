"""The deployments API driven by Azure's own client (azure-mgmt-resource-deployments)."""

from __future__ import annotations

import time
from typing import Any

import pytest
from azure.core.exceptions import HttpResponseError, ResourceNotFoundError
from azure.mgmt.resource.deployments import DeploymentsMgmtClient

from deployments.conftest import RG, SUB
from support.server import WS, LiveServer, job_url, wait_terminal

JOB_TYPE = "Microsoft.MachineLearningServices/workspaces/jobs"
API = "2021-03-01-preview"


def template(count: int = 2, command: str = "echo hello from [copyIndex()]") -> dict[str, Any]:
    return {
        "$schema": "https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#",
        "contentVersion": "1.0.0.0",
        "parameters": {
            "workspaceName": {"type": "string", "defaultValue": "ws1"},
            "count": {"type": "int", "defaultValue": count, "minValue": 0},
            "secret": {"type": "securestring", "defaultValue": "s3cr3t"},
        },
        "variables": {"prefix": "[concat('dep-', uniqueString(resourceGroup().id))]"},
        "resources": [
            {
                "type": "Microsoft.MachineLearningServices/workspaces",
                "apiVersion": API,
                "name": "[parameters('workspaceName')]",
                "location": "[resourceGroup().location]",
                "properties": {"friendlyName": "deployed"},
            },
            {
                "type": JOB_TYPE,
                "apiVersion": API,
                "name": (
                    "[format('{0}/{1}-{2}', parameters('workspaceName'), variables('prefix'), "
                    "copyIndex())]"
                ),
                "copy": {"name": "jobs", "count": "[parameters('count')]"},
                "dependsOn": [
                    "[resourceId('Microsoft.MachineLearningServices/workspaces', "
                    "parameters('workspaceName'))]"
                ],
                "properties": {
                    "jobType": "Command",
                    "command": f"[concat('{command.split('[')[0]}', string(copyIndex()))]",
                    "compute": {},
                    "experimentName": "deployed",
                },
            },
        ],
        "outputs": {
            "jobIds": {
                "type": "array",
                "copy": {
                    "count": "[parameters('count')]",
                    "input": f"[resourceId('{JOB_TYPE}', parameters('workspaceName'), "
                    "format('{0}-{1}', variables('prefix'), copyIndex()))]",
                },
            },
            "status": {
                "type": "string",
                "value": f"[reference(resourceId('{JOB_TYPE}', parameters('workspaceName'), "
                "format('{0}-0', variables('prefix'))), '2021-03-01-preview').status]",
            },
            "echo": {"type": "securestring", "value": "[parameters('secret')]"},
        },
    }


def props(tpl: dict[str, Any], **params: Any) -> dict[str, Any]:
    return {
        "properties": {
            "template": tpl,
            "parameters": {k: {"value": v} for k, v in params.items()},
            "mode": "Incremental",
        }
    }


def test_create_get_list_operations_and_jobs_run(
    sdk: DeploymentsMgmtClient, live: LiveServer
) -> None:
    poller = sdk.deployments.begin_create_or_update(RG, "first", props(template()))
    result = poller.result()
    assert result.properties.provisioning_state == "Succeeded", result.properties.error
    outputs = result.properties.outputs
    assert len(outputs["jobIds"]["value"]) == 2
    assert outputs["status"]["value"] in (
        "NotStarted",
        "Queued",
        "Starting",
        "Preparing",
        "Running",
        "Completed",
    )
    assert "value" not in outputs["echo"]  # secure outputs are never echoed
    assert result.properties.parameters["secret"] == {"type": "SecureString"}
    assert {r.id for r in result.properties.output_resources} >= set(outputs["jobIds"]["value"])

    got = sdk.deployments.get(RG, "first")
    assert got.properties.provisioning_state == "Succeeded"
    names = [d.name for d in sdk.deployments.list_by_resource_group(RG)]
    assert "first" in names
    ops = list(sdk.deployment_operations.list(RG, "first"))
    assert len(ops) == 3
    assert all(o.properties.provisioning_state == "Succeeded" for o in ops)
    assert {o.properties.target_resource.resource_type for o in ops} == {
        "Microsoft.MachineLearningServices/workspaces",
        JOB_TYPE,
    }

    with live.client() as c:
        for rid in outputs["jobIds"]["value"]:
            name = rid.rsplit("/", 1)[1]
            assert wait_terminal(c, name)["properties"]["status"] == "Completed"


def test_redeploy_unchanged_is_a_no_op(sdk: DeploymentsMgmtClient, live: LiveServer) -> None:
    first = sdk.deployments.begin_create_or_update(RG, "again", props(template(count=1))).result()
    job = first.properties.outputs["jobIds"]["value"][0].rsplit("/", 1)[1]
    with live.client() as c:
        wait_terminal(c, job)
        before = c.get(f"{WS}/jobs/{job}/history?api-version={API}").json()["value"]
    changes = sdk.deployments.begin_what_if(RG, "again", props(template(count=1))).result()
    kinds = {ch.resource_id.rsplit("/", 1)[1]: ch.change_type for ch in changes.changes}
    assert kinds[job] == "NoChange"
    second = sdk.deployments.begin_create_or_update(RG, "again", props(template(count=1))).result()
    assert second.properties.provisioning_state == "Succeeded"
    with live.client() as c:
        after = c.get(f"{WS}/jobs/{job}/history?api-version={API}").json()["value"]
    assert after == before  # not resubmitted


def test_changed_create_only_job_property_fails_like_the_jobs_api(
    sdk: DeploymentsMgmtClient,
) -> None:
    sdk.deployments.begin_create_or_update(RG, "immut", props(template(count=1))).result()
    changed = template(count=1, command="echo changed ")
    what = sdk.deployments.begin_what_if(RG, "immut", props(changed)).result()
    assert any(ch.change_type == "Modify" for ch in what.changes)
    with pytest.raises(HttpResponseError) as failure:  # a failed deployment fails the poller
        sdk.deployments.begin_create_or_update(RG, "immut", props(changed)).result()
    assert failure.value.error.code == "DeploymentFailed"
    result = sdk.deployments.get(RG, "immut")
    assert result.properties.provisioning_state == "Failed"
    error = result.properties.error
    assert error.code == "DeploymentFailed"
    assert error.details[0].code == "ValidationError"
    assert "cannot change" in error.details[0].message
    ops = list(sdk.deployment_operations.list(RG, "immut"))
    failed = [o for o in ops if o.properties.provisioning_state == "Failed"]
    assert len(failed) == 1
    assert failed[0].properties.status_message.error.details[0].target == "properties.command"


def test_bad_job_body_is_refused_before_anything_is_created(
    sdk: DeploymentsMgmtClient, live: LiveServer
) -> None:
    tpl = template(count=1)
    tpl["parameters"]["workspaceName"]["defaultValue"] = "wsbad"
    tpl["resources"][1]["properties"]["compute"] = {"instanceCount": 0}
    with pytest.raises(HttpResponseError) as err:
        sdk.deployments.begin_create_or_update(RG, "bad", props(tpl)).result()
    assert err.value.status_code == 400
    assert err.value.error.code == "InvalidTemplateDeployment"
    assert any(d.target == "properties.compute.instanceCount" for d in err.value.error.details)
    with pytest.raises(ResourceNotFoundError):
        sdk.deployments.get(RG, "bad")
    with live.client() as c:
        listed = c.get(f"{WS.replace('ws1', 'wsbad')}/jobs?api-version={API}")
        assert listed.json()["value"] == []


def test_validate_reports_unknown_function_with_its_position(sdk: DeploymentsMgmtClient) -> None:
    tpl = template(count=1)
    tpl["variables"]["prefix"] = "[concat('x', nosuch(1))]"
    with pytest.raises(HttpResponseError) as err:
        sdk.deployments.begin_validate(RG, "v", props(tpl)).result()
    assert err.value.status_code == 400
    assert err.value.error.code == "InvalidTemplate"
    assert "unknown function 'nosuch' at position 13" in err.value.error.message
    assert err.value.error.target == "variables.prefix"
    good = sdk.deployments.begin_validate(RG, "v", props(template(count=1))).result()
    assert good.error is None
    assert len(good.properties.validated_resources) == 2


def test_missing_reference_fails_the_operation_with_the_jobs_api_error(
    sdk: DeploymentsMgmtClient,
) -> None:
    tpl = template(count=1)
    tpl["resources"][1]["properties"]["codeId"] = f"{WS}/codes/nosuch/versions/1"
    with pytest.raises(HttpResponseError):
        sdk.deployments.begin_create_or_update(RG, "missingref", props(tpl)).result()
    result = sdk.deployments.get(RG, "missingref")
    assert result.properties.provisioning_state == "Failed"
    assert result.properties.error.code == "DeploymentFailed"
    detail = result.properties.error.details[0]
    assert "nosuch" in detail.message


def test_delete_removes_the_record_not_the_resources(
    sdk: DeploymentsMgmtClient, live: LiveServer
) -> None:
    result = sdk.deployments.begin_create_or_update(
        RG, "todelete", props(template(count=1))
    ).result()
    job = result.properties.outputs["jobIds"]["value"][0].rsplit("/", 1)[1]
    sdk.deployments.begin_delete(RG, "todelete").result()
    with pytest.raises(ResourceNotFoundError):
        sdk.deployments.get(RG, "todelete")
    with live.client() as c:
        assert c.get(job_url(job)).status_code == 200


def test_lowercase_resourcegroups_and_old_api_versions(live: LiveServer) -> None:
    path = f"/subscriptions/{SUB}/resourcegroups/{RG}/providers/microsoft.resources/deployments"
    with live.client() as c:
        assert c.get(f"{path}?api-version=2019-10-01").status_code == 200
        refused = c.get(f"{path}?api-version=2019-05-01")
        assert refused.status_code == 400
        assert refused.json()["error"]["target"] == "api-version"
        body = props(template(count=0))
        body["properties"]["mode"] = "Complete"
        resp = c.put(f"{path}/complete?api-version=2021-04-01", json=body)
        assert resp.status_code == 400
        assert resp.json()["error"]["details"][0]["code"] == "InvalidDeploymentMode"
        link = {"properties": {"templateLink": {"uri": "./t.json"}, "mode": "Incremental"}}
        resp = c.put(f"{path}/linked?api-version=2021-04-01", json=link)
        assert resp.status_code == 400
        assert resp.json()["error"]["target"] == "properties.templateLink"


def test_async_operation_header_and_states(live: LiveServer) -> None:
    path = f"/subscriptions/{SUB}/resourceGroups/{RG}/providers/Microsoft.Resources/deployments/raw"
    with live.client() as c:
        resp = c.put(f"{path}?api-version=2021-04-01", json=props(template(count=1)))
        assert resp.status_code == 201
        assert resp.json()["properties"]["provisioningState"] in (
            "Accepted",
            "Running",
            "Succeeded",
        )
        status_url = resp.headers["Azure-AsyncOperation"]
        assert resp.headers["Retry-After"]
        deadline = time.monotonic() + 30
        while True:
            status = c.get(status_url).json()["status"]
            if status in ("Succeeded", "Failed", "Canceled") or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        assert status == "Succeeded"
        assert (
            c.put(f"{path}?api-version=2021-04-01", json=props(template(count=1))).status_code
            == 200
        )
