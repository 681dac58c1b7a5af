"""Truncation selection: cancel the trials in the worst p percent at each evaluation.

Every trial with the metric is scored by its best of its first min(N, count) values. With
``count`` such trials (at least 2, else nothing is cut), the cut is k = floor(p/100 · count)
(exact integer arithmetic). Ties are resolved in the judged trial's favour: it is cancelled
only when at least ``count - k`` trials are strictly better, so a trial tied with one
outside the worst k is kept (the cut may then be smaller than k).
"""

from __future__ import annotations

from collections.abc import Mapping
from fractions import Fraction

from amlite.sweep.policies._base import Decision, Policy, best_of, is_better, num
from amlite.sweep.samplers._base import Goal

DEFAULT_TRUNCATION_PERCENTAGE = 10


class TruncationSelection(Policy):
    """Cut a fixed fraction of the worst trials."""

    policy_type = "TruncationSelection"

    def __init__(
        self,
        *,
        truncation_percentage: int | None = None,
        evaluation_interval: int | None = None,
        delay_evaluation: int | None = None,
    ) -> None:
        super().__init__(evaluation_interval=evaluation_interval, delay_evaluation=delay_evaluation)
        p = (
            DEFAULT_TRUNCATION_PERCENTAGE
            if truncation_percentage is None
            else truncation_percentage
        )
        if isinstance(p, bool) or not isinstance(p, int | float) or not 1 <= p <= 99:
            raise ValueError(f"truncationPercentage must be between 1 and 99, got {p!r}")
        self.truncation_percentage = p

    @property
    def label(self) -> str:
        return "truncation selection"

    def cut(self, count: int) -> int:
        """k = floor(p/100 · count), the number of worst trials to cancel."""
        return int(Fraction(str(self.truncation_percentage)) * count // 100)

    def judge(self, trial: str, n: int, scores: Mapping[str, list[float]], goal: Goal) -> Decision:
        count = len(scores)
        if count < 2:
            return Decision(False, f"truncation selection: only {count} trial has the metric")
        k = self.cut(count)
        y = best_of(scores[trial], goal)
        better = sum(1 for values in scores.values() if is_better(best_of(values, goal), y, goal))
        rank = better + 1  # 1 = best; ties share the better rank
        terminate = k > 0 and better >= count - k
        verdict = "in" if terminate else "not in"
        return Decision(
            terminate,
            f"truncation selection: best {num(y)} at interval {n} ranks {rank} of {count}, "
            f"{verdict} the worst {k} ({num(self.truncation_percentage)}%)",
        )
