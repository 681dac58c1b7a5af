"""The deployment engine in process: templates from the reference page and the corpus,
nested deployments, refused templates, a server restart."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from amlite.config import Settings
from amlite.deployments.engine import DeploymentRequestError
from amlite.deployments.service import Deployments
from amlite.deployments.template.evaluator import Scope
from amlite.domain.arm_id import WorkspaceRef
from amlite.errors import Conflict
from amlite.services.assets import Assets
from amlite.services.jobs import Jobs
from amlite.services.workspaces import Workspaces
from amlite.store import Store
from support.shared import CORPUS
from support.stores import sqlite_store

SUB = "00000000-0000-0000-0000-000000000000"
RG = "rg1"
API = "2021-03-01-preview"
JOBS = "Microsoft.MachineLearningServices/workspaces/jobs"
WS1 = WorkspaceRef(SUB, RG, "ws1")


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    yield from sqlite_store(tmp_path)


@pytest.fixture
def service(store: Store, tmp_path: Path) -> Iterator[Deployments]:
    workspaces = Workspaces(store)
    jobs = Jobs(store, Settings(home=tmp_path / "home"), workspaces, "http://127.0.0.1:1")
    svc = Deployments(store, jobs, Assets(store, workspaces), workspaces)
    yield svc
    svc.shutdown()


def deploy(svc: Deployments, name: str, template: dict[str, Any], **params: Any) -> dict[str, Any]:
    body = {
        "properties": {
            "template": template,
            "parameters": {k: {"value": v} for k, v in params.items()},
            "mode": "Incremental",
        }
    }
    svc.create(SUB, RG, name, body)
    svc.wait(SUB, RG, name, timeout=60)
    return svc.get(SUB, RG, name)


def refused(svc: Deployments, template: dict[str, Any], **params: Any) -> DeploymentRequestError:
    with pytest.raises(DeploymentRequestError) as err:
        deploy(svc, "refused", template, **params)
    return err.value


def reference_page_template() -> dict[str, Any]:
    """The reference page's ARM resource format for workspaces/jobs, filled in."""
    return {
        "$schema": "https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#",
        "contentVersion": "1.0.0.0",
        "parameters": {"workspaceName": {"type": "string"}, "jobName": {"type": "string"}},
        "resources": [
            {
                "type": JOBS,
                "apiVersion": API,
                "name": "[format('{0}/{1}', parameters('workspaceName'), parameters('jobName'))]",
                "properties": {
                    "description": "from the reference page",
                    "properties": {"source": "reference-page"},
                    "tags": {"kind": "arm"},
                    "jobType": "Command",
                    "command": "echo hello",
                    "compute": {
                        "target": "[resourceId('Microsoft.MachineLearningServices/workspaces/"
                        "computes', parameters('workspaceName'), 'local')]",
                        "instanceCount": 1,
                    },
                    "environmentVariables": {"GREETING": "hi"},
                    "experimentName": "reference",
                    "priority": 1,
                    "timeout": "PT5M",
                },
            }
        ],
        "outputs": {
            "jobId": {
                "type": "string",
                "value": (
                    f"[resourceId('{JOBS}', parameters('workspaceName'), parameters('jobName'))]"
                ),
            }
        },
    }


def test_reference_page_arm_snippet_deploys(service: Deployments, store: Store) -> None:
    result = deploy(
        service, "refpage", reference_page_template(), workspaceName="ws1", jobName="refjob"
    )
    assert result["properties"]["provisioningState"] == "Succeeded", result["properties"].get(
        "error"
    )
    job = store.get_job(WS1.key, "refjob")
    assert job is not None
    assert job.spec["command"] == "echo hello"
    assert job.spec["tags"] == {"kind": "arm"}
    assert job.experiment_name == "reference"
    assert result["properties"]["outputs"]["jobId"]["value"].endswith("/workspaces/ws1/jobs/refjob")


def _body(template: dict[str, Any], params: dict[str, Any]) -> dict[str, Any]:
    return {"properties": {"template": template, "parameters": params, "mode": "Incremental"}}


CORPUS_ARM = sorted(
    (
        CORPUS / "azure-quickstart-templates" / "quickstarts" / "microsoft.machinelearningservices"
    ).glob("*/azuredeploy.json")
)


