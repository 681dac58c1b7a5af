"""The built-in template functions (ARM's names, case-insensitive), over plain JSON values.

Each function takes the evaluation context and its evaluated arguments; ``if`` takes thunks so
only the chosen branch is evaluated, as in ARM. A function raises ``FunctionError`` with a plain
message; the evaluator adds the expression and the position.
"""

from __future__ import annotations

import base64
import json
import re
import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Protocol

from amlite.deployments.template.hashing import arm_guid, unique_string
from amlite.domain.json_value import JsonObject, JsonValue

MAX_STRING = 131_072
"""The longest string padLeft() makes (ARM limits templates to 4 MB)."""


class FunctionError(Exception):
    pass


class FunctionContext(Protocol):
    """What the functions need from the evaluator."""

    def parameter(self, name: str) -> JsonValue: ...

    def variable(self, name: str) -> JsonValue: ...

    def copy_index(self, loop: str | None) -> int: ...

    def reference(self, target: str, api_version: str | None, full: bool) -> JsonValue: ...

    def resource_info(self, symbolic_name: str) -> JsonObject: ...

    def resource_group(self) -> JsonObject: ...

    def subscription(self) -> JsonObject: ...

    def deployment(self) -> JsonObject: ...

    def in_parameter_default(self) -> bool: ...


Args = list[JsonValue]
"""A function's evaluated arguments."""
Thunk = Callable[[], JsonValue]
"""An argument of a lazy function, evaluated when called."""
Fn = Callable[[FunctionContext, Args], JsonValue]
LazyFn = Callable[[FunctionContext, list[Thunk]], JsonValue]


def type_name(value: object) -> str:
    if isinstance(value, bool):
        return "Boolean"
    if isinstance(value, int):
        return "Integer"
    if isinstance(value, float):
        return "Float"
    if isinstance(value, str):
        return "String"
    if isinstance(value, list):
        return "Array"
    if isinstance(value, dict):
        return "Object"
    return "Null"


def _count(name: str, args: Sequence[object], low: int, high: int | None = None) -> None:
    n = len(args)
    if n < low or (high is not None and n > high):
        if high is None:
            want = f"at least {low}"
        elif low == high:
            want = str(low)
        else:
            want = f"{low} to {high}"
        raise FunctionError(f"{name}() takes {want} argument(s), got {n}")


def _wrong(name: str, value: JsonValue, *types: type) -> FunctionError:
    """The error of an argument of another type than ``types``."""
    wanted = " or ".join(type_name(t()) for t in types)
    return FunctionError(f"{name}() expects {wanted}, got {type_name(value)}")


def _str_arg(name: str, value: JsonValue) -> str:
    if not isinstance(value, str):
        raise _wrong(name, value, str)
    return value


def _int_arg(name: str, value: JsonValue) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise _wrong(name, value, int)
    return value


def _number_arg(name: str, value: JsonValue) -> int | float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _wrong(name, value, int, float)
    return value


def _bool_arg(name: str, value: JsonValue) -> bool:
    if not isinstance(value, bool):
        raise _wrong(name, value, bool)
    return value


def _array_arg(name: str, value: JsonValue) -> list[JsonValue]:
    if not isinstance(value, list):
        raise _wrong(name, value, list)
    return value


def _object_arg(name: str, value: JsonValue) -> JsonObject:
    if not isinstance(value, dict):
        raise _wrong(name, value, dict)
    return value


def _str_or_array_arg(name: str, value: JsonValue) -> str | list[JsonValue]:
    if not isinstance(value, str | list):
        raise _wrong(name, value, str, list)
    return value


def _arrays(a: Args) -> list[list[JsonValue]] | None:
    """The arguments when all are arrays, else None."""
    arrays = [v for v in a if isinstance(v, list)]
    return arrays if len(arrays) == len(a) else None


def _objects(a: Args) -> list[JsonObject] | None:
    """The arguments when all are objects, else None."""
    found = [v for v in a if isinstance(v, dict)]
    return found if len(found) == len(a) else None


