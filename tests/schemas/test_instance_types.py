"""compute.instanceType: a known VM size (any casing) or a custom size; anything else is 400."""

from __future__ import annotations

import pytest

from amlite.domain.skus import parse_instance_type
from amlite.errors import ValidationFailed
from amlite.schemas import parse_job


def body(instance_type: str) -> dict[str, object]:
    return {
        "properties": {
            "jobType": "Command",
            "command": "python train.py",
            "compute": {"instanceType": instance_type},
        }
    }


@pytest.mark.parametrize(
    ("value", "cpus", "memory", "gpus"),
    [
        ("Standard_DS3_v2", 4, 14, 0),
        ("standard_nc6", 6, 56, 1),
        ("cpu=8,memory=32,gpu=2", 8, 32, 2),
        ("cpu=2", 2, 0, 0),
    ],
)
def test_known_and_custom_sizes(value: str, cpus: float, memory: float, gpus: int) -> None:
    sku = parse_instance_type(value)
    assert (sku.cpus, sku.memory_gib, sku.gpus) == (cpus, memory, gpus)
    assert parse_job(body(value))["compute"]["instanceType"] == value


@pytest.mark.parametrize("value", ["Standard_XYZ", "cpu=0", "gpu=1.5", "cpu=four", "large"])
def test_unknown_instance_type_is_400_naming_the_field(value: str) -> None:
    with pytest.raises(ValidationFailed) as info:
        parse_job(body(value))
    assert [v.target for v in info.value.violations] == ["properties.compute.instanceType"]
