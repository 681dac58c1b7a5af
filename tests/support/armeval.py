"""A small ARM template evaluator for the tests: it lets two templates that spell the same
thing differently (``concat(a, '/', b)`` vs ``format('{0}/{1}', a, b)``) be compared by what
they evaluate to.

It is deliberately independent of the deployment engine: it only evaluates, it deploys
nothing. ``reference()`` and ``list*()`` need a deployed resource, so they evaluate to a
``Deferred`` marker that records the resource id and the property path read from it (two
templates reading the same property of the same resource evaluate equal). ``copy`` loops are
expanded; ``utcNow()`` is a fixed time.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

SUBSCRIPTION = "00000000-0000-0000-0000-000000000000"
RESOURCE_GROUP = "rg"
LOCATION = "westus"
NOW = "20260101T000000Z"


@dataclass(frozen=True)
class Deferred:
    """A value known only once a resource is deployed: ``reference(id).a.b``."""

    function: str
    resource_id: str
    path: tuple[Any, ...] = ()

    def get(self, key: Any) -> Deferred:
        return Deferred(self.function, self.resource_id, (*self.path, key))

    def __str__(self) -> str:
        return f"<{self.function}({self.resource_id}){''.join(f'.{p}' for p in self.path)}>"


_TOKEN = re.compile(
    r"\s*(?:(?P<num>-?\d+)|(?P<str>'(?:[^']|'')*')|(?P<id>[A-Za-z_$][\w$.]*)|(?P<p>[()\[\],.]))"
)


def tokenize(text: str) -> list[tuple[str, Any]]:
    out: list[tuple[str, Any]] = []
    i = 0
    text = text.rstrip()
    while i < len(text):
        m = _TOKEN.match(text, i)
        if not m:
            raise ValueError(f"cannot tokenize {text[i:]!r}")
        i = m.end()
        if m.group("num") is not None:
            out.append(("num", int(m.group("num"))))
        elif m.group("str") is not None:
            out.append(("str", m.group("str")[1:-1].replace("''", "'")))
        elif m.group("id") is not None:
            # `a.b.c` after a call is property access: split identifiers on dots
            parts = m.group("id").split(".")
            out.append(("id", parts[0]))
            for part in parts[1:]:
                out += [("p", "."), ("id", part)]
        else:
            out.append(("p", m.group("p")))
    return out


@dataclass
class Scope:
    parameters: dict[str, Any]
    variables: dict[str, Any]
    resolving: dict[str, Any] = field(default_factory=dict)
    copy_index: dict[str | None, int] = field(default_factory=dict)


class Evaluator:
    def __init__(self, scope: Scope) -> None:
        self.scope = scope

    def value(self, v: Any) -> Any:
        if isinstance(v, str):
            if v.startswith("[["):
                return v[1:]
            if v.startswith("[") and v.endswith("]"):
                return self.expression(v[1:-1])
            return v
        if isinstance(v, list):
            return [self.value(x) for x in v]
        if isinstance(v, dict):
            out: dict[str, Any] = {}
            for k, x in v.items():
                if k == "copy" and isinstance(x, list):
                    for loop in x:
                        out[loop["name"]] = self.copy_items(loop, loop["name"])
                    continue
                out[k] = self.value(x)
            return out
        return v

    def copy_items(self, loop: dict[str, Any], name: str | None) -> list[Any]:
        count = self.value(loop["count"])
        items = []
        for i in range(count):
            self.scope.copy_index[name] = i
            items.append(self.value(loop["input"]))
        self.scope.copy_index.pop(name, None)
        return items

    def expression(self, text: str) -> Any:
        self.tokens = tokenize(text)
        self.i = 0
        result = self.parse()
        if self.i != len(self.tokens):
            raise ValueError(f"trailing tokens in {text!r}")
        return result

    def parse(self) -> Any:
        kind, tok = self.tokens[self.i]
        self.i += 1
        if kind in ("num", "str"):
            value: Any = tok
        elif kind == "id":
            args: list[Any] = []
            self.expect("(")
            while self.tokens[self.i] != ("p", ")"):
                args.append(self.parse())
                if self.tokens[self.i] == ("p", ","):
                    self.i += 1
            self.i += 1
            value = self.call(tok, args)
        else:
            raise ValueError(f"unexpected {tok!r}")
        while self.i < len(self.tokens) and self.tokens[self.i] in (("p", "."), ("p", "[")):
            _, p = self.tokens[self.i]
            self.i += 1
            if p == ".":
                key = self.tokens[self.i][1]
                self.i += 1
            else:
                key = self.parse()
                self.expect("]")
            value = value.get(key) if isinstance(value, Deferred) else index(value, key)
        return value

    def expect(self, p: str) -> None:
        if self.tokens[self.i] != ("p", p):
            raise ValueError(f"expected {p!r}")
        self.i += 1

    def call(self, name: str, args: list[Any]) -> Any:
        n = name.lower()
        if n == "parameters":
            return self.scope.parameters[args[0]]
        if n == "variables":
            return self.variable(args[0])
        if n == "copyindex":
            loop = args[0] if args and isinstance(args[0], str) else None
            offset = args[-1] if args and isinstance(args[-1], int) else 0
            return self.scope.copy_index[loop] + offset
        if n == "reference":
            return Deferred("reference", str(args[0]))
        if n.startswith("list"):
            return Deferred(name, str(args[0]))
        if n not in ("format", "concat", "resourceid", "string") and any(
            isinstance(a, Deferred) for a in args
        ):
            # a function of a value known only after deployment is itself deferred
            return Deferred(name, ", ".join(map(str, args)))
        return FUNCTIONS[n](*args)

    def variable(self, name: str) -> Any:
        if name not in self.scope.variables:
            raise KeyError(f"no variable {name}")
        if name not in self.scope.resolving:
            self.scope.resolving[name] = Evaluator(self.scope).value(self.scope.variables[name])
        return self.scope.resolving[name]


def index(value: Any, key: Any) -> Any:
    if isinstance(value, dict):
        for k, v in value.items():
            if isinstance(key, str) and k.lower() == key.lower():
                return v
        raise KeyError(key)
    return value[key]


def _format(fmt: str, *args: Any) -> str:
    def repl(m: re.Match[str]) -> str:
        if m.group(0) in ("{{", "}}"):
            return m.group(0)[0]
        return to_text(args[int(m.group(1))])

    return re.sub(r"\{\{|\}\}|\{(\d+)\}", repl, fmt)


def to_text(v: Any) -> str:
    if isinstance(v, bool):
        return "True" if v else "False"
    if isinstance(v, dict | list):
        return json.dumps(v, separators=(",", ":"))
    return str(v)


def _resource_id(*args: Any) -> str:
    type_ = args[0]
    names = [str(a) for a in args[1:]]
    provider, *types = type_.split("/")
    path = f"/subscriptions/{SUBSCRIPTION}/resourceGroups/{RESOURCE_GROUP}/providers/{provider}"
    for t, n in zip(types, names, strict=True):
        path += f"/{t}/{n}"
    return path


def _concat(*args: Any) -> Any:
    if args and isinstance(args[0], list):
        return [x for a in args for x in a]
    return "".join(to_text(a) for a in args)


FUNCTIONS: dict[str, Any] = {
    "format": _format,
    "concat": _concat,
    "resourceid": _resource_id,
    "split": lambda s, sep: s.split(sep),
    "json": json.loads,
    "string": to_text,
    "int": int,
    "bool": bool,
    "utcnow": lambda *a: NOW,
    "resourcegroup": lambda: {
        "name": RESOURCE_GROUP,
        "location": LOCATION,
        "id": f"/subscriptions/{SUBSCRIPTION}/resourceGroups/{RESOURCE_GROUP}",
    },
    "subscription": lambda: {
        "subscriptionId": SUBSCRIPTION,
        "id": f"/subscriptions/{SUBSCRIPTION}",
    },
    "createobject": lambda *a: dict(zip(a[::2], a[1::2], strict=True)),
    "createarray": lambda *a: list(a),
    "equals": lambda a, b: a == b,
    "not": lambda a: not a,
    "and": lambda *a: all(a),
    "or": lambda *a: any(a),
    "if": lambda c, a, b: a if c else b,
    "coalesce": lambda *a: next((x for x in a if x is not None), None),
    "null": lambda: None,
    "true": lambda: True,
    "false": lambda: False,
    "add": lambda a, b: a + b,
    "sub": lambda a, b: a - b,
    "mul": lambda a, b: a * b,
    "div": lambda a, b: int(a / b),
    "mod": lambda a, b: a % b,
    "less": lambda a, b: a < b,
    "lessorequals": lambda a, b: a <= b,
    "greater": lambda a, b: a > b,
    "greaterorequals": lambda a, b: a >= b,
    "length": len,
    "range": lambda start, count: list(range(start, start + count)),
    "tolower": str.lower,
    "toupper": str.upper,
    "tryget": lambda v, k: v.get(k) if isinstance(v, dict) else (v[k] if 0 <= k < len(v) else None),
    "empty": lambda v: not v,
}


def evaluate_template(template: dict[str, Any], parameters: dict[str, Any]) -> dict[str, Any]:
    """Parameter values, resources keyed by (type, name) and outputs, all evaluated.

    Nested ``Microsoft.Resources/deployments`` with an inline template are evaluated too (inner
    scope: their parameters in the outer scope, their template in its own), and their resources
    appear under ``"<deployment name>/"``-prefixed keys.
    """
    declared = template.get("parameters", {})
    scope = Scope({}, template.get("variables", {}))
    ev = Evaluator(scope)
    unknown = set(parameters) - set(declared)
    if unknown:
        raise KeyError(f"parameters not declared by the template: {sorted(unknown)}")
    for name, decl in declared.items():
        if name in parameters:
            scope.parameters[name] = parameters[name]
        elif "defaultValue" in decl:
            scope.parameters[name] = ev.value(decl["defaultValue"])
        else:
            raise KeyError(f"missing parameter {name}")
    if "copy" in scope.variables:
        variables = dict(scope.variables)
        for loop in variables.pop("copy"):
            variables[loop["name"]] = ev.copy_items(loop, loop["name"])
        scope.variables = variables
    resources: dict[tuple[str, str], dict[str, Any]] = {}
    for res in template.get("resources", []):
        for i in range(ev.value(res["copy"]["count"]) if "copy" in res else 1):
            if "copy" in res:
                scope.copy_index[None] = i
            if "condition" in res and not ev.value(res["condition"]):
                continue
            nested = res[
                "type"
            ].lower() == "microsoft.resources/deployments" and "template" in res.get(
                "properties", {}
            )
            shown = (
                {
                    **res,
                    "properties": {k: v for k, v in res["properties"].items() if k != "template"},
                }
                if nested
                else res
            )
            body = {
                k: ev.value(v)
                for k, v in shown.items()
                if k not in ("copy", "condition", "dependsOn")
            }
            body["dependsOn"] = sorted(str(ev.value(d)) for d in res.get("dependsOn", []))
            key = (res["type"].lower(), body["name"])
            if nested:
                inner_params = {
                    k: v["value"] for k, v in body["properties"].get("parameters", {}).items()
                }
                inner = evaluate_template(res["properties"]["template"], inner_params)
                del body["properties"]["parameters"]
                body["parameters"] = inner_params
                for (t, n), r in inner["resources"].items():
                    resources[(t, f"{body['name']} > {n}")] = r
                body["outputs"] = inner["outputs"]
            resources[key] = body
        scope.copy_index.pop(None, None)
    outputs = {k: ev.value(v.get("value")) for k, v in template.get("outputs", {}).items()}
    return {"parameters": scope.parameters, "resources": resources, "outputs": outputs}


def diff(left: Any, right: Any, path: str = "") -> list[tuple[str, Any, Any]]:
    """Every place where two evaluated values differ: (path, left, right)."""
    if isinstance(left, dict) and isinstance(right, dict):
        out: list[tuple[str, Any, Any]] = []
        for k in sorted(set(left) | set(right), key=str):
            out += diff(left.get(k, "<absent>"), right.get(k, "<absent>"), f"{path}/{k}")
        return out
    if isinstance(left, list) and isinstance(right, list) and len(left) == len(right):
        return [
            d
            for i, (a, b) in enumerate(zip(left, right, strict=True))
            for d in diff(a, b, f"{path}[{i}]")
        ]
    if isinstance(left, Deferred) or isinstance(right, Deferred):
        return [] if str(left) == str(right) else [(path, str(left), str(right))]
    return [] if left == right else [(path, left, right)]
