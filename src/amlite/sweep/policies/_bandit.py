"""Bandit: cancel a trial whose best is further than a slack from the best of all trials.

B = the best value over all trials (each using its first min(N, count) values), Y = the
trial's best of its first N values. Exactly one of ``slack_factor`` (f) and ``slack_amount``.

* Maximize: cancel if Y < B - |B|·f/(1+f) (that is Y < B/(1+f) for a positive B), or
  Y < B - amount.
* Minimize: cancel if Y > B + |B|·f, or Y > B + amount.

|B| keeps the slack pointing away from B when the metric is negative. A trial equal to the
threshold continues.
"""

from __future__ import annotations

from collections.abc import Mapping

from amlite.sweep.policies._base import Decision, Policy, best_of, is_better, num
from amlite.sweep.samplers._base import Goal


class Bandit(Policy):
    """Slack-based cutoff relative to the best trial so far."""

    policy_type = "Bandit"

    def __init__(
        self,
        *,
        slack_factor: float | None = None,
        slack_amount: float | None = None,
        evaluation_interval: int | None = None,
        delay_evaluation: int | None = None,
    ) -> None:
        super().__init__(evaluation_interval=evaluation_interval, delay_evaluation=delay_evaluation)
        if (slack_factor is None) == (slack_amount is None):
            raise ValueError("Bandit needs exactly one of slackFactor and slackAmount")
        given = slack_factor if slack_factor is not None else slack_amount
        if given is not None and given < 0:
            raise ValueError(f"Bandit slack must not be negative, got {given}")
        self.slack_factor = None if slack_factor is None else float(slack_factor)
        self.slack_amount = None if slack_amount is None else float(slack_amount)

    def slack(self, best: float, goal: Goal) -> float:
        """How far from B a trial may fall before it is cancelled."""
        if self.slack_amount is not None:
            return self.slack_amount
        assert self.slack_factor is not None
        f = self.slack_factor
        return abs(best) * f / (1 + f) if goal == "Maximize" else abs(best) * f

    def judge(self, trial: str, n: int, scores: Mapping[str, list[float]], goal: Goal) -> Decision:
        bests = {name: best_of(values, goal) for name, values in scores.items()}
        leader = next(iter(bests))
        for name, value in bests.items():
            if is_better(value, bests[leader], goal):
                leader = name
        b, y = bests[leader], bests[trial]
        slack = self.slack(b, goal)
        if goal == "Maximize":
            limit, sign, side = b - slack, "-", "below"
            terminate = y < limit
        else:
            limit, sign, side = b + slack, "+", "above"
            terminate = y > limit
        verdict = side if terminate else "within"
        return Decision(
            terminate,
            f"bandit: best {num(y)} at interval {n} is {verdict} {num(b)} {sign} slack "
            f"{num(slack)} = {num(limit)} (best trial {leader})",
        )
