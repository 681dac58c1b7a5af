"""Placeholders in a job's ``command``: ``${{inputs.x}}``, ``{inputs.x}`` and the same for
``outputs`` and ``search_space``. Pure functions; substitution applies to the command only.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Mapping

GROUPS = ("inputs", "outputs", "search_space")

_NAME = r"[A-Za-z_][A-Za-z0-9_.\-]*"
_PATTERN = re.compile(
    r"\$\{\{\s*(?P<g1>inputs|outputs|search_space)\.(?P<n1>" + _NAME + r")\s*\}\}"
    r"|\{(?P<g2>inputs|outputs|search_space)\.(?P<n2>" + _NAME + r")\}"
)


def _parts(match: re.Match[str]) -> tuple[str, str]:
    group = match.group("g1") or match.group("g2")
    name = match.group("n1") or match.group("n2")
    return group, name


def referenced(command: str) -> dict[str, set[str]]:
    """The names each group's placeholders use: ``{"inputs": {...}, "outputs": ..., ...}``."""
    found: dict[str, set[str]] = {g: set() for g in GROUPS}
    for m in _PATTERN.finditer(command):
        group, name = _parts(m)
        found[group].add(name)
    return found


def quote_if_needed(value: str) -> str:
    """The value as is when the shell reads it as one word unchanged, else shell-quoted."""
    return shlex.quote(value)


def substitute(
    command: str,
    inputs: Mapping[str, str],
    outputs: Mapping[str, str],
    search_space: Mapping[str, str] | None = None,
) -> str:
    """Replace every placeholder by its value; an unknown name raises ``KeyError``
    naming the placeholder (e.g. ``'inputs.data'``)."""
    tables: dict[str, Mapping[str, str]] = {
        "inputs": inputs,
        "outputs": outputs,
        "search_space": search_space or {},
    }

    def replace(m: re.Match[str]) -> str:
        group, name = _parts(m)
        table = tables[group]
        if name not in table:
            raise KeyError(f"{group}.{name}")
        return quote_if_needed(str(table[name]))

    return _PATTERN.sub(replace, command)


def substitute_group(command: str, group: str, values: Mapping[str, str]) -> str:
    """Replace the placeholders of one group only (e.g. a trial's ``search_space`` values),
    leaving the others for later; an unknown name of that group raises ``KeyError``."""

    def replace(m: re.Match[str]) -> str:
        found, name = _parts(m)
        if found != group:
            return m.group(0)
        if name not in values:
            raise KeyError(f"{group}.{name}")
        return quote_if_needed(str(values[name]))

    return _PATTERN.sub(replace, command)
