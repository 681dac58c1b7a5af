"""Evaluate HCL expressions from python-hcl2's syntax tree (a lark tree) to Python values.

Values known only after deployment (``azapi_resource.x.output...``) are ``Deferred``: an ARM
expression the deployment engine evaluates. They may be used whole, read further
(``.properties.status``, ``[0]``) or interpolated into strings (``concat(...)``); anything
else (arithmetic, ``count``, conditions) is refused, since amlite resolves the rest of the
configuration before deploying.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeAlias

from lark import Token, Tree

from .errors import TerraformError
from .functions import FUNCTIONS, Json, to_string

_ESCAPES = {"n": "\n", "r": "\r", "t": "\t", '"': '"', "\\": "\\"}
MAX_DEPTH = 150  # syntax-tree depth evaluated; deeper input is refused, not a RecursionError
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


@dataclass(frozen=True)
class Deferred:
    """A value the deployment computes: the ARM expression text (no brackets)."""

    expr: str

    def get(self, key: Any) -> Deferred:
        if isinstance(key, str):
            if _IDENTIFIER.match(key):
                return Deferred(f"{self.expr}.{key}")
            return Deferred(f"{self.expr}['{key}']")
        return Deferred(f"{self.expr}[{int(key)}]")


HclValue: TypeAlias = (
    bool | int | float | str | list["HclValue"] | dict[str, "HclValue"] | Deferred | Json | None
)
"""A Terraform value at plan time: JSON, a ``Deferred`` (known only while deploying), or a
``Json`` (``jsonencode``'s result, which keeps its value as structure)."""


def arm_literal(value: Any) -> str:
    if isinstance(value, Deferred):
        return value.expr
    if isinstance(value, bool):
        return "true()" if value else "false()"
    if isinstance(value, str):
        return "'" + value.replace("'", "''") + "'"
    if isinstance(value, int | float):
        return str(value)
    raise ValueError(f"a {type(value).__name__} cannot be interpolated into a string")


def meaningful(node: Tree) -> list[Any]:
    """Children that matter: subtrees other than newlines/comments."""
    return [c for c in node.children if isinstance(c, Tree) and c.data != "new_line_or_comment"]


def first_token(node: Any) -> Token | None:
    """The first token under ``node`` (iterative: trees can be deep)."""
    stack = [node]
    while stack:
        cur = stack.pop()
        if isinstance(cur, Token):
            return cur
        stack.extend(reversed(cur.children))
    return None


def reference_path(node: Tree) -> list[Any] | None:
    """``a.b.c`` as ['a', 'b', 'c'] (names only), else None."""
    names: list[Any] = []
    while True:
        if node.data == "expr_term":
            kids = meaningful(node)
            if len(kids) != 1:
                return None
            node = kids[0]
        elif node.data == "identifier":
            return [str(node.children[0]), *reversed(names)]
        elif node.data == "get_attr_expr_term":
            base, attr = meaningful(node)
            names.append(str(first_token(meaningful(attr)[0])))
            node = base
        else:
            return None


class Evaluator:
    """Evaluates expressions in one file; ``resolve`` answers the root names
    (``var``, ``local``, ``azapi_resource``, ``count``, ``each`` ...) given the access path."""

    def __init__(
        self, file: Path, resolve: Callable[[Evaluator, str, list[Any], Tree], Any]
    ) -> None:
        self.file = file
        self.resolve = resolve
        self.scopes: list[dict[str, HclValue]] = []
        self.depth = 0

    def where(self, node: Any) -> str:
        tok = first_token(node)
        if tok is not None and tok.line is not None:
            return f"{self.file}:{tok.line}:{tok.column}"
        return str(self.file)

    def error(self, message: str, node: Any) -> TerraformError:
        return TerraformError(message, self.where(node))

    def eval(self, node: Tree) -> Any:
        handler = getattr(self, f"_{node.data}", None)
        if handler is None:
            raise self.error(f"the expression '{node.data}' is not supported", node)
        if self.depth >= MAX_DEPTH:
            raise self.error(
                f"expressions are nested too deeply (more than {MAX_DEPTH} levels)", node
            )
        self.depth += 1
        try:
            return handler(node)
        except TerraformError:
            raise
        except (
            ValueError,
            TypeError,
            KeyError,
            IndexError,
            ZeroDivisionError,
            AttributeError,
        ) as exc:
            raise self.error(f"cannot evaluate: {exc}", node) from None
        finally:
            self.depth -= 1

    # --- terms ---
    def _expr_term(self, node: Tree) -> Any:
        kids = meaningful(node)
        return self.eval(kids[0])

    def _int_lit(self, node: Tree) -> int:
        return int(str(node.children[0]))

    def _float_lit(self, node: Tree) -> float:
        return float(str(node.children[0]))

    def _literal_value(self, node: Tree) -> Any:
        return {"true": True, "false": False, "null": None}[str(node.children[0])]

    def _identifier(self, node: Tree) -> Any:
        name = str(node.children[0])
        for scope in reversed(self.scopes):
            if name in scope:
                return scope[name]
        return self.resolve(self, name, [], node)

    def _string(self, node: Tree) -> Any:
        parts: list[Any] = []
        for part in meaningful(node):
            for item in part.children:
                if isinstance(item, Token):
                    if item.type == "STRING_CHARS":
                        parts.append(self.unescape(str(item), part))
                    elif item.type in ("ESCAPED_INTERPOLATION", "ESCAPED_DIRECTIVE"):
                        parts.append(str(item)[1:])
                    else:
                        raise self.error(f"unexpected string content {item!s}", part)
                elif item.data == "interpolation":
                    parts.append(self.eval(meaningful(item)[0]))
                else:
                    raise self.error(
                        "template directives (%{ if } / %{ for }) are not supported", item
                    )
        return self.join(parts, node)

    def join(self, parts: list[Any], node: Tree) -> Any:
        if len(parts) == 1 and not isinstance(parts[0], str):
            return parts[0] if isinstance(parts[0], Deferred) else self.text(parts[0], node)
        if any(isinstance(p, Deferred) for p in parts):
            args = [
                arm_literal(p if isinstance(p, Deferred) else self.text(p, node))
                for p in parts
                if p != ""
            ]
            return Deferred(f"concat({', '.join(args)})")
        return "".join(self.text(p, node) for p in parts)

    def text(self, value: Any, node: Tree) -> str:
        if value is None:
            raise self.error("a null value cannot be interpolated into a string", node)
        try:
            return to_string(value)
        except ValueError as exc:
            raise self.error(str(exc), node) from None

    def unescape(self, raw: str, node: Tree) -> str:
        out: list[str] = []
        i = 0
        while i < len(raw):
            ch = raw[i]
            if ch == "\\" and i + 1 < len(raw):
                nxt = raw[i + 1]
                if nxt in _ESCAPES:
                    out.append(_ESCAPES[nxt])
                    i += 2
                    continue
                if nxt in "uU":
                    width = 4 if nxt == "u" else 8
                    out.append(chr(int(raw[i + 2 : i + 2 + width], 16)))
                    i += 2 + width
                    continue
                raise self.error(f"invalid escape sequence \\{nxt}", node)
            out.append(ch)
            i += 1
        return "".join(out)

    def _heredoc_template(self, node: Tree) -> Any:
        return self.heredoc(str(node.children[0]), node, trim=False)

    def _heredoc_template_trim(self, node: Tree) -> Any:
        return self.heredoc(str(node.children[0]), node, trim=True)

    def heredoc(self, raw: str, node: Tree, trim: bool) -> Any:
        lines = raw.split("\n")
        body = lines[1:-2] if lines[-1] == "" else lines[1:-1]
        if trim:
            indents = [len(ln) - len(ln.lstrip()) for ln in body if ln.strip()]
            cut = min(indents, default=0)
            body = [ln[cut:] for ln in body]
        text = "\n".join(body) + "\n"
        if "${" not in text:
            return text
        # parse the body as a quoted string to evaluate its interpolations
        import hcl2
        from lark.exceptions import LarkError

        quoted = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
        try:
            tree = hcl2.parses_to_tree(f'x = "{quoted}"\n')
        except LarkError as exc:
            first = str(exc).splitlines()[0]
            raise self.error(
                f"cannot read the interpolations of this heredoc: {first}", node
            ) from None
        attr = next(
            c for c in tree.children[0].children if isinstance(c, Tree) and c.data == "attribute"
        )
        return self.eval(meaningful(attr)[-1])

    def _tuple(self, node: Tree) -> list[Any]:
        return [self.eval(c) for c in meaningful(node)]

    def _object(self, node: Tree) -> dict[str, HclValue]:
        out: dict[str, HclValue] = {}
        for elem in meaningful(node):
            key_node, value_node = meaningful(elem)
            key_expr = meaningful(key_node)[0] if meaningful(key_node) else key_node
            path = reference_path(key_expr) if isinstance(key_expr, Tree) else None
            if path is not None and len(path) == 1:
                key: Any = path[0]  # a bare name is the key itself
            elif isinstance(key_expr, Tree) and key_expr.data == "keyword":
                key = str(key_expr.children[0])
            else:
                key = self.eval(key_expr)
            if isinstance(key, Deferred) or not isinstance(key, str | int | float | bool):
                raise self.error("an object key must be known before deployment", key_node)
            out[self.text(key, key_node)] = self.eval(value_node)
        return out

    def _function_call(self, node: Tree) -> Any:
        kids = meaningful(node)
        names = [k for k in kids if k.data == "identifier"]
        name = "::".join(str(n.children[0]) for n in names)
        args_node = next((k for k in kids if k.data == "arguments"), None)
        args = [self.eval(a) for a in meaningful(args_node)] if args_node is not None else []
        if args_node is not None and any(
            isinstance(t, Token) and t.type == "ELLIPSIS" for t in args_node.children
        ):
            args = [*args[:-1], *args[-1]]
        if name == "file":
            path = (self.file.parent / args[0]).resolve()
            if not path.is_file():
                raise self.error(f"file(): '{args[0]}' does not exist ({path})", node)
            return path.read_text(encoding="utf-8")
        if name == "jsondecode" and len(args) == 1 and isinstance(args[0], Deferred):
            return args[
                0
            ]  # azapi 1.x `output` is JSON text: the engine reads it as an object already
        func = FUNCTIONS.get(name)
        if func is None:
            raise self.error(f"unknown or unsupported function '{name}'", node)
        if name != "jsonencode" and any(isinstance(a, Deferred) for a in _walk(args)):
            raise self.error(f"{name}() needs values known before deployment", node)
        args = (
            [a.value if isinstance(a, Json) else a for a in args] if name != "jsonencode" else args
        )
        return func(*args)

    def _index_expr_term(self, node: Tree) -> Any:
        base_node, index_node = meaningful(node)
        base = self.eval(base_node)
        if index_node.data == "short_index":
            key: Any = int(str(index_node.children[-1]))
        else:
            key = self.eval(meaningful(index_node)[0])
        return self.index(base, key, node)

    def index(self, base: Any, key: Any, node: Tree) -> Any:
        if isinstance(base, Deferred):
            return base.get(key)
        if isinstance(key, Deferred):
            raise self.error("an index must be known before deployment", node)
        if isinstance(base, Json):
            base = base.value
        if isinstance(base, list):
            if isinstance(key, float) and key.is_integer():
                key = int(key)
            if not isinstance(key, int) or not -len(base) <= key < len(base):
                raise self.error(
                    f"the index {key!r} is out of range for a list of {len(base)}", node
                )
            return base[key]
        if isinstance(base, dict):
            if key not in base:
                raise self.error(
                    f"there is no key {key!r} (keys: {', '.join(map(str, base)) or 'none'})", node
                )
            return base[key]
        raise self.error(f"cannot index a {type(base).__name__}", node)

    def _get_attr_expr_term(self, node: Tree) -> Any:
        path = reference_path(node)
        if path is not None and not any(path[0] in scope for scope in self.scopes):
            return self.resolve(self, path[0], path[1:], node)
        base_node, attr = meaningful(node)
        base = self.eval(base_node)
        return self.index(base, str(first_token(meaningful(attr)[0])), node)

    def _full_splat_expr_term(self, node: Tree) -> Any:
        return self.splat(node)

    def _attr_splat_expr_term(self, node: Tree) -> Any:
        return self.splat(node)

    def splat(self, node: Tree) -> Any:
        base_node, splat = meaningful(node)
        base = self.eval(base_node)
        if base is None:
            return []
        items = base if isinstance(base, list) else [base]
        out = []
        for item in items:
            value = item
            for acc in meaningful(splat):
                if acc.data == "get_attr":
                    value = self.index(value, str(first_token(meaningful(acc)[0])), acc)
                elif acc.data == "short_index":
                    value = self.index(value, int(str(acc.children[-1])), acc)
                else:
                    value = self.index(value, self.eval(meaningful(acc)[0]), acc)
            out.append(value)
        return out

    # --- operators ---
    def _conditional(self, node: Tree) -> Any:
        cond, then, other = meaningful(node)
        value = self.eval(cond)
        if not isinstance(value, bool):
            raise self.error("a condition must be a bool known before deployment", cond)
        return self.eval(then if value else other)

    def _unary_op(self, node: Tree) -> Any:
        op = str(node.children[0])
        value = self.eval(meaningful(node)[0])
        if op == "!" and isinstance(value, bool):
            return not value
        if op == "-" and isinstance(value, int | float) and not isinstance(value, bool):
            return -value
        raise self.error(f"'{op}' cannot apply to {type(value).__name__}", node)

    def _binary_op(self, node: Tree) -> Any:
        left_node, term = meaningful(node)
        op_node, right_node = meaningful(term)
        op = str(op_node.children[0]).strip()
        left = self.eval(left_node)
        short_circuit = (op == "&&" and left is False) or (op == "||" and left is True)
        if short_circuit:
            return left
        right = self.eval(right_node)
        if isinstance(left, Deferred) or isinstance(right, Deferred):
            raise self.error(f"'{op}' needs values known before deployment", node)
        if op == "==":
            return left == right
        if op == "!=":
            return left != right
        if op in ("&&", "||"):
            if not isinstance(right, bool) or not isinstance(left, bool):
                raise self.error(f"'{op}' needs bools", node)
            return right
        numbers = [left, right]
        if not all(isinstance(v, int | float) and not isinstance(v, bool) for v in numbers):
            raise self.error(
                f"'{op}' needs numbers, got {type(left).__name__} and {type(right).__name__}", node
            )
        if op == "/":
            result = left / right
            return int(result) if result == int(result) else result
        return {
            "+": lambda: left + right,
            "-": lambda: left - right,
            "*": lambda: left * right,
            "%": lambda: left % right,
            "<": lambda: left < right,
            ">": lambda: left > right,
            "<=": lambda: left <= right,
            ">=": lambda: left >= right,
        }[op]()

    # --- for expressions ---
    def for_items(self, intro: Tree) -> tuple[list[str], list[tuple[Any, Any]]]:
        kids = meaningful(intro)
        names = [str(k.children[0]) for k in kids if k.data == "identifier"]
        source = self.eval(kids[-1])
        if isinstance(source, Deferred):
            raise self.error("a for expression needs a collection known before deployment", intro)
        pairs = list(source.items()) if isinstance(source, dict) else list(enumerate(source))
        return names, pairs

    def _for_tuple_expr(self, node: Tree) -> list[Any]:
        kids = meaningful(node)
        names, pairs = self.for_items(kids[0])
        cond = next((k for k in kids if k.data == "for_cond"), None)
        out = []
        for key, value in pairs:
            self.scopes.append(
                dict(zip(names, [key, value] if len(names) == 2 else [value], strict=True))
            )
            try:
                if cond is None or self.eval(meaningful(cond)[0]):
                    out.append(self.eval(kids[1]))
            finally:
                self.scopes.pop()
        return out

    def _for_object_expr(self, node: Tree) -> dict[str, HclValue]:
        kids = meaningful(node)
        names, pairs = self.for_items(kids[0])
        cond = next((k for k in kids if k.data == "for_cond"), None)
        grouping = any(isinstance(t, Token) and t.type == "ELLIPSIS" for t in node.children)
        out: dict[str, HclValue] = {}
        for key, value in pairs:
            self.scopes.append(
                dict(zip(names, [key, value] if len(names) == 2 else [value], strict=True))
            )
            try:
                if cond is None or self.eval(meaningful(cond)[0]):
                    k = self.text(self.eval(kids[1]), node)
                    v = self.eval(kids[2])
                    group = out.setdefault(k, []) if grouping else None
                    if isinstance(group, list):  # grouping: every value is a list
                        group.append(v)
                    elif k in out:
                        raise self.error(
                            f"duplicate key {k!r} in a for expression (use ... to group)", node
                        )
                    else:
                        out[k] = v
            finally:
                self.scopes.pop()
        return out


def _walk(value: Any) -> list[Any]:
    if isinstance(value, list):
        return [x for v in value for x in _walk(v)]
    if isinstance(value, dict):
        return [x for v in value.values() for x in _walk(v)]
    if isinstance(value, Json):
        return _walk(value.value)
    return [value]
