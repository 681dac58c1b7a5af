"""Grid sampling: the cartesian product of ``choice`` parameters, walked in a fixed order.

Order: parameters in declaration order, each one's options in their listed order, the last
parameter varying fastest (``itertools.product`` order). For ``{a: [1, 2, 3], b: [x, y]}``
the trials are (1, x), (1, y), (2, x), (2, y), (3, x), (3, y).

Nested options: a choice option that is a dict becomes a dict value. Its constants are kept;
inner ``choice`` distributions are expanded in place (the option contributes the product of
its inner choices, in the same order), so ``choice({"opt": "sgd"}, {"opt": "adam",
"beta": choice(0.9, 0.99)})`` gives three values: ``{"opt": "sgd"}``,
``{"opt": "adam", "beta": 0.9}``, ``{"opt": "adam", "beta": 0.99}``. A grid point count is
therefore the product over parameters of each parameter's value count, where a choice counts
one per plain option plus, for a nested option, the product of its inner choices' counts
(``space_size``). Any other distribution kind raises ValueError.

Nothing is materialised: only the value count of every choice and option is kept (one
integer per node of the search space), and trial ``index`` is decoded directly: mixed radix
over the parameters, then, inside a choice, the option whose range holds the digit, and the
same decoding again inside a nested option. A grid of 10^8 points costs what its spec costs.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from amlite.domain.json_value import JsonValue
from amlite.domain.search_space import Choice, Distribution, Nested
from amlite.sweep.samplers._base import Sampler, TrialOutcome


@dataclass(frozen=True)
class _Axis:
    """One choice seen as a grid axis: its options, where each option's values start, and
    the counted shape of each nested option (None for a plain option)."""

    options: tuple[JsonValue | Nested, ...]
    starts: tuple[int, ...]
    nested: tuple[_Grid | None, ...]
    size: int

    def value(self, k: int) -> JsonValue:
        """The ``k``-th value of this axis (0 <= k < size)."""
        position = bisect_right(self.starts, k) - 1
        option, inner = self.options[position], self.nested[position]
        if isinstance(option, Nested):
            assert inner is not None  # _axis made every nested option's grid
            return inner.point(k - self.starts[position])
        return option


@dataclass(frozen=True)
class _Grid:
    """A product of axes (parameters or a nested option's keys); constants are kept."""

    names: tuple[str, ...]
    axes: tuple[_Axis | None, ...]  # None: a constant of a nested option
    constants: tuple[JsonValue, ...]
    size: int

    def point(self, index: int) -> dict[str, JsonValue]:
        """The ``index``-th point (0 <= index < size): mixed radix, the last axis fastest."""
        picks: list[JsonValue] = [None] * len(self.names)
        rest = index
        for i in range(len(self.names) - 1, -1, -1):
            axis = self.axes[i]
            if axis is None:
                picks[i] = self.constants[i]
            else:
                rest, digit = divmod(rest, axis.size)
                picks[i] = axis.value(digit)
        return dict(zip(self.names, picks, strict=True))


def _axis(dist: Distribution) -> _Axis:
    if not isinstance(dist, Choice):  # _check_kinds has rejected this already
        raise ValueError(f"Grid sampling supports choice only, got {dist.kind}")
    starts: list[int] = []
    nested: list[_Grid | None] = []
    total = 0
    for option in dist.options:
        starts.append(total)
        inner = _grid(option.params) if isinstance(option, Nested) else None
        nested.append(inner)
        total += 1 if inner is None else inner.size
    return _Axis(dist.options, tuple(starts), tuple(nested), total)


def _grid(params: Mapping[str, Distribution | JsonValue]) -> _Grid:
    names = tuple(params)
    axes = tuple(_axis(v) if isinstance(v, Distribution) else None for v in params.values())
    constants = tuple(None if isinstance(v, Distribution) else v for v in params.values())
    size = 1
    for axis in axes:
        if axis is not None:
            size *= axis.size
    return _Grid(names, axes, constants, size)


class GridSampler(Sampler):
    """Trial ``index`` is the ``index``-th point of the grid; None past the end."""

    algorithm = "Grid"
    supported_kinds = frozenset({"choice"})

    def __init__(self, space: Mapping[str, Distribution]) -> None:
        super().__init__(space)
        self._grid = _grid(self.space)

    def size(self) -> int:
        return self._grid.size

    def point(self, index: int) -> dict[str, JsonValue] | None:
        """The ``index``-th grid point, or None when ``index`` is past the end."""
        if index < 0:
            raise ValueError(f"trial index must be >= 0, got {index}")
        if index >= self._grid.size:
            return None
        return self._grid.point(index)

    def propose(self, index: int, history: Sequence[TrialOutcome]) -> dict[str, JsonValue] | None:
        return self.point(index)
