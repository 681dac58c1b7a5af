"""The early-termination contract: pure decisions over primary-metric histories.

A value "at interval N" is the N-th logged value of the primary metric. A policy runs when a
trial logs its N-th value, N >= ``delayEvaluation`` and N is a multiple of
``evaluationInterval`` (0 or absent means 1). "Over all trials" means every trial of the
sweep that has logged the metric (finished or not, the judged trial included), each using its
first min(N, count) values, so trials cancelled or finished earlier keep counting with what
they reported. Trials without the metric are skipped.

``decide`` applies the gate itself (a call that is not due answers "continue"), so the
controller may call it on every new value; ``should_evaluate`` lets it skip the work.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

from amlite.sweep.samplers._base import Goal, normalize_goal


class Decision(NamedTuple):
    """Whether to cancel the trial now, and a sentence a human can read in the job's events."""

    terminate: bool
    reason: str


def num(value: float) -> str:
    """A metric value in a reason: at most 6 significant digits, no trailing noise."""
    return f"{value:.6g}"


def is_better(a: float, b: float, goal: Goal) -> bool:
    """Whether ``a`` is strictly better than ``b`` under ``goal``."""
    return a > b if goal == "Maximize" else a < b


def best_of(values: Sequence[float], goal: Goal) -> float:
    """The best value of a non-empty sequence under ``goal``."""
    return max(values) if goal == "Maximize" else min(values)


def _non_negative_int(value: Any, what: str) -> int:
    if value is None:
        return 0
    if isinstance(value, bool) or not isinstance(value, int | float) or value != int(value):
        raise ValueError(f"{what} must be a whole number, got {value!r}")
    if value < 0:
        raise ValueError(f"{what} must not be negative, got {value}")
    return int(value)


class Policy(ABC):
    """An early-termination policy; subclasses implement ``judge``."""

    #: The wire ``policyType``.
    policy_type: str = ""

    def __init__(
        self, *, evaluation_interval: int | None = None, delay_evaluation: int | None = None
    ):
        self.evaluation_interval = _non_negative_int(evaluation_interval, "evaluationInterval") or 1
        self.delay_evaluation = _non_negative_int(delay_evaluation, "delayEvaluation")

    def should_evaluate(self, n: int) -> bool:
        """Whether the policy runs when a trial logs its ``n``-th value (``n`` from 1)."""
        return n >= 1 and n >= self.delay_evaluation and n % self.evaluation_interval == 0

    def decide(
        self, trial: str, n: int, histories: Mapping[str, Sequence[float]], goal: str
    ) -> Decision:
        """Whether ``trial`` should be cancelled now that it has logged its ``n``-th value.

        ``histories`` maps every trial that has logged the metric (``trial`` included) to its
        logged values in order.
        """
        direction = normalize_goal(goal)
        if not self.should_evaluate(n):
            return Decision(
                False,
                f"{self.label}: not evaluated at interval {n} "
                f"(delay {self.delay_evaluation}, every {self.evaluation_interval})",
            )
        own = histories.get(trial)
        if not own:
            return Decision(False, f"{self.label}: {trial} has not logged the metric")
        scores = {name: list(values[:n]) for name, values in histories.items() if values}
        return self.judge(trial, n, scores, direction)

    @property
    def label(self) -> str:
        """The lowercase name used at the start of reasons (``bandit``, ``median stopping``)."""
        return self.policy_type.lower()

    @abstractmethod
    def judge(self, trial: str, n: int, scores: Mapping[str, list[float]], goal: Goal) -> Decision:
        """The decision once due: ``scores`` holds each trial's first min(n, count) values."""

    def __repr__(self) -> str:
        fields = ", ".join(f"{k}={v!r}" for k, v in vars(self).items())
        return f"{type(self).__name__}({fields})"
