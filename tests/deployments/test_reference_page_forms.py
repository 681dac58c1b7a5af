"""The reference page's three resource snippets (ARM JSON, Bicep, Terraform AzAPI), with their
placeholders filled the same way, deploy: each into its own resource group of one in-process
amlite, and the three jobs created are the same (resource group normalised in ids)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from test_bicep_side_by_side import created

from amlite.config import Settings
from amlite.deployments.bicep import compile_file
from amlite.deployments.service import Deployments
from amlite.deployments.terraform import compile_path
from amlite.domain.arm_id import WorkspaceRef
from amlite.services.assets import Assets
from amlite.services.jobs import Jobs
from amlite.services.workspaces import Workspaces
from amlite.store import Store, open_store
from support.reference_page import snippet

SUB = "00000000-0000-0000-0000-000000000000"
WS = (
    f"/subscriptions/{SUB}/resourceGroups/RG"
    "/providers/Microsoft.MachineLearningServices/workspaces/ws1"
)
# each 'string' placeholder of the page, by property name (None: the line is left out)
FILL: dict[str, str | None] = {
    "description": "from the reference page",
    "key1": "v1",
    "command": "echo hello",
    "instanceType": "Standard_D2_v2",
    "location": "local",
    "target": f"{WS}/computes/local",
    "mode": "Mount",
    "pathOnCompute": "io/x",
    "pathOnDatastore": "out",
    "dataId": f"{WS}/data/d/versions/1",
    "datastoreId": f"{WS}/datastores/workspaceblobstore",
    "timeout": "PT5M",
    "experimentName": "refpage",
    "codeId": None,
    "environmentId": None,
}
_PLACEHOLDER = re.compile(r"""^(\s*)"?(\w+)"?(\s*[:=]\s*)(['"])string\4(,?)\s*$""")


def fill(text: str, group: str) -> str:
    out = []
    for line in text.splitlines():
        m = _PLACEHOLDER.match(line)
        if m and m.group(2) in FILL:
            value = FILL[m.group(2)]
            if value is None:
                continue
            value = value.replace("/resourceGroups/RG/", f"/resourceGroups/{group}/")
            quote = m.group(4)
            key = f'"{m.group(2)}"' if line.lstrip().startswith('"') else m.group(2)
            out.append(f"{m.group(1)}{key}{m.group(3)}{quote}{value}{quote}{m.group(5)}")
        else:
            out.append(line)
    return "\n".join(out) + "\n"


def arm_form(group: str) -> dict[str, Any]:
    resource = json.loads(fill(snippet("arm"), group).replace(",\n}", "\n}"))
    resource["name"] = "ws1/refjob"
    return {
        "$schema": "https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#",
        "contentVersion": "1.0.0.0",
        "resources": [resource],
    }


def bicep_form(group: str, folder: Path) -> dict[str, Any]:
    main = folder / "main.bicep"
    main.write_text(
        fill(snippet("bicep"), group).replace("name: 'string'", "name: 'ws1/refjob'", 1)
    )
    return dict(compile_file(main))


def terraform_form(group: str, folder: Path) -> dict[str, Any]:
    parent = WS.replace("/resourceGroups/RG/", f"/resourceGroups/{group}/")
    main = folder / "main.tf"
    main.write_text(
        fill(snippet("terraform"), group).replace(
            'name = "string"', f'name = "refjob"\nparent_id = "{parent}"', 1
        )
    )
    return dict(compile_path(main))


@pytest.fixture
def service(tmp_path: Path) -> Iterator[tuple[Deployments, Assets, Workspaces]]:
    store: Store = open_store(f"sqlite:///{tmp_path / 'amlite.db'}")
    workspaces = Workspaces(store)
    jobs = Jobs(store, Settings(home=tmp_path / "home"), workspaces, "http://127.0.0.1:1")
    assets = Assets(store, workspaces)
    svc = Deployments(store, jobs, assets, workspaces)
    yield svc, assets, workspaces
    svc.shutdown()
    store.close()


def test_the_three_reference_page_forms_deploy_the_same_job(
    service: tuple[Deployments, Assets, Workspaces], tmp_path: Path
) -> None:
    svc, assets, workspaces = service
    forms = {
        "rg-arm": arm_form("rg-arm"),
        "rg-bicep": bicep_form("rg-bicep", tmp_path),
        "rg-tf": terraform_form("rg-tf", tmp_path),
    }
    results = {}
    for group, template in forms.items():
        ws = WorkspaceRef(SUB, group, "ws1")
        workspaces.ensure(ws)
        data = {"properties": {"path": "azureml://datastores/workspaceblobstore/paths/d/"}}
        assets.put(ws, "data", "d", "1", data)  # the job's input
        body = {"properties": {"template": template, "mode": "Incremental"}}
        svc.create(SUB, group, "refpage", body)
        svc.wait(SUB, group, "refpage", timeout=60)
        deployment = svc.get(SUB, group, "refpage")
        assert deployment["properties"]["provisioningState"] == "Succeeded", deployment[
            "properties"
        ].get("error")
        results[group] = created(svc, group, deployment)
    arm, bicep, tf = results.values()
    assert arm == bicep == tf
    [(rtype, name, props)] = arm
    assert (rtype, name) == ("microsoft.machinelearningservices/workspaces/jobs", "ws1/refjob")
    assert props["command"] == "echo hello"
    assert props["distribution"] == {"distributionType": "PyTorch", "processCount": 1}
    assert props["inputDataBindings"]["key1"]["dataId"].endswith(
        "/resourceGroups/<rg>/providers/"
        "Microsoft.MachineLearningServices/workspaces/ws1/data/d/versions/1"
    )
