"""Hostile names, search spaces and commands are refused at PUT, each at the field that holds
it: binding and parameter names that could leave the run directory or reach the shell,
oversized or too deeply nested search spaces, placeholders no quoting can make safe."""

from __future__ import annotations

from typing import Any

import pytest
from schema_helpers import WS, command_body, sweep_body, violations

from amlite.schemas import parse_job

P = "properties"
DATA = {"dataId": f"{WS}/data/iris/versions/1"}
HOSTILE_NAMES = [
    "../../../../tmp/x",
    "a/b",
    "..",
    ".",
    "",
    "-x",
    "a b",
    "a;b",
    "x\n",
    "é",
    "a" * 256,
]


@pytest.mark.parametrize("name", HOSTILE_NAMES)
def test_command_binding_names_must_be_plain(name: str) -> None:
    body = command_body(command="true", inputDataBindings={name: DATA})
    assert (f"{P}.inputDataBindings",) == tuple({t for t, _ in violations(body)})
    body = command_body(command="true", inputDataBindings={}, outputDataBindings={name: {}})
    found = violations(body)
    assert {t for t, _ in found} == {f"{P}.outputDataBindings"}
    assert repr(name)[1:-1] in found[0][1] or name in found[0][1]


@pytest.mark.parametrize("name", ["../up", "a.b"])
def test_sweep_trial_binding_names_must_be_plain(name: str) -> None:
    body = sweep_body()
    body[P]["trial"]["inputDataBindings"] = {name: DATA}
    body[P]["trial"]["outputDataBindings"] = {name: {}}
    assert {t for t, _ in violations(body)} == {
        f"{P}.trial.inputDataBindings",
        f"{P}.trial.outputDataBindings",
    }


@pytest.mark.parametrize("name", ["iris", "Iris_2", "training-data", "0", "a" * 255])
def test_plain_binding_names_are_accepted(name: str) -> None:
    body = command_body(
        command="true", inputDataBindings={name: DATA}, outputDataBindings={name: {}}
    )
    parse_job(body)


@pytest.mark.parametrize(
    "name",
    ["a b", "x; touch y", "$(touch y)", "`id`", "lr\n", "'q'", "a.b", "---lr", "1lr", "", "é"],
)
def test_search_space_names_must_be_identifiers(name: str) -> None:
    body = sweep_body()
    body[P]["searchSpace"] = {name: ["choice", [[1, 2]]], "ok": ["choice", [[1]]]}
    body[P]["trial"]["command"] = "python train.py"
    found = violations(body)
    assert {t for t, _ in found} == {f"{P}.searchSpace.{name}"}, found


@pytest.mark.parametrize("name", ["lr", "_x", "--lr", "--learning_rate", "learning-rate", "C"])
def test_identifier_search_space_names_are_accepted(name: str) -> None:
    body: dict[str, Any] = sweep_body()
    body[P]["searchSpace"] = {name: ["choice", [[1, 2]]]}
    body[P]["trial"]["command"] = "python train.py"
    parse_job(body)


def test_nested_option_keys_must_be_identifiers_too() -> None:
    body = sweep_body()
    body[P]["searchSpace"] = {"model": ["choice", [[{"name": "a", "x; touch y": 1}]]]}
    body[P]["trial"]["command"] = "python train.py"
    assert {t for t, _ in violations(body)} == {f"{P}.searchSpace.model"}


def _grid(params: int, options: int) -> dict[str, Any]:
    inner = {f"p{i}": ["choice", [list(range(options))]] for i in range(params)}
    return {"model": ["choice", [[{"name": "a", **inner}, {"name": "b", **inner}]]]}


def test_an_oversized_grid_is_refused_at_searchspace() -> None:
    body = sweep_body(algorithm="Grid", searchSpace=_grid(8, 10))  # 2 * 10**8 points
    body[P]["trial"]["command"] = "python train.py"
    assert len(str(body)) < 2000
    found = violations(body)
    assert [t for t, _ in found] == [f"{P}.searchSpace"]
    assert "200,000,000 points" in found[0][1] and "1,000,000" in found[0][1]


