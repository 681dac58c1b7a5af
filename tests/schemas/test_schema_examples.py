"""Real request bodies parse: the spec's examples, the REST tutorial bodies, older examples."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from schema_helpers import sweep_body, targets

from amlite.schemas import parse_asset, parse_job
from support.shared import SHARED

EXAMPLES = SHARED / "spec" / "2021-03-01-preview" / "examples"
REST_BODIES = SHARED / "corpus" / "azureml-examples" / "cli" / "how-to-train-rest.sh.bodies"
OLD_EXAMPLES = (
    SHARED
    / "corpus"
    / "azure-rest-api-specs"
    / "specification"
    / "machinelearningservices"
    / "resource-manager"
    / "Microsoft.MachineLearningServices"
    / "preview"
    / "2021-03-01-preview"
    / "examples"
)


def _put_examples() -> list[Path]:
    found = []
    for path in sorted(EXAMPLES.rglob("*.json")):
        body = json.loads(path.read_text()).get("parameters", {}).get("body")
        if isinstance(body, dict):
            found.append(path)
    return found


PUT_EXAMPLES = _put_examples()
# The spec's sweep example holds a swagger placeholder, ``"searchSpace": {"name": {}}``,
# which names no distribution; amlite refuses it, and accepts the body once it names one.
PLACEHOLDER_SPACE = {"properties.searchSpace.name"}


def test_the_spec_has_put_examples() -> None:
    assert len(PUT_EXAMPLES) >= 2


@pytest.mark.parametrize("path", PUT_EXAMPLES, ids=lambda p: str(p.relative_to(EXAMPLES)))
def test_spec_example_bodies_parse(path: Path) -> None:
    body = json.loads(path.read_text())["parameters"]["body"]
    space = body["properties"].get("searchSpace")
    if space == {"name": {}}:
        assert targets(body) == PLACEHOLDER_SPACE
        space["name"] = ["choice", [[1, 2]]]
    props = parse_job(body)
    expected = body["properties"]
    assert props["jobType"] == expected["jobType"]
    assert props["compute"] == expected["compute"]
    assert props["tags"] == expected["tags"]


def _template(text: str) -> str:
    values = {
        "$SUBSCRIPTION_ID": "00000000-1111-2222-3333-444444444444",
        "$RESOURCE_GROUP": "rg",
        "$WORKSPACE": "ws",
        "$COMPUTE_NAME": "local",
    }
    for name, value in values.items():
        text = text.replace(name, value)
    return text


def _rest_body(name: str) -> dict[str, object]:
    return json.loads(_template((REST_BODIES / name).read_text()))


def test_rest_tutorial_command_job_parses() -> None:
    props = parse_job(_rest_body("create_job.json"))
    assert props["jobType"] == "Command"
    # $AZURE_ML_INPUT_iris is an environment variable, not a placeholder
    assert props["command"] == "python main.py --iris-csv $AZURE_ML_INPUT_iris"
    assert props["compute"]["target"].endswith("/computes/local")


def test_rest_tutorial_sweep_job_parses_with_lowercase_goal() -> None:
    props = parse_job(_rest_body("create_a_sweep_job.json"))
    assert props["objective"] == {"goal": "Minimize", "primaryMetric": "test-multi_logloss"}
    assert props["searchSpace"] == {
        "--learning_rate": ["uniform", [0.01, 0.9]],
        "--boosting": ["choice", [["gbdt", "dart"]]],
    }
    assert props["timeout"] == "PT120M"


def test_rest_tutorial_assets_parse() -> None:
    code = parse_asset("codes", _rest_body("create_code.json"), version=True)
    assert code["path"] == "src"
    data = parse_asset("data", _rest_body("create_data.json"), version=True)
    assert data["datasetType"] == "Simple"
    env = parse_asset("environments", _rest_body("create_environment.json"), version=True)
    assert env["docker"] == {
        "dockerSpecificationType": "Image",
        "dockerImageUri": "mcr.microsoft.com/azureml/openmpi3.1.2-ubuntu18.04",
    }
    assert env["condaFile"].startswith("name: python-ml-basic-cpu")


def test_older_command_example_parses() -> None:
    body = json.loads((OLD_EXAMPLES / "CommandJob" / "createOrUpdate.json").read_text())
    props = parse_job(body["parameters"]["body"])
    assert props["command"] == "string"


def test_older_sweep_example_lacks_only_what_a_sweep_needs_to_run() -> None:
    body = json.loads((OLD_EXAMPLES / "SweepJob" / "createOrUpdate.json").read_text())
    body = body["parameters"]["body"]
    assert targets(body) == {"properties.searchSpace.name", "properties.trial"}
    body["properties"]["searchSpace"] = {"name": ["choice", [["a", "b"]]]}
    body["properties"]["trial"] = {"command": "python sweep.py --name {search_space.name}"}
    assert parse_job(body)["searchSpace"] == {"name": ["choice", [["a", "b"]]]}


def test_recursive_search_space_matches_the_sdk_rest_form() -> None:
    folder = (
        SHARED
        / "corpus"
        / "azure-sdk-for-python"
        / "sdk"
        / "ml"
        / "azure-ai-ml"
        / "tests"
        / "test_configs"
        / "sweep_job"
    )
    yaml_space = yaml.safe_load((folder / "sweep_job_recursive_search_space.yaml").read_text())
    expected = json.loads((folder / "expected_recursive_search_space.json").read_text())
    body = sweep_body(searchSpace=yaml_space["search_space"])
    body["properties"]["trial"]["command"] = yaml_space["trial"]["command"]
    assert parse_job(body)["searchSpace"] == expected
    # the wire form is accepted as is, too
    body = sweep_body(searchSpace=expected)
    body["properties"]["trial"]["command"] = yaml_space["trial"]["command"]
    assert parse_job(body)["searchSpace"] == expected
