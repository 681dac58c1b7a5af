"""Placeholders in a job's ``command``: each must name a binding or search-space parameter.

Accepted spellings: ``${{inputs.x}}``, ``{inputs.x}``, ``${{outputs.x}}``, ``{outputs.x}``,
``${{search_space.x}}`` and ``{search_space.x}``. What is a placeholder is decided by
``amlite.domain.placeholders.placeholders``, the rule substitution at run time uses too; this
module only validates. A placeholder where no shell quoting of its value is safe (backticks,
``$'...'``, ``${...}``, arithmetic, here-documents) and a command that leaves a quote open
are refused too.
"""

from __future__ import annotations

from collections.abc import Collection

from amlite.domain.placeholders import context_problems, placeholders
from amlite.errors import Violation

_WHAT = {"inputs": "input data binding", "outputs": "output data binding"}


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