@pytest.mark.parametrize("path", CORPUS_ARM, ids=[p.parent.name for p in CORPUS_ARM])
def test_corpus_templates_of_later_api_versions_fail_clearly(
    service: Deployments, path: Path
) -> None:
    """The quickstart templates target 2022 api-versions (and Storage / deploymentScripts):
    refused before anything is created, naming the resource and what is unsupported."""
    template = json.loads(path.read_text())
    supplied = json.loads((path.parent / "azuredeploy.parameters.json").read_text())["parameters"]
    declared = template["parameters"]
    unknown = [k for k in supplied if k not in declared]
    if unknown:  # the automl sample's parameters file does not match its template: as in ARM
        with pytest.raises(DeploymentRequestError) as bad:
            service.create(SUB, RG, "corpus", _body(template, supplied))
        assert bad.value.code == "InvalidTemplateParameter"
        assert all(repr(k) in bad.value.message for k in unknown)
    params = {k: v for k, v in supplied.items() if k in declared}
    for name, decl in declared.items():
        if name not in params and "defaultValue" not in decl:
            params[name] = {"value": "ws1" if "workspace" in name.lower() else name}
    with pytest.raises(DeploymentRequestError) as err:
        service.create(SUB, RG, "corpus", _body(template, params))
    error = err.value
    assert error.code == "InvalidTemplateDeployment"
    codes = {d["details"][0]["code"] if d.get("details") else d["code"] for d in error.details}
    assert codes <= {"NoRegisteredApiVersion", "NoRegisteredProviderFound"}, error.details
    assert any("apiVersion '2022-" in d["message"] for d in error.details)
    assert all(
        JOBS in d["message"] or "type '" in d["message"] or "/" in d["message"]
        for d in error.details
    )
    with pytest.raises(Exception, match="could not be found"):
        service.get(SUB, RG, "corpus")


def test_nested_deployments_inner_and_outer_scope(service: Deployments, store: Store) -> None:
    inner_template = {
        "parameters": {"job": {"type": "string"}},
        "resources": [
            {
                "type": JOBS,
                "apiVersion": API,
                "name": "[concat('ws1/', parameters('job'))]",
                "properties": {"jobType": "Command", "command": "echo inner", "compute": {}},
            }
        ],
        "outputs": {"made": {"type": "string", "value": "[parameters('job')]"}},
    }
    outer_template = {
        "resources": [
            {
                "type": JOBS,
                "apiVersion": API,
                "name": "[concat('ws1/', variables('outerJob'))]",
                "properties": {"jobType": "Command", "command": "echo outer", "compute": {}},
            }
        ]
    }
    template = {
        "variables": {"outerJob": "outer-job"},
        "resources": [
            {
                "type": "Microsoft.Resources/deployments",
                "apiVersion": "2021-04-01",
                "name": "innerScope",
                "properties": {
                    "mode": "Incremental",
                    "expressionEvaluationOptions": {"scope": "inner"},
                    "parameters": {"job": {"value": "[concat('inner-', 'job')]"}},
                    "template": inner_template,
                },
            },
            {
                "type": "Microsoft.Resources/deployments",
                "apiVersion": "2021-04-01",
                "name": "outerScope",
                "properties": {"mode": "Incremental", "template": outer_template},
            },
        ],
        "outputs": {
            "fromInner": {"type": "string", "value": "[reference('innerScope').outputs.made.value]"}
        },
    }
    result = deploy(service, "parent", template)
    assert result["properties"]["provisioningState"] == "Succeeded", result["properties"].get(
        "error"
    )
    assert result["properties"]["outputs"]["fromInner"]["value"] == "inner-job"
    assert store.get_job(WS1.key, "inner-job") is not None
    assert store.get_job(WS1.key, "outer-job") is not None
    assert service.get(SUB, RG, "innerScope")["properties"]["provisioningState"] == "Succeeded"


@pytest.mark.parametrize(
    ("options", "found"),
    [("inner", "must be an object"), ({"scope": "sideways"}, "'inner' or 'outer'"), ([], "object")],
)
def test_a_nested_deployments_evaluation_options_are_checked(
    service: Deployments, options: Any, found: str
) -> None:
    nested = {
        "type": "Microsoft.Resources/deployments",
        "apiVersion": "2021-04-01",
        "name": "odd",
        "properties": {
            "mode": "Incremental",
            "expressionEvaluationOptions": options,
            "template": {"resources": []},
        },
    }
    err = refused(service, {"resources": [nested]})
    assert err.target == "resources[0].properties.expressionEvaluationOptions", err.error()
    assert found in err.message


def test_a_nested_deployment_whose_properties_are_not_an_object_is_refused(
    service: Deployments,
) -> None:
    nested = {
        "type": "Microsoft.Resources/deployments",
        "apiVersion": "2021-04-01",
        "name": "odd",
        "properties": "Incremental",
    }
    err = refused(service, {"resources": [nested]})
    assert err.target is not None and err.target.startswith("resources[0]"), err.error()


def job_template(**extra: Any) -> dict[str, Any]:
    return {
        "parameters": {"n": {"type": "int", "defaultValue": 1}, "ws": {"type": "string"}},
        "resources": [
            {
                "type": JOBS,
                "apiVersion": API,
                "name": "[concat(parameters('ws'), '/j', copyIndex())]",
                "copy": {"name": "jobs", "count": "[parameters('n')]"},
                "properties": {"jobType": "Command", "command": "echo", "compute": {}},
                **extra,
            }
        ],
    }


