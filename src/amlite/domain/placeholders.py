"""Placeholders in a job's ``command``: ``${{inputs.x}}``, ``{inputs.x}`` and the same for
``outputs`` and ``search_space``. Pure functions; substitution applies to the command only.

Quoting. The command runs as ``bash -c COMMAND``, so every substituted value is inserted as
exactly one shell word carrying the exact value, whatever it holds (``;``, ``$(...)``,
backticks, quotes, newlines), according to where the placeholder stands:

* outside quotes: the value as a single-quoted word (``shell_word``); a value made only of
  characters the shell never interprets (letters, digits, ``@%+=:,./-_``) is left bare, so
  ``--lr 0.01`` stays readable;
* inside single quotes (``'${{search_space.v}}'``): the quote is closed, the quoted word
  inserted, the quote reopened (``''\\''value'\\'''`` style: ``'`` + word + ``'``);
* inside double quotes (``"--data: ${{inputs.x}}"``): the same with ``"``;
* in a comment: left as written (nothing to run);
* anywhere the shell would interpret a quoted word again, the placeholder is refused
  (``PlaceholderContextError``, a 400 at PUT naming the command): inside backticks, ``$'...'``,
  ``${...}`` parameter expansions, arithmetic ``$((...))`` / ``((...))`` and here-document
  bodies. Assign the value to a variable first (``X=${{inputs.x}}; ... "$X"``).

A quoted word never contains a placeholder itself (``{`` is split off inside the quotes), so
a value such as ``{inputs.data}`` stays that text when a later pass substitutes the inputs
(a sweep's controller substitutes ``search_space`` first, the run's preparation the rest).
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Callable, Mapping
from dataclasses import dataclass

GROUPS = ("inputs", "outputs", "search_space")

_NAME = r"(?:--)?[A-Za-z0-9_][A-Za-z0-9_.\-]*"
"""A placeholder's name: a binding name (``ASSET_NAME_PATTERN``: it may start with a digit),
a search-space parameter (it may start with ``--``), or a dotted path into a nested one."""
_PATTERN = re.compile(
    r"\$\{\{\s*(?P<g1>inputs|outputs|search_space)\.(?P<n1>" + _NAME + r")\s*\}\}"
    r"|\{(?P<g2>inputs|outputs|search_space)\.(?P<n2>" + _NAME + r")\}"
)

_REFUSED = {
    "backtick": "inside backticks",
    "ansi": "inside $'...'",
    "param": "inside a ${...} parameter expansion",
    "arith": "inside an arithmetic expression",
    "heredoc": "inside a here-document",
}
_WORD_START = " \t\n;&|()<>"
_HEREDOC = re.compile(r"<<(-?)[ \t]*(['\"]?)([A-Za-z0-9_.\-]+)\2")


class PlaceholderContextError(ValueError):
    """A placeholder stands where no quoting of its value is safe."""


def _parts(match: re.Match[str]) -> tuple[str, str]:
    group = match.group("g1") or match.group("g2")
    name = match.group("n1") or match.group("n2")
    return group, name


def placeholders(command: str) -> list[tuple[str, str]]:
    """``(group, name)`` of every placeholder in ``command``, in order (the one rule the
    request's validation and the run's substitution share)."""
    return [_parts(m) for m in _PATTERN.finditer(command)]


def referenced(command: str) -> dict[str, set[str]]:
    """The names each group's placeholders use: ``{"inputs": {...}, "outputs": ..., ...}``."""
    found: dict[str, set[str]] = {g: set() for g in GROUPS}
    for group, name in placeholders(command):
        found[group].add(name)
    return found


def shell_word(value: str) -> str:
    """``value`` as one POSIX shell word: bare when no character is special, else
    single-quoted (``shlex.quote``) with every ``{`` split off, so no placeholder appears."""
    quoted = shlex.quote(value)
    if quoted == value:
        return value
    return quoted.replace("{", "{''")


