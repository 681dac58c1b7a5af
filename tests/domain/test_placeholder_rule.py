"""One placeholder rule: what the request's validation checks is what the run substitutes."""

from __future__ import annotations

import pytest

from amlite.domain.placeholders import placeholders, substitute, substitute_group
from amlite.schemas.placeholders import check_command


def test_a_binding_name_starting_with_a_digit_is_substituted() -> None:
    # binding names follow ASSET_NAME_PATTERN, which allows a leading digit
    assert substitute("cat ${{inputs.1data}}/x", {"1data": "/d"}, {}) == "cat /d/x"


def test_a_dashed_parameter_name_is_substituted() -> None:
    command = "python t.py --lr {search_space.--lr}"
    assert substitute_group(command, "search_space", {"--lr": "0.1"}) == "python t.py --lr 0.1"


@pytest.mark.parametrize(
    "command",
    [
        "cat ${{inputs.1data}} {outputs.out} ${{search_space.--lr}} {search_space.model.C}",
        "echo {inputs.a+b} ${{ inputs.x }} {inputs.} {search_space.lr",
        "echo '{inputs.x}' \"${{outputs.y}}\" # {inputs.z}",
    ],
)
def test_validation_checks_exactly_the_placeholders_the_run_substitutes(command: str) -> None:
    found = placeholders(command)
    names = {group: {n for g, n in found if g == group} for group in ("inputs", "outputs")}
    space = {n for g, n in found if g == "search_space"}
    assert (
        check_command(
            command, "c", inputs=names["inputs"], outputs=names["outputs"], search_space=space
        )
        == []
    )
    # and each one of them, left out, is reported
    for group, name in found:
        problems = check_command(
            command,
            "c",
            inputs=names["inputs"] - ({name} if group == "inputs" else set()),
            outputs=names["outputs"] - ({name} if group == "outputs" else set()),
            search_space=space - ({name} if group == "search_space" else set()),
        )
        assert any(f"'{group}.{name}'" in p.message for p in problems), (group, name)
