"""Sweep jobs: samplers propose hyperparameters, policies pick trials to cancel.

Both families are pure (no I/O, no store): the controller rebuilds their inputs from the
store and acts on their answers.
"""

from __future__ import annotations

from amlite.sweep.parameter_values import format_value, substitutions
from amlite.sweep.policies import Decision, Policy, make_policy
from amlite.sweep.samplers import Sampler, TrialOutcome, make_sampler, sweep_seed

__all__ = [
    "Decision",
    "Policy",
    "Sampler",
    "TrialOutcome",
    "format_value",
    "make_policy",
    "make_sampler",
    "substitutions",
    "sweep_seed",
]
