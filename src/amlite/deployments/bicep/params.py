"""``.bicepparam`` files: ``using './main.bicep'`` and ``param name = value`` lines.

Values are evaluated at load time: literals, objects, arrays, strings (``${}`` holes may name
parameters declared above), ``readEnvironmentVariable('NAME'[, 'default'])`` and the
operators ``+`` on strings and ints, ``-`` and ``!``.
"""

from __future__ import annotations

import os
from pathlib import Path

from amlite.domain.json_value import JsonObject, JsonValue

from . import syntax as s
from .errors import BicepError, Position
from .lexer import EOF, IDENT, NEWLINE, STRING, tokenize
from .parser import Parser


def load_bicepparam(path: Path) -> tuple[Path, JsonObject]:
    """The Bicep file the parameters are for (resolved) and the parameter values."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise BicepError(
            f"cannot read the parameters file: {exc.strerror}", Position(path, 1, 1)
        ) from None
    parser = Parser(tokenize(text, path))
    target: Path | None = None
    values: JsonObject = {}
    parser.skip_newlines()
    while not parser.at(EOF):
        tok = parser.peek()
        if tok.kind == IDENT and tok.text == "using":
            parser.next()
            ref = parser.expect(STRING, "the path of the Bicep file")
            if len(ref.parts) != 1 or target is not None:
                raise parser.error("'using' takes one literal path, once", ref)
            target = (path.parent / str(ref.parts[0])).resolve()
            if not target.is_file():
                raise parser.error(
                    f"the Bicep file '{ref.parts[0]}' does not exist ({target})", ref
                )
        elif tok.kind == IDENT and tok.text == "param":
            parser.next()
            name = parser.expect(IDENT, "a parameter name")
            parser.expect("=")
            if name.text in values:
                raise parser.error(f"the parameter '{name.text}' is set more than once", name)
            values[name.text] = evaluate(parser.expression(), values)
        else:
            raise parser.error(f"'using' or 'param' expected, found '{tok.text or tok.kind}'", tok)
        if not parser.at(NEWLINE) and not parser.at(EOF):
            raise parser.error("end of line expected")
        parser.skip_newlines()
    if target is None:
        raise BicepError("the parameters file has no 'using' statement", Position(path, 1, 1))
    return target, values


def compile_params(path: Path) -> JsonObject:
    """A ``.bicepparam`` file as a deploymentParameters document (``{"parameters": {name:
    {"value": v}}}``), the shape ``--parameters @file.json`` takes."""
    _, values = load_bicepparam(path)
    return {
        "$schema": "https://schema.management.azure.com/schemas/2019-04-01/deploymentParameters.json#",
        "contentVersion": "1.0.0.0",
        "parameters": {name: {"value": value} for name, value in values.items()},
    }


def evaluate(expr: s.Expr, known: JsonObject) -> JsonValue:
    if isinstance(expr, s.Literal):
        return expr.value
    if isinstance(expr, s.Str):
        out = expr.texts[0]
        for hole, text in zip(expr.holes, expr.texts[1:], strict=True):
            value = evaluate(hole, known)
            out += (
                ("true" if value else "false") if isinstance(value, bool) else str(value)
            ) + text
        return out
    if isinstance(expr, s.Obj):
        return {p.key: evaluate(p.value, known) for p in expr.properties}
    if isinstance(expr, s.Arr):
        return [evaluate(item, known) for item in expr.items]
    if isinstance(expr, s.Ident) and expr.name in known:
        return known[expr.name]
    if isinstance(expr, s.Unary):
        value = evaluate(expr.operand, known)
        if expr.op == "!" and isinstance(value, bool):
            return not value
        if expr.op == "-" and type(value) is int:
            return -value
    if isinstance(expr, s.Binary) and expr.op == "+":
        left, right = evaluate(expr.left, known), evaluate(expr.right, known)
        if isinstance(left, str) and isinstance(right, str):
            return left + right
        if type(left) is int and type(right) is int:
            return left + right
    if isinstance(expr, s.Call) and expr.target is None and expr.name == "readEnvironmentVariable":
        values = [evaluate(a, known) for a in expr.args]
        args = [a for a in values if isinstance(a, str)]
        if not 1 <= len(values) <= 2 or len(args) != len(values):
            raise BicepError(
                "readEnvironmentVariable takes a name and an optional default", expr.pos
            )
        if args[0] in os.environ:
            return os.environ[args[0]]
        if len(args) == 2:
            return args[1]
        raise BicepError(f"the environment variable '{args[0]}' is not set", expr.pos)
    raise BicepError("a parameter value must be a literal (or readEnvironmentVariable)", expr.pos)
