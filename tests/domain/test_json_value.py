"""``is_json``: the narrowing from an arbitrary object to a JSON value."""

from __future__ import annotations

import datetime

import pytest

from amlite.domain.json_value import is_json, is_json_object, member, objects, text
from amlite.domain.search_space import Choice, parse_distribution


@pytest.mark.parametrize(
    "value",
    [None, True, 0, 1.5, "x", [], {}, [1, "a", None], {"a": [{"b": 1.0}], "c": None}],
)
def test_json_values_are_json(value: object) -> None:
    assert is_json(value)


@pytest.mark.parametrize(
    "value",
    [(1, 2), {1, 2}, {1: "int key"}, [datetime.date(2020, 1, 1)], {"a": [object()]}, b"x"],
)
def test_other_objects_are_not(value: object) -> None:
    assert not is_json(value)


def test_a_json_object_is_a_string_keyed_dict() -> None:
    assert is_json_object({"a": 1})
    assert not is_json_object([1])
    assert not is_json_object({"a": {2: 1}})


def test_a_deep_value_costs_no_stack() -> None:
    deep: list[object] = []
    for _ in range(100_000):
        deep = [deep]
    assert is_json(deep)


def test_a_choice_constant_must_be_json() -> None:
    with pytest.raises(ValueError, match="must be a JSON value"):
        parse_distribution(["choice", [[1, datetime.date(2020, 1, 1)]]])
    with pytest.raises(ValueError, match="must be a JSON value"):
        parse_distribution(["choice", [[{"opt": {1, 2}}]]])


def test_a_tuple_constant_is_taken_as_a_list() -> None:
    dist = parse_distribution(["choice", [[(1, 2), "a"]]])
    assert isinstance(dist, Choice)
    assert dist.options == ([1, 2], "a")


def test_member_walks_objects_and_answers_none_off_the_path() -> None:
    job = {"properties": {"status": "Running", "output": None, "tags": ["a"]}}
    assert member(job, "properties", "status") == "Running"
    assert member(job, "properties", "output", "path") is None  # a null on the way
    assert member(job, "properties", "tags", "a") is None  # a list on the way
    assert member(job, "missing") is None
    assert member("text", "properties") is None


def test_objects_keeps_the_objects_of_a_list() -> None:
    assert objects([{"a": 1}, 2, None, {"b": 2}]) == [{"a": 1}, {"b": 2}]
    assert objects({"a": 1}) == [] and objects(None) == []


def test_text_is_a_string_or_none() -> None:
    assert text("x") == "x"
    assert text(1) is None and text(None) is None
