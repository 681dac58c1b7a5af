"""Random sampling: every parameter drawn independently from its distribution.

Determinism: the value of parameter ``name`` in trial ``index`` depends only on
(seed, index, name) through a SHA-256 derived ``random.Random`` (see ``trial_rng``). A
resumed sweep therefore continues the exact same stream whatever the history holds or the
order of calls, and adding or reordering parameters does not change the others' values.
Duplicates are possible in small finite spaces (draws are independent, as in Azure's
random sampling).

``sweep_seed(sweep_id)`` gives the default per-sweep seed; a ``seed`` from the sampling
algorithm's settings can be passed instead.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from amlite.domain.json_value import JsonValue
from amlite.domain.search_space import KINDS, Distribution
from amlite.sweep.parameter_values import draw, stable_int, trial_rng
from amlite.sweep.samplers._base import Sampler, TrialOutcome


def sweep_seed(sweep_id: str) -> int:
    """A stable 63-bit seed for a sweep, the same in every process and on every machine."""
    return stable_int("amlite.sweep.seed", sweep_id) >> 1


class RandomSampler(Sampler):
    """Independent draws, reproducible per (seed, index)."""

    algorithm = "Random"
    supported_kinds = frozenset(KINDS)

    def __init__(self, space: Mapping[str, Distribution], seed: int) -> None:
        super().__init__(space)
        self.seed = int(seed)

    def propose(self, index: int, history: Sequence[TrialOutcome]) -> dict[str, JsonValue] | None:
        if index < 0:
            raise ValueError(f"trial index must be >= 0, got {index}")
        return {
            name: draw(dist, trial_rng(self.seed, index, name)) for name, dist in self.space.items()
        }
