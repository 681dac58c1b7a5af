"""Samplers: which hyperparameters each trial of a sweep gets (pure, restartable).

``make_sampler`` is the registry, keyed by the wire ``samplingAlgorithmType``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from amlite.domain.search_space import Distribution
from amlite.sweep.samplers._base import Goal, Sampler, TrialOutcome, TrialState, normalize_goal
from amlite.sweep.samplers._bayesian import BayesianSampler
from amlite.sweep.samplers._grid import GridSampler
from amlite.sweep.samplers._random import RandomSampler, sweep_seed

_Factory = Callable[[Mapping[str, Distribution], int, str], Sampler]

SAMPLERS: dict[str, _Factory] = {
    "grid": lambda space, seed, goal: GridSampler(space),
    "random": lambda space, seed, goal: RandomSampler(space, seed),
    "bayesian": lambda space, seed, goal: BayesianSampler(space, seed=seed, goal=goal),
}


def make_sampler(
    algorithm: str, space: Mapping[str, Distribution], *, seed: int, goal: str
) -> Sampler:
    """The sampler for ``algorithm`` (Grid, Random or Bayesian, any casing).

    Raises ValueError for an unknown algorithm or a distribution the algorithm does not
    support (the message names the parameter).
    """
    factory = SAMPLERS.get(algorithm.lower())
    if factory is None:
        raise ValueError(f"unknown sampling algorithm {algorithm!r}; one of Grid, Random, Bayesian")
    return factory(space, seed, goal)


__all__ = [
    "SAMPLERS",
    "BayesianSampler",
    "Goal",
    "GridSampler",
    "RandomSampler",
    "Sampler",
    "TrialOutcome",
    "TrialState",
    "make_sampler",
    "normalize_goal",
    "sweep_seed",
]
