"""Asset resources jobs refer to: code, data and environment versions and their containers,
and datastores. ``parse_asset`` is the front door for their PUT bodies."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

from amlite.schemas._base import (
    AlnumStr,
    Int32,
    StrMap,
    WireModel,
    discriminated,
    one_of,
)
from amlite.schemas.arm import ResourceEnvelope, validate_model
from amlite.schemas.datastores import DatastoreProperties

ASSET_KINDS = ("codes", "data", "environments", "datastores")


class _Asset(WireModel):
    description: str | None = None
    properties: StrMap | None = None
    tags: StrMap | None = None


class AssetContainer(_Asset):
    """CodeContainer, DataContainer and EnvironmentContainer share this shape."""


class CodeVersion(_Asset):
    datastore_id: str | None = None
    is_anonymous: bool | None = None
    path: AlnumStr


class DataVersion(_Asset):
    dataset_type: Annotated[str, one_of("Simple", "Dataflow")] | None = None
    datastore_id: str | None = None
    is_anonymous: bool | None = None
    path: AlnumStr


class DockerImagePlatform(WireModel):
    operating_system_type: Annotated[str, one_of("Linux", "Windows")] | None = None


class DockerBuild(WireModel):
    docker_specification_type: Annotated[str, one_of("Build")]
    context: str | None = None
    dockerfile: AlnumStr
    platform: DockerImagePlatform | None = None


class DockerImage(WireModel):
    docker_specification_type: Annotated[str, one_of("Image")]
    docker_image_uri: AlnumStr
    platform: DockerImagePlatform | None = None


if TYPE_CHECKING:
    DockerSpecification = DockerBuild | DockerImage
else:
    DockerSpecification = discriminated(
        "dockerSpecificationType", {"Build": DockerBuild, "Image": DockerImage}
    )


class Route(WireModel):
    path: AlnumStr
    port: Int32


class InferenceContainerProperties(WireModel):
    liveness_route: Route | None = None
    readiness_route: Route | None = None
    scoring_route: Route | None = None


class EnvironmentSpecificationVersion(_Asset):
    """An environment; ``environmentSpecificationType`` is read-only (Curated/UserCreated)."""

    read_only = frozenset({"environmentSpecificationType"})

    conda_file: str | None = None
    docker: DockerSpecification | None = None
    inference_container_properties: InferenceContainerProperties | None = None
    is_anonymous: bool | None = None


class _CodeVersionResource(ResourceEnvelope):
    properties: CodeVersion


class _DataVersionResource(ResourceEnvelope):
    properties: DataVersion


class _EnvironmentVersionResource(ResourceEnvelope):
    properties: EnvironmentSpecificationVersion


class _ContainerResource(ResourceEnvelope):
    properties: AssetContainer


class _DatastoreResource(ResourceEnvelope):
    properties: DatastoreProperties


_VERSION_RESOURCES: dict[str, type[ResourceEnvelope]] = {
    "codes": _CodeVersionResource,
    "data": _DataVersionResource,
    "environments": _EnvironmentVersionResource,
}


def parse_asset(kind: str, body: object, *, version: bool) -> dict[str, Any]:
    """The validated ``properties`` of an asset PUT body, in the spec's casing.

    ``kind`` is ``codes``, ``data``, ``environments`` or ``datastores``; ``version`` is True
    for ``.../versions/{v}`` bodies. Raises ValidationFailed listing every violation.
    """
    if kind not in ASSET_KINDS:
        raise ValueError(f"unknown asset kind {kind!r}; one of {', '.join(ASSET_KINDS)}")
    model: type[ResourceEnvelope]
    if kind == "datastores":
        model = _DatastoreResource
    elif version:
        model = _VERSION_RESOURCES[kind]
    else:
        model = _ContainerResource
    resource = validate_model(model, body)
    properties: WireModel = resource.properties  # type: ignore[attr-defined]
    return properties.wire()
