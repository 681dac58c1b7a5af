"""Random: per-(seed, index) determinism and every distribution checked statistically."""

from __future__ import annotations

import math
import statistics
from collections import Counter
from typing import Any

import pytest

from amlite.domain.search_space import parse_search_space
from amlite.sweep.samplers import RandomSampler, TrialOutcome, make_sampler

DRAWS = 4000


def _draws(raw: Any, seed: int = 7) -> list[Any]:
    sampler = RandomSampler(parse_search_space({"p": raw}), seed)
    return [sampler.propose(i, [])["p"] for i in range(DRAWS)]  # type: ignore[index]


SPACE = {
    "lr": ["loguniform", [-9, -2]],
    "batch": ["choice", [[16, 32, 64]]],
    "layers": ["randint", [5]],
    "dropout": ["quniform", [0, 0.5, 0.05]],
}


def test_same_seed_and_index_give_the_same_values_whatever_the_call_order() -> None:
    space = parse_search_space(SPACE)
    forward = RandomSampler(space, 1234)
    first = [forward.propose(i, []) for i in range(20)]
    backward = RandomSampler(space, 1234)
    last_first = {i: backward.propose(i, []) for i in reversed(range(20))}
    assert first == [last_first[i] for i in range(20)]
    history = [TrialOutcome(i, p or {}, "complete", 0.1 * i) for i, p in enumerate(first[:5])]
    assert backward.propose(7, history) == first[7]  # the history is not consulted


def test_different_seeds_and_indices_differ() -> None:
    space = parse_search_space(SPACE)
    a, b = RandomSampler(space, 1), RandomSampler(space, 2)
    assert [a.propose(i, []) for i in range(10)] != [b.propose(i, []) for i in range(10)]
    assert len({a.propose(i, [])["lr"] for i in range(50)}) == 50  # type: ignore[index]


def test_adding_a_parameter_keeps_the_others_values() -> None:
    small = RandomSampler(parse_search_space({"lr": SPACE["lr"]}), 5)
    big = RandomSampler(parse_search_space(SPACE), 5)
    for i in range(10):
        assert small.propose(i, [])["lr"] == big.propose(i, [])["lr"]  # type: ignore[index]


def test_choice_is_uniform_over_options() -> None:
    counts = Counter(_draws(["choice", [["a", "b", "c", "d"]]]))
    assert set(counts) == {"a", "b", "c", "d"}
    assert all(abs(c / DRAWS - 0.25) < 0.03 for c in counts.values())


def test_randint_is_in_zero_to_upper_exclusive() -> None:
    values = _draws(["randint", [7]])
    assert all(isinstance(v, int) for v in values)
    assert set(values) == set(range(7))
    assert abs(statistics.fmean(values) - 3.0) < 0.1


def test_uniform() -> None:
    values = _draws(["uniform", [2, 5]])
    assert all(2 <= v <= 5 for v in values)
    assert abs(statistics.fmean(values) - 3.5) < 0.07
    assert abs(sum(v < 2.75 for v in values) / DRAWS - 0.25) < 0.03


def test_loguniform_is_exp_of_uniform() -> None:
    values = _draws(["loguniform", [0, 2]])
    assert all(1 <= v <= math.exp(2) for v in values)
    logs = [math.log(v) for v in values]
    assert abs(statistics.fmean(logs) - 1.0) < 0.05
    assert abs(sum(v < math.e for v in values) / DRAWS - 0.5) < 0.03  # half below e^1


def test_quniform_rounds_to_integral_q_as_ints() -> None:
    values = _draws(["quniform", [0, 10, 2]])
    assert all(isinstance(v, int) for v in values)
    assert set(values) == {0, 2, 4, 6, 8, 10}
    # x/2 ~ U(0, 5) rounded: 4 gets [3.5, 4.5) of 5 = 20%, the edge 0 gets [0, 0.5) = 10%
    counts = Counter(values)
    assert abs(counts[8] / DRAWS - 0.2) < 0.03
    assert abs(counts[0] / DRAWS - 0.1) < 0.03


def test_quniform_with_fractional_q() -> None:
    values = _draws(["quniform", [0, 1, 0.1]])
    allowed = {round(0.1 * k, 1) for k in range(11)}
    assert set(values) == allowed  # exact decimals, e.g. 0.3 and not 0.30000000000000004


def test_qloguniform() -> None:
    values = _draws(["qloguniform", [0, 3, 0.5]])
    assert all(v / 0.5 == int(v / 0.5) for v in values)
    assert all(1 <= v <= 20.0 for v in values)  # exp(0) = 1 .. exp(3) = 20.09 -> 20.0
    assert abs(sum(v <= 4.5 for v in values) / DRAWS - 1.5 / 3) < 0.04  # exp(1.5) = 4.48


def test_normal() -> None:
    values = _draws(["normal", [10, 2]])
    assert abs(statistics.fmean(values) - 10) < 0.15
    assert abs(statistics.stdev(values) - 2) < 0.1
    assert min(values) < 6 and max(values) > 14  # unbounded tails


def test_lognormal_is_exp_of_normal() -> None:
    values = _draws(["lognormal", [0, 0.5]])
    assert all(v > 0 for v in values)
    logs = [math.log(v) for v in values]
    assert abs(statistics.fmean(logs)) < 0.03
    assert abs(statistics.stdev(logs) - 0.5) < 0.03


def test_qnormal() -> None:
    values = _draws(["qnormal", [0, 5, 1]])
    assert all(isinstance(v, int) for v in values)
    assert abs(statistics.fmean(values)) < 0.3
    assert abs(statistics.stdev(values) - 5) < 0.25


def test_qlognormal() -> None:
    values = _draws(["qlognormal", [1, 0.3, 0.1]])
    assert all(isinstance(v, float) and v == round(v, 1) for v in values)  # multiples of 0.1
    assert all(v >= 0 for v in values)
    assert abs(statistics.median(values) - math.e) < 0.1  # median of exp(N(1, .3)) is e


def test_nested_choice_draws_the_chosen_options_distributions() -> None:
    raw = {
        "model": {
            "type": "choice",
            "values": [
                {"type": "svm", "C": {"type": "uniform", "min_value": 0, "max_value": 1}},
                {"type": "forest", "depth": ["randint", [10]], "criterion": "gini"},
            ],
        }
    }
    sampler = make_sampler("Random", parse_search_space(raw), seed=3, goal="Maximize")
    models = [sampler.propose(i, [])["model"] for i in range(400)]  # type: ignore[index]
    svms = [m for m in models if m["type"] == "svm"]
    forests = [m for m in models if m["type"] == "forest"]
    assert len(svms) + len(forests) == 400 and 150 < len(svms) < 250
    assert all(set(m) == {"type", "C"} and 0 <= m["C"] <= 1 for m in svms)
    assert all(set(m) == {"type", "depth", "criterion"} for m in forests)
    assert {m["depth"] for m in forests} == set(range(10))
    assert all(m["criterion"] == "gini" for m in forests)


def test_random_size_is_the_finite_space_size() -> None:
    assert RandomSampler(parse_search_space({"a": ["choice", [[1, 2, 3]]]}), 0).size() == 3
    assert RandomSampler(parse_search_space({"a": ["uniform", [0, 1]]}), 0).size() is None


def test_unknown_algorithm() -> None:
    with pytest.raises(ValueError, match="unknown sampling algorithm"):
        make_sampler("Sobol", parse_search_space(SPACE), seed=0, goal="Maximize")
