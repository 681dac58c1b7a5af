"""Early-termination policies: which running trials of a sweep to cancel (pure).

``make_policy`` is the registry, keyed by the wire ``policyType``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from amlite.sweep.policies._bandit import BanditPolicy
from amlite.sweep.policies._base import Decision, Policy
from amlite.sweep.policies._median import MedianStoppingPolicy
from amlite.sweep.policies._truncation import (
    DEFAULT_TRUNCATION_PERCENTAGE,
    TruncationSelectionPolicy,
)


def _bandit(spec: Mapping[str, Any], common: dict[str, Any]) -> Policy:
    return BanditPolicy(
        slack_factor=spec.get("slackFactor"), slack_amount=spec.get("slackAmount"), **common
    )


def _median(spec: Mapping[str, Any], common: dict[str, Any]) -> Policy:
    return MedianStoppingPolicy(**common)


def _truncation(spec: Mapping[str, Any], common: dict[str, Any]) -> Policy:
    return TruncationSelectionPolicy(
        truncation_percentage=spec.get("truncationPercentage"), **common
    )


POLICIES: dict[str, Callable[[Mapping[str, Any], dict[str, Any]], Policy]] = {
    "bandit": _bandit,
    "medianstopping": _median,
    "truncationselection": _truncation,
}


def make_policy(spec: Mapping[str, Any] | None) -> Policy | None:
    """The policy of a wire ``earlyTermination`` dict (spec casing), None when there is none.

    Keys: ``policyType`` (Bandit | MedianStopping | TruncationSelection; any casing, the
    YAML spellings ``median_stopping``/``truncation_selection`` too), ``evaluationInterval``
    (0 or absent means 1), ``delayEvaluation`` (absent means 0), ``slackFactor`` /
    ``slackAmount`` (Bandit, exactly one), ``truncationPercentage`` (1-99, absent means 10).
    Raises ValueError for an unknown type or bad settings.
    """
    if not spec or spec.get("policyType") is None:
        return None
    kind = str(spec["policyType"])
    factory = POLICIES.get(kind.replace("_", "").lower())
    if factory is None:
        raise ValueError(
            f"unknown policyType {kind!r}; one of Bandit, MedianStopping, TruncationSelection"
        )
    common = {
        "evaluation_interval": spec.get("evaluationInterval"),
        "delay_evaluation": spec.get("delayEvaluation"),
    }
    return factory(spec, common)


__all__ = [
    "DEFAULT_TRUNCATION_PERCENTAGE",
    "POLICIES",
    "BanditPolicy",
    "Decision",
    "MedianStoppingPolicy",
    "Policy",
    "TruncationSelectionPolicy",
    "make_policy",
]
