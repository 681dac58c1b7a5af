"""Each corpus ``main.bicep`` that ships the real compiler's ``azuredeploy.json`` is deployed
both ways, with the same parameter values, into two resource groups of one in-process amlite:
what amlite's compiler made of the Bicep file and what ``bicep build`` made of it must end the
same way: the same resources created (types, names, job/asset properties, with the resource
group normalised in ids), or the same refusal (code, target and messages) with nothing created.

All three quickstart pairs use 2022 api-versions (and the sweep sample Storage and
deploymentScripts), which amlite refuses: they must be refused with the same clear message
whichever form is deployed. The one expected textual difference is listed with its reason.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from test_bicep_corpus import PAIRS, VALUES, prepared_copy

from amlite.config import Settings
from amlite.deployments.bicep import compile_file
from amlite.deployments.engine import DeploymentRequestError
from amlite.deployments.providers import classify
from amlite.deployments.service import Deployments
from amlite.domain.arm_id import WorkspaceRef
from amlite.services.assets import Assets
from amlite.services.jobs import Jobs
from amlite.services.workspaces import Workspaces
from amlite.store import Store, open_store

SUB = "00000000-0000-0000-0000-000000000000"
GROUPS = {"bicep": "rg-from-bicep", "arm": "rg-from-azuredeploy"}
# Replacements applied to the Bicep side's refusal before comparing, each with its reason.
EXPECTED_TEXT_DIFFERENCES: dict[str, list[tuple[str, str]]] = {
    # the corpus README: main.bicep (3f9c7e1f) uses 2022-06-01-preview, the azuredeploy.json
    # saved beside it (e97d8db3, an older commit) 2022-10-01
    "machine-learning-job-create-or-update-job": [("2022-06-01-preview", "2022-10-01")],
}
# Fields the server sets or that change on each deployment: not part of what was created.
SERVER_FIELDS = {"systemData", "status", "interactionEndpoints", "output", "creationContext"}


@pytest.fixture
def service(tmp_path: Path) -> Iterator[tuple[Deployments, Store]]:
    store = open_store(f"sqlite:///{tmp_path / 'amlite.db'}")
    workspaces = Workspaces(store)
    jobs = Jobs(store, Settings(home=tmp_path / "home"), workspaces, "http://127.0.0.1:1")
    svc = Deployments(store, jobs, Assets(store, workspaces), workspaces)
    yield svc, store
    svc.shutdown()
    store.close()


def values_for(template: dict[str, Any]) -> dict[str, Any]:
    """The same value for a parameter of the same name, whichever form declares it."""
    return {
        k: {"value": VALUES[k]}
        for k, p in template.get("parameters", {}).items()
        if "defaultValue" not in p
    }


def normalise(value: Any, rg: str) -> Any:
    text = json.dumps(value, sort_keys=True)
    text = re.sub(rf"(?i)/resourceGroups/{re.escape(rg)}(?=/|\")", "/resourceGroups/<rg>", text)
    return json.loads(text)


def created(svc: Deployments, rg: str, deployment: dict[str, Any]) -> list[Any]:
    """(type, name, properties) of each resource the deployment created, read back."""
    out = []
    for ref in deployment["properties"].get("outputResources") or []:
        rid = ref["id"]
        m = re.match(r"^/subscriptions/[^/]+/resourceGroups/[^/]+/providers/([^/]+)/(.+)$", rid)
        assert m, rid
        parts = m.group(2).split("/")
        rtype = "/".join([m.group(1), *parts[0::2]])
        name = "/".join(parts[1::2])
        target = classify(SUB, rg, rtype, name, rid)
        current = svc.providers.current(target)
        props = {
            k: v
            for k, v in ((current or {}).get("properties") or {}).items()
            if k not in SERVER_FIELDS
        }
        out.append((rtype.lower(), name, normalise(props, rg)))
    return sorted(out, key=json.dumps)


def outcome(svc: Deployments, rg: str, template: dict[str, Any]) -> dict[str, Any]:
    body = {
        "properties": {
            "template": template,
            "parameters": values_for(template),
            "mode": "Incremental",
        }
    }
    try:
        svc.create(SUB, rg, "side", body)
    except DeploymentRequestError as exc:
        return {"refused": normalise(exc.envelope(), rg)}
    svc.wait(SUB, rg, "side", timeout=60)
    deployment = svc.get(SUB, rg, "side")
    props = deployment["properties"]
    return {
        "state": props["provisioningState"],
        "error": normalise(props.get("error"), rg),
        "created": created(svc, rg, deployment),
    }


def nothing_in(store: Store, rg: str) -> bool:
    ws = WorkspaceRef(SUB, rg, VALUES["workspaceName"])
    return store.list_jobs(ws.key) == [] and store.get_workspace(ws.key) is None


@pytest.mark.parametrize("name", PAIRS)
def test_bicep_and_the_real_compilers_template_deploy_alike(
    name: str, tmp_path: Path, service: tuple[Deployments, Store]
) -> None:
    svc, store = service
    folder, reference = prepared_copy(name, tmp_path)
    mine = compile_file(folder / "main.bicep")
    ours = outcome(svc, GROUPS["bicep"], mine)
    theirs = outcome(svc, GROUPS["arm"], reference)
    if "refused" in ours:
        text = json.dumps(ours)
        for before, after in EXPECTED_TEXT_DIFFERENCES.get(name, []):
            text = text.replace(before, after)
        ours = json.loads(text)
    assert ours == theirs
    # every quickstart pair is refused (2022 api-versions), clearly and before creating anything
    error = theirs["refused"]["error"]
    assert error["code"] == "InvalidTemplateDeployment"
    assert "2021-03-01-preview" in error["message"] or "cannot deploy" in error["message"]
    for rg in GROUPS.values():
        assert nothing_in(store, rg)
        assert not svc.exists(SUB, rg, "side")
