"""make_policy: the policy of a typed earlyTermination (decoded from its wire form)."""

from __future__ import annotations

from typing import Any

import pytest

from amlite.domain.spec_codec import decode_early_termination
from amlite.sweep.policies import (
    Bandit,
    Decision,
    MedianStopping,
    Policy,
    TruncationSelection,
    make_policy,
)


def policy_of(wire: dict[str, Any]) -> Policy | None:
    return make_policy(decode_early_termination(wire))


def test_no_policy() -> None:
    assert make_policy(None) is None


def test_each_type() -> None:
    bandit = policy_of(
        {"policyType": "Bandit", "slackFactor": 0.1, "evaluationInterval": 2, "delayEvaluation": 4}
    )
    assert isinstance(bandit, Bandit)
    assert (bandit.slack_factor, bandit.slack_amount) == (0.1, None)
    assert (bandit.evaluation_interval, bandit.delay_evaluation) == (2, 4)
    median = policy_of({"policyType": "MedianStopping"})
    assert isinstance(median, MedianStopping)
    assert (median.evaluation_interval, median.delay_evaluation) == (1, 0)
    truncation = policy_of({"policyType": "TruncationSelection", "truncationPercentage": 20})
    assert isinstance(truncation, TruncationSelection)
    assert truncation.truncation_percentage == 20


@pytest.mark.parametrize(
    "spec",
    [
        {"policyType": "Hyperband"},
        {"policyType": "Bandit"},
        {"policyType": "Bandit", "slackFactor": 0.1, "slackAmount": 0.2},
        {"policyType": "MedianStopping", "evaluationInterval": -1},
        {"policyType": "MedianStopping", "delayEvaluation": 1.5},
        {"policyType": "TruncationSelection", "truncationPercentage": 0},
    ],
)
def test_bad_specs(spec: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        policy_of(spec)


def test_decision_is_a_pair() -> None:
    terminate, reason = Decision(True, "why")
    assert terminate is True and reason == "why"


def test_goal_casing_and_unknown_goal() -> None:
    policy = policy_of({"policyType": "Bandit", "slackAmount": 0})
    assert policy is not None
    histories = {"a": [1.0], "b": [2.0]}
    assert policy.decide("a", 1, histories, "maximize").terminate is True
    assert policy.decide("a", 1, histories, "MINIMIZE").terminate is False
    with pytest.raises(ValueError, match="goal"):
        policy.decide("a", 1, histories, "up")
