"""Compute resources (not part of mfe.json): amlite's own, ARM-shaped, definition.

``computeType`` ``Local`` is the machine the server runs on; Azure's compute types are
accepted so templates that create a cluster work (they run on the local executor), and
``Ray`` names a Ray cluster by ``properties.address``.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import model_validator

from amlite.schemas._base import PositiveInt32, StrMap, WireModel, one_of, violation
from amlite.schemas.arm import ResourceEnvelope, validate_model

COMPUTE_TYPES = (
    "Local",
    "AmlCompute",
    "ComputeInstance",
    "AKS",
    "Kubernetes",
    "VirtualMachine",
    "Databricks",
    "DataFactory",
    "HDInsight",
    "DataLakeAnalytics",
    "SynapseSpark",
    "Ray",
)


class LocalComputeProperties(WireModel):
    max_concurrent_jobs: PositiveInt32 | None = None


class RayComputeProperties(WireModel):
    address: str
    """The Ray dashboard (``http://HOST:8265``), as for ``ray job submit --address``."""
    python: str | None = None
    """The interpreter on the Ray nodes that runs amlite's supervisor (default: the server's)."""


class Compute(WireModel):
    """A compute's ``properties``; the inner ``properties`` is free-form (except Local, Ray)."""

    read_only = frozenset({"provisioningState", "createdOn", "modifiedOn", "provisioningErrors"})

    compute_type: Annotated[str, one_of(*COMPUTE_TYPES)]
    description: str | None = None
    compute_location: str | None = None
    resource_id: str | None = None
    properties: dict[str, Any] | None = None

    @model_validator(mode="after")
    def _typed_properties(self) -> Compute:
        inner = self.properties
        if self.compute_type == "Local" and inner is not None:
            _check_inner(LocalComputeProperties, inner)
        if self.compute_type == "Ray":
            if inner is None:
                raise violation("a Ray compute needs properties.address", "properties.address")
            _check_inner(RayComputeProperties, inner)
        return self


def _check_inner(model: type[WireModel], inner: dict[str, Any]) -> None:
    from pydantic import ValidationError

    try:
        model.model_validate(inner)
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        at = ".".join(str(part) for part in ("properties", *first["loc"]))
        raise violation(_plain(first), at) from None


def _plain(error: Any) -> str:
    kind = error["type"]
    if kind == "missing":
        return "is required"
    if kind == "extra_forbidden":
        return "unknown field"
    return str(error["msg"])


class ComputeResource(ResourceEnvelope):
    """The envelope: ARM templates also send location, sku and identity (ignored)."""

    read_only = ResourceEnvelope.read_only | {"location", "sku", "identity"}

    properties: Compute
    tags: StrMap | None = None


def parse_compute(body: object) -> dict[str, Any]:
    """``{"properties": {...}, "tags"?: {...}}``: a compute PUT body validated and normalised.

    ``location``, ``sku`` and ``identity`` are accepted and dropped; keys of the free-form
    inner ``properties`` are kept as given (Local's ``maxConcurrentJobs`` is checked, as
    is Ray's ``address``). Raises ValidationFailed listing every violation.
    """
    return validate_model(ComputeResource, body).wire()