def nothing_created(svc: Deployments, store: Store, ws: str = "ws1") -> None:
    assert store.list_jobs(WorkspaceRef(SUB, RG, ws).key) == []
    assert not svc.exists(SUB, RG, "refused")


def test_bad_templates_are_refused_with_a_clear_error(service: Deployments, store: Store) -> None:
    err = refused(service, job_template())
    assert err.code == "InvalidTemplateParameter"
    assert "the value for the template parameter 'ws' is not provided" in err.message
    err = refused(service, job_template(), ws="ws1", n="two")
    assert "expected a value of type 'int', but received a value of type 'String'" in err.message
    err = refused(service, job_template(), ws="ws1", n=-1)
    assert "copy count must be between 0 and 800, got -1" in err.message
    assert err.target == "resources[0].copy.count"
    cyclic = job_template(dependsOn=["ws1/other"])
    cyclic["resources"].append(
        {
            "type": JOBS,
            "apiVersion": API,
            "name": "ws1/other",
            "dependsOn": ["jobs"],
            "properties": {"jobType": "Command", "command": "echo", "compute": {}},
        }
    )
    err = refused(service, cyclic, ws="ws1")
    assert (
        "circular dependency between resources: jobs 'ws1/j0' -> jobs 'ws1/other' -> jobs 'ws1/j0'"
        in err.message
    )
    bad_fn = job_template()
    bad_fn["resources"][0]["properties"]["command"] = "[toUpper(nope('x'))]"
    err = refused(service, bad_fn, ws="ws1")
    assert "unknown function 'nope' at position 9" in err.message
    assert err.target == "resources[0][0].properties.command"
    nothing_created(service, store)


def test_unknown_resource_types_are_named(service: Deployments, store: Store) -> None:
    template = job_template()
    template["resources"].append(
        {
            "type": "Microsoft.Storage/storageAccounts",
            "apiVersion": "2021-04-01",
            "name": "st",
            "properties": {},
        }
    )
    err = refused(service, template, ws="ws1", n=2)
    assert len(err.details) == 1
    assert "Microsoft.Storage/storageAccounts 'st'" in err.details[0]["message"]
    assert err.details[0]["message"].count("Microsoft.Storage/storageAccounts 'st'") == 1
    assert (
        "cannot deploy resources of type 'Microsoft.Storage/storageAccounts'"
        in err.details[0]["message"]
    )
    nothing_created(service, store)


def test_every_bad_job_body_is_reported_at_once_and_nothing_is_created(
    service: Deployments, store: Store
) -> None:
    template = job_template()
    template["resources"][0]["properties"]["jobType"] = "Nope"
    err = refused(service, template, ws="ws1", n=3)
    assert err.code == "InvalidTemplateDeployment"
    assert len(err.details) == 3
    assert all(d["target"] == "properties.jobType" for d in err.details)
    assert "'ws1/j2'" in err.details[2]["message"]
    nothing_created(service, store)


def test_running_deployment_cannot_be_overwritten_or_deleted_and_restart_fails_it(
    service: Deployments, store: Store, tmp_path: Path
) -> None:
    record = store.put_deployment(
        f"{SUB}/{RG}", "interrupted", "Running", {"_amlite": {"scope": [SUB, RG]}}
    )
    with pytest.raises(Conflict):
        service.delete(SUB, RG, "interrupted")
    with pytest.raises(Conflict):
        service.create(
            SUB,
            RG,
            "interrupted",
            {
                "properties": {
                    "template": job_template(),
                    "parameters": {"ws": {"value": "ws1"}},
                    "mode": "Incremental",
                }
            },
        )
    workspaces = Workspaces(store)
    jobs = Jobs(store, Settings(home=tmp_path / "home"), workspaces, "http://127.0.0.1:1")
    restarted = Deployments(store, jobs, Assets(store, workspaces), workspaces)
    try:
        got = restarted.get(SUB, RG, record.name)
    finally:
        restarted.shutdown()
    assert got["properties"]["provisioningState"] == "Failed"
    assert got["properties"]["error"]["code"] == "DeploymentInterrupted"
    assert "deploy the template again" in got["properties"]["error"]["message"]
    with pytest.raises(Conflict):
        service.cancel(SUB, RG, "interrupted")


def test_list_is_paged(service: Deployments) -> None:
    for i in range(3):
        deploy(service, f"d{i}", {"resources": []})
    first, more = service.list_page(SUB, RG, top=2)
    assert [d["name"] for d in first] == ["d0", "d1"]
    assert more is not None
    from amlite.services.paging import encode_token

    rest, done = service.list_page(SUB, RG, top=2, skiptoken=encode_token(more))
    assert [d["name"] for d in rest] == ["d2"]
    assert done is None


