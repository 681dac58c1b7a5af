"""The Terraform built-in functions amlite evaluates (a load-time subset of Terraform's).

Each takes already evaluated arguments. ``jsonencode`` keeps its value as structure (an azapi
``body`` is sent as JSON either way) so values known only after deployment can sit inside it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from typing import Any


class Json:
    """The result of ``jsonencode(value)``: JSON text, kept as the value until it is needed."""

    def __init__(self, value: Any) -> None:
        self.value = value


def _format(fmt: str, *args: Any) -> str:
    values = iter(args)

    def repl(m: re.Match[str]) -> str:
        verb = m.group(0)
        if verb == "%%":
            return "%"
        value = next(values)
        if verb.endswith("d"):
            return str(int(value))
        if verb.endswith("q"):
            return json.dumps(str(value))
        if verb.endswith("v") or verb.endswith("s"):
            return to_string(value)
        if verb.endswith("f"):
            return str(float(value))
        raise ValueError(f"format verb {verb} is not supported")

    return re.sub(r"%%|%[-+ #0-9.]*[sdvqf]", repl, fmt)


def to_string(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, int | float | str):
        return str(value)
    raise ValueError(f"cannot convert {type(value).__name__} to a string")


def _to_number(value: Any) -> int | float:
    if isinstance(value, bool):
        raise ValueError("cannot convert a bool to a number")
    if isinstance(value, int | float):
        return value
    text = str(value)
    return int(text) if re.fullmatch(r"-?\d+", text) else float(text)


def _lookup(m: Mapping[str, object], key: str, *default: object) -> object:
    if key in m:
        return m[key]
    if default:
        return default[0]
    raise ValueError(f"the key {key!r} is not in the map")


def _coalesce(*args: Any) -> Any:
    for a in args:
        if a is not None and a != "":
            return a
    raise ValueError("no non-null, non-empty argument")


def _merge(*maps: Mapping[str, object] | None) -> dict[str, object]:
    out: dict[str, object] = {}
    for m in maps:
        out.update(m or {})
    return out


def _jsondecode(text: str) -> Any:
    return json.loads(text)


FUNCTIONS: dict[str, Callable[..., Any]] = {
    "jsonencode": Json,
    "jsondecode": _jsondecode,
    "format": _format,
    "lower": lambda s: s.lower(),
    "upper": lambda s: s.upper(),
    "title": lambda s: s.title(),
    "trimspace": lambda s: s.strip(),
    "trim": lambda s, chars: s.strip(chars),
    "replace": lambda s, old, new: s.replace(old, new),
    "split": lambda sep, s: s.split(sep),
    "join": lambda sep, items: sep.join(to_string(i) for i in items),
    "substr": lambda s, offset, length: s[offset : None if length < 0 else offset + length],
    "startswith": lambda s, p: s.startswith(p),
    "endswith": lambda s, p: s.endswith(p),
    "tostring": to_string,
    "tonumber": _to_number,
    "tobool": lambda v: v if isinstance(v, bool) else {"true": True, "false": False}[str(v)],
    "tolist": list,
    "toset": lambda v: list(dict.fromkeys(v)),
    "tomap": dict,
    "length": len,
    "concat": lambda *lists: [x for lst in lists for x in lst],
    "merge": _merge,
    "keys": lambda m: sorted(m),
    "values": lambda m: [m[k] for k in sorted(m)],
    "lookup": _lookup,
    "contains": lambda c, v: v in c,
    "element": lambda lst, i: lst[i % len(lst)],
    "range": lambda *a: list(range(*(int(x) for x in a))),
    "coalesce": _coalesce,
    "flatten": lambda lst: [y for x in lst for y in (x if isinstance(x, list) else [x])],
    "distinct": lambda lst: list(dict.fromkeys(lst)),
    "min": min,
    "max": max,
    "abs": abs,
    "zipmap": lambda ks, vs: dict(zip(ks, vs, strict=True)),
    "index": lambda lst, v: lst.index(v),
}
