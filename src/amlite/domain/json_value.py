"""JSON values as a type: what ``json.loads`` answers and ``json.dumps`` takes.

For data that is arbitrary JSON by nature (a wire body, an ARM template's values, a choice's
constant, a sweep trial's parameters). Unlike ``Any``, mypy checks every use: a value must be
narrowed (``isinstance``) before it is indexed, iterated or compared as a number.

Read-only parameters take ``Mapping[str, JsonValue]`` / ``Sequence[JsonValue]``: they are
covariant, so a ``dict[str, str]`` is accepted where a ``dict[str, JsonValue]`` would not be.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TypeAlias, TypeGuard

JsonScalar: TypeAlias = bool | int | float | str | None
JsonValue: TypeAlias = JsonScalar | list["JsonValue"] | dict[str, "JsonValue"]
JsonObject: TypeAlias = dict[str, JsonValue]

_SCALARS = (type(None), bool, int, float, str)


def is_json(value: object) -> TypeGuard[JsonValue]:
    """Whether ``value`` is a JSON value: scalars, lists and string-keyed dicts of them.

    Walks the value without recursion, so a deeply nested one costs no stack."""
    todo = [value]
    while todo:
        item = todo.pop()
        if isinstance(item, _SCALARS):
            continue
        if isinstance(item, list):
            todo.extend(item)
        elif isinstance(item, dict):
            if not all(isinstance(k, str) for k in item):
                return False
            todo.extend(item.values())
        else:
            return False
    return True


def is_json_object(value: object) -> TypeGuard[JsonObject]:
    """Whether ``value`` is a JSON object (a string-keyed dict of JSON values)."""
    return isinstance(value, dict) and is_json(value)


def member(value: JsonValue | Mapping[str, JsonValue], key: str, *more: str) -> JsonValue:
    """The member of ``value`` at ``key`` and then ``more`` (object by object); None when a key
    is missing or a step is not an object. Reads a foreign document (a server's answer)
    without trusting it."""
    if not isinstance(value, Mapping):
        return None
    found = value.get(key)
    for step in more:
        if not isinstance(found, dict):
            return None
        found = found.get(step)
    return found


def objects(value: JsonValue) -> list[JsonObject]:
    """The objects in ``value`` when it is a list (anything else in it skipped), else none."""
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []


def text(value: JsonValue) -> str | None:
    """``value`` when it is a string, else None."""
    return value if isinstance(value, str) else None
