"""Early-termination policies: which running trials of a sweep to cancel (pure).

``make_policy`` builds the policy of a sweep's typed ``earlyTermination``
(``amlite.domain.specs.EarlyTermination``); ``POLICIES`` is the registry, keyed by its
``policyType``.
"""

from __future__ import annotations

from collections.abc import Callable

from amlite.domain.specs import (
    BanditTermination,
    EarlyTermination,
    MedianStoppingTermination,
    TruncationSelectionTermination,
)
from amlite.sweep.policies._bandit import Bandit
from amlite.sweep.policies._base import Decision, Policy
from amlite.sweep.policies._median import MedianStopping
from amlite.sweep.policies._truncation import (
    DEFAULT_TRUNCATION_PERCENTAGE,
    TruncationSelection,
)


def _bandit(spec: EarlyTermination) -> Policy:
    assert isinstance(spec, BanditTermination)
    return Bandit(
        slack_factor=spec.slack_factor,
        slack_amount=spec.slack_amount,
        evaluation_interval=spec.evaluation_interval,
        delay_evaluation=spec.delay_evaluation,
    )


def _median(spec: EarlyTermination) -> Policy:
    return MedianStopping(
        evaluation_interval=spec.evaluation_interval, delay_evaluation=spec.delay_evaluation
    )


def _truncation(spec: EarlyTermination) -> Policy:
    assert isinstance(spec, TruncationSelectionTermination)
    return TruncationSelection(
        truncation_percentage=spec.truncation_percentage,
        evaluation_interval=spec.evaluation_interval,
        delay_evaluation=spec.delay_evaluation,
    )


POLICIES: dict[str, Callable[[EarlyTermination], Policy]] = {
    BanditTermination.kind: _bandit,
    MedianStoppingTermination.kind: _median,
    TruncationSelectionTermination.kind: _truncation,
}


def make_policy(spec: EarlyTermination | None) -> Policy | None:
    """The policy of a sweep's ``earlyTermination``, None when it has none.

    ``evaluationInterval`` 0 or absent means 1, ``delayEvaluation`` absent means 0, Bandit
    takes exactly one of ``slackFactor`` / ``slackAmount``, ``truncationPercentage`` absent
    means 10. Raises ValueError for settings a policy cannot run with.
    """
    if spec is None:
        return None
    return POLICIES[spec.kind](spec)


__all__ = [
    "DEFAULT_TRUNCATION_PERCENTAGE",
    "POLICIES",
    "Bandit",
    "Decision",
    "MedianStopping",
    "Policy",
    "TruncationSelection",
    "make_policy",
]
