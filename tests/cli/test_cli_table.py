"""The CLI's plain tables: aligned columns (wide characters counted by their cells), and no
control character from a value reaching the terminal."""

from __future__ import annotations

import pytest

from amlite.cli import output


def test_columns_are_aligned_and_control_characters_are_neutralised(
    capsys: pytest.CaptureFixture[str],
) -> None:
    output.table(
        "jobs",
        ["Name", "Status"],
        [["a", "Completed"], ["\x1b[2Jevil\nname", "Running"], ["日本", "Queued"]],
    )
    lines = capsys.readouterr().out.splitlines()
    assert lines == [
        "jobs",
        "Name           Status",
        "─────────────  ─────────",
        "a              Completed",
        "?[2Jevil?name  Running",
        "日本           Queued",
    ]
    assert "\x1b" not in "".join(lines)


def test_an_empty_table_is_its_header(capsys: pytest.CaptureFixture[str]) -> None:
    output.table(None, ["Name", "Type"], [])
    assert capsys.readouterr().out == "Name  Type\n────  ────\n"
