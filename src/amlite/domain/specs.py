"""Typed job specs: what a Command or Sweep job asks for, parsed once (pure Python).

A request is validated by ``amlite.schemas`` and stored in its wire form (spec casing, the
form GET answers with); ``amlite.domain.spec_codec`` turns that form into these frozen values
and back, exactly. Everything after the front door (the run's preparation, the scheduler's
capacity rules, the launchers, the sweep controller and its policies, the studio) reads the
typed fields here instead of camelCase keys, so each rule (a timeout's meaning, how many
processes a distribution runs, what an early-termination policy holds) is decided once.

Field names are the wire names in snake case; ``None`` is a field the job did not give.
Enumerations hold the spec's canonical spelling (``Maximize``, ``PyTorch``, ``Download``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import ClassVar, Literal

from amlite.domain.search_space import Distribution as ParameterDistribution

Goal = Literal["Minimize", "Maximize"]
Algorithm = Literal["Grid", "Random", "Bayesian"]
SearchSpace = Mapping[str, ParameterDistribution]
"""A sweep's parameters by name (``amlite.domain.search_space``)."""


@dataclass(frozen=True)
class Duration:
    """A ``timeout``: its length, and the ISO 8601 text it was given as (the wire keeps it)."""

    text: str
    value: timedelta

    @property
    def seconds(self) -> float:
        return self.value.total_seconds()


@dataclass(frozen=True)
class Compute:
    """``compute``: where the job runs and on how many nodes of what size."""

    instance_count: int | None = None
    instance_type: str | None = None
    is_local: bool | None = None
    location: str | None = None
    properties: Mapping[str, str] | None = None
    target: str | None = None

    @property
    def nodes(self) -> int:
        """``instanceCount``, at least 1."""
        return max(1, self.instance_count or 1)


@dataclass(frozen=True)
class PyTorch:
    """``processCount`` processes in total (default one per node)."""

    kind: ClassVar[str] = "PyTorch"
    process_count: int | None = None


@dataclass(frozen=True)
class Mpi:
    kind: ClassVar[str] = "Mpi"
    process_count_per_instance: int | None = None


@dataclass(frozen=True)
class TensorFlow:
    kind: ClassVar[str] = "TensorFlow"
    parameter_server_count: int | None = None
    worker_count: int | None = None


Distribution = PyTorch | Mpi | TensorFlow
"""A job's ``distribution`` (``distributionType`` is the class's ``kind``)."""


@dataclass(frozen=True)
class AmlToken:
    kind: ClassVar[str] = "AMLToken"


@dataclass(frozen=True)
class ManagedIdentity:
    kind: ClassVar[str] = "Managed"
    client_id: str | None = None
    object_id: str | None = None
    resource_id: str | None = None


Identity = AmlToken | ManagedIdentity


@dataclass(frozen=True)
class InputBinding:
    """One of ``inputDataBindings``."""

    data_id: str | None = None
    mode: str | None = None
    path_on_compute: str | None = None


@dataclass(frozen=True)
class OutputBinding:
    """One of ``outputDataBindings``."""

    datastore_id: str | None = None
    mode: str | None = None
    path_on_compute: str | None = None
    path_on_datastore: str | None = None


@dataclass(frozen=True)
class Workload:
    """What a job (or each trial of a sweep) occupies: its nodes and its processes."""

    compute: Compute
    distribution: Distribution | None = None


@dataclass(frozen=True)
class TrialComponent:
    """``trial``: what each trial of a sweep runs."""

    command: str
    code_id: str | None = None
    distribution: Distribution | None = None
    environment_id: str | None = None
    environment_variables: Mapping[str, str] | None = None
    input_data_bindings: Mapping[str, InputBinding] | None = None
    output_data_bindings: Mapping[str, OutputBinding] | None = None
    timeout: Duration | None = None


@dataclass(frozen=True)
class CommandJobSpec:
    """A command run once (``jobType: Command``)."""

    job_type: ClassVar[str] = "Command"
    command: str
    compute: Compute
    description: str | None = None
    properties: Mapping[str, str] | None = None
    tags: Mapping[str, str] | None = None
    code_id: str | None = None
    distribution: Distribution | None = None
    environment_id: str | None = None
    environment_variables: Mapping[str, str] | None = None
    experiment_name: str | None = None
    identity: Identity | None = None
    input_data_bindings: Mapping[str, InputBinding] | None = None
    output_data_bindings: Mapping[str, OutputBinding] | None = None
    priority: int | None = None
    timeout: Duration | None = None

    def workload(self) -> Workload:
        return Workload(self.compute, self.distribution)


@dataclass(frozen=True)
class Objective:
    """``objective``: the metric a sweep optimises and in which direction."""

    goal: Goal
    primary_metric: str

    def better(self, a: float, b: float) -> bool:
        """Whether ``a`` is strictly better than ``b``."""
        return a > b if self.goal == "Maximize" else a < b

    def best(self, values: list[float]) -> float | None:
        """The best of ``values``; None when there are none."""
        if not values:
            return None
        return max(values) if self.goal == "Maximize" else min(values)


@dataclass(frozen=True)
class BanditTermination:
    kind: ClassVar[str] = "Bandit"
    delay_evaluation: int | None = None
    evaluation_interval: int | None = None
    slack_amount: float | None = None
    slack_factor: float | None = None


@dataclass(frozen=True)
class MedianStoppingTermination:
    kind: ClassVar[str] = "MedianStopping"
    delay_evaluation: int | None = None
    evaluation_interval: int | None = None


@dataclass(frozen=True)
class TruncationSelectionTermination:
    kind: ClassVar[str] = "TruncationSelection"
    delay_evaluation: int | None = None
    evaluation_interval: int | None = None
    truncation_percentage: int | None = None


EarlyTermination = BanditTermination | MedianStoppingTermination | TruncationSelectionTermination
"""A sweep's ``earlyTermination`` (``policyType`` is the class's ``kind``)."""


@dataclass(frozen=True)
class SweepJobSpec:
    """Many trials of ``trial`` over ``search_space`` (``jobType: Sweep``)."""

    job_type: ClassVar[str] = "Sweep"
    algorithm: Algorithm
    compute: Compute
    objective: Objective
    search_space: SearchSpace
    trial: TrialComponent
    description: str | None = None
    properties: Mapping[str, str] | None = None
    tags: Mapping[str, str] | None = None
    early_termination: EarlyTermination | None = None
    experiment_name: str | None = None
    identity: Identity | None = None
    max_concurrent_trials: int | None = None
    max_total_trials: int | None = None
    priority: int | None = None
    timeout: Duration | None = None

    def workload(self) -> Workload:
        """What each trial occupies."""
        return Workload(self.compute, self.trial.distribution)


JobSpec = CommandJobSpec | SweepJobSpec
