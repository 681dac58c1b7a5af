"""TruncationSelection: hand-computed tables, floor rounding, ties, the 2-trial minimum."""

from __future__ import annotations

import pytest

from amlite.domain.spec_codec import decode_early_termination
from amlite.sweep.policies import TruncationSelection, make_policy

# Maximize. Best of the first min(N, count) values:
#                      N = 1   N = 2
#   a [0.1, 0.9, 0.95]  0.1     0.9
#   b [0.5, 0.4]        0.5     0.5
#   c [0.3]             0.3     0.3   (one value)
#   d [0.7, 0.2]        0.7     0.7
#   e [0.2, 0.35, 0.99] 0.2     0.35  (0.99 is interval 3: ignored at N = 2)
# N = 2 ranking: a 0.9 > d 0.7 > b 0.5 > e 0.35 > c 0.3  (count 5)
# N = 1 ranking: d 0.7 > b 0.5 > c 0.3 > e 0.2 > a 0.1
MAX = {
    "a": [0.1, 0.9, 0.95],
    "b": [0.5, 0.4],
    "c": [0.3],
    "d": [0.7, 0.2],
    "e": [0.2, 0.35, 0.99],
}


@pytest.mark.parametrize(
    ("percentage", "n", "trial", "terminate"),
    [
        # p 40, count 5: k = floor(0.4 * 5) = 2 -> worst two at N = 2 are e, c
        (40, 2, "a", False),
        (40, 2, "b", False),  # 3rd of 5
        (40, 2, "d", False),
        (40, 2, "e", True),  # 4th of 5: 3 trials better >= 5 - 2
        # p 30: k = floor(1.5) = 1 -> only c is cut; e (4th) continues
        (30, 2, "e", False),
        # p 19: k = floor(0.95) = 0 -> nobody is cut, not even the worst
        (19, 1, "a", False),
        # N = 1, p 40, k = 2 -> worst two are e 0.2 and a 0.1
        (40, 1, "a", True),  # 5th of 5
        (40, 1, "e", True),  # 4th of 5
        (40, 1, "c", False),  # 3rd of 5
    ],
)
def test_maximize(percentage: int, n: int, trial: str, terminate: bool) -> None:
    policy = TruncationSelection(truncation_percentage=percentage)
    assert policy.decide(trial, n, MAX, "Maximize").terminate is terminate


# Minimize, N = 2. Best = min of the first min(2, count) values:
#   a [3, 1] -> 1;  b [2, 4] -> 2;  c [5, 6] -> 5;  d [4] -> 4;  e [9, 8, 0] -> 8 (0 ignored)
# ranking: a 1 < b 2 < d 4 < c 5 < e 8  (count 5)
MIN = {"a": [3, 1], "b": [2, 4], "c": [5, 6], "d": [4], "e": [9, 8, 0]}


@pytest.mark.parametrize(
    ("percentage", "trial", "terminate"),
    [
        # p 25: k = floor(1.25) = 1 -> e only
        (25, "e", True),
        (25, "c", False),
        (25, "a", False),
        # p 40: k = 2 -> e and c
        (40, "c", True),
        (40, "b", False),
        # p 99: k = floor(4.95) = 4 -> everyone but the best
        (99, "b", True),
        (99, "a", False),
    ],
)
def test_minimize(percentage: int, trial: str, terminate: bool) -> None:
    policy = TruncationSelection(truncation_percentage=percentage)
    assert policy.decide(trial, 2, MIN, "Minimize").terminate is terminate


def test_ties_are_resolved_in_the_trials_favour() -> None:
    # N = 1, p 50, count 4 -> k = 2. h 0.9 > f 0.5 = g 0.5 > i 0.2.
    # i: 3 better >= 4 - 2 -> cut. f and g: only h is strictly better (1 < 2) -> both kept,
    # so this round cuts one trial instead of two.
    histories = {"f": [0.5], "g": [0.5], "h": [0.9], "i": [0.2]}
    policy = TruncationSelection(truncation_percentage=50)
    assert [policy.decide(t, 1, histories, "Maximize").terminate for t in "fghi"] == [
        False,
        False,
        False,
        True,
    ]


def test_needs_two_trials() -> None:
    policy = TruncationSelection(truncation_percentage=99)
    assert policy.decide("a", 1, {"a": [0.1]}, "Maximize").terminate is False
    # two trials, p 50: k = 1 -> the worse one is cut
    assert policy.decide("a", 1, {"a": [0.1], "b": [0.2]}, "Maximize").terminate is True


def test_default_percentage_and_gating() -> None:
    policy = make_policy(
        decode_early_termination(
            {"policyType": "TruncationSelection", "delayEvaluation": 2, "evaluationInterval": 2}
        )
    )
    assert isinstance(policy, TruncationSelection)
    assert policy.truncation_percentage == 10
    assert [n for n in range(1, 9) if policy.should_evaluate(n)] == [2, 4, 6, 8]
    # 10 trials, p 10 -> k = 1: the worst of ten is cut, at N = 2 but not at N = 3
    histories = {f"t{i}": [float(i)] * 4 for i in range(10)}
    assert policy.decide("t0", 2, histories, "Maximize").terminate is True
    assert policy.decide("t0", 3, histories, "Maximize").terminate is False
    assert policy.decide("t1", 2, histories, "Maximize").terminate is False


def test_reason() -> None:
    policy = TruncationSelection(truncation_percentage=40)
    assert policy.decide("e", 2, MAX, "Maximize").reason == (
        "truncation selection: best 0.35 at interval 2 ranks 4 of 5, in the worst 2 (40%)"
    )


@pytest.mark.parametrize("bad", [0, 100, -5, True])
def test_percentage_range(bad: int) -> None:
    with pytest.raises(ValueError, match="truncationPercentage"):
        TruncationSelection(truncation_percentage=bad)
