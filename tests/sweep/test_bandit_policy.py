"""Bandit: hand-computed tables for both goals, slackFactor and slackAmount, negative B.

Every trial is judged at interval N; each trial in the histories counts with its first
min(N, count) values.
"""

from __future__ import annotations

from typing import Any

import pytest

from amlite.domain.spec_codec import decode_early_termination
from amlite.sweep.policies import Bandit, make_policy

# Maximize, N = 3. Each trial's best of its first min(3, count) values:
#   a [0.5, 0.7, 0.8, 0.99] -> 0.8  (0.99 is interval 4: not seen at N = 3)
#   e [0.85]                -> 0.85 (finished after one value; still counts)  => B = 0.85 (e)
#   b [0.6, 0.66, 0.64]     -> 0.66
#   d [0.70, 0.60, 0.65]    -> 0.70
#   f [0.1, 0.2, 0.3]       -> 0.3
MAX_HISTORIES = {
    "a": [0.5, 0.7, 0.8, 0.99],
    "e": [0.85],
    "b": [0.6, 0.66, 0.64],
    "d": [0.70, 0.60, 0.65],
    "f": [0.1, 0.2, 0.3],
}


@pytest.mark.parametrize(
    ("trial", "terminate"),
    [
        # slackFactor 0.25: slack = |0.85|*0.25/1.25 = 0.17, limit = 0.85 - 0.17 = 0.68
        ("a", False),  # 0.80 >= 0.68
        ("b", True),  # 0.66 <  0.68
        ("d", False),  # 0.70 >= 0.68
        ("f", True),  # 0.30 <  0.68
    ],
)
def test_maximize_slack_factor(trial: str, terminate: bool) -> None:
    policy = Bandit(slack_factor=0.25)
    assert policy.decide(trial, 3, MAX_HISTORIES, "Maximize").terminate is terminate


@pytest.mark.parametrize(
    ("trial", "terminate"),
    [
        # slackAmount 0.1: limit = 0.85 - 0.1 = 0.75
        ("a", False),  # 0.80 >= 0.75
        ("b", True),  # 0.66 <  0.75
        ("d", True),  # 0.70 <  0.75 (kept by the factor rule above)
        ("f", True),  # 0.30 <  0.75
    ],
)
def test_maximize_slack_amount(trial: str, terminate: bool) -> None:
    policy = Bandit(slack_amount=0.1)
    assert policy.decide(trial, 3, MAX_HISTORIES, "Maximize").terminate is terminate


def test_maximize_at_interval_four_sees_the_later_value() -> None:
    # N = 4: a's best is now 0.99 = B; slack = 0.99*0.25/1.25 = 0.198, limit 0.792.
    # d (3 values) counts with min(4, 3) = 3 -> 0.70 < 0.792; a itself is the best.
    policy = Bandit(slack_factor=0.25)
    assert policy.decide("a", 4, MAX_HISTORIES, "Maximize").terminate is False
    assert policy.decide("d", 4, MAX_HISTORIES, "Maximize").terminate is True


# Maximize with a negative metric, N = 2, slackFactor 0.5:
#   g [-2.0, -1.0] -> -1.0 = B;  h [-1.5, -1.4] -> -1.4;  i [-1.3, -1.25] -> -1.25
#   slack = |-1.0|*0.5/1.5 = 0.3333, limit = -1.3333
#   (with B instead of |B| the limit would be -0.6667 and i would be wrongly cancelled)
NEGATIVE_MAX = {"g": [-2.0, -1.0], "h": [-1.5, -1.4], "i": [-1.3, -1.25]}


@pytest.mark.parametrize(
    ("trial", "terminate"),
    [
        ("g", False),  # -1.00 is B
        ("h", True),  # -1.40 < -1.3333
        ("i", False),  # -1.25 >= -1.3333
    ],
)
def test_maximize_negative_best_uses_its_absolute_value(trial: str, terminate: bool) -> None:
    policy = Bandit(slack_factor=0.5)
    assert policy.decide(trial, 2, NEGATIVE_MAX, "Maximize").terminate is terminate


