"""Command jobs and the ``JobBaseResource`` envelope; ``parse_job`` is the front door."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

from amlite.domain.spec_codec import decode_job
from amlite.domain.specs import JobSpec
from amlite.errors import ValidationFailed, Violation
from amlite.schemas._base import (
    AlnumStr,
    Int32,
    StrMap,
    discriminated,
    one_of,
)
from amlite.schemas.arm import ResourceEnvelope, validate_model
from amlite.schemas.durations import SecondsDuration
from amlite.schemas.job_parts import (
    ComputeConfiguration,
    Distribution,
    Identity,
    InputDataBinding,
    JobBase,
    OutputDataBinding,
    binding_name_problems,
    binding_names,
    pytorch_problems,
)
from amlite.schemas.placeholders import check_command
from amlite.schemas.sweep import SweepJob


class CommandJob(JobBase):
    """A command run once (``jobType: Command``); ``parameters`` is read-only."""

    read_only = JobBase.read_only | {"parameters"}

    job_type: Annotated[str, one_of("Command")]
    code_id: str | None = None
    command: AlnumStr
    compute: ComputeConfiguration
    distribution: Distribution | None = None
    environment_id: str | None = None
    environment_variables: StrMap | None = None
    experiment_name: str | None = None
    identity: Identity | None = None
    input_data_bindings: dict[str, InputDataBinding] | None = None
    output_data_bindings: dict[str, OutputDataBinding] | None = None
    priority: Int32 | None = None
    timeout: SecondsDuration | None = None

    def problems(self, path: str) -> list[Violation]:
        """Rules across fields, checked once every field is valid."""
        inputs, outputs = binding_names(self.input_data_bindings, self.output_data_bindings)
        found = check_command(
            self.command, f"{path}.command", inputs=inputs, outputs=outputs, search_space=None
        )
        found += pytorch_problems(self.distribution, self.compute, f"{path}.distribution")
        found += binding_name_problems(self.input_data_bindings, self.output_data_bindings, path)
        return found


if TYPE_CHECKING:
    JobUnion = CommandJob | SweepJob
else:
    JobUnion = discriminated("jobType", {"Command": CommandJob, "Sweep": SweepJob})


class JobBaseResource(ResourceEnvelope):
    properties: JobUnion


def parse_job(body: object) -> dict[str, Any]:
    """The validated ``properties`` of a PUT jobs body, in the spec's casing.

    Raises ValidationFailed listing every violation (target = JSON path).
    """
    resource = validate_model(JobBaseResource, body)
    job: CommandJob | SweepJob = resource.properties
    problems = job.problems("properties")
    if problems:
        raise ValidationFailed(problems)
    return job.wire()


def parse_job_spec(body: object) -> JobSpec:
    """``parse_job``'s answer as the typed spec (``amlite.domain.spec_codec``)."""
    return decode_job(parse_job(body))
