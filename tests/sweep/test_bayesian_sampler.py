"""Bayesian (Optuna TPE): determinism, history handling, allowed distributions, sanity."""

from __future__ import annotations

import statistics
from typing import Any

import pytest

from amlite.domain.search_space import parse_search_space
from amlite.sweep.samplers import BayesianSampler, TrialOutcome, make_sampler

SPACE = parse_search_space(
    {
        "lr": ["uniform", [0.0, 1.0]],
        "units": ["quniform", [16, 256, 16]],
        "opt": ["choice", [["sgd", "adam"]]],
    }
)


def _history(sampler: BayesianSampler, n: int) -> list[TrialOutcome]:
    """n finished trials scored by a simple function of lr."""
    history: list[TrialOutcome] = []
    for i in range(n):
        params = sampler.propose(i, history)
        assert params is not None
        history.append(TrialOutcome(i, params, "complete", -((params["lr"] - 0.3) ** 2)))
    return history


def test_same_history_gives_the_same_proposal() -> None:
    a = BayesianSampler(SPACE, seed=11, goal="Maximize")
    history = _history(a, 14)  # past the 10 startup trials: TPE proper
    b = BayesianSampler(SPACE, seed=11, goal="Maximize")
    assert a.propose(14, history) == b.propose(14, list(reversed(history)))
    assert a.propose(14, history) != BayesianSampler(SPACE, seed=12, goal="Maximize").propose(
        14, history
    )


def test_concurrent_indices_with_the_same_history_differ() -> None:
    sampler = BayesianSampler(SPACE, seed=3, goal="Maximize")
    history = _history(sampler, 12)
    assert sampler.propose(12, history) != sampler.propose(13, history)


def test_values_fit_the_space() -> None:
    sampler = BayesianSampler(SPACE, seed=5, goal="Minimize")
    history = _history(sampler, 25)
    for outcome in history:
        p = outcome.params
        assert 0.0 <= p["lr"] <= 1.0
        assert isinstance(p["units"], int) and p["units"] % 16 == 0 and 16 <= p["units"] <= 256
        assert p["opt"] in ("sgd", "adam")


def test_pruned_failed_running_and_foreign_trials_are_accepted() -> None:
    sampler = BayesianSampler(SPACE, seed=9, goal="Maximize")
    history = _history(sampler, 12)
    mixed = [
        *history,
        TrialOutcome(12, {"lr": 0.9, "units": 32, "opt": "sgd"}, "pruned", -0.36),
        TrialOutcome(13, {"lr": 0.8, "units": 32, "opt": "sgd"}, "pruned", None),
        TrialOutcome(14, {"lr": 0.7, "units": 48, "opt": "adam"}, "failed", None),
        TrialOutcome(15, {"lr": 0.6, "units": 48, "opt": "adam"}, "complete", None),
        TrialOutcome(16, {"lr": 0.31, "units": 64, "opt": "adam"}, "running", None),
        TrialOutcome(17, {"lr": 5.0, "units": 64, "opt": "adam"}, "complete", 1.0),  # off-space
        TrialOutcome(18, {"lr": 0.5, "units": 64, "opt": "rmsprop"}, "complete", 1.0),
        TrialOutcome(19, {"lr": 0.5}, "complete", 1.0),
    ]
    proposal = sampler.propose(20, mixed)
    assert proposal is not None and set(proposal) == {"lr", "units", "opt"}
    assert proposal == sampler.propose(20, mixed)


def test_choice_of_dicts_of_constants() -> None:
    space = parse_search_space(
        {
            "opt": ["choice", [[{"name": "sgd", "m": 0.9}, {"name": "adam"}]]],
            "x": ["uniform", [0, 1]],
        }
    )
    sampler = BayesianSampler(space, seed=1, goal="Minimize")
    history: list[TrialOutcome] = []
    for i in range(15):
        p = sampler.propose(i, history)
        assert p is not None and p["opt"] in ({"name": "sgd", "m": 0.9}, {"name": "adam"})
        history.append(TrialOutcome(i, p, "complete", p["x"] + (p["opt"]["name"] == "sgd")))