def quote_if_needed(value: str) -> str:
    """The value as is when the shell reads it as one word unchanged, else shell-quoted."""
    return shell_word(value)


@dataclass(frozen=True)
class Site:
    """A placeholder in a command and the shell context it stands in."""

    match: re.Match[str]
    context: str
    """``plain``, ``single``, ``double``, ``comment`` or a refused context (``_REFUSED``)."""

    @property
    def refused(self) -> str | None:
        return _REFUSED.get(self.context)


def sites(command: str) -> list[Site]:
    """Every placeholder of ``command`` with its context, from a small POSIX shell scanner
    (quotes, escapes, ``$(...)``, backticks, ``${...}``, arithmetic, comments, heredocs)."""
    return _scan(command)[0]


_OPEN = {
    "single": "a single quote",
    "double": "a double quote",
    "backtick": "a backtick",
    "ansi": "a $'...' quote",
}


@dataclass
class _Frame:
    """One open context of the scanner; ``depth`` counts nested brackets inside it."""

    kind: str
    depth: int = 0


def _scan(command: str) -> tuple[list[Site], str | None]:
    out: list[Site] = []
    stack = [_Frame("plain")]
    heredocs: list[tuple[str, bool]] = []
    lost = False  # a here-document whose delimiter the scanner cannot read: refuse the rest
    i, n = 0, len(command)
    while i < n:
        top = stack[-1]
        kind = top.kind
        m = _PATTERN.match(command, i)
        if m is not None:
            out.append(Site(m, "heredoc" if lost else "plain" if kind == "sub" else kind))
            i = m.end()
            continue
        c = command[i]
        two = command[i : i + 2]
        if kind in ("plain", "sub"):
            if c == "\\":
                i += 2
                continue
            if c == "'":
                stack.append(_Frame("single"))
            elif c == '"':
                stack.append(_Frame("double"))
            elif c == "`":
                stack.append(_Frame("backtick"))
            elif two == "$'":
                stack.append(_Frame("ansi"))
                i += 1
            elif command.startswith("$((", i) or two == "((":
                stack.append(_Frame("arith"))
                i += 2 if two == "((" else 3
                continue
            elif two == "$(":
                stack.append(_Frame("sub"))
                i += 1
            elif two == "${":
                stack.append(_Frame("param"))
                i += 1
            elif c == "(" and kind == "sub":
                top.depth += 1
            elif c == ")" and kind == "sub":
                if top.depth == 0:
                    stack.pop()
                else:
                    top.depth -= 1
            elif c == "#" and (i == 0 or command[i - 1] in _WORD_START):
                stack.append(_Frame("comment"))
            elif two == "<<" and not command.startswith("<<<", i):
                h = _HEREDOC.match(command, i)
                if h is None:
                    lost = True
                else:
                    heredocs.append((h.group(3), h.group(1) == "-"))
                    i = h.end()
                    continue
            elif c == "\n" and heredocs:
                i = _skip_heredocs(command, i + 1, heredocs, out)
                heredocs = []
                continue
        elif kind == "single":
            if c == "'":
                stack.pop()
        elif kind == "double":
            if c == "\\":
                i += 2
                continue
            if c == '"':
                stack.pop()
            elif c == "`":
                stack.append(_Frame("backtick"))
            elif command.startswith("$((", i):
                stack.append(_Frame("arith"))
                i += 3
                continue
            elif two == "$(":
                stack.append(_Frame("sub"))
                i += 1
            elif two == "${":
                stack.append(_Frame("param"))
                i += 1
        elif kind in ("backtick", "ansi"):
            if c == "\\":
                i += 2
                continue
            if c == ("`" if kind == "backtick" else "'"):
                stack.pop()
        elif kind == "arith":
            if c == "(":
                top.depth += 1
            elif c == ")":
                if top.depth == 0 and two == "))":
                    stack.pop()
                    i += 2
                    continue
                top.depth -= 1
        elif kind == "param":
            if c == "{":
                top.depth += 1
            elif c == "}":
                if top.depth == 0:
                    stack.pop()
                else:
                    top.depth -= 1
        elif kind == "comment" and c == "\n":
            stack.pop()
            continue  # the newline is seen again by the context below (heredocs)
        i += 1
    left_open = [_OPEN[frame.kind] for frame in stack if frame.kind in _OPEN]
    return out, (left_open[-1] if left_open else None)


