"""Parts shared by Command and Sweep jobs: compute, data bindings, distribution, identity, trial."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

from pydantic import AfterValidator

from amlite.domain.names import ASSET_NAME_PATTERN, is_asset_name
from amlite.domain.skus import parse_instance_type
from amlite.errors import Violation
from amlite.schemas._base import (
    AlnumStr,
    Int32,
    NonNegativeInt32,
    PositiveInt32,
    RelativePath,
    StrMap,
    UuidStr,
    WireModel,
    discriminated,
    one_of,
    violation,
)
from amlite.schemas.durations import SecondsDuration

DATA_BINDING_MODES = (
    "Mount",
    "Download",
    "Upload",
    "ReadOnlyMount",
    "ReadWriteMount",
    "Direct",
    "EvalMount",
    "EvalDownload",
)
DataBindingMode = Annotated[str, one_of(*DATA_BINDING_MODES)]


def _instance_type(value: str) -> str:
    try:
        parse_instance_type(value)
    except ValueError as exc:
        raise violation(str(exc)) from None
    return value


class ComputeConfiguration(WireModel):
    instance_count: PositiveInt32 | None = None
    instance_type: Annotated[str, AfterValidator(_instance_type)] | None = None
    is_local: bool | None = None
    location: str | None = None
    properties: StrMap | None = None
    target: str | None = None


class InputDataBinding(WireModel):
    data_id: str | None = None
    mode: DataBindingMode | None = None
    path_on_compute: RelativePath | None = None


class OutputDataBinding(WireModel):
    datastore_id: str | None = None
    mode: DataBindingMode | None = None
    path_on_compute: RelativePath | None = None
    path_on_datastore: RelativePath | None = None


class JobOutput(WireModel):
    """Read-only in requests (dropped); used to describe responses."""

    datastore_id: str | None = None
    path: str | None = None


class JobEndpoint(WireModel):
    """Read-only in requests (dropped); used to describe responses."""

    endpoint: str | None = None
    job_endpoint_type: str | None = None
    port: Int32 | None = None
    properties: StrMap | None = None


class PyTorch(WireModel):
    distribution_type: Annotated[str, one_of("PyTorch")]
    process_count: PositiveInt32 | None = None


class Mpi(WireModel):
    distribution_type: Annotated[str, one_of("Mpi")]
    process_count_per_instance: PositiveInt32 | None = None


class TensorFlow(WireModel):
    distribution_type: Annotated[str, one_of("TensorFlow")]
    parameter_server_count: NonNegativeInt32 | None = None
    worker_count: PositiveInt32 | None = None


if TYPE_CHECKING:
    Distribution = PyTorch | Mpi | TensorFlow
else:
    Distribution = discriminated(
        "distributionType", {"PyTorch": PyTorch, "Mpi": Mpi, "TensorFlow": TensorFlow}
    )


class AmlToken(WireModel):
    identity_type: Annotated[str, one_of("AMLToken")]


class ManagedIdentity(WireModel):
    identity_type: Annotated[str, one_of("Managed")]
    client_id: UuidStr | None = None
    object_id: UuidStr | None = None
    resource_id: str | None = None


if TYPE_CHECKING:
    Identity = AmlToken | ManagedIdentity
else:
    Identity = discriminated("identityType", {"AMLToken": AmlToken, "Managed": ManagedIdentity})


class TrialComponent(WireModel):
    """What each trial of a sweep runs (also the runnable part of a Command job)."""

    code_id: str | None = None
    command: AlnumStr
    distribution: Distribution | None = None
    environment_id: str | None = None
    environment_variables: StrMap | None = None
    input_data_bindings: dict[str, InputDataBinding] | None = None
    output_data_bindings: dict[str, OutputDataBinding] | None = None
    timeout: SecondsDuration | None = None


class JobBase(WireModel):
    """Fields every job type has, and the read-only ones dropped from requests."""

    read_only = frozenset({"interactionEndpoints", "provisioningState", "output", "status"})

    description: str | None = None
    properties: StrMap | None = None
    tags: StrMap | None = None


def pytorch_problems(
    distribution: object, compute: ComputeConfiguration, target: str
) -> list[Violation]:
    """A PyTorch job needs at least one process on each node."""
    if not isinstance(distribution, PyTorch) or distribution.process_count is None:
        return []
    nodes = compute.instance_count or 1
    if distribution.process_count < nodes:
        return [
            Violation(
                f"{target}.processCount",
                f"processCount {distribution.process_count} is less than compute.instanceCount"
                f" {nodes}: every node needs at least one process",
            )
        ]
    return []


def binding_names(
    inputs: dict[str, InputDataBinding] | None, outputs: dict[str, OutputDataBinding] | None
) -> tuple[set[str], set[str]]:
    return set(inputs or {}), set(outputs or {})


def binding_name_problems(
    inputs: dict[str, InputDataBinding] | None,
    outputs: dict[str, OutputDataBinding] | None,
    path: str,
) -> list[Violation]:
    """Binding names must be plain words (``ASSET_NAME_PATTERN``): each becomes a directory
    of the run, an environment variable and a placeholder."""
    found: list[Violation] = []
    for field_name, bindings in (("inputDataBindings", inputs), ("outputDataBindings", outputs)):
        for name in bindings or {}:
            if not is_asset_name(name):
                found.append(
                    Violation(
                        f"{path}.{field_name}",
                        f"binding name {name!r} must match {ASSET_NAME_PATTERN}",
                    )
                )
    return found