# Minimize, N = 2. Best = min of the first min(2, count) values:
#   p [1.0, 0.5, 0.1] -> 0.5 = B (0.1 is interval 3)
#   q [0.8, 0.7]      -> 0.7
#   r [0.58, 0.9]     -> 0.58
#   s [0.65]          -> 0.65 (one value)
MIN_HISTORIES = {"p": [1.0, 0.5, 0.1], "q": [0.8, 0.7], "r": [0.58, 0.9], "s": [0.65]}


@pytest.mark.parametrize(
    ("spec", "trial", "terminate"),
    [
        # slackFactor 0.2: limit = 0.5 + |0.5|*0.2 = 0.6
        ({"slackFactor": 0.2}, "p", False),  # 0.5 is B
        ({"slackFactor": 0.2}, "q", True),  # 0.70 > 0.6
        ({"slackFactor": 0.2}, "r", False),  # 0.58 <= 0.6
        # slackAmount 0.15: limit = 0.5 + 0.15 = 0.65
        ({"slackAmount": 0.15}, "q", True),  # 0.70 > 0.65
        ({"slackAmount": 0.15}, "r", False),  # 0.58 <= 0.65
    ],
)
def test_minimize(spec: dict[str, float], trial: str, terminate: bool) -> None:
    policy = make_policy(decode_early_termination({"policyType": "Bandit", **spec}))
    assert policy is not None
    assert policy.decide(trial, 2, MIN_HISTORIES, "Minimize").terminate is terminate


# Minimize with a negative metric, N = 2, slackFactor 0.5:
#   t [-4.0] -> -4.0 = B;  u [-3.0, -2.5] -> -3.0;  v [-1.0, -1.5] -> -1.5
#   limit = -4 + |-4|*0.5 = -2.0 (with B instead of |B|: -6, and u would be cancelled)
NEGATIVE_MIN = {"t": [-4.0], "u": [-3.0, -2.5], "v": [-1.0, -1.5]}


@pytest.mark.parametrize(("trial", "terminate"), [("u", False), ("v", True)])
def test_minimize_negative_best(trial: str, terminate: bool) -> None:
    # u: -3.0 <= -2.0 continues; v: -1.5 > -2.0 is cancelled
    policy = Bandit(slack_factor=0.5)
    assert policy.decide(trial, 2, NEGATIVE_MIN, "Minimize").terminate is terminate


def test_gating_by_delay_and_interval() -> None:
    # delay 5, interval 2: evaluated at 6, 8, 10 ... (multiples of 2 that are >= 5)
    policy = Bandit(slack_amount=0.0, delay_evaluation=5, evaluation_interval=2)
    assert [n for n in range(1, 11) if policy.should_evaluate(n)] == [6, 8, 10]
    histories = {"best": [9.0] * 10, "bad": [0.0] * 10}
    for n in range(1, 11):
        # "bad" is far below the best; it is cancelled only when the policy is due
        assert policy.decide("bad", n, histories, "Maximize").terminate is (n in (6, 8, 10))


def test_interval_zero_means_every_value() -> None:
    policy = Bandit(slack_factor=0.1, evaluation_interval=0)
    assert all(policy.should_evaluate(n) for n in range(1, 6))
    assert not policy.should_evaluate(0)


def test_reason_names_the_numbers_and_the_best_trial() -> None:
    decision = Bandit(slack_factor=0.25).decide("b", 3, MAX_HISTORIES, "Maximize")
    assert decision == (
        True,
        "bandit: best 0.66 at interval 3 is below 0.85 - slack 0.17 = 0.68 (best trial e)",
    )
    kept = Bandit(slack_factor=0.2).decide("r", 2, MIN_HISTORIES, "Minimize")
    assert kept.reason == (
        "bandit: best 0.58 at interval 2 is within 0.5 + slack 0.1 = 0.6 (best trial p)"
    )


def test_a_lone_trial_or_one_without_the_metric_continues() -> None:
    policy = Bandit(slack_amount=0.0)
    assert policy.decide("x", 1, {"x": [0.1]}, "Maximize").terminate is False
    assert policy.decide("y", 1, {"x": [0.9], "y": []}, "Maximize").terminate is False
    assert policy.decide("z", 1, {"x": [0.9]}, "Maximize").terminate is False


@pytest.mark.parametrize(
    "kwargs",
    [{}, {"slack_factor": 0.1, "slack_amount": 0.1}, {"slack_factor": -0.1}],
)
def test_exactly_one_non_negative_slack(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        Bandit(**kwargs)