@pytest.mark.parametrize(
    "template",
    [
        {"resources": [1]},
        {"resources": {"a": {}}},
        {"parameters": [], "resources": []},
        {"parameters": {"p": {"type": "decimal"}}, "resources": []},
        {"parameters": {"p": "string"}, "resources": []},
        {"resources": [{"type": JOBS, "name": 5, "apiVersion": API}]},
        {"resources": [{"type": JOBS, "name": "ws1", "apiVersion": API}]},
        {"resources": [{"type": JOBS, "name": "ws1/j", "apiVersion": API, "dependsOn": "x"}]},
        {
            "resources": [
                {"type": JOBS, "name": "ws1/j", "apiVersion": API, "dependsOn": ["nothing"]}
            ]
        },
        {
            "resources": [
                {
                    "type": JOBS,
                    "name": "ws1/j",
                    "apiVersion": API,
                    "copy": {"name": "c", "count": "x"},
                }
            ]
        },
        {
            "resources": [
                {
                    "type": JOBS,
                    "name": "ws1/j",
                    "apiVersion": API,
                    "copy": {"name": "c", "count": 801},
                }
            ]
        },
        {"resources": [{"type": JOBS, "name": "[concat(]", "apiVersion": API}]},
        {"resources": [{"type": JOBS, "name": "ws1/j", "apiVersion": API, "condition": "yes"}]},
        {"resources": [], "outputs": []},
        {"resources": [], "outputs": {"o": {"type": "int", "value": "text"}}},
        {
            "resources": [],
            "variables": {"v": "[variables('v')]"},
            "outputs": {"o": {"type": "string", "value": "[variables('v')]"}},
        },
        {
            "resources": [
                {"type": JOBS, "name": "ws1/j", "apiVersion": API, "properties": "[json('[1')]"}
            ]
        },
        {
            "resources": [
                {
                    "type": "Microsoft.Resources/deployments",
                    "name": "n",
                    "apiVersion": "2021-04-01",
                    "properties": {
                        "mode": "Incremental",
                        "template": {"resources": [{"type": "Microsoft.Web/sites", "name": "x"}]},
                    },
                }
            ]
        },
    ],
)
def test_hostile_templates_get_a_clear_400(
    service: Deployments, store: Store, template: Any
) -> None:
    body = {"properties": {"template": template, "mode": "Incremental"}}
    with pytest.raises(DeploymentRequestError) as err:
        service.create(SUB, RG, "hostile", body)
    assert err.value.status_code == 400
    assert err.value.message
    assert not service.exists(SUB, RG, "hostile")


def test_cancel_stops_before_the_next_resource(service: Deployments, store: Store) -> None:
    plan = service.engine.plan(
        Scope(SUB, RG, "c"),
        job_template(),
        {"ws": {"value": "ws1"}, "n": {"value": 3}},
    )
    ops: list[str] = []
    outcome = service.engine.execute(
        plan, lambda op: ops.append(op.instance.name), lambda: len(ops) >= 1, lambda *a: {}
    )
    assert outcome.state == "Canceled"
    assert ops == ["ws1/j0"]
    assert [j.name for j in store.list_jobs(WS1.key)] == ["j0"]


def test_symbolic_existing_resources_are_read_not_created(
    service: Deployments, store: Store
) -> None:
    deploy(service, "base", job_template(), ws="ws1", n=1)
    template = {
        "languageVersion": "2.0",
        "resources": {
            "ws": {
                "type": "Microsoft.MachineLearningServices/workspaces",
                "apiVersion": API,
                "name": "ws1",
                "existing": True,
            },
            "old": {"type": JOBS, "apiVersion": API, "name": "ws1/j0", "existing": True},
            "new": {
                "type": JOBS,
                "apiVersion": API,
                "name": "ws1/copy",
                "dependsOn": ["old", "ws"],
                "properties": {
                    "jobType": "Command",
                    "command": "[reference('old').command]",
                    "compute": {},
                },
            },
        },
        "outputs": {
            "kind": {
                "type": "string",
                "value": "[reference('new', '2021-03-01-preview', 'Full').type]",
            }
        },
    }
    result = deploy(service, "symbolic", template)
    assert result["properties"]["provisioningState"] == "Succeeded", result["properties"].get(
        "error"
    )
    assert result["properties"]["outputs"]["kind"]["value"] == JOBS
    copied = store.get_job(WS1.key, "copy")
    assert copied is not None and copied.spec["command"] == "echo"
    missing = {
        **template,
        "resources": {
            **template["resources"],
            "old": {**template["resources"]["old"], "name": "ws1/none"},
        },
    }
    failed = deploy(service, "symbolic2", missing)
    assert failed["properties"]["provisioningState"] == "Failed"
    assert "declared 'existing' but does not exist" in json.dumps(failed["properties"]["error"])
