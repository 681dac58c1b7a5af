"""Placeholder values reach the command as exactly one shell word, wherever the placeholder
stands: each case really runs under ``bash -c`` (as jobs do) and must print the exact value
and run nothing of it."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from amlite.domain.placeholders import (
    PlaceholderContextError,
    context_problems,
    shell_word,
    substitute,
    substitute_group,
)

HOSTILE = [
    "1; touch pwned",
    "$(touch pwned)",
    "`touch pwned`",
    "'; touch pwned; '",
    '"; touch pwned; "',
    "a\ntouch pwned",
    "\\'$(touch pwned)\\'",
    "${{inputs.data}}",
    "{inputs.data}",
    "}}'\"{{",
    "",
    " spaced  out ",
    "*",
    "~",
    "-n",
    "é ☃",
]

# (command template with P where the placeholder goes, what the argument is around the value)
CONTEXTS = [
    ("printf '%s|' P", "{}"),
    ("printf '%s|' 'P'", "{}"),
    ("printf '%s|' 'pre P post'", "pre {} post"),
    ('printf "%s|" "P"', "{}"),
    ('printf "%s|" "--data: P."', "--data: {}."),
    ('printf "%s|" "$(printf %s P)"', "{}"),
    ("printf '%s|' $(printf %s P | wc -c)", None),  # only: nothing runs
    ("x=P; printf '%s|' \"$x\"", "{}"),
]


def run(command: str, cwd: Path) -> str:
    done = subprocess.run(
        ["bash", "-c", command], cwd=cwd, capture_output=True, text=True, timeout=10
    )
    assert done.returncode == 0, (command, done.stderr)
    return done.stdout


@pytest.mark.parametrize("value", HOSTILE)
@pytest.mark.parametrize(("template", "expected"), CONTEXTS)
def test_each_value_is_one_exact_word_and_runs_nothing(
    tmp_path: Path, value: str, template: str, expected: str | None
) -> None:
    command = substitute(template.replace("P", "${{search_space.v}}"), {}, {}, {"v": value})
    out = run(command, tmp_path)
    assert not (tmp_path / "pwned").exists(), command
    if expected is not None and not (value == "" and "$(" in template):
        assert out == expected.format(value) + "|", command


@pytest.mark.parametrize("value", HOSTILE)
def test_two_passes_keep_the_value(tmp_path: Path, value: str) -> None:
    """A sweep's values are substituted first, the run's inputs later: a value that looks like
    an input placeholder stays that text."""
    template = "printf '%s|' ${{search_space.v}} \"${{inputs.data}}\" '{search_space.v}'"
    first = substitute_group(template, "search_space", {"v": value})
    second = substitute(first, {"data": "/runs/x/in put"}, {})
    assert run(second, tmp_path) == f"{value}|/runs/x/in put|{value}|"
    assert not (tmp_path / "pwned").exists()


def test_plain_values_stay_readable() -> None:
    assert substitute("python t.py --lr ${{search_space.lr}}", {}, {}, {"lr": "0.01"}) == (
        "python t.py --lr 0.01"
    )
    assert substitute("echo '${{inputs.d}}'", {"d": "/a/b.csv"}, {}) == "echo '/a/b.csv'"
    assert shell_word("a b") == "'a b'"
    assert shell_word("{x}") == "'{''x}'"


@pytest.mark.parametrize(
    "template",
    [
        "echo `cat P`",
        'echo "`cat P`"',
        "echo $'P'",
        "echo ${X:-P}",
        "echo $(( P + 1 ))",
        "(( P > 1 )) && echo big",
        "cat <<EOF\nP\nEOF\n",
        "cat <<'EOF'\nP\nEOF\n",
        "cat <<-EOF\n\tP\n\tEOF\n",
        "cat <<END!\nP\nEND!\necho P",
    ],
)
def test_placeholders_where_no_quoting_is_safe_are_refused(template: str) -> None:
    command = template.replace("P", "${{inputs.d}}")
    with pytest.raises(PlaceholderContextError, match=r"inputs\.d"):
        substitute(command, {"d": "$(touch pwned)"}, {})
    assert any("inputs.d" in p for p in context_problems(command))


def test_after_a_heredoc_placeholders_are_fine_again(tmp_path: Path) -> None:
    command = "cat <<EOF\nhello\nEOF\nprintf '%s|' ${{inputs.d}}"
    assert context_problems(command) == []
    assert run(substitute(command, {"d": "$(touch pwned)"}, {}), tmp_path) == (
        "hello\n$(touch pwned)|"
    )


def test_comments_keep_their_placeholders(tmp_path: Path) -> None:
    command = "printf '%s|' ${{inputs.d}} # uses ${{inputs.d}}\necho done"
    out = substitute(command, {"d": "a\ntouch pwned"}, {})
    assert out.endswith("# uses ${{inputs.d}}\necho done")
    assert run(out, tmp_path) == "a\ntouch pwned|done\n"
    assert not (tmp_path / "pwned").exists()


def test_unterminated_quotes_are_reported() -> None:
    assert context_problems("echo 'abc") == ["the command leaves a single quote open"]
    assert context_problems('echo "it\'s" fine') == []
    assert context_problems("echo \\' fine # it's") == []
