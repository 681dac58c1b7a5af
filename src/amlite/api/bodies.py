"""Reading request bodies safely: size capped while streaming, JSON parsed with limits.

Every route that reads a body goes through ``read_capped`` (or ``check_declared_size`` then
its own streaming loop, for uploads): a declared ``Content-Length`` over the limit is refused
before one byte is read, and a chunked body is refused as soon as it passes the limit, so a
client cannot make the server hold more than the limit in memory. Routes authenticate before
they read (the body dependencies depend on the principal).

``parse_json`` turns bytes into a value or a ``ValidationFailed`` naming the JSON path:

* nesting deeper than ``MAX_JSON_DEPTH`` (a 10k-deep array would exhaust the recursion limit);
* integers longer than ``MAX_INT_DIGITS`` digits (beyond any 64-bit field; Python refuses to
  convert more than 4,300 digits anyway, with a ValueError);
* non-finite numbers (``NaN``, ``Infinity``, ``1e999``) unless the caller allows them (MLflow
  clients send them as metric values);
* control characters in any string or key (``amlite.domain.text``: NUL and the C0 controls
  but tab and line breaks; MLflow bodies, whose values are free text, refuse only NUL, which
  no store can hold).

The checks cost next to nothing on ordinary bodies: the tree is walked only when the parse
saw a huge integer or a non-finite number, the body holds more brackets than the depth limit,
or an escape that can stand for a control character (``\\u0000``-``\\u001f``, ``\\b``, ``\\f``;
a raw control character is not valid JSON).
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

from fastapi import Request

from amlite.domain.text import control_char_problem
from amlite.errors import PayloadTooLarge, ValidationFailed

MAX_JSON_BYTES = 4 * 1024 * 1024
"""The largest JSON body any route reads (a job document is a few KiB)."""

MAX_JSON_DEPTH = 64
"""The deepest nesting of arrays and objects a JSON body may have."""

MAX_INT_DIGITS = 20
"""The most digits (sign included) a JSON integer may have: every int64 fits."""

_CONTROL_ESCAPE = re.compile(rb"\\(?:u00[01][0-9a-fA-F]|[bf])")
"""An escape in JSON text that may stand for a control character (a cheap first look)."""


def check_declared_size(request: Request, limit: int, target: str = "body") -> None:
    """Refuse a body whose ``Content-Length`` is over ``limit`` before reading any of it."""
    declared = request.headers.get("content-length")
    if declared is None:
        return
    text = declared.strip()
    if not (text.isascii() and text.isdigit()):
        raise ValidationFailed.one("Content-Length", "must be a non-negative integer")
    if len(text) > 19 or int(text) > limit:
        raise PayloadTooLarge(f"the {target} is larger than {limit} bytes", target=target)


async def read_capped(request: Request, limit: int = MAX_JSON_BYTES, target: str = "body") -> bytes:
    """The whole body, refused (413) as soon as it is known to be over ``limit`` bytes."""
    check_declared_size(request, limit, target)
    data = bytearray()
    async for chunk in request.stream():
        if len(data) + len(chunk) > limit:
            raise PayloadTooLarge(f"the {target} is larger than {limit} bytes", target=target)
        data += chunk
    return bytes(data)


class _Flagged:
    """What the parse hooks saw that needs a look at the whole tree."""

    def __init__(self) -> None:
        self.seen = False


class _HugeInt(str):
    """An integer literal too long to convert, kept as text until it is reported."""


class _NonFinite(float):
    """A number that is NaN or infinite, kept until it is reported."""


def parse_json(raw: bytes, *, allow_non_finite: bool = False, free_text: bool = False) -> Any:
    """The JSON value in ``raw``; ValidationFailed naming the path of what is refused.
    ``free_text`` lets strings hold control characters other than NUL (MLflow values)."""
    if not raw.strip():
        raise ValidationFailed.one("body", "a JSON body is required")
    flags = _Flagged()

    def parse_int(text: str) -> int | str:
        if len(text) > MAX_INT_DIGITS:
            flags.seen = True
            return _HugeInt(text)
        return int(text)

    def parse_float(text: str) -> float:
        value = float(text)
        if not math.isfinite(value) and not allow_non_finite:
            flags.seen = True
            return _NonFinite(value)
        return value

    def parse_constant(text: str) -> float:
        return parse_float(text)

    try:
        value = json.loads(
            raw, parse_int=parse_int, parse_float=parse_float, parse_constant=parse_constant
        )
    except RecursionError:
        raise ValidationFailed.one(
            "body", f"JSON nested deeper than {MAX_JSON_DEPTH} levels is not accepted"
        ) from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ValidationFailed.one("body", f"malformed JSON: {exc}") from None
    except ValueError as exc:  # defensive: any other conversion limit of the parser
        raise ValidationFailed.one("body", f"unreadable JSON: {exc}") from None
    brackets = raw.count(b"[") + raw.count(b"{")
    if flags.seen or brackets > MAX_JSON_DEPTH or _CONTROL_ESCAPE.search(raw):
        _check_tree(value, free_text)
    return value


def _path(parent: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{parent}[{key}]"
    return f"{parent}.{key}" if parent else key


def _text_problem(text: str, free_text: bool) -> str | None:
    if free_text:
        return "must not contain a NUL character" if "\x00" in text else None
    return control_char_problem(text)


def _check_tree(root: Any, free_text: bool) -> None:
    """Walk the parsed value (iteratively: no recursion to exhaust) and refuse the first
    problem found, naming its JSON path."""
    stack: list[tuple[Any, str, int]] = [(root, "", 0)]
    while stack:
        value, path, depth = stack.pop()
        target = path or "body"
        if isinstance(value, _HugeInt):
            raise ValidationFailed.one(
                target,
                f"integer with {len(value)} characters is too large "
                f"(at most {MAX_INT_DIGITS} digits; 64-bit range)",
            )
        if isinstance(value, _NonFinite):
            raise ValidationFailed.one(target, "must be a finite number")
        if isinstance(value, str):
            problem = _text_problem(value, free_text)
            if problem:
                raise ValidationFailed.one(target, problem)
            continue
        if isinstance(value, dict | list):
            if depth >= MAX_JSON_DEPTH:
                raise ValidationFailed.one(
                    target, f"JSON nested deeper than {MAX_JSON_DEPTH} levels is not accepted"
                )
            if isinstance(value, dict):
                for key, item in value.items():
                    problem = _text_problem(key, free_text)
                    if problem:
                        shown = key.encode("unicode_escape").decode("ascii")
                        raise ValidationFailed.one(_path(path, shown), f"a key {problem}")
                    stack.append((item, _path(path, key), depth + 1))
            else:
                stack.extend((item, _path(path, i), depth + 1) for i, item in enumerate(value))
