"""The pure search-space module: parsing both forms, wire output, grid size."""

from __future__ import annotations

import pytest

from amlite.domain.search_space import (
    Choice,
    Nested,
    Normal,
    RandInt,
    SearchSpaceError,
    Uniform,
    parse_distribution,
    parse_search_space,
    space_size,
    to_wire,
)

WIRE = [
    ["choice", [[16, 32, "x"]]],
    ["randint", [10]],
    ["uniform", [0.1, 0.9]],
    ["loguniform", [-3, 0]],
    ["quniform", [0, 10, 2]],
    ["qloguniform", [0, 3, 1]],
    ["normal", [0, 1]],
    ["lognormal", [0, 0.5]],
    ["qnormal", [10, 2, 1]],
    ["qlognormal", [1, 1, 0.5]],
]


@pytest.mark.parametrize("wire", WIRE, ids=[w[0] for w in WIRE])
def test_all_ten_kinds_round_trip(wire: list[object]) -> None:
    assert to_wire(parse_distribution(wire)) == wire


def test_object_form_maps_to_the_wire_form() -> None:
    assert to_wire(parse_distribution({"type": "choice", "values": [1, 2]})) == [
        "choice",
        [[1, 2]],
    ]
    assert to_wire(parse_distribution({"type": "randint", "upper": 5})) == ["randint", [5]]
    assert to_wire(
        parse_distribution({"type": "QUniform", "min_value": 1, "max_value": 5, "q": 1})
    ) == ["quniform", [1, 5, 1]]
    assert to_wire(parse_distribution({"type": "qlognormal", "mu": 0, "sigma": 1, "q": 2})) == [
        "qlognormal",
        [0, 1, 2],
    ]


def test_typed_distributions_for_samplers() -> None:
    assert parse_distribution(["randint", [3]]) == RandInt(3)
    assert parse_distribution(["qloguniform", [0, 1, 0.5]]) == Uniform(0, 1, 0.5, log=True)
    assert parse_distribution(["lognormal", [0, 2]]) == Normal(0, 2, None, log=True)
    nested = parse_distribution(["choice", [[{"a": ["uniform", [0, 1]], "b": 3}, 7]]])
    assert isinstance(nested, Choice)
    assert nested.options == (Nested({"a": Uniform(0, 1), "b": 3}), 7)


@pytest.mark.parametrize(
    ("raw", "words"),
    [
        (["choice", [1, 2]], "one argument"),
        (["uniform", [1]], "takes 2 arguments"),
        (["gamma", [1, 2]], "unknown distribution"),
        (["uniform", [2, 1]], "greater than"),
        (["quniform", [0, 1, -1]], "q must be positive"),
        (["normal", [0, 0]], "sigma must be positive"),
        (["randint", [0]], "at least 1"),
        (["randint", [2.5]], "integer"),
        (["choice", [[]]], "at least one option"),
        (["uniform", ["a", 1]], "finite number"),
        ({}, "empty distribution"),
        ({"type": "uniform", "min_value": 0}, "needs max_value"),
        ({"type": "uniform", "min_value": 0, "max_value": 1, "q": 1}, "does not take q"),
        ("uniform", "must be a distribution"),
    ],
)
def test_malformed_distributions(raw: object, words: str) -> None:
    with pytest.raises(ValueError, match=words):
        parse_distribution(raw)


def test_parse_search_space_names_every_bad_parameter() -> None:
    with pytest.raises(SearchSpaceError) as info:
        parse_search_space({"a": ["uniform", [0, 1]], "b": ["randint", [0]], "c": {}})
    assert set(info.value.problems) == {"b", "c"}


def test_space_size() -> None:
    space = parse_search_space(
        {"a": ["choice", [[1, 2, 3]]], "b": {"type": "choice", "values": [1, 2]}}
    )
    assert space_size(space) == 6
    assert space_size(parse_search_space({"a": ["uniform", [0, 1]]})) is None
    nested = parse_search_space(
        {"a": ["choice", [[{"x": ["choice", [[1, 2]]]}, {"y": ["choice", [[1, 2, 3]]]}]]]}
    )
    assert space_size(nested) == 5
    assert space_size({}) == 1