def test_the_grid_cap_counts_nested_options_expanded() -> None:
    from amlite.domain.search_space import GRID_MAX_POINTS

    assert GRID_MAX_POINTS == 1_000_000
    at_cap = sweep_body(
        algorithm="Grid",
        searchSpace={
            "a": ["choice", [list(range(1000))]],
            "b": [
                "choice",
                [[{"x": ["choice", [list(range(500))]]}, {"y": ["choice", [list(range(500))]]}]],
            ],
        },
    )
    at_cap[P]["trial"]["command"] = "python train.py"
    parse_job(at_cap)  # 1000 * (500 + 500) = 10**6: allowed
    over = sweep_body(
        algorithm="Grid",
        searchSpace={
            "a": ["choice", [list(range(1000))]],
            "b": [
                "choice",
                [[0, {"x": ["choice", [list(range(500))]]}, {"y": ["choice", [list(range(500))]]}]],
            ],
        },
    )
    over[P]["trial"]["command"] = "python train.py"
    assert [t for t, _ in violations(over)] == [f"{P}.searchSpace"]


def test_random_sampling_over_a_huge_space_is_accepted() -> None:
    body = sweep_body(algorithm="Random", searchSpace=_grid(8, 10))
    body[P]["trial"]["command"] = "python train.py"
    parse_job(body)


@pytest.mark.parametrize(
    "command",
    [
        "echo `cat ${{inputs.iris}}`",
        "echo ${X:-${{inputs.iris}}}",
        "echo $(( {inputs.iris} ))",
        "cat <<EOF\n${{inputs.iris}}\nEOF",
        "echo 'unterminated ${{inputs.iris}}",
    ],
)
def test_placeholders_where_no_quoting_is_safe_are_refused(command: str) -> None:
    found = violations(command_body(command=command, outputDataBindings={}))
    assert {t for t, _ in found} == {f"{P}.command"}, found


@pytest.mark.parametrize(
    "command",
    [
        "python t.py --data '${{inputs.iris}}' --lr '${{search_space.lr}}'",
        'echo "--iris-csv: ${{inputs.iris}}" && python t.py "$(ls ${{inputs.iris}})"',
        "python t.py --batch {search_space.batch} # {inputs.iris} in a comment",
    ],
)
def test_quoted_placeholders_are_accepted(command: str) -> None:
    body = sweep_body()
    body[P]["trial"]["command"] = command
    body[P]["trial"]["inputDataBindings"] = {"iris": DATA}
    parse_job(body)


def test_astronomical_spaces_are_counted_and_answered_without_error() -> None:
    """15,000 binary choices: 2^15000 points, a number Python refuses to print in full."""
    space = {f"p{i}": ["choice", [[0, 1]]] for i in range(15_000)}
    body = sweep_body(algorithm="Random", searchSpace=space)
    body[P]["trial"]["command"] = "python train.py"
    parse_job(body)
    body[P]["algorithm"] = "Grid"
    found = violations(body)
    assert [t for t, _ in found] == [f"{P}.searchSpace"]
    assert "at least 2^15000 points" in found[0][1]


@pytest.mark.parametrize("depth", [17, 200])
def test_deeply_nested_search_spaces_are_refused(depth: int) -> None:
    nested: Any = ["choice", [[1, 2]]]
    constant: Any = 1
    for _ in range(depth):
        nested = ["choice", [[{"k": nested}, 3]]]
        constant = {"a": [constant]}
    for space in ({"x": nested}, {"x": ["choice", [[constant]]]}):
        body = sweep_body(algorithm="Random")
        body[P]["searchSpace"] = space
        body[P]["trial"]["command"] = "python train.py"
        found = violations(body)
        assert [t for t, _ in found] == [f"{P}.searchSpace.x"]
        assert "16 levels deep" in found[0][1]


def test_nesting_within_the_limit_is_accepted() -> None:
    nested: Any = ["choice", [[1, 2]]]
    for _ in range(16):
        nested = ["choice", [[{"k": nested}, 3]]]
    body = sweep_body(algorithm="Grid", searchSpace={"x": nested})
    body[P]["trial"]["command"] = "python train.py"
    parse_job(body)
