"""resolve_references on the typed spec: every reference becomes a full id, each missing one
is a violation naming its field, and nothing else of the spec changes."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from amlite.domain.arm_id import WorkspaceRef
from amlite.domain.spec_codec import encode_job
from amlite.errors import ValidationFailed
from amlite.schemas import parse_job, parse_job_spec
from amlite.services.references import resolve_references
from amlite.store._base import AssetRecord

WS = WorkspaceRef("sub", "rg", "ws")
NOW = datetime.now(UTC)


class FakeStore:
    def __init__(self, *assets: tuple[str, str, str | None]) -> None:
        self.assets = {
            (kind, name, version): AssetRecord(WS.key, kind, name, version, {}, i, NOW, NOW)
            for i, (kind, name, version) in enumerate(assets)
        }

    def get_workspace(self, key: str) -> WorkspaceRef | None:
        return WS if key == WS.key else None

    def get_asset(
        self, key: str, kind: str, name: str, version: str | None = None
    ) -> AssetRecord | None:
        return self.assets.get((kind, name, version)) if key == WS.key else None

    def latest_version(self, key: str, kind: str, name: str) -> AssetRecord | None:
        found = [a for (k, n, v), a in self.assets.items() if (k, n) == (kind, name) and v]
        return max(found, key=lambda a: a.seq) if found else None


def sweep(**trial: Any) -> dict[str, Any]:
    return {
        "properties": {
            "jobType": "Sweep",
            "algorithm": "Random",
            "compute": {"target": "azureml:gpu", "instanceCount": 2},
            "objective": {"goal": "Maximize", "primaryMetric": "acc"},
            "searchSpace": {"lr": ["uniform", [0.1, 0.2]]},
            "trial": {"command": "python t.py", **trial},
        }
    }


TRIAL = {
    "codeId": "azureml:code1@latest",
    "environmentId": "azureml:env:1",
    "inputDataBindings": {"d": {"dataId": "azureml:data1:1", "mode": "Download"}},
    "outputDataBindings": {"o": {"datastoreId": "azureml:ds1"}},
}


def test_every_reference_of_a_trial_becomes_a_full_id() -> None:
    store = FakeStore(
        ("codes", "code1", "1"),
        ("codes", "code1", "2"),
        ("environments", "env", "1"),
        ("data", "data1", "1"),
        ("datastores", "ds1", None),
        ("computes", "gpu", None),
    )
    body = sweep(**TRIAL)
    resolved, compute = resolve_references(store, WS, parse_job_spec(body))  # type: ignore[arg-type]
    assert compute == "gpu"
    expected = parse_job(body)
    trial = expected["trial"]
    trial["codeId"] = WS.resource_id("codes", "code1", "2")  # latest
    trial["environmentId"] = WS.resource_id("environments", "env", "1")
    trial["inputDataBindings"]["d"]["dataId"] = WS.resource_id("data", "data1", "1")
    trial["outputDataBindings"]["o"]["datastoreId"] = WS.resource_id("datastores", "ds1")
    expected["compute"]["target"] = WS.resource_id("computes", "gpu")
    assert encode_job(resolved) == expected


def test_each_missing_reference_is_named() -> None:
    with pytest.raises(ValidationFailed) as info:
        resolve_references(FakeStore(), WS, parse_job_spec(sweep(**TRIAL)))  # type: ignore[arg-type]
    assert [(v.target, v.code) for v in info.value.violations] == [
        ("properties.trial.codeId", "ReferenceNotFound"),
        ("properties.trial.environmentId", "ReferenceNotFound"),
        ("properties.trial.inputDataBindings.d.dataId", "ReferenceNotFound"),
        ("properties.trial.outputDataBindings.o.datastoreId", "ReferenceNotFound"),
        ("properties.compute.target", "ReferenceNotFound"),
    ]


def test_a_command_job_without_references_is_unchanged() -> None:
    body = {"properties": {"jobType": "Command", "command": "echo", "compute": {}}}
    spec = parse_job_spec(body)
    resolved, compute = resolve_references(FakeStore(), WS, spec)  # type: ignore[arg-type]
    assert (resolved, compute) == (spec, "local")
