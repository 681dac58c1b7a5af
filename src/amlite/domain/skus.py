"""Instance types (``compute.instanceType``): the resources one node of a job asks for.

Three forms, matched case-insensitively:
- an Azure VM size in the table ``vm_sizes.csv`` (vCPUs, GiB, GPUs from Microsoft's size
  pages; see its header);
- any other name in Azure's size convention, ``Standard_`` + family letters + vCPU number
  (``-N`` active vCPUs of a constrained size) + feature letters + ``_ACCELERATOR`` +
  ``_vN`` (e.g. ``Standard_D128ds_v6``, ``Standard_E8-4s_v7``): vCPUs from the number,
  memory from the family's GiB per vCPU (the median over the table's sizes of the same
  family letters, else of the same first letter, else of the whole table), one GPU for an
  N-series size (each has at least part of one); marked ``estimated``;
- a custom size ``cpu=4,memory=16,gpu=1`` (memory in GiB; any of the three may be left out).

The local executor records them; a cluster backend schedules by them.
"""

from __future__ import annotations

import csv
import re
import statistics
from collections import defaultdict
from dataclasses import dataclass
from importlib import resources


@dataclass(frozen=True)
class InstanceType:
    name: str
    cpus: float
    memory_gib: float
    gpus: int = 0
    estimated: bool = False
    """True when read by the naming rule rather than found in the table."""


_SIZE_NAME = re.compile(
    r"^(?:standard|basic)_(?P<family>[a-z]+)(?P<size>[0-9]{1,4})(?:-(?P<active>[0-9]{1,4}))?"
    r"(?P<features>[a-z]*)(?:_(?P<accelerator>(?!v[0-9])[a-z][a-z0-9]*))?"
    r"(?:_v(?P<version>[0-9]{1,2}))?(?:_promo)?$",
    re.I,
)


def _load_table() -> list[InstanceType]:
    text = resources.files("amlite.domain").joinpath("vm_sizes.csv").read_text("utf-8")
    lines = [line for line in text.splitlines() if line.strip() and not line.startswith("#")]
    return [
        InstanceType(row["name"], float(row["vcpus"]), float(row["memory_gib"]), int(row["gpus"]))
        for row in csv.DictReader(lines)
    ]


_TABLE = _load_table()
SKUS: dict[str, InstanceType] = {sku.name.lower(): sku for sku in _TABLE}


def _gib_per_vcpu() -> dict[str, float]:
    """Median GiB per vCPU of the table's sizes, by family letters and by first letter
    (key ``""``: the whole table)."""
    ratios: dict[str, list[float]] = defaultdict(list)
    for sku in _TABLE:
        match = _SIZE_NAME.match(sku.name)
        assert match is not None, f"vm_sizes.csv: {sku.name} does not follow the naming rule"
        family = match["family"].lower()
        for key in {family, family[0], ""}:
            ratios[key].append(sku.memory_gib / sku.cpus)
    return {key: statistics.median(values) for key, values in ratios.items()}


_RATIOS = _gib_per_vcpu()


def _by_rule(value: str) -> InstanceType | None:
    match = _SIZE_NAME.match(value)
    if match is None:
        return None
    size = int(match["size"])
    cpus = int(match["active"]) if match["active"] else size
    if size == 0 or cpus == 0 or cpus > size:
        return None
    family = match["family"].lower()
    ratio = _RATIOS.get(family) or _RATIOS.get(family[0]) or _RATIOS[""]
    gpus = 1 if family.startswith("n") else 0
    return InstanceType(value, float(cpus), round(size * ratio, 2), gpus, estimated=True)


_CUSTOM = re.compile(r"^\s*(?:(?:cpu|memory|gpu)\s*=\s*[0-9]+(?:\.[0-9]+)?\s*,?\s*)+$", re.I)


def parse_instance_type(value: str) -> InstanceType:
    """The resources of an instance type; ValueError naming the known ones otherwise."""
    name = value.strip()
    sku = SKUS.get(name.lower()) or SKUS.get(re.sub(r"_promo$", "", name.lower()))
    if sku is not None:
        return sku
    sku = _by_rule(name)
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
    raise ValueError(
        f"unknown instanceType '{value}': use an Azure VM size (such as Standard_D2_v2 or "
        "Standard_NC6s_v3; see docs/decisions.md) or a custom size such as "
        "'cpu=4,memory=16,gpu=0'"
    )
