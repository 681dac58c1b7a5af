"""Grid: cartesian product in declaration order, exhaustion, nested constant options."""

from __future__ import annotations

import pytest

from amlite.domain.search_space import parse_search_space, space_size
from amlite.sweep.samplers import GridSampler, TrialOutcome, make_sampler


def test_three_by_two_grid_in_declaration_order_then_exhausted() -> None:
    space = parse_search_space(
        {"lr": ["choice", [[0.1, 0.01, 0.001]]], "opt": ["choice", [["sgd", "adam"]]]}
    )
    grid = make_sampler("Grid", space, seed=1, goal="Maximize")
    points = [grid.propose(i, []) for i in range(6)]
    assert points == [
        {"lr": 0.1, "opt": "sgd"},
        {"lr": 0.1, "opt": "adam"},
        {"lr": 0.01, "opt": "sgd"},
        {"lr": 0.01, "opt": "adam"},
        {"lr": 0.001, "opt": "sgd"},
        {"lr": 0.001, "opt": "adam"},
    ]
    assert grid.propose(6, []) is None
    assert grid.propose(1000, []) is None
    assert grid.size() == 6 == space_size(space)


def test_declaration_order_decides_which_parameter_varies_fastest() -> None:
    space = parse_search_space({"b": ["choice", [[1, 2]]], "a": ["choice", [["x", "y", "z"]]]})
    grid = GridSampler(space)
    assert [grid.point(i) for i in range(3)] == [
        {"b": 1, "a": "x"},
        {"b": 1, "a": "y"},
        {"b": 1, "a": "z"},
    ]


def test_history_and_call_order_do_not_matter() -> None:
    space = parse_search_space({"n": ["choice", [[1, 2, 3]]]})
    grid = GridSampler(space)
    history = [TrialOutcome(0, {"n": 1}, "complete", 0.5), TrialOutcome(1, {"n": 2}, "failed")]
    assert grid.propose(2, history) == {"n": 3}
    assert grid.propose(0, history) == {"n": 1}


def test_nested_options_flatten_into_dicts_and_expand_inner_choices() -> None:
    space = parse_search_space(
        {
            "optimizer": {
                "type": "choice",
                "values": [
                    {"name": "sgd"},
                    {"name": "adam", "beta": {"type": "choice", "values": [0.9, 0.99]}},
                ],
            },
            "epochs": ["choice", [[5, 10]]],
        }
    )
    grid = GridSampler(space)
    assert grid.size() == 6 == space_size(space)
    assert [grid.point(i) for i in range(7)] == [
        {"optimizer": {"name": "sgd"}, "epochs": 5},
        {"optimizer": {"name": "sgd"}, "epochs": 10},
        {"optimizer": {"name": "adam", "beta": 0.9}, "epochs": 5},
        {"optimizer": {"name": "adam", "beta": 0.9}, "epochs": 10},
        {"optimizer": {"name": "adam", "beta": 0.99}, "epochs": 5},
        {"optimizer": {"name": "adam", "beta": 0.99}, "epochs": 10},
        None,
    ]


@pytest.mark.parametrize(
    "raw",
    [
        {"lr": ["uniform", [0, 1]]},
        {"m": ["choice", [[{"name": "sgd", "lr": ["uniform", [0, 1]]}]]]},
    ],
)
def test_only_choice_is_allowed(raw: dict[str, object]) -> None:
    with pytest.raises(ValueError, match="Grid sampling does not support uniform"):
        GridSampler(parse_search_space(raw))


def test_bad_index_and_empty_space() -> None:
    grid = GridSampler(parse_search_space({"n": ["choice", [[1]]]}))
    with pytest.raises(ValueError):
        grid.propose(-1, [])
    with pytest.raises(ValueError, match="empty"):
        GridSampler({})


def _nested_space(params: int, options: int) -> dict[str, object]:
    """One choice of two nested options, each a grid of ``params`` choices of ``options``:
    2 * options**params points from a body of a few hundred bytes."""
    inner = {f"p{i}": ["choice", [list(range(options))]] for i in range(params)}
    return {"model": ["choice", [[{"name": "a", **inner}, {"name": "b", **inner}]]]}


def test_a_huge_nested_grid_is_counted_and_walked_without_materialising_it() -> None:
    import tracemalloc

    space = parse_search_space(_nested_space(params=8, options=10))  # 2 * 10**8 points
    tracemalloc.start()
    try:
        grid = GridSampler(space)
        assert grid.size() == 2 * 10**8 == space_size(space)
        last = grid.point(2 * 10**8 - 1)
        first = grid.point(0)
        middle = grid.point(10**8 + 12_345_678)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 1_000_000  # bytes: nothing proportional to the grid
    assert first == {"model": {"name": "a", **{f"p{i}": 0 for i in range(8)}}}
    assert last == {"model": {"name": "b", **{f"p{i}": 9 for i in range(8)}}}
    assert middle == {
        "model": {
            "name": "b",
            "p0": 1,
            "p1": 2,
            "p2": 3,
            "p3": 4,
            "p4": 5,
            "p5": 6,
            "p6": 7,
            "p7": 8,
        }
    }
    assert grid.point(2 * 10**8) is None


def test_lazy_points_match_the_cartesian_product_order() -> None:
    import itertools

    raw = {
        "a": [
            "choice",
            [[1, {"k": "n", "x": ["choice", [[1, 2, 3]]], "y": ["choice", [[7, 8]]]}, 2]],
        ],
        "b": ["choice", [["u", "v"]]],
        "c": ["choice", [[{"c": 0}, {"deep": ["choice", [[{"z": ["choice", [[5, 6]]]}, 9]]]}]]],
    }
    grid = GridSampler(parse_search_space(raw))
    a_values = [1, *({"k": "n", "x": x, "y": y} for x in (1, 2, 3) for y in (7, 8)), 2]
    c_values = [{"c": 0}, {"deep": {"z": 5}}, {"deep": {"z": 6}}, {"deep": 9}]
    expected = [
        {"a": a, "b": b, "c": c} for a, b, c in itertools.product(a_values, ["u", "v"], c_values)
    ]
    assert grid.size() == len(expected) == 8 * 2 * 4
    assert [grid.point(i) for i in range(len(expected))] == expected
