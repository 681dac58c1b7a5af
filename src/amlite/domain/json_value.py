"""JSON values as a type: what ``json.loads`` answers and ``json.dumps`` takes.

For data that is arbitrary JSON by nature (a wire body, an ARM template's values, a choice's
constant, a sweep trial's parameters). Unlike ``Any``, mypy checks every use: a value must be
narrowed (``isinstance``) before it is indexed, iterated or compared as a number.

Read-only parameters take ``Mapping[str, JsonValue]`` / ``Sequence[JsonValue]``: they are
covariant, so a ``dict[str, str]`` is accepted where a ``dict[str, JsonValue]`` would not be.
"""

from __future__ import annotations

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
