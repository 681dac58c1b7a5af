"""Sweep jobs: objective, sampling algorithm, early-termination policies and the search space."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

from pydantic import AfterValidator, model_validator

from amlite.domain.names import is_parameter_name
from amlite.domain.search_space import (
    PARAMETER_NAME_RULE,
    Choice,
    Distribution,
    grid_size_problem,
    is_nested,
    parse_distribution,
    space_size,
    to_wire,
)
from amlite.errors import Violation
from amlite.schemas._base import (
    AlnumStr,
    Int32,
    NonNegativeInt32,
    PositiveInt32,
    WireModel,
    discriminated,
    one_of,
    violation,
)
from amlite.schemas.durations import MinutesDuration
from amlite.schemas.job_parts import (
    ComputeConfiguration,
    Identity,
    JobBase,
    TrialComponent,
    binding_name_problems,
    binding_names,
    pytorch_problems,
)
from amlite.schemas.placeholders import check_command

BAYESIAN_KINDS = ("choice", "uniform", "quniform")


class Objective(WireModel):
    goal: Annotated[str, one_of("Minimize", "Maximize")]
    primary_metric: AlnumStr


def _percentage(value: int) -> int:
    if not 1 <= value <= 99:
        raise violation(f"must be between 1 and 99, got {value}")
    return value


class _Policy(WireModel):
    delay_evaluation: NonNegativeInt32 | None = None
    evaluation_interval: NonNegativeInt32 | None = None


class BanditPolicy(_Policy):
    policy_type: Annotated[str, one_of("Bandit")]
    slack_amount: float | None = None
    slack_factor: float | None = None

    @model_validator(mode="after")
    def _exactly_one_slack(self) -> BanditPolicy:
        given = [v for v in (self.slack_factor, self.slack_amount) if v is not None]
        if len(given) != 1:
            raise violation("give exactly one of slackFactor and slackAmount", "slackFactor")
        if given[0] < 0:
            at = "slackFactor" if self.slack_factor is not None else "slackAmount"
            raise violation("must not be negative", at)
        return self


class MedianStoppingPolicy(_Policy):
    policy_type: Annotated[str, one_of("MedianStopping")]


class TruncationSelectionPolicy(_Policy):
    policy_type: Annotated[str, one_of("TruncationSelection")]
    truncation_percentage: Annotated[Int32, AfterValidator(_percentage)] | None = None


if TYPE_CHECKING:
    EarlyTermination = BanditPolicy | MedianStoppingPolicy | TruncationSelectionPolicy
else:
    EarlyTermination = discriminated(
        "policyType",
        {
            "Bandit": BanditPolicy,
            "MedianStopping": MedianStoppingPolicy,
            "TruncationSelection": TruncationSelectionPolicy,
        },
    )


def _wire_distribution(value: Any) -> list[Any]:
    try:
        return to_wire(parse_distribution(value))
    except ValueError as exc:
        raise violation(str(exc)) from None


SearchSpace = dict[str, Annotated[Any, AfterValidator(_wire_distribution)]]


class SweepJob(JobBase):
    """Many trials of ``trial`` over ``searchSpace`` (``jobType: Sweep``).

    ``trial`` is optional in the spec, but a sweep cannot run without it: amlite requires it.
    """

    job_type: Annotated[str, one_of("Sweep")]
    algorithm: Annotated[str, one_of("Grid", "Random", "Bayesian")]
    compute: ComputeConfiguration
    early_termination: EarlyTermination | None = None
    experiment_name: str | None = None
    identity: Identity | None = None
    max_concurrent_trials: PositiveInt32 | None = None
    max_total_trials: PositiveInt32 | None = None
    objective: Objective
    priority: Int32 | None = None
    search_space: SearchSpace
    timeout: MinutesDuration | None = None
    trial: TrialComponent

    def distributions(self) -> dict[str, Distribution]:
        """The search space as domain distributions (already validated)."""
        return {name: parse_distribution(wire) for name, wire in self.search_space.items()}

    def problems(self, path: str) -> list[Violation]:
        """Rules across fields, checked once every field is valid."""
        space = self.distributions()
        found = _algorithm_problems(self.algorithm, space, f"{path}.searchSpace")
        if not space:
            found.append(Violation(f"{path}.searchSpace", "needs at least one parameter"))
        inputs, outputs = binding_names(
            self.trial.input_data_bindings, self.trial.output_data_bindings
        )
        found += check_command(
            self.trial.command,
            f"{path}.trial.command",
            inputs=inputs,
            outputs=outputs,
            search_space=set(space),
        )
        found += pytorch_problems(
            self.trial.distribution, self.compute, f"{path}.trial.distribution"
        )
        found += binding_name_problems(
            self.trial.input_data_bindings, self.trial.output_data_bindings, f"{path}.trial"
        )
        return found


def _algorithm_problems(
    algorithm: str, space: dict[str, Distribution], target: str
) -> list[Violation]:
    found: list[Violation] = []
    for name, dist in space.items():
        at = f"{target}.{name}"
        if not is_parameter_name(name):
            found.append(Violation(at, f"parameter name {name!r} {PARAMETER_NAME_RULE}"))
        if algorithm == "Grid" and space_size({name: dist}) is None:
            found.append(
                Violation(at, f"Grid sampling supports only choice parameters, not {dist.kind}")
            )
        if algorithm == "Bayesian":
            if dist.kind not in BAYESIAN_KINDS:
                found.append(
                    Violation(
                        at,
                        f"Bayesian sampling supports only choice, uniform and quniform,"
                        f" not {dist.kind}",
                    )
                )
            elif isinstance(dist, Choice) and is_nested(dist):
                found.append(
                    Violation(at, "Bayesian sampling does not support nested distributions")
                )
    if algorithm == "Grid" and not found:
        too_large = grid_size_problem(space)
        if too_large:
            found.append(Violation(target, too_large))
    return found