@pytest.mark.parametrize(
    "raw",
    [
        ["loguniform", [0, 1]],
        ["qloguniform", [0, 1, 1]],
        ["randint", [4]],
        ["normal", [0, 1]],
        ["lognormal", [0, 1]],
        ["qnormal", [0, 1, 1]],
        ["qlognormal", [0, 1, 1]],
        ["choice", [[{"name": "sgd", "lr": ["uniform", [0, 1]]}]]],
    ],
)
def test_only_choice_uniform_quniform(raw: Any) -> None:
    with pytest.raises(ValueError, match="Bayesian sampling"):
        make_sampler("Bayesian", parse_search_space({"p": raw}), seed=0, goal="Maximize")


def test_goal_must_be_known() -> None:
    with pytest.raises(ValueError, match="goal"):
        BayesianSampler(SPACE, seed=0, goal="Best")


def _distance_after(algorithm: str, seed: int, goal: str) -> float:
    """Median |x - 0.3| of trials 20..29 on a 1-D quadratic over [-5, 5]."""
    space = parse_search_space({"x": ["uniform", [-5, 5]]})
    sampler = make_sampler(algorithm, space, seed=seed, goal=goal)
    sign = 1 if goal == "Minimize" else -1
    history: list[TrialOutcome] = []
    for i in range(30):
        p = sampler.propose(i, history)
        assert p is not None
        history.append(TrialOutcome(i, p, "complete", sign * (p["x"] - 0.3) ** 2))
    return statistics.median(abs(o.params["x"] - 0.3) for o in history[20:])


@pytest.mark.parametrize("goal", ["Minimize", "Maximize"])
def test_tpe_concentrates_near_the_optimum_better_than_random(goal: str) -> None:
    bayes = [_distance_after("Bayesian", seed, goal) for seed in (1, 2, 3, 4)]
    random = [_distance_after("Random", seed, goal) for seed in (1, 2, 3, 4)]
    # Random stays ~2.5 away (uniform over a width-10 range); TPE is ~1 away by trial 20.
    assert statistics.fmean(bayes) < 0.6 * statistics.fmean(random), (bayes, random)
    assert max(bayes) < 1.5, bayes


def _pruned_trials(sampler: BayesianSampler) -> list[Any]:
    from optuna.trial import TrialState

    study = sampler._study
    assert study is not None
    return [t for t in study.trials if t.state is TrialState.PRUNED]


def test_a_trial_pruned_after_it_was_asked_carries_its_last_value() -> None:
    """The study learns a pruned trial's value through Optuna's public API."""
    sampler = BayesianSampler(SPACE, seed=3, goal="Maximize")
    history = _history(sampler, 4)
    params = sampler.propose(4, history)
    assert params is not None
    running = [*history, TrialOutcome(4, params, "running", None)]
    sampler.propose(5, running)
    pruned = [*history, TrialOutcome(4, params, "pruned", -0.42)]
    assert sampler.propose(5, pruned) is not None
    (trial,) = _pruned_trials(sampler)
    assert trial.intermediate_values == {1: -0.42}


def test_a_running_trial_readded_after_a_restart_is_rebuilt_when_pruned() -> None:
    """A fresh sampler (a restarted server) holds no asked Trial for a running one: a
    pruned outcome then rebuilds the study, with the same result as a sampler that saw it
    pruned from the start."""
    first = BayesianSampler(SPACE, seed=3, goal="Maximize")
    history = _history(first, 4)
    params = first.propose(4, history)
    assert params is not None
    restarted = BayesianSampler(SPACE, seed=3, goal="Maximize")
    restarted.propose(5, [*history, TrialOutcome(4, params, "running", None)])
    pruned = [*history, TrialOutcome(4, params, "pruned", -0.42)]
    after = restarted.propose(5, pruned)
    fresh = BayesianSampler(SPACE, seed=3, goal="Maximize")
    assert after == fresh.propose(5, pruned)
    (trial,) = _pruned_trials(restarted)
    assert trial.intermediate_values == {1: -0.42}
