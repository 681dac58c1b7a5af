"""Every corpus ``main.bicep`` that ships a compiled ``azuredeploy.json`` compiles, and the two
templates agree once evaluated, except for differences the corpus README explains (the pairs
were saved from different commits of azure-quickstart-templates).

What is compared, for each pair, with the same parameter values:
- the declared parameters (name, type case-insensitively, defaultValue, allowedValues,
  min/max, metadata);
- every resource, evaluated with ``support.armeval``: type, apiVersion, name, location, kind,
  properties, and the evaluated ``dependsOn`` ids; modules are expanded, so the nested
  deployment's own resources are compared too;
- the outputs, evaluated (``reference()`` compares by resource id and property path).
Each remaining difference is listed below with the reason; any other difference fails.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from amlite.deployments.bicep import compile_file
from support.armeval import diff, evaluate_template
from support.shared import CORPUS

QUICKSTARTS = CORPUS / "azure-quickstart-templates/quickstarts/microsoft.machinelearningservices"
VALUES = {
    "workspaceName": "ws1",
    "existingWorkspaceName": "ws1",
    "computeName": "cpu",
    "existingComputeName": "cpu",
    "jobName": "job1",
    "experimentName": "exp1",
    "storageAccountName": "sa1",
}
JOB = "/('microsoft.machinelearningservices/workspaces/jobs', 'ws1/job1')"
SUB = "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg/providers"

# (path, from main.bicep, from azuredeploy.json): each explained by the corpus README.
KNOWN_PARAMETER_DIFFERENCES: dict[str, set[str]] = {
    # azuredeploy.json (08a236a3) predates the rename to existingWorkspaceName/existingComputeName
    # in main.bicep (1029ac47), and its descriptions were reworded.
    "machine-learning-job-create-automl-classification-job": {
        "/computeName", "/existingComputeName", "/existingWorkspaceName", "/workspaceName",
        "/limitSettings/metadata/description", "/trainingSettings/metadata/description",
    },
    # azuredeploy.json (e97d8db3) has an environmentName parameter main.bicep (3f9c7e1f) dropped.
    "machine-learning-job-create-or-update-job": {"/environmentName"},
    "machine-learning-job-create-sweep-job": set(),
}  # fmt: skip
KNOWN_RESOURCE_DIFFERENCES: dict[str, set[str]] = {
    # main.bicep validates on validationData, azuredeploy.json cross-validates; the output was
    # renamed from "Studio Endpoint URL" to Job_Studio_Endpoint.
    "machine-learning-job-create-automl-classification-job": {
        f"{JOB}/properties/taskDetails/nCrossValidations",
        f"{JOB}/properties/taskDetails/validationData",
        "/Job_Studio_Endpoint",
        "/Studio Endpoint URL",
    },
    # main.bicep runs `python hello_gdl.py` on a registry environment at 2022-06-01-preview;
    # azuredeploy.json runs `echo "hello_world"` on a workspace environment at 2022-10-01.
    "machine-learning-job-create-or-update-job": {
        f"{JOB}/apiVersion",
        f"{JOB}/properties/command",
        f"{JOB}/properties/environmentId",
    },
    # main.bicep adds a referenceNotebook tag azuredeploy.json does not have.
    "machine-learning-job-create-sweep-job": {f"{JOB}/properties/tags/referenceNotebook"},
}
PAIRS = sorted(
    p.parent.name
    for p in QUICKSTARTS.glob("*/main.bicep")
    if (p.parent / "azuredeploy.json").is_file()
)


def test_the_corpus_has_the_three_pairs() -> None:
    assert sorted(KNOWN_RESOURCE_DIFFERENCES) == PAIRS


def prepared_copy(name: str, tmp_path: Path) -> tuple[Path, dict[str, Any]]:
    """The sample folder copied, with the files the corpus did not keep restored.

    The sweep module does ``loadTextContent('../script/main.py')``; the corpus kept the compiled
    template, which holds that file's exact text (``$fxv#0``), but not the file itself.
    """
    folder = tmp_path / name
    shutil.copytree(QUICKSTARTS / name, folder)
    reference = json.loads((folder / "azuredeploy.json").read_text(encoding="utf-8"))
    for res in reference["resources"]:
        inner = res.get("properties", {}).get("template", {})
        for key, value in inner.get("variables", {}).items():
            if key.startswith("$fxv#"):
                (folder / "script").mkdir(exist_ok=True)
                (folder / "script" / "main.py").write_text(value, encoding="utf-8", newline="")
    return folder, reference


def declared(template: dict[str, Any]) -> dict[str, Any]:
    keys = (
        "defaultValue",
        "allowedValues",
        "minValue",
        "maxValue",
        "minLength",
        "maxLength",
        "metadata",
    )
    return {
        name: {"type": p["type"].lower(), **{k: p[k] for k in keys if k in p}}
        for name, p in template.get("parameters", {}).items()
    }


def required_values(template: dict[str, Any]) -> dict[str, Any]:
    return {
        k: VALUES[k] for k, p in template.get("parameters", {}).items() if "defaultValue" not in p
    }


@pytest.mark.parametrize("name", PAIRS)
def test_corpus_bicep_compiles_to_what_azuredeploy_json_deploys(name: str, tmp_path: Path) -> None:
    folder, reference = prepared_copy(name, tmp_path)
    mine = compile_file(folder / "main.bicep")

    param_diffs = {path for path, _, _ in diff(declared(mine), declared(reference))}
    assert param_diffs == KNOWN_PARAMETER_DIFFERENCES[name]

    ours = evaluate_template(mine, required_values(mine))
    theirs = evaluate_template(reference, required_values(reference))
    found = diff(ours["resources"], theirs["resources"]) + diff(ours["outputs"], theirs["outputs"])
    assert {path for path, _, _ in found} == KNOWN_RESOURCE_DIFFERENCES[name], found
    # the comparison is not vacuous: the job is there on both sides
    assert ("microsoft.machinelearningservices/workspaces/jobs", "ws1/job1") in ours["resources"]


def test_sweep_sample_matches_the_real_compiler_expression_for_expression(tmp_path: Path) -> None:
    """For the sample whose azuredeploy.json came from the same commit as main.bicep, the
    compiled resources are the same text, expressions included (only the tag differs)."""
    folder, reference = prepared_copy("machine-learning-job-create-sweep-job", tmp_path)
    mine = compile_file(folder / "main.bicep")
    ours = {(r["type"], r["name"]): r for r in mine["resources"]}
    theirs = {(r["type"], r["name"]): r for r in reference["resources"]}
    assert ours.keys() == theirs.keys()
    job_key = (
        "Microsoft.MachineLearningServices/workspaces/jobs",
        "[format('{0}/{1}', parameters('workspaceName'), parameters('jobName'))]",
    )
    del ours[job_key]["properties"]["tags"]["referenceNotebook"]
    for key in ours:
        a, b = dict(ours[key]), dict(theirs[key])
        if key[0] == "Microsoft.Resources/deployments":
            ta, tb = a["properties"]["template"], b["properties"]["template"]
            assert sorted(ta["resources"], key=json.dumps) == sorted(
                tb["resources"], key=json.dumps
            )
            assert ta["outputs"] == tb["outputs"]
            assert ta["variables"] == tb["variables"]
            assert declared(ta) == declared(tb)
            a["properties"] = {k: v for k, v in a["properties"].items() if k != "template"}
            b["properties"] = {k: v for k, v in b["properties"].items() if k != "template"}
        assert a == b
    assert (
        mine["outputs"]["Job_Studio_Endpoint"]["value"]
        == reference["outputs"]["Job_Studio_Endpoint"]["value"]
    )
    assert mine["variables"] == reference["variables"]


def test_sweep_module_refuses_a_missing_loaded_file_with_its_position(tmp_path: Path) -> None:
    """As shipped (no script/main.py), the sample cannot compile: the error says where."""
    folder = tmp_path / "sweep"
    shutil.copytree(QUICKSTARTS / "machine-learning-job-create-sweep-job", folder)
    from amlite.deployments.bicep import BicepError

    with pytest.raises(BicepError) as info:
        compile_file(folder / "main.bicep")
    assert str(info.value).startswith(
        f"{folder / 'modules' / 'codeversion.bicep'}:62:32: loadTextContent()"
    )
    assert "'../script/main.py' does not exist" in str(info.value)


BICEP_TYPES = (
    CORPUS
    / "bicep-types-az/generated/machinelearningservices"
    / "microsoft.machinelearningservices/2021-03-01-preview"
)


@pytest.mark.parametrize("sample", ["CreateOrUpdate_Command_Job", "CreateOrUpdate_Sweep_Job"])
def test_bicep_types_samples_compile_with_their_parent_declared(
    sample: str, tmp_path: Path
) -> None:
    """The two 2021-03-01-preview snippets use `parent: parentResource`: declared as the
    existing workspace, they compile to the job body the spec example holds."""
    text = (BICEP_TYPES / f"samples.md.{sample}.bicep").read_text(encoding="utf-8")
    main = tmp_path / "main.bicep"
    main.write_text(
        "resource parentResource "
        "'Microsoft.MachineLearningServices/workspaces@2021-03-01-preview' existing = {\n"
        "  name: 'testworkspace'\n}\n\n" + text,
        encoding="utf-8",
    )
    template = compile_file(main)
    [job] = template["resources"]
    assert job["type"] == "Microsoft.MachineLearningServices/workspaces/jobs"
    assert job["apiVersion"] == "2021-03-01-preview"
    assert job["name"] == "[format('{0}/{1}', 'testworkspace', 'example')]"
    assert "dependsOn" not in job  # the parent is `existing`: nothing to wait for
    evaluated = evaluate_template(template, {})["resources"]
    body = evaluated[("microsoft.machinelearningservices/workspaces/jobs", "testworkspace/example")]
    props = body["properties"]
    assert props["jobType"] == sample.split("_")[1]
    assert props["identity"] == {"identityType": "AMLToken"}
    if sample == "CreateOrUpdate_Command_Job":
        assert props["distribution"] == {"distributionType": "PyTorch", "processCount": 2}
        assert props["inputDataBindings"]["test"]["pathOnCompute"] == "path/on/compute"
        assert props["timeout"] == "PT1M"
    else:
        assert props["searchSpace"] == {"name": {}}
        assert props["trial"]["command"]
