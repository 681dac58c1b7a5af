"""tests/support/spec.py checks responses against mfe.json definitions."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from support.spec import MFE, assert_matches_spec, spec_errors

if not MFE.exists():  # pragma: no cover
    pytest.skip("spec not available", allow_module_level=True)

EXAMPLES = MFE.parent / "examples"


def _responses() -> list[tuple[str, str, Any]]:
    spec = json.loads(MFE.read_text())
    found = []
    for ops in spec["paths"].values():
        for op in ops.values():
            if not isinstance(op, dict):
                continue
            for example in op.get("x-ms-examples", {}).values():
                path = (MFE.parent / example["$ref"]).resolve()
                if not path.exists():
                    continue
                data = json.loads(path.read_text())
                for code, response in data.get("responses", {}).items():
                    schema = op["responses"].get(code, {}).get("schema")
                    if schema and "body" in response:
                        name = schema["$ref"].rsplit("/", 1)[-1]
                        found.append(
                            (f"{path.relative_to(EXAMPLES)}:{code}", name, response["body"])
                        )
    return found


RESPONSES = _responses()


def test_there_are_example_responses() -> None:
    assert len(RESPONSES) >= 8


@pytest.mark.parametrize(
    ("definition", "body"), [(d, b) for _, d, b in RESPONSES], ids=[i for i, _, _ in RESPONSES]
)
def test_spec_example_responses_match(definition: str, body: Any) -> None:
    assert_matches_spec(definition, body)


def _sweep_response() -> dict[str, Any]:
    data = json.loads((EXAMPLES / "Job" / "SweepJob" / "get.json").read_text())
    return copy.deepcopy(data["responses"]["200"]["body"])


def test_wrong_responses_fail() -> None:
    body = _sweep_response()
    body["properties"]["objective"]["goal"] = "maximize"  # wrong casing in a response
    body["properties"]["colour"] = "red"  # unknown field
    errors = spec_errors("JobBaseResource", body)
    assert any("maximize" in e for e in errors)
    assert any("colour" in e for e in errors)
    with pytest.raises(AssertionError):
        assert_matches_spec("JobBaseResource", body)


def test_discriminator_selects_the_subtype() -> None:
    body = _sweep_response()
    body["properties"]["jobType"] = "Command"  # a sweep's fields are not a command job's
    assert spec_errors("JobBaseResource", body)
    body = _sweep_response()
    body["properties"]["trial"]["distribution"] = {"distributionType": "Mpi", "processCount": 2}
    assert any("processCount" in e for e in spec_errors("JobBaseResource", body))
    body = _sweep_response()
    body["properties"]["jobType"] = "AutoML"
    assert spec_errors("JobBaseResource", body)


def test_formats_are_checked() -> None:
    body = _sweep_response()
    body["properties"]["identity"] = {"identityType": "Managed", "clientId": "nope"}
    assert any("uuid" in e for e in spec_errors("JobBaseResource", body))
    body = _sweep_response()
    body["systemData"]["createdAt"] = "yesterday"
    assert any("date-time" in e for e in spec_errors("JobBaseResource", body))
    body = _sweep_response()
    body["properties"]["timeout"] = "an hour"
    assert any("duration" in e for e in spec_errors("JobBaseResource", body))


def test_asset_and_page_definitions() -> None:
    assert_matches_spec(
        "CodeVersionResource",
        {
            "id": "/x",
            "name": "1",
            "type": "Microsoft.MachineLearningServices/workspaces/codes/versions",
            "properties": {"path": "src", "datastoreId": "/ds"},
            "systemData": {"createdAt": "2021-01-01T00:00:00Z", "createdByType": "User"},
        },
    )
    assert spec_errors("CodeVersionResource", {"properties": {"datastoreId": "/ds"}})
    assert_matches_spec(
        "DatastorePropertiesResource",
        {
            "properties": {
                "contents": {
                    "contentsType": "AzureBlob",
                    "accountName": "a",
                    "containerName": "c",
                    "endpoint": "core.windows.net",
                    "protocol": "https",
                    "credentials": {"credentialsType": "AccountKey"},
                },
                "hasBeenValidated": False,
            }
        },
    )
    assert spec_errors(
        "DatastorePropertiesResource",
        {
            "properties": {
                "contents": {
                    "contentsType": "AzureBlob",
                    "accountName": "a",
                    "containerName": "c",
                    "endpoint": "e",
                    "protocol": "https",
                    "credentials": {"credentialsType": "Kerberos"},
                }
            }
        },
    )
    assert_matches_spec("JobBaseResourceArmPaginatedResult", {"value": [], "nextLink": None})
    assert_matches_spec(
        "EnvironmentSpecificationVersionResource",
        {
            "properties": {
                "docker": {"dockerSpecificationType": "Image", "dockerImageUri": "python:3.11"},
                "environmentSpecificationType": "UserCreated",
            }
        },
    )


def test_unknown_definition_is_an_error() -> None:
    with pytest.raises(KeyError):
        spec_errors("NoSuchThing", {})


def test_path_type() -> None:
    assert isinstance(MFE, Path)
