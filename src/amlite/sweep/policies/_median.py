"""Median stopping: cancel a trial whose best is worse than the median of running means.

M = the median, over all trials, of the mean of each trial's first min(N, count) values
(the mean of the two middle means for an even count). Y = the trial's best of its first N
values. Cancel if Y is strictly worse than M (Y < M when maximizing, Y > M when minimizing).
Needs at least two trials with the metric; with fewer the trial continues.
"""

from __future__ import annotations

import statistics
from collections.abc import Mapping

from amlite.sweep.policies._base import Decision, Policy, best_of, is_better, num
from amlite.sweep.samplers._base import Goal


class MedianStopping(Policy):
    """Median of running averages across trials (Google Vizier's rule)."""

    policy_type = "MedianStopping"

    @property
    def label(self) -> str:
        return "median stopping"

    def judge(self, trial: str, n: int, scores: Mapping[str, list[float]], goal: Goal) -> Decision:
        if len(scores) < 2:
            return Decision(False, f"median stopping: only {len(scores)} trial has the metric")
        median = statistics.median(statistics.fmean(values) for values in scores.values())
        y = best_of(scores[trial], goal)
        terminate = is_better(median, y, goal)
        verdict = ("below" if goal == "Maximize" else "above") if terminate else "not worse than"
        return Decision(
            terminate,
            f"median stopping: best {num(y)} at interval {n} is {verdict} the median "
            f"{num(median)} of the running averages of {len(scores)} trials",
        )
