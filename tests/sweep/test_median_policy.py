"""MedianStopping: hand-computed tables, odd and even trial counts, both goals."""

from __future__ import annotations

import pytest

from amlite.sweep.policies import MedianStopping

# Maximize, N = 2. Per trial: first min(2, count) values -> mean, best.
#   a [1, 3, 10] -> [1, 3]: mean 2,    best 3   (10 is interval 3: ignored)
#   b [4, 6]     ->         mean 5,    best 6
#   c [0, 1.5]   ->         mean 0.75, best 1.5
# Odd count (3): means 0.75, 2, 5 -> median M = 2
ODD_MAX: dict[str, list[float]] = {"a": [1, 3, 10], "b": [4, 6], "c": [0, 1.5]}
# Even count (4): add e [8] (finished after one value) -> mean 8
#   means 0.75, 2, 5, 8 -> M = (2 + 5) / 2 = 3.5
EVEN_MAX = {**ODD_MAX, "e": [8]}


@pytest.mark.parametrize(
    ("histories", "trial", "terminate"),
    [
        (ODD_MAX, "a", False),  # 3   >= M 2
        (ODD_MAX, "b", False),  # 6   >= M 2
        (ODD_MAX, "c", True),  # 1.5 <  M 2
        (EVEN_MAX, "a", True),  # 3   <  M 3.5  (the even median changes a's fate)
        (EVEN_MAX, "b", False),  # 6   >= M 3.5
        (EVEN_MAX, "c", True),  # 1.5 <  M 3.5
    ],
)
def test_maximize(histories: dict[str, list[float]], trial: str, terminate: bool) -> None:
    policy = MedianStopping()
    assert policy.decide(trial, 2, histories, "Maximize").terminate is terminate


# Minimize, N = 2.
#   a [5, 3, 0] -> [5, 3]: mean 4,   best 3   (0 is interval 3: ignored)
#   b [2, 2]    ->         mean 2,   best 2
#   c [6, 5]    ->         mean 5.5, best 5
# Odd (3): means 2, 4, 5.5 -> M = 4
ODD_MIN = {"a": [5, 3, 0], "b": [2, 2], "c": [6, 5]}
# Even (4): add d [1] -> mean 1; means 1, 2, 4, 5.5 -> M = (2 + 4) / 2 = 3
EVEN_MIN = {**ODD_MIN, "d": [1]}


@pytest.mark.parametrize(
    ("histories", "trial", "terminate"),
    [
        (ODD_MIN, "a", False),  # 3 <= M 4
        (ODD_MIN, "b", False),  # 2 <= M 4
        (ODD_MIN, "c", True),  # 5 >  M 4
        (EVEN_MIN, "a", False),  # 3 == M 3: equal is not worse
        (EVEN_MIN, "b", False),  # 2 <= M 3
        (EVEN_MIN, "c", True),  # 5 >  M 3
    ],
)
def test_minimize(histories: dict[str, list[float]], trial: str, terminate: bool) -> None:
    policy = MedianStopping()
    assert policy.decide(trial, 2, histories, "Minimize").terminate is terminate


def test_needs_two_trials_with_the_metric() -> None:
    policy = MedianStopping()
    # alone: the median would be its own mean 5 and its best 1 is worse; still it continues
    assert policy.decide("a", 2, {"a": [9, 1]}, "Minimize").terminate is False
    # trials without the metric are not counted
    assert policy.decide("a", 2, {"a": [9, 1], "b": []}, "Minimize").terminate is False


def test_gating() -> None:
    # delay 3, interval 0 (= 1): evaluated at 3, 4, 5 ...
    policy = MedianStopping(delay_evaluation=3, evaluation_interval=0)
    histories = {"good": [10.0] * 5, "bad": [0.0] * 5}
    # at N: means good 10, bad 0 -> M = 5; bad's best 0 < 5
    decisions = [policy.decide("bad", n, histories, "Maximize").terminate for n in range(1, 6)]
    assert decisions == [False, False, True, True, True]


def test_reason() -> None:
    decision = MedianStopping().decide("c", 2, ODD_MAX, "Maximize")
    assert decision.reason == (
        "median stopping: best 1.5 at interval 2 is below the median 2 "
        "of the running averages of 3 trials"
    )
