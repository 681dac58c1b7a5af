"""Builders of valid bodies for the schema tests, and a helper to collect violation targets."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from amlite.errors import ValidationFailed
from amlite.schemas import parse_job

WS = (
    "/subscriptions/00000000-1111-2222-3333-444444444444/resourceGroups/rg/providers/"
    "Microsoft.MachineLearningServices/workspaces/ws"
)


def command_body(**props: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "properties": {
            "jobType": "Command",
            "command": "python train.py --data ${{inputs.iris}} --out {outputs.model}",
            "compute": {"target": f"{WS}/computes/local", "instanceCount": 1},
            "environmentId": f"{WS}/environments/env/versions/1",
            "inputDataBindings": {"iris": {"dataId": f"{WS}/data/iris/versions/1"}},
            "outputDataBindings": {"model": {"datastoreId": f"{WS}/datastores/store"}},
        }
    }
    body["properties"].update(copy.deepcopy(props))
    return body


def sweep_body(**props: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "properties": {
            "jobType": "Sweep",
            "algorithm": "Random",
            "compute": {"target": f"{WS}/computes/local", "instanceCount": 1},
            "objective": {"goal": "Maximize", "primaryMetric": "accuracy"},
            "searchSpace": {
                "lr": ["uniform", [0.01, 0.1]],
                "batch": ["choice", [[16, 32]]],
            },
            "trial": {
                "command": "python train.py --lr ${{search_space.lr}} --batch {search_space.batch}",
                "environmentId": f"{WS}/environments/env/versions/1",
            },
        }
    }
    body["properties"].update(copy.deepcopy(props))
    return body


def violations(body: object) -> list[tuple[str, str]]:
    """(target, message) of every violation parse_job reports; fails if the body parses."""
    with pytest.raises(ValidationFailed) as info:
        parse_job(body)
    return [(v.target, v.message) for v in info.value.violations]


def targets(body: object) -> set[str]:
    return {target for target, _ in violations(body)}