def _skip_heredocs(command: str, i: int, heredocs: list[tuple[str, bool]], out: list[Site]) -> int:
    """Skip the bodies of ``heredocs`` starting at ``i``; their placeholders are refused."""
    for delimiter, strip_tabs in heredocs:
        while i < len(command):
            end = command.find("\n", i)
            end = len(command) if end < 0 else end
            line = command[i:end]
            for m in _PATTERN.finditer(line):
                whole = _PATTERN.match(command, i + m.start())
                if whole is not None:
                    out.append(Site(whole, "heredoc"))
            i = end + 1
            if (line.lstrip("\t") if strip_tabs else line) == delimiter:
                break
    return i


def unterminated(command: str) -> str | None:
    """The quoting ``command`` leaves open at its end (``a single quote``...), or None."""
    return _scan(command)[1]


def _render(site: Site, value: str) -> str:
    word = shell_word(value)
    if word == value or site.context == "plain":
        return word
    if site.context == "single":
        return f"'{word}'"
    return f'"{word}"'  # double


def _substitute(command: str, lookup: Callable[[str, str], str | None]) -> str:
    pieces: list[str] = []
    last = 0
    for site in sites(command):
        group, name = _parts(site.match)
        value = lookup(group, name)
        if value is None or site.context == "comment":
            continue
        if site.refused:
            raise PlaceholderContextError(
                f"placeholder '{group}.{name}' is {site.refused}, where no quoting of its "
                f"value is safe; assign it to a variable first: X={site.match.group(0)}"
            )
        pieces.append(command[last : site.match.start()])
        pieces.append(_render(site, value))
        last = site.match.end()
    pieces.append(command[last:])
    return "".join(pieces)


def substitute(
    command: str,
    inputs: Mapping[str, str],
    outputs: Mapping[str, str],
    search_space: Mapping[str, str] | None = None,
) -> str:
    """Replace every placeholder by its value, quoted for where it stands; an unknown name
    raises ``KeyError`` naming the placeholder (e.g. ``'inputs.data'``), a placeholder where
    no quoting is safe raises ``PlaceholderContextError``."""
    tables: dict[str, Mapping[str, str]] = {
        "inputs": inputs,
        "outputs": outputs,
        "search_space": search_space or {},
    }

    def lookup(group: str, name: str) -> str:
        table = tables[group]
        if name not in table:
            raise KeyError(f"{group}.{name}")
        return str(table[name])

    return _substitute(command, lookup)


def substitute_group(command: str, group: str, values: Mapping[str, str]) -> str:
    """Replace the placeholders of one group only (e.g. a trial's ``search_space`` values),
    leaving the others for later; an unknown name of that group raises ``KeyError``."""

    def lookup(found: str, name: str) -> str | None:
        if found != group:
            return None
        if name not in values:
            raise KeyError(f"{group}.{name}")
        return str(values[name])

    return _substitute(command, lookup)


def context_problems(command: str) -> list[str]:
    """Why ``command``'s placeholders cannot all be substituted safely (for validation)."""
    problems = []
    found, left_open = _scan(command)  # one scan for both (a PUT validates every command)
    for site in found:
        if site.refused and site.context != "comment":
            group, name = _parts(site.match)
            problems.append(
                f"placeholder '{group}.{name}' is {site.refused}, where amlite cannot quote "
                f"its value; assign it to a variable first (X={site.match.group(0)}) and use "
                '"$X" there'
            )
    if left_open:
        problems.append(f"the command leaves {left_open} open")
    return problems