def to_string(value: JsonValue) -> str:
    """``string()``: strings as they are, booleans lowercase, objects and arrays as JSON."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "True" if value else "False"
    if value is None:
        return ""
    if isinstance(value, int | float):
        return str(value)
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


# -- logical and comparison -------------------------------------------------------------------
def _equals(_: FunctionContext, a: Args) -> bool:
    _count("equals", a, 2, 2)
    x, y = a
    if isinstance(x, bool) != isinstance(y, bool):
        return False
    return bool(x == y)


def _compare(name: str, op: Callable[[int], bool]) -> Fn:
    """A comparison of two strings or two numbers; ``op`` tells from the sign of the
    difference (-1, 0 or 1) whether it holds."""

    def fn(_: FunctionContext, a: Args) -> bool:
        _count(name, a, 2, 2)
        x, y = a
        if isinstance(x, str) and isinstance(y, str):
            return op((x > y) - (x < y))
        n, m = _number_arg(name, x), _number_arg(name, y)
        return op((n > m) - (n < m))

    return fn


def _if(_: FunctionContext, thunks: list[Thunk]) -> JsonValue:
    _count("if", thunks, 3, 3)
    cond = _bool_arg("if", thunks[0]())
    return thunks[1]() if cond else thunks[2]()


def _and(_: FunctionContext, thunks: list[Thunk]) -> bool:
    _count("and", thunks, 2)
    return all(_bool_arg("and", t()) for t in thunks)


def _or(_: FunctionContext, thunks: list[Thunk]) -> bool:
    _count("or", thunks, 2)
    return any(_bool_arg("or", t()) for t in thunks)


def _coalesce(_: FunctionContext, thunks: list[Thunk]) -> JsonValue:
    _count("coalesce", thunks, 1)
    for t in thunks:
        value = t()
        if value is not None:
            return value
    return None


# -- conversions -------------------------------------------------------------------------------
def _int(_: FunctionContext, a: Args) -> int:
    _count("int", a, 1, 1)
    v = a[0]
    if isinstance(v, bool):
        raise FunctionError("int() cannot convert a Boolean")
    if isinstance(v, int):
        return v
    if isinstance(v, float):
        return int(v)
    if isinstance(v, str):
        try:
            return int(v.strip())
        except ValueError:
            raise FunctionError(f"int() cannot convert '{v}' to an integer") from None
    raise FunctionError(f"int() expects a String or an Integer, got {type_name(v)}")


def _bool(_: FunctionContext, a: Args) -> bool:
    _count("bool", a, 1, 1)
    v = a[0]
    if isinstance(v, bool):
        return v
    if isinstance(v, int):
        return v != 0
    if isinstance(v, str) and v.lower() in ("true", "false"):
        return v.lower() == "true"
    raise FunctionError(f"bool() cannot convert {to_string(v)!r} to a Boolean")


def _json(_: FunctionContext, a: Args) -> JsonValue:
    _count("json", a, 1, 1)
    text = _str_arg("json", a[0])
    try:
        value: JsonValue = json.loads(text)
        return value
    except json.JSONDecodeError as exc:
        raise FunctionError(f"json() got text that is not JSON: {exc}") from None


def _array(_: FunctionContext, a: Args) -> Args:
    _count("array", a, 1, 1)
    return a[0] if isinstance(a[0], list) else [a[0]]


# -- strings and collections ----------------------------------------------------------------
def _concat(_: FunctionContext, a: Args) -> JsonValue:
    arrays = _arrays(a)
    if a and arrays is not None:
        return [x for v in arrays for x in v]
    if any(isinstance(v, list | dict) for v in a):
        raise FunctionError("concat() takes either only arrays or only strings and numbers")
    return "".join(to_string(v) for v in a)


_FORMAT = re.compile(r"\{\{|\}\}|\{(\d+)(?:,(-?\d+))?(?::([^}]*))?\}|[{}]")


def _format(_: FunctionContext, a: Args) -> str:
    _count("format", a, 1)
    fmt = _str_arg("format", a[0])
    values = a[1:]

    def one(m: re.Match[str]) -> str:
        token = m.group(0)
        if token in ("{{", "}}"):
            return token[0]
        if m.group(1) is None:
            raise FunctionError(f"format() string has an unmatched '{token}'")
        i = int(m.group(1))
        if i >= len(values):
            raise FunctionError(f"format() refers to argument {{{i}}} but got {len(values)}")
        value, spec = values[i], m.group(3)
        text = _format_spec(value, spec) if spec else to_string(value)
        if m.group(2):
            width = int(m.group(2))
            text = text.rjust(width) if width > 0 else text.ljust(-width)
        return text

    return _FORMAT.sub(one, fmt)


def _format_spec(value: JsonValue, spec: str) -> str:
    kind, digits = spec[:1].upper(), spec[1:]
    if isinstance(value, int | float) and not isinstance(value, bool):
        if kind == "N":
            return f"{value:,.{int(digits or 2)}f}"
        if kind == "D":
            return f"{int(value):0{int(digits or 0)}d}"
        if kind == "X":
            text = f"{int(value):0{int(digits or 0)}x}"
            return text.upper() if spec[0] == "X" else text
        if kind == "F":
            return f"{value:.{int(digits or 2)}f}"
        if kind == "P":
            return f"{value * 100:.{int(digits or 2)}f} %"
    raise FunctionError(f"format() does not support the format specifier '{spec}'")


def _length(_: FunctionContext, a: Args) -> int:
    _count("length", a, 1, 1)
    v = a[0]
    if not isinstance(v, str | list | dict):
        raise _wrong("length", v, str, list, dict)
    return len(v)


def _empty(_: FunctionContext, a: Args) -> bool:
    _count("empty", a, 1, 1)
    v = a[0]
    return v is None or (isinstance(v, str | list | dict) and len(v) == 0)


def _contains(_: FunctionContext, a: Args) -> bool:
    _count("contains", a, 2, 2)
    container, item = a
    if isinstance(container, str):
        return to_string(item) in container
    if isinstance(container, list):
        return any(_equals(_, [x, item]) for x in container)
    if isinstance(container, dict):
        key = to_string(item).lower()
        return any(k.lower() == key for k in container)
    raise FunctionError(f"contains() expects a String, Array or Object, got {type_name(container)}")


def _first(_: FunctionContext, a: Args) -> JsonValue:
    _count("first", a, 1, 1)
    v = _str_or_array_arg("first", a[0])
    return v[0] if v else ("" if isinstance(v, str) else None)


def _last(_: FunctionContext, a: Args) -> JsonValue:
    _count("last", a, 1, 1)
    v = _str_or_array_arg("last", a[0])
    return v[-1] if v else ("" if isinstance(v, str) else None)


def _union(_: FunctionContext, a: Args) -> JsonValue:
    _count("union", a, 1)
    objects, arrays = _objects(a), _arrays(a)
    if objects is not None:
        out: JsonObject = {}
        for o in objects:
            out = _merge(out, o)
        return out
    if arrays is not None:
        seen: Args = []
        for v in arrays:
            for x in v:
                if x not in seen:
                    seen.append(x)
        return seen
    raise FunctionError("union() takes only arrays or only objects")


def _merge(left: JsonObject, right: JsonObject) -> JsonObject:
    out = dict(left)
    for k, v in right.items():
        mine = out.get(k)
        if isinstance(v, dict) and isinstance(mine, dict):
            out[k] = _merge(mine, v)
        else:
            out[k] = v
    return out


def _intersection(_: FunctionContext, a: Args) -> JsonValue:
    _count("intersection", a, 2)
    objects, arrays = _objects(a), _arrays(a)
    if objects is not None:
        first, rest = objects[0], objects[1:]
        return {k: v for k, v in first.items() if all(k in o and o[k] == v for o in rest)}
    if arrays is not None:
        out: Args = []
        for x in arrays[0]:
            if all(x in o for o in arrays[1:]) and x not in out:
                out.append(x)
        return out
    raise FunctionError("intersection() takes only arrays or only objects")


def _create_array(_: FunctionContext, a: Args) -> Args:
    return list(a)


def _create_object(_: FunctionContext, a: Args) -> JsonObject:
    if len(a) % 2:
        raise FunctionError("createObject() takes key/value pairs (an even number of arguments)")
    out: JsonObject = {}
    for i in range(0, len(a), 2):
        out[_str_arg("createObject", a[i])] = a[i + 1]
    return out


def _range(_: FunctionContext, a: Args) -> Args:
    _count("range", a, 2, 2)
    start = _int_arg("range", a[0])
    count = _int_arg("range", a[1])
    if count < 0 or count > 10_000:
        raise FunctionError(f"range() count must be between 0 and 10000, got {count}")
    return list(range(start, start + count))


def _split(_: FunctionContext, a: Args) -> Args:
    _count("split", a, 2, 2)
    text = _str_arg("split", a[0])
    seps = a[1] if isinstance(a[1], list) else [_str_arg("split", a[1])]
    if not seps:
        return [text]
    pattern = "|".join(re.escape(to_string(s)) for s in seps)
    return list(re.split(pattern, text))


def _join(_: FunctionContext, a: Args) -> str:
    _count("join", a, 2, 2)
    items = _array_arg("join", a[0])
    return _str_arg("join", a[1]).join(to_string(x) for x in items)


def _replace(_: FunctionContext, a: Args) -> str:
    _count("replace", a, 3, 3)
    return _str_arg("replace", a[0]).replace(_str_arg("replace", a[1]), _str_arg("replace", a[2]))


def _substring(_: FunctionContext, a: Args) -> str:
    _count("substring", a, 1, 3)
    text = _str_arg("substring", a[0])
    start = _int_arg("substring", a[1]) if len(a) > 1 else 0
    length = _int_arg("substring", a[2]) if len(a) > 2 else len(text) - start
    if start < 0 or start > len(text) or length < 0 or start + length > len(text):
        raise FunctionError(
            f"substring() start {start} and length {length} are outside the string "
            f"of length {len(text)}"
        )
    return text[start : start + length]


def _str_fn(name: str, op: Callable[[str], JsonValue]) -> Fn:
    def fn(_: FunctionContext, a: Args) -> JsonValue:
        _count(name, a, 1, 1)
        return op(_str_arg(name, a[0]))

    return fn


def _str2(name: str, op: Callable[[str, str], JsonValue]) -> Fn:
    def fn(_: FunctionContext, a: Args) -> JsonValue:
        _count(name, a, 2, 2)
        return op(_str_arg(name, a[0]), _str_arg(name, a[1]))

    return fn


def _skip(_: FunctionContext, a: Args) -> JsonValue:
    _count("skip", a, 2, 2)
    seq = _str_or_array_arg("skip", a[0])
    return seq[max(0, _int_arg("skip", a[1])) :]


def _take(_: FunctionContext, a: Args) -> JsonValue:
    _count("take", a, 2, 2)
    seq = _str_or_array_arg("take", a[0])
    return seq[: max(0, _int_arg("take", a[1]))]


def _pad_left(_: FunctionContext, a: Args) -> str:
    _count("padLeft", a, 2, 3)
    text = to_string(a[0])
    fill = _str_arg("padLeft", a[2]) if len(a) > 2 else " "
    if len(fill) != 1:
        raise FunctionError("padLeft() pads with exactly one character")
    width = _int_arg("padLeft", a[1])
    if width > MAX_STRING:
        raise FunctionError(f"padLeft() width {width} is over the limit of {MAX_STRING}")
    return text.rjust(width, fill)


def _index_of(last: bool) -> Fn:
    name = "lastIndexOf" if last else "indexOf"

    def fn(_: FunctionContext, a: Args) -> int:
        _count(name, a, 2, 2)
        seq = a[0]
        if isinstance(seq, str):
            needle = _str_arg(name, a[1]).lower()
            hay = seq.lower()
            return hay.rfind(needle) if last else hay.find(needle)
        seq = _array_arg(name, seq)
        idx = [i for i, x in enumerate(seq) if x == a[1]]
        return (idx[-1] if last else idx[0]) if idx else -1

    return fn


def _min_max(name: str, pick: Callable[[list[int | float]], int | float]) -> Fn:
    def fn(_: FunctionContext, a: Args) -> JsonValue:
        _count(name, a, 1)
        values = a[0] if len(a) == 1 and isinstance(a[0], list) else a
        if not values:
            raise FunctionError(f"{name}() of nothing")
        return pick([_number_arg(name, v) for v in values])

    return fn


def _arith(name: str, op: Callable[[int, int], int]) -> Fn:
    def fn(_: FunctionContext, a: Args) -> int:
        _count(name, a, 2, 2)
        x, y = _int_arg(name, a[0]), _int_arg(name, a[1])
        if name in ("div", "mod") and y == 0:
            raise FunctionError(f"{name}() by zero")
        return op(x, y)

    return fn


def _div(x: int, y: int) -> int:
    q = abs(x) // abs(y)
    return q if (x >= 0) == (y >= 0) else -q


def _mod(x: int, y: int) -> int:
    return x - _div(x, y) * y


def _items(_: FunctionContext, a: Args) -> Args:
    _count("items", a, 1, 1)
    obj = _object_arg("items", a[0])
    return [{"key": k, "value": obj[k]} for k in sorted(obj, key=str.lower)]


def _try_get(_: FunctionContext, a: Args) -> JsonValue:
    _count("tryGet", a, 2)
    value = a[0]
    for key in a[1:]:
        if isinstance(value, dict) and isinstance(key, str):
            value = get_property(value, key, strict=False)
        elif isinstance(value, list) and isinstance(key, int) and not isinstance(key, bool):
            value = value[key] if 0 <= key < len(value) else None
        else:
            return None
        if value is None:
            return None
    return value


def get_property(obj: JsonObject, name: str, strict: bool = True) -> JsonValue:
    """Property access as ARM does it: exact name first, then case-insensitively."""
    if name in obj:
        return obj[name]
    lowered = name.lower()
    for key, value in obj.items():
        if key.lower() == lowered:
            return value
    if strict:
        known = ", ".join(sorted(obj)) or "none"
        raise FunctionError(f"the object has no property '{name}' (it has: {known})")
    return None


# -- deployment and resource functions ------------------------------------------------------
def _parameters(ctx: FunctionContext, a: Args) -> JsonValue:
    _count("parameters", a, 1, 1)
    return ctx.parameter(_str_arg("parameters", a[0]))


def _variables(ctx: FunctionContext, a: Args) -> JsonValue:
    _count("variables", a, 1, 1)
    return ctx.variable(_str_arg("variables", a[0]))


def _copy_index(ctx: FunctionContext, a: Args) -> int:
    _count("copyIndex", a, 0, 2)
    loop: str | None = None
    offset = 0
    for v in a:
        if isinstance(v, str):
            loop = v
        else:
            offset = _int_arg("copyIndex", v)
    return ctx.copy_index(loop) + offset


def _reference(ctx: FunctionContext, a: Args) -> JsonValue:
    _count("reference", a, 1, 3)
    target = _str_arg("reference", a[0])
    api_version = _str_arg("reference", a[1]) if len(a) > 1 else None
    full = len(a) > 2 and str(a[2]).lower() == "full"
    return ctx.reference(target, api_version, full)


def _resource_info(ctx: FunctionContext, a: Args) -> JsonObject:
    _count("resourceInfo", a, 1, 1)
    return ctx.resource_info(_str_arg("resourceInfo", a[0]))


def _resource_id_parts(name: str, a: Args) -> tuple[list[str], str, list[str]]:
    """(prefix, type, names) of a resourceId-style argument list: what comes before the
    resource type (scope segments), the type, and the names after it."""
    strings = [_str_arg(name, v) for v in a]
    idx = next((i for i, v in enumerate(strings) if "/" in v and "." in v.split("/")[0]), None)
    if idx is None:
        raise FunctionError(f"{name}() needs a resource type such as 'Microsoft.X/things'")
    prefix, rtype, names = strings[:idx], strings[idx], strings[idx + 1 :]
    segments = rtype.split("/")[1:]
    if len(names) != len(segments):
        raise FunctionError(
            f"{name}(): the type '{rtype}' has {len(segments)} name segment(s) but "
            f"{len(names)} name(s) were given"
        )
    return prefix, rtype, names


def _id_tail(rtype: str, names: list[str]) -> str:
    provider, *kinds = rtype.split("/")
    tail = "".join(f"/{k}/{n}" for k, n in zip(kinds, names, strict=True))
    return f"/providers/{provider}{tail}"


def _resource_id(ctx: FunctionContext, a: Args) -> str:
    _count("resourceId", a, 2)
    prefix, rtype, names = _resource_id_parts("resourceId", a)
    sub = ctx.subscription()["subscriptionId"]
    rg = ctx.resource_group()["name"]
    if len(prefix) == 1:
        rg = prefix[0]
    elif len(prefix) == 2:
        sub, rg = prefix
    elif len(prefix) > 2:
        raise FunctionError("resourceId() takes at most a subscription and a resource group")
    return f"/subscriptions/{sub}/resourceGroups/{rg}{_id_tail(rtype, names)}"


def _subscription_resource_id(ctx: FunctionContext, a: Args) -> str:
    _count("subscriptionResourceId", a, 2)
    prefix, rtype, names = _resource_id_parts("subscriptionResourceId", a)
    sub = prefix[0] if prefix else ctx.subscription()["subscriptionId"]
    return f"/subscriptions/{sub}{_id_tail(rtype, names)}"


def _tenant_resource_id(_: FunctionContext, a: Args) -> str:
    _count("tenantResourceId", a, 2)
    _prefix, rtype, names = _resource_id_parts("tenantResourceId", a)
    return _id_tail(rtype, names)


def _extension_resource_id(_: FunctionContext, a: Args) -> str:
    _count("extensionResourceId", a, 3)
    scope = _str_arg("extensionResourceId", a[0]).rstrip("/")
    _prefix, rtype, names = _resource_id_parts("extensionResourceId", a[1:])
    return f"{scope}{_id_tail(rtype, names)}"


def _utc_now(ctx: FunctionContext, a: Args) -> str:
    if not ctx.in_parameter_default():
        raise FunctionError("utcNow() can only be used in a parameter's defaultValue")
    _count("utcNow", a, 0, 1)
    now = datetime.now(UTC)
    fmt = _str_arg("utcNow", a[0]) if a else "u"
    if fmt == "u":
        return now.strftime("%Y-%m-%d %H:%M:%SZ")
    if fmt == "d":
        return now.strftime("%m/%d/%Y")
    out = fmt
    for net, py in (
        ("yyyy", "%Y"),
        ("MM", "%m"),
        ("dd", "%d"),
        ("HH", "%H"),
        ("mm", "%M"),
        ("ss", "%S"),
    ):
        out = out.replace(net, py)
    return now.strftime(out) if out != fmt else now.strftime("%Y%m%dT%H%M%SZ")


def _new_guid(ctx: FunctionContext, a: Args) -> str:
    if not ctx.in_parameter_default():
        raise FunctionError("newGuid() can only be used in a parameter's defaultValue")
    _count("newGuid", a, 0, 0)
    return str(uuid.uuid4())


def _strings(name: str, a: Args) -> list[str]:
    _count(name, a, 1)
    return [_str_arg(name, v) for v in a]


def _list_fn(name: str) -> Fn:
    def fn(_: FunctionContext, a: Args) -> JsonValue:
        raise FunctionError(
            f"{name}() reads secrets or keys of Azure resources; amlite has none to list"
        )

    return fn


def _const(name: str, value: JsonValue) -> Fn:
    def fn(_: FunctionContext, a: Args) -> JsonValue:
        _count(name, a, 0, 0)
        return value

    return fn


def _resource_group(ctx: FunctionContext, a: Args) -> JsonValue:
    _count("resourceGroup", a, 0, 0)
    return ctx.resource_group()


def _subscription(ctx: FunctionContext, a: Args) -> JsonValue:
    _count("subscription", a, 0, 0)
    return ctx.subscription()


def _deployment(ctx: FunctionContext, a: Args) -> JsonValue:
    _count("deployment", a, 0, 0)
    return ctx.deployment()


def _not(_: FunctionContext, a: Args) -> bool:
    _count("not", a, 1, 1)
    return not _bool_arg("not", a[0])


def _string(_: FunctionContext, a: Args) -> str:
    _count("string", a, 1, 1)
    return to_string(a[0])


def _object_keys(_: FunctionContext, a: Args) -> Args:
    _count("objectKeys", a, 1, 1)
    return list(_object_arg("objectKeys", a[0]))


FUNCTIONS: dict[str, Fn] = {
    "parameters": _parameters,
    "variables": _variables,
    "copyindex": _copy_index,
    "reference": _reference,
    "resourceinfo": _resource_info,
    "resourcegroup": _resource_group,
    "subscription": _subscription,
    "deployment": _deployment,
    "resourceid": _resource_id,
    "subscriptionresourceid": _subscription_resource_id,
    "tenantresourceid": _tenant_resource_id,
    "extensionresourceid": _extension_resource_id,
    "utcnow": _utc_now,
    "newguid": _new_guid,
    "uniquestring": lambda _, a: unique_string(*_strings("uniqueString", a)),
    "guid": lambda _, a: arm_guid(*_strings("guid", a)),
    "equals": _equals,
    "not": _not,
    "less": _compare("less", lambda sign: sign < 0),
    "lessorequals": _compare("lessOrEquals", lambda sign: sign <= 0),
    "greater": _compare("greater", lambda sign: sign > 0),
    "greaterorequals": _compare("greaterOrEquals", lambda sign: sign >= 0),
    "true": _const("true", True),
    "false": _const("false", False),
    "null": _const("null", None),
    "string": _string,
    "int": _int,
    "bool": _bool,
    "json": _json,
    "array": _array,
    "concat": _concat,
    "format": _format,
    "length": _length,
    "empty": _empty,
    "contains": _contains,
    "first": _first,
    "last": _last,
    "union": _union,
    "intersection": _intersection,
    "createarray": _create_array,
    "createobject": _create_object,
    "range": _range,
    "split": _split,
    "join": _join,
    "replace": _replace,
    "substring": _substring,
    "tolower": _str_fn("toLower", str.lower),
    "toupper": _str_fn("toUpper", str.upper),
    "trim": _str_fn("trim", str.strip),
    "base64": _str_fn("base64", lambda s: base64.b64encode(s.encode()).decode()),
    "base64tostring": _str_fn("base64ToString", lambda s: base64.b64decode(s).decode()),
    "startswith": _str2("startsWith", lambda s, p: s.lower().startswith(p.lower())),
    "endswith": _str2("endsWith", lambda s, p: s.lower().endswith(p.lower())),
    "indexof": _index_of(False),
    "lastindexof": _index_of(True),
    "padleft": _pad_left,
    "skip": _skip,
    "take": _take,
    "min": _min_max("min", min),
    "max": _min_max("max", max),
    "add": _arith("add", lambda x, y: x + y),
    "sub": _arith("sub", lambda x, y: x - y),
    "mul": _arith("mul", lambda x, y: x * y),
    "div": _arith("div", _div),
    "mod": _arith("mod", _mod),
    "items": _items,
    "tryget": _try_get,
    "objectkeys": _object_keys,
}

LAZY: dict[str, LazyFn] = {"if": _if, "and": _and, "or": _or, "coalesce": _coalesce}


def lookup(name: str) -> tuple[Fn | None, LazyFn | None]:
    """The function called ``name`` (case-insensitive): (eager, lazy), or (None, None)."""
    key = name.lower()
    lazy = LAZY.get(key)
    if lazy is not None:
        return None, lazy
    fn = FUNCTIONS.get(key)
    if fn is None and key.startswith("list"):
        return _list_fn(name), None
    return fn, None
