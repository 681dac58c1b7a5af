"""Hyperparameter search spaces: the ten distributions of Azure ML sweeps (pure Python).

Two spellings are accepted for each parameter:

* the wire list form: ``["uniform", [0.1, 0.9]]``, ``["choice", [[16, 32]]]``,
  ``["randint", [10]]``, ``["qnormal", [0, 1, 0.5]]`` ...
* the CLI v2 YAML object form: ``{"type": "uniform", "min_value": 0.1, "max_value": 0.9}``,
  ``{"type": "choice", "values": [16, 32]}``, ``{"type": "randint", "upper": 10}`` ...

A choice option may be a dict whose values are distributions or constants (a nested
space). ``to_wire`` always answers with the wire list form. Semantics (for samplers):
``randint(u)`` is an integer in [0, u); ``uniform(a, b)`` is U(a, b); ``loguniform(a, b)``
is exp(U(a, b)); ``normal(mu, sigma)`` is N(mu, sigma); ``lognormal`` is exp(N(mu, sigma));
q-variants round the drawn value: round(x / q) * q.

Names: parameter names follow ``amlite.domain.names.PARAMETER_NAME_PATTERN`` (identifiers,
optionally ``--``-prefixed, ``-`` allowed), keys of nested options ``NESTED_KEY_PATTERN``.

Size: ``space_size`` counts grid points without enumerating them (one multiplication or
addition per node of the space). A Grid sweep may hold at most ``GRID_MAX_POINTS`` points;
Random and Bayesian sampling never enumerate the space, so they have no such limit.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from amlite.domain.json_value import JsonValue, is_json
from amlite.domain.names import (
    NESTED_KEY_PATTERN,
    PARAMETER_NAME_PATTERN,
    is_nested_key,
    is_parameter_name,
)

UNIFORM_KINDS = ("uniform", "loguniform", "quniform", "qloguniform")
NORMAL_KINDS = ("normal", "lognormal", "qnormal", "qlognormal")
KINDS = ("choice", "randint", *UNIFORM_KINDS, *NORMAL_KINDS)

MAX_NESTING = 16
"""How deep choices may nest in choice options, and JSON constants in options may nest."""

GRID_MAX_POINTS = 1_000_000
"""The most points a Grid sweep's search space may hold (nested options counted expanded)."""

PARAMETER_NAME_RULE = (
    f"must be an identifier, optionally prefixed with --, matching {PARAMETER_NAME_PATTERN}"
)


@dataclass(frozen=True)
class Nested:
    """A choice option that is itself a small space: constants and distributions by name."""

    params: Mapping[str, Distribution | JsonValue]


@dataclass(frozen=True)
class Choice:
    """One of ``options``; an option is a JSON value or a ``Nested`` space."""

    options: tuple[JsonValue | Nested, ...]
    kind: str = field(default="choice", init=False)


@dataclass(frozen=True)
class RandInt:
    """An integer in [0, upper)."""

    upper: int
    kind: str = field(default="randint", init=False)


@dataclass(frozen=True)
class Uniform:
    """U(low, high); with ``log`` the value is exp(U(low, high)); with ``q`` rounded to q."""

    low: float
    high: float
    q: float | None = None
    log: bool = False

    @property
    def kind(self) -> str:
        return ("q" if self.q is not None else "") + ("log" if self.log else "") + "uniform"


@dataclass(frozen=True)
class Normal:
    """N(mu, sigma); with ``log`` the value is exp(N(mu, sigma)); with ``q`` rounded to q."""

    mu: float
    sigma: float
    q: float | None = None
    log: bool = False

    @property
    def kind(self) -> str:
        return ("q" if self.q is not None else "") + ("log" if self.log else "") + "normal"


Distribution = Choice | RandInt | Uniform | Normal


class SearchSpaceError(ValueError):
    """Some parameters are malformed; ``problems`` maps each parameter name to what is wrong."""

    def __init__(self, problems: dict[str, str]) -> None:
        super().__init__("; ".join(f"{name}: {msg}" for name, msg in problems.items()))
        self.problems = problems


def parse_search_space(raw: Mapping[str, object]) -> dict[str, Distribution]:
    """Every parameter of ``raw`` parsed; raises SearchSpaceError naming each bad parameter."""
    space: dict[str, Distribution] = {}
    problems: dict[str, str] = {}
    for name, value in raw.items():
        if not is_parameter_name(name):
            problems[str(name)] = f"parameter name {name!r} {PARAMETER_NAME_RULE}"
            continue
        try:
            space[name] = parse_distribution(value)
        except ValueError as exc:
            problems[name] = str(exc)
    if problems:
        raise SearchSpaceError(problems)
    return space


