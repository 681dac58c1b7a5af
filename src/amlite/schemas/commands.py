"""Placeholders in a job's ``command``: each must name a binding or search-space parameter.

Accepted spellings: ``${{inputs.x}}``, ``{inputs.x}``, ``${{outputs.x}}``, ``{outputs.x}``,
``${{search_space.x}}`` and ``{search_space.x}``. (Substitution at run time lives in
``amlite.domain.placeholders``; this module only validates.) A placeholder where no shell
quoting of its value is safe (backticks, ``$'...'``, ``${...}``, arithmetic, here-documents)
and a command that leaves a quote open are refused too.
"""

from __future__ import annotations

import re
from collections.abc import Collection

from amlite.domain.placeholders import context_problems
from amlite.errors import Violation

_PLACEHOLDER = re.compile(
    r"\$\{\{\s*(?P<k1>inputs|outputs|search_space)\.(?P<n1>[^\s{}]+?)\s*\}\}"
    r"|\{(?P<k2>inputs|outputs|search_space)\.(?P<n2>[^\s{}]+?)\}"
)

_WHAT = {"inputs": "input data binding", "outputs": "output data binding"}


def placeholders(command: str) -> list[tuple[str, str]]:
    """``(kind, name)`` of every placeholder in ``command``, in order."""
    found = []
    for match in _PLACEHOLDER.finditer(command):
        kind = match.group("k1") or match.group("k2")
        name = match.group("n1") or match.group("n2")
        found.append((kind, name))
    return found


def check_command(
    command: str,
    target: str,
    *,
    inputs: Collection[str],
    outputs: Collection[str],
    search_space: Collection[str] | None,
) -> list[Violation]:
    """Violations at ``target`` for placeholders naming nothing.

    ``search_space`` is None for a Command job, where search_space placeholders are refused.
    """
    problems: list[Violation] = []
    names = {"inputs": inputs, "outputs": outputs}
    for kind, name in placeholders(command):
        if kind == "search_space":
            if search_space is None:
                problems.append(
                    Violation(target, f"'{kind}.{name}' is only allowed in a sweep job's trial")
                )
            elif name not in search_space:
                problems.append(
                    Violation(target, f"'{kind}.{name}' names no parameter of searchSpace")
                )
        elif name not in names[kind]:
            problems.append(Violation(target, f"'{kind}.{name}' names no {_WHAT[kind]}"))
    problems += [Violation(target, message) for message in context_problems(command)]
    return problems
