"""Grid sampling: the cartesian product of ``choice`` parameters, walked in a fixed order.

Order: parameters in declaration order, each one's options in their listed order, the last
parameter varying fastest (``itertools.product`` order). For ``{a: [1, 2, 3], b: [x, y]}``
the trials are (1, x), (1, y), (2, x), (2, y), (3, x), (3, y). Trial ``index`` is computed
directly (mixed radix), so nothing is materialized and the history is not needed.

Nested options: a choice option that is a dict becomes a dict value. Its constants are kept;
inner ``choice`` distributions are expanded in place (the option contributes the product of
its inner choices, in the same order), so ``choice({"opt": "sgd"}, {"opt": "adam",
"beta": choice(0.9, 0.99)})`` gives three values: ``{"opt": "sgd"}``,
``{"opt": "adam", "beta": 0.9}``, ``{"opt": "adam", "beta": 0.99}``. This matches
``space_size``. Any other distribution kind raises ValueError.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from typing import Any

from amlite.domain.search_space import Choice, Distribution, Nested
from amlite.sweep.samplers._base import Sampler, TrialOutcome


def _choice_values(dist: Distribution) -> list[Any]:
    """Every grid value of one choice parameter, in order."""
    if not isinstance(dist, Choice):  # _check_kinds has rejected this already
        raise ValueError(f"Grid sampling supports choice only, got {dist.kind}")
    values: list[Any] = []
    for option in dist.options:
        values.extend(_nested_values(option) if isinstance(option, Nested) else [option])
    return values


def _nested_values(option: Nested) -> list[dict[str, Any]]:
    keys = list(option.params)
    axes: list[list[Any]] = [
        _choice_values(v) if isinstance(v, Distribution) else [v] for v in option.params.values()
    ]
    return [dict(zip(keys, combo, strict=True)) for combo in itertools.product(*axes)]


class GridSampler(Sampler):
    """Trial ``index`` is the ``index``-th point of the grid; None past the end."""

    algorithm = "Grid"
    supported_kinds = frozenset({"choice"})

    def __init__(self, space: Mapping[str, Distribution]) -> None:
        super().__init__(space)
        self._names = list(self.space)
        self._axes = [_choice_values(d) for d in self.space.values()]

    def size(self) -> int:
        total = 1
        for axis in self._axes:
            total *= len(axis)
        return total

    def point(self, index: int) -> dict[str, Any] | None:
        """The ``index``-th grid point, or None when ``index`` is past the end."""
        if index < 0:
            raise ValueError(f"trial index must be >= 0, got {index}")
        if index >= self.size():
            return None
        picks: list[Any] = []
        rest = index
        for axis in reversed(self._axes):
            rest, position = divmod(rest, len(axis))
            picks.append(axis[position])
        picks.reverse()
        return dict(zip(self._names, picks, strict=True))

    def propose(self, index: int, history: Sequence[TrialOutcome]) -> dict[str, Any] | None:
        return self.point(index)