def parse_distribution(value: object, depth: int = 0) -> Distribution:
    """One distribution from its wire list or YAML object form; ValueError when malformed.

    ``depth``: how many choice options this one is nested in (at most ``MAX_NESTING``)."""
    if depth > MAX_NESTING:
        raise ValueError(f"choices nest in choice options at most {MAX_NESTING} levels deep")
    if isinstance(value, list | tuple):
        return _from_wire(value, depth)
    if isinstance(value, Mapping):
        return _from_object(value, depth)
    raise ValueError(
        'must be a distribution such as ["uniform", [0, 1]] or {"type": "uniform", ...}'
    )


def looks_like_distribution(value: object) -> bool:
    """Whether a value inside a nested choice option is a distribution (not a constant)."""
    if isinstance(value, list | tuple):
        return (
            len(value) == 2
            and isinstance(value[0], str)
            and value[0].lower() in KINDS
            and isinstance(value[1], list | tuple)
        )
    if isinstance(value, Mapping):
        kind = next((v for k, v in value.items() if str(k).lower() == "type"), None)
        return isinstance(kind, str) and kind.lower() in KINDS
    return False


def _from_wire(value: Sequence[object], depth: int) -> Distribution:
    if len(value) != 2 or not isinstance(value[0], str) or not isinstance(value[1], list | tuple):
        raise ValueError('the list form is ["<distribution>", [<arguments>]]')
    kind = _kind(value[0])
    args: list[object] = list(value[1])
    if kind == "choice":
        if len(args) != 1 or not isinstance(args[0], list | tuple):
            raise ValueError('choice takes one argument, the list of options: ["choice", [[a, b]]]')
        return _choice(args[0], depth)
    arity = {"randint": 1}.get(kind, 3 if kind.startswith("q") else 2)
    if len(args) != arity:
        raise ValueError(
            f"{kind} takes {arity} argument{'s' if arity > 1 else ''}, got {len(args)}"
        )
    if kind == "randint":
        return _randint(args[0])
    q = args[2] if kind.startswith("q") else None
    return _continuous(kind, args[0], args[1], q)


_OBJECT_KEYS = {
    "choice": ("values",),
    "randint": ("upper",),
    "uniform": ("min_value", "max_value"),
    "loguniform": ("min_value", "max_value"),
    "quniform": ("min_value", "max_value", "q"),
    "qloguniform": ("min_value", "max_value", "q"),
    "normal": ("mu", "sigma"),
    "lognormal": ("mu", "sigma"),
    "qnormal": ("mu", "sigma", "q"),
    "qlognormal": ("mu", "sigma", "q"),
}


def _from_object(value: Mapping[object, object], depth: int) -> Distribution:
    fields = {str(k).lower(): v for k, v in value.items()}
    if not fields:
        raise ValueError("empty distribution: give a type and its arguments")
    if "type" not in fields:
        raise ValueError("the object form needs 'type'")
    kind = _kind(fields.pop("type"))
    wanted = _OBJECT_KEYS[kind]
    unknown = sorted(set(fields) - set(wanted))
    if unknown:
        raise ValueError(f"{kind} does not take {', '.join(unknown)}; it takes {', '.join(wanted)}")
    missing = [k for k in wanted if k not in fields]
    if missing:
        raise ValueError(f"{kind} needs {', '.join(missing)}")
    if kind == "choice":
        if not isinstance(fields["values"], list | tuple):
            raise ValueError("choice values must be a list")
        return _choice(fields["values"], depth)
    if kind == "randint":
        return _randint(fields["upper"])
    a, b = (fields[k] for k in wanted[:2])
    return _continuous(kind, a, b, fields.get("q"))


def _kind(name: object) -> str:
    if not isinstance(name, str) or name.lower() not in KINDS:
        raise ValueError(f"unknown distribution {name!r}; one of: {', '.join(KINDS)}")
    return name.lower()


