"""Parameter values: drawing them from distributions, quantizing, and formatting them.

Everything here is pure. Drawing takes an explicit ``random.Random`` so that callers decide
the seeding (see ``trial_rng``: one stream per (seed, trial index, parameter name)).

Value shapes (shared by every sampler):

* a plain choice option, an integer (``randint``, q-variants with an integral ``q``) or a
  float is the parameter's value as is;
* a choice option that is a ``Nested`` space becomes a ``dict`` of its keys: constants kept,
  inner distributions replaced by a drawn value (recursively). The top-level parameter's
  value is that dict, so ``${{search_space.model}}`` renders it as JSON, and
  ``substitutions`` also exposes every key as ``model.C`` (dotted path).

Quantization: ``round(x / q) * q`` with Python's ``round`` (half to even, as numpy and
hyperopt do). The result is an ``int`` when ``q`` is integral, otherwise a float computed in
decimal arithmetic from ``q``'s shortest repr, so ``quniform(0, 1, 0.1)`` yields ``0.3`` and
not ``0.30000000000000004``. The result is not clamped to [min, max] (hyperopt semantics):
``quniform(0.05, 1, 0.1)`` can yield ``0.0``.
"""

from __future__ import annotations

import hashlib
import json
import math
import random
from collections.abc import Mapping
from decimal import Decimal

from amlite.domain.json_value import JsonValue
from amlite.domain.search_space import Choice, Distribution, Nested, Normal, RandInt, Uniform


def stable_int(*parts: object) -> int:
    """A 64-bit integer hash of ``parts`` that is the same in every process (unlike ``hash``)."""
    text = "\x1f".join(repr(p) for p in parts)
    return int.from_bytes(hashlib.sha256(text.encode("utf-8")).digest()[:8], "big")


def trial_rng(seed: int, index: int, name: str) -> random.Random:
    """The random stream of parameter ``name`` in trial ``index`` of a sweep seeded ``seed``."""
    return random.Random(stable_int("amlite.sweep", seed, index, name))


def quantize(x: float, q: float) -> int | float:
    """``round(x / q) * q``; an int when ``q`` is integral, else a float without FP noise."""
    k = round(x / q)
    if float(q).is_integer():
        return int(k) * int(q)
    return float(Decimal(k) * Decimal(repr(float(q))))


def draw(dist: Distribution, rng: random.Random) -> JsonValue:
    """One value of ``dist`` (nested choice options become dicts of drawn values)."""
    if isinstance(dist, Choice):
        return resolve_option(dist.options[rng.randrange(len(dist.options))], rng)
    if isinstance(dist, RandInt):
        return rng.randrange(dist.upper)
    if isinstance(dist, Uniform):
        x = rng.uniform(dist.low, dist.high)
    elif isinstance(dist, Normal):
        x = rng.gauss(dist.mu, dist.sigma)
    else:  # pragma: no cover - Distribution is a closed union
        raise TypeError(f"not a distribution: {dist!r}")
    if dist.log:
        x = math.exp(x)
    return x if dist.q is None else quantize(x, dist.q)


def resolve_option(option: JsonValue | Nested, rng: random.Random) -> JsonValue:
    """A choice option as a value: a ``Nested`` space has its distributions drawn."""
    if not isinstance(option, Nested):
        return option
    return {
        key: draw(inner, rng) if isinstance(inner, Distribution) else inner
        for key, inner in option.params.items()
    }


def format_value(value: JsonValue) -> str:
    """The text of a value in a command: ``3``, ``0.1``, ``adam``, JSON for dicts and lists.

    Integral ints print without ``.0``; floats use Python's shortest round-trip repr (``1e-05``
    stays ``1e-05``); booleans print as ``True``/``False`` as Python would show them to a script.
    """
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return repr(value)
    if value is None:
        return "None"
    return json.dumps(value, separators=(", ", ": "), default=str)


def substitutions(params: Mapping[str, JsonValue]) -> dict[str, str]:
    """Every reachable value as text: each top-level name, and ``a.b`` for nested dict keys."""
    out: dict[str, str] = {}

    def walk(prefix: str, value: JsonValue) -> None:
        out[prefix] = format_value(value)
        if isinstance(value, Mapping):
            for key, inner in value.items():
                walk(f"{prefix}.{key}", inner)

    for name, value in params.items():
        walk(name, value)
    return out
