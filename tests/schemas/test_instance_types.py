"""compute.instanceType: any Azure VM size name (any casing; the table, else the naming rule)
or a custom size; anything else is 400."""

from __future__ import annotations

import pytest

from amlite.domain.skus import SKUS, parse_instance_type
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
        ("Standard_D2_v2", 2, 7, 0),  # the size the official examples use most
        ("Standard_D2", 2, 7, 0),
        ("Standard_D2_v2_Promo", 2, 7, 0),
        ("Basic_A0", 1, 0.75, 0),
        ("Standard_E64_v3", 64, 432, 0),
        ("Standard_F72s_v2", 72, 144, 0),
        ("Standard_ND96amsr_A100_v4", 96, 1900, 8),
        ("cpu=8,memory=32,gpu=2", 8, 32, 2),
        ("cpu=2", 2, 0, 0),
    ],
)
def test_known_and_custom_sizes(value: str, cpus: float, memory: float, gpus: int) -> None:
    sku = parse_instance_type(value)
    assert (sku.cpus, sku.memory_gib, sku.gpus) == (cpus, memory, gpus)
    assert parse_job(body(value))["compute"]["instanceType"] == value


@pytest.mark.parametrize(
    ("value", "cpus", "memory", "gpus"),
    [
        ("Standard_D128ds_v6", 128, 512, 0),  # family D: 4 GiB per vCPU in the table
        ("Standard_E8-4s_v7", 4, 64, 0),  # constrained: 4 active vCPUs, memory of 8
        ("Standard_E192i_v9", 192, 1536, 0),
        ("Standard_NC40ads_H100_v9", 40, 40 * 56 / 6, 1),  # N-series: 1 GPU at least
        ("Standard_L4s", 4, 32, 0),
    ],
)
def test_names_not_in_the_table_follow_the_naming_rule(
    value: str, cpus: float, memory: float, gpus: int
) -> None:
    sku = parse_instance_type(value)
    assert sku.estimated
    assert (sku.cpus, sku.gpus) == (cpus, gpus)
    assert sku.memory_gib == pytest.approx(memory, abs=0.01)
    assert parse_job(body(value))["compute"]["instanceType"] == value


def test_every_table_row_is_a_size_name_with_its_resources() -> None:
    for sku in SKUS.values():
        assert not sku.estimated
        assert sku.cpus >= 1 and sku.memory_gib > 0 and sku.gpus >= 0, sku
        assert parse_instance_type(sku.name.upper()) == sku
        assert (sku.gpus > 0) == sku.name.startswith("Standard_N"), sku


@pytest.mark.parametrize(
    "value",
    [
        "Standard_XYZ",
        "Standard_D0",
        "Standard_E2-4s_v3",  # more active vCPUs than the size has
        "Standard_D" + "9" * 5000,
        "Standard_D2_v2; rm -rf /",
        "cpu=0",
        "gpu=1.5",
        "cpu=four",
        "large",
    ],
)
def test_unknown_instance_type_is_400_naming_the_field(value: str) -> None:
    with pytest.raises(ValidationFailed) as info:
        parse_job(body(value))
    assert [v.target for v in info.value.violations] == ["properties.compute.instanceType"]