def _number(value: object, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ValueError(f"{what} must be a finite number, got {value!r}")
    return value


def _json_depth(value: object) -> int:
    """How deep a JSON value nests (a scalar is 0), without recursion."""
    deepest, todo = 0, [(value, 0)]
    while todo:
        item, level = todo.pop()
        deepest = max(deepest, level)
        if level > MAX_NESTING:
            break
        if isinstance(item, Mapping):
            todo.extend((v, level + 1) for v in item.values())
        elif isinstance(item, list | tuple):
            todo.extend((v, level + 1) for v in item)
    return deepest


def _constant(value: object) -> JsonValue:
    if _json_depth(value) > MAX_NESTING:
        raise ValueError(f"a constant in a choice may nest at most {MAX_NESTING} levels deep")
    if isinstance(value, tuple):  # a Python caller's list
        value = list(value)
    if not is_json(value):
        raise ValueError(f"a constant in a choice must be a JSON value, got {value!r}")
    return value


def _choice(options: Sequence[object], depth: int = 0) -> Choice:
    if not options:
        raise ValueError("choice needs at least one option")
    parsed: list[JsonValue | Nested] = []
    for option in options:
        if isinstance(option, Mapping):
            params: dict[str, Distribution | JsonValue] = {}
            for key, inner in option.items():
                if not is_nested_key(key):
                    raise ValueError(
                        f"key {key!r} of a nested option must be an identifier matching "
                        f"{NESTED_KEY_PATTERN}"
                    )
                if looks_like_distribution(inner):
                    params[str(key)] = parse_distribution(inner, depth + 1)
                else:
                    params[str(key)] = _constant(inner)
            parsed.append(Nested(params))
        else:
            parsed.append(_constant(option))
    return Choice(tuple(parsed))


def _randint(upper: object) -> RandInt:
    if isinstance(upper, float) and upper.is_integer():
        upper = int(upper)
    if isinstance(upper, bool) or not isinstance(upper, int):
        raise ValueError(f"randint upper must be an integer, got {upper!r}")
    if upper < 1:
        raise ValueError(f"randint upper must be at least 1, got {upper}")
    return RandInt(upper)


def _continuous(kind: str, a: object, b: object, q: object) -> Uniform | Normal:
    log = "log" in kind
    q_value = _number(q, "q") if kind.startswith("q") else None
    if q_value is not None and q_value <= 0:
        raise ValueError(f"q must be positive, got {q_value}")
    if kind.endswith("uniform"):
        low, high = _number(a, "min_value"), _number(b, "max_value")
        if low > high:
            raise ValueError(f"min_value {low} is greater than max_value {high}")
        return Uniform(low, high, q_value, log)
    mu, sigma = _number(a, "mu"), _number(b, "sigma")
    if sigma <= 0:
        raise ValueError(f"sigma must be positive, got {sigma}")
    return Normal(mu, sigma, q_value, log)


def to_wire(dist: Distribution) -> list[JsonValue]:
    """The wire list form, e.g. ``["choice", [[16, 32]]]`` or ``["quniform", [0, 1, 0.1]]``."""
    if isinstance(dist, Choice):
        return ["choice", [[_option_to_wire(o) for o in dist.options]]]
    if isinstance(dist, RandInt):
        return ["randint", [dist.upper]]
    first, second = (dist.low, dist.high) if isinstance(dist, Uniform) else (dist.mu, dist.sigma)
    args: list[JsonValue] = [first, second] if dist.q is None else [first, second, dist.q]
    return [dist.kind, args]


def _option_to_wire(option: JsonValue | Nested) -> JsonValue:
    if isinstance(option, Nested):
        return {
            k: to_wire(v) if isinstance(v, Choice | RandInt | Uniform | Normal) else v
            for k, v in option.params.items()
        }
    return option


def space_size(space: Mapping[str, Distribution]) -> int | None:
    """Number of grid points when every parameter (nested ones too) is a choice, else None."""
    total = 1
    for dist in space.values():
        size = _size(dist)
        if size is None:
            return None
        total *= size
    return total


def _size(dist: Distribution) -> int | None:
    if not isinstance(dist, Choice):
        return None
    total = 0
    for option in dist.options:
        if isinstance(option, Nested):
            inner = {k: v for k, v in option.params.items() if isinstance(v, Distribution)}
            size = space_size(inner)
            if size is None:
                return None
            total += size
        else:
            total += 1
    return total


def count_text(n: int, *, grouped: bool = False) -> str:
    """A point count as text; astronomically large ones (thousands of digits, which Python
    refuses to print) as a power of two."""
    if n.bit_length() > 9000:
        return f"at least 2^{n.bit_length() - 1}"
    return f"{n:,}" if grouped else str(n)


def grid_size_problem(space: Mapping[str, Distribution]) -> str | None:
    """Why ``space`` is too large for Grid sampling, or None when it fits."""
    size = space_size(space)
    if size is None or size <= GRID_MAX_POINTS:
        return None
    return (
        f"the grid has {count_text(size, grouped=True)} points (nested options expanded); "
        f"Grid sampling allows at "
        f"most {GRID_MAX_POINTS:,}: use fewer values, or Random sampling"
    )


def is_nested(dist: Distribution) -> bool:
    """Whether a choice holds options with distributions inside them."""
    return isinstance(dist, Choice) and any(
        isinstance(o, Nested) and any(isinstance(v, Distribution) for v in o.params.values())
        for o in dist.options
    )
