"""Asset, datastore and compute bodies: valid ones normalise, bad ones name their field."""

from __future__ import annotations

from typing import Any

import pytest

from amlite.errors import ValidationFailed
from amlite.schemas import parse_asset, parse_compute

UUID = "00000000-1111-2222-3333-444444444444"


def _targets(kind: str, body: object, version: bool) -> set[str]:
    with pytest.raises(ValidationFailed) as info:
        parse_asset(kind, body, version=version)
    return {v.target for v in info.value.violations}


def _blob(**credentials: Any) -> dict[str, Any]:
    return {
        "properties": {
            "contents": {
                "contentsType": "AzureBlob",
                "accountName": "acct",
                "containerName": "data",
                "endpoint": "core.windows.net",
                "protocol": "https",
                "credentials": credentials or {"credentialsType": "None"},
            },
            "isDefault": True,
            "hasBeenValidated": True,
        }
    }


def test_containers_of_every_kind() -> None:
    for kind in ("codes", "data", "environments"):
        body = {"name": "n", "properties": {"description": "d", "tags": {"A": "b"}}}
        assert parse_asset(kind, body, version=False) == {"description": "d", "tags": {"A": "b"}}


def test_versions() -> None:
    code = parse_asset("codes", {"properties": {"path": "src", "isAnonymous": True}}, version=True)
    assert code == {"path": "src", "isAnonymous": True}
    data = parse_asset(
        "data", {"properties": {"path": "x.csv", "datasetType": "dataflow"}}, version=True
    )
    assert data["datasetType"] == "Dataflow"
    env = parse_asset(
        "environments",
        {
            "properties": {
                "docker": {
                    "dockerSpecificationType": "build",
                    "dockerfile": "FROM python",
                    "platform": {"operatingSystemType": "linux"},
                },
                "inferenceContainerProperties": {"scoringRoute": {"path": "/score", "port": 5001}},
                "environmentSpecificationType": "Curated",
            }
        },
        version=True,
    )
    assert env["docker"]["dockerSpecificationType"] == "Build"
    assert env["docker"]["platform"] == {"operatingSystemType": "Linux"}
    assert "environmentSpecificationType" not in env


def test_asset_violations() -> None:
    assert _targets("codes", {"properties": {}}, True) == {"properties.path"}
    assert _targets("codes", {"properties": {"path": "src", "x": 1}}, True) == {"properties.x"}
    assert _targets("data", {"properties": {"path": "p", "datasetType": "Table"}}, True) == {
        "properties.datasetType"
    }
    assert _targets(
        "environments", {"properties": {"docker": {"dockerSpecificationType": "Image"}}}, True
    ) == {"properties.docker.dockerImageUri"}
    assert _targets(
        "environments", {"properties": {"docker": {"dockerSpecificationType": "Vm"}}}, True
    ) == {"properties.docker.dockerSpecificationType"}
    assert _targets(
        "environments",
        {
            "properties": {
                "inferenceContainerProperties": {"livenessRoute": {"path": "/", "port": "80"}}
            }
        },
        True,
    ) == {
        "properties.inferenceContainerProperties.livenessRoute.path",
        "properties.inferenceContainerProperties.livenessRoute.port",
    }
    assert _targets("codes", {"properties": {"path": "p"}}, False) == {"properties.path"}


def test_datastores_with_each_credential_type() -> None:
    store = parse_asset("datastores", _blob(), version=False)
    assert store["contents"]["credentials"] == {"credentialsType": "None"}
    assert "hasBeenValidated" not in store
    creds = [
        {"credentialsType": "accountKey", "secrets": {"secretsType": "AccountKey", "key": "k"}},
        {"credentialsType": "Sas", "secrets": {"secretsType": "sas", "sasToken": "t"}},
        {
            "credentialsType": "ServicePrincipal",
            "clientId": UUID,
            "tenantId": UUID,
            "secrets": {"secretsType": "ServicePrincipal", "clientSecret": "s"},
        },
        {
            "credentialsType": "Certificate",
            "clientId": UUID,
            "tenantId": UUID,
            "thumbprint": "ab12",
            "secrets": {"secretsType": "Certificate", "certificate": "c"},
        },
        {
            "credentialsType": "SqlAdmin",
            "userId": "admin",
            "secrets": {"secretsType": "SqlAdmin", "password": "p"},
        },
    ]
    for cred in creds:
        out = parse_asset("datastores", _blob(**cred), version=False)
        assert out["contents"]["credentials"]["credentialsType"].lower() == (
            cred["credentialsType"].lower()
        )
    sql = {
        "properties": {
            "contents": {
                "contentsType": "azurepostgresql",
                "credentials": {"credentialsType": "None"},
                "databaseName": "db",
                "endpoint": "database.windows.net",
                "portNumber": 5432,
                "serverName": "srv",
                "enableSSL": True,
            }
        }
    }
    assert parse_asset("datastores", sql, version=False)["contents"]["enableSsl"] is True


def test_datastore_violations() -> None:
    assert _targets(
        "datastores", _blob(credentialsType="ServicePrincipal", clientId="x"), False
    ) == {
        "properties.contents.credentials.clientId",
        "properties.contents.credentials.tenantId",
    }
    assert _targets("datastores", _blob(credentialsType="Kerberos"), False) == {
        "properties.contents.credentials.credentialsType"
    }
    assert _targets(
        "datastores", {"properties": {"contents": {"contentsType": "AzureMySql"}}}, False
    ) == {"properties.contents.contentsType"}
    assert _targets("datastores", {"properties": {}}, False) == {"properties.contents"}


def test_computes() -> None:
    out = parse_compute(
        {
            "location": "westus",
            "sku": {"name": "x"},
            "identity": {"type": "SystemAssigned"},
            "tags": {"k": "v"},
            "properties": {
                "computeType": "amlcompute",
                "computeLocation": "westus",
                "properties": {"vmSize": "STANDARD_D2", "scaleSettings": {"max": 4}},
            },
        }
    )
    assert out == {
        "properties": {
            "computeType": "AmlCompute",
            "computeLocation": "westus",
            "properties": {"vmSize": "STANDARD_D2", "scaleSettings": {"max": 4}},
        },
        "tags": {"k": "v"},
    }
    local = parse_compute(
        {"properties": {"computeType": "local", "properties": {"maxConcurrentJobs": 4}}}
    )
    assert local["properties"]["computeType"] == "Local"
    ray = parse_compute(
        {"properties": {"computeType": "Ray", "properties": {"address": "127.0.0.1:6379"}}}
    )
    assert ray["properties"]["properties"] == {"address": "127.0.0.1:6379"}


@pytest.mark.parametrize(
    ("body", "target"),
    [
        ({"properties": {}}, "properties.computeType"),
        ({"properties": {"computeType": "Quantum"}}, "properties.computeType"),
        (
            {"properties": {"computeType": "Local", "properties": {"maxConcurrentJobs": 0}}},
            "properties.properties.maxConcurrentJobs",
        ),
        ({"properties": {"computeType": "Ray"}}, "properties.properties.address"),
        ({"properties": {"computeType": "Local", "size": 1}}, "properties.size"),
    ],
)
def test_compute_violations(body: dict[str, Any], target: str) -> None:
    with pytest.raises(ValidationFailed) as info:
        parse_compute(body)
    assert [v.target for v in info.value.violations] == [target]
