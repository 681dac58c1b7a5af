"""Instance types (``compute.instanceType``): the resources one node of a job asks for.

A documented table of common Azure VM sizes, matched case-insensitively, plus custom sizes
written ``cpu=4,memory=16,gpu=1`` (memory in GiB; any of the three may be left out). The
local executor records them; a cluster backend schedules by them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class InstanceType:
    name: str
    cpus: float
    memory_gib: float
    gpus: int = 0


_TABLE = [
    InstanceType("Standard_DS1_v2", 1, 3.5),
    InstanceType("Standard_DS2_v2", 2, 7),
    InstanceType("Standard_DS3_v2", 4, 14),
    InstanceType("Standard_DS4_v2", 8, 28),
    InstanceType("Standard_DS5_v2", 16, 56),
    InstanceType("Standard_D2_v3", 2, 8),
    InstanceType("Standard_D4_v3", 4, 16),
    InstanceType("Standard_D8_v3", 8, 32),
    InstanceType("Standard_D16_v3", 16, 64),
    InstanceType("Standard_D2s_v3", 2, 8),
    InstanceType("Standard_D4s_v3", 4, 16),
    InstanceType("Standard_D8s_v3", 8, 32),
    InstanceType("Standard_E4s_v3", 4, 32),
    InstanceType("Standard_F4s_v2", 4, 8),
    InstanceType("Standard_NC6", 6, 56, 1),
    InstanceType("Standard_NC12", 12, 112, 2),
    InstanceType("Standard_NC24", 24, 224, 4),
    InstanceType("Standard_NC6s_v3", 6, 112, 1),
    InstanceType("Standard_NC12s_v3", 12, 224, 2),
    InstanceType("Standard_NC24s_v3", 24, 448, 4),
    InstanceType("Standard_NC4as_T4_v3", 4, 28, 1),
    InstanceType("Standard_NC8as_T4_v3", 8, 56, 1),
    InstanceType("Standard_ND40rs_v2", 40, 672, 8),
    InstanceType("Standard_ND96asr_v4", 96, 900, 8),
]
SKUS: dict[str, InstanceType] = {sku.name.lower(): sku for sku in _TABLE}

_CUSTOM = re.compile(r"^\s*(?:(?:cpu|memory|gpu)\s*=\s*[0-9]+(?:\.[0-9]+)?\s*,?\s*)+$", re.I)


def parse_instance_type(value: str) -> InstanceType:
    """The resources of an instance type; ValueError naming the known ones otherwise."""
    sku = SKUS.get(value.strip().lower())
    if sku is not None:
        return sku
    if "=" in value and _CUSTOM.match(value):
        fields = dict(
            (k.strip().lower(), float(v))
            for k, v in (part.split("=") for part in value.split(",") if part.strip())
        )
        cpus = fields.get("cpu", 1.0)
        gpus = fields.get("gpu", 0.0)
        if cpus <= 0 or gpus != int(gpus):
            raise ValueError(f"'{value}': cpu must be positive and gpu a whole number")
        return InstanceType(value.strip(), cpus, fields.get("memory", 0.0), int(gpus))
    known = ", ".join(sku.name for sku in _TABLE[:6])
    raise ValueError(
        f"unknown instanceType '{value}': use a known VM size ({known}, ... — see "
        "docs/decisions.md) or a custom size such as 'cpu=4,memory=16,gpu=0'"
    )
