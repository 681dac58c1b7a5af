"""The sampler contract: propose trial ``index``'s parameters from what is known so far.

Samplers are pure and restartable. The controller keeps the truth in the store; after a
crash it rebuilds the history (one ``TrialOutcome`` per trial created so far) and asks for the
next index. A sampler therefore keeps no state that matters between calls: the same
(index, history) always gives the same answer.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from amlite.domain.json_value import JsonValue
from amlite.domain.search_space import Choice, Distribution, Nested, space_size

TrialState = Literal["complete", "pruned", "failed", "running"]
Goal = Literal["Minimize", "Maximize"]

TRIAL_STATES: tuple[TrialState, ...] = ("complete", "pruned", "failed", "running")


@dataclass(frozen=True)
class TrialOutcome:
    """What the sampler may learn from one earlier trial.

    ``state``: ``complete`` (ended normally), ``pruned`` (early-terminated by the policy),
    ``failed`` (failed, canceled or timed out), ``running`` (not finished yet).
    ``value``: the trial's score, its best value of the primary metric (None if never logged).
    """

    index: int
    params: Mapping[str, JsonValue]
    state: TrialState
    value: float | None = None

    def __post_init__(self) -> None:
        if self.state not in TRIAL_STATES:
            raise ValueError(f"unknown trial state {self.state!r}; one of {TRIAL_STATES}")


def normalize_goal(goal: str) -> Goal:
    """``Maximize`` or ``Minimize`` from any casing; ValueError otherwise."""
    lowered = goal.lower()
    if lowered == "maximize":
        return "Maximize"
    if lowered == "minimize":
        return "Minimize"
    raise ValueError(f"goal must be Maximize or Minimize, got {goal!r}")


class Sampler(ABC):
    """Proposes hyperparameters for one sweep's search space."""

    #: The ``samplingAlgorithmType`` this sampler implements.
    algorithm: str = ""
    #: Distribution kinds this sampler accepts (``Distribution.kind``).
    supported_kinds: frozenset[str] = frozenset()
    #: Whether ``propose`` reads the history (the controller skips building it otherwise).
    needs_history: bool = False

    def __init__(self, space: Mapping[str, Distribution]) -> None:
        if not space:
            raise ValueError("the search space is empty")
        self.space: dict[str, Distribution] = dict(space)
        self._check_kinds(self.space, prefix="")

    def _check_kinds(self, space: Mapping[str, Distribution | JsonValue], prefix: str) -> None:
        for name, dist in space.items():
            if not isinstance(dist, Distribution):
                continue  # a constant inside a nested option
            if dist.kind not in self.supported_kinds:
                raise ValueError(
                    f"{self.algorithm} sampling does not support {dist.kind} "
                    f"(parameter {prefix}{name}); it supports "
                    f"{', '.join(sorted(self.supported_kinds))}"
                )
            if isinstance(dist, Choice):
                for option in dist.options:
                    if isinstance(option, Nested):
                        self._check_kinds(option.params, prefix=f"{prefix}{name}.")

    @abstractmethod
    def propose(self, index: int, history: Sequence[TrialOutcome]) -> dict[str, JsonValue] | None:
        """Parameters of trial ``index`` (0-based), or None when the space is exhausted.

        ``history`` holds the trials created before (any order; running ones included).
        """

    def size(self) -> int | None:
        """Points in the search space when finite (the sweep's ``space_size``), else None.

        Only Grid stops proposing there; Random and Bayesian may repeat points.
        """
        return space_size(self.space)
