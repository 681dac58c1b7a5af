"""The ARM template expression language: a tokenizer and a recursive-descent parser.

A JSON string is an expression when it starts with ``[`` and ends with ``]`` (and does not
start with ``[[``, which escapes a literal string starting with ``[``)::

    expression := call-or-literal ( '.' IDENT | '[' expression ']' )*
    call-or-literal := IDENT '(' [ expression ( ',' expression )* ] ')' | STRING | NUMBER
    STRING := "'" ( "''" | any char but "'" )* "'"

Positions are 0-based offsets into the JSON string (the leading ``[`` is offset 0).
"""

from __future__ import annotations

from dataclasses import dataclass

from amlite.deployments.template.errors import TemplateError


@dataclass(frozen=True)
class Literal:
    value: str | int | float
    pos: int


@dataclass(frozen=True)
class Call:
    name: str
    args: tuple[Node, ...]
    pos: int


@dataclass(frozen=True)
class Member:
    target: Node
    name: str
    pos: int


@dataclass(frozen=True)
class Index:
    target: Node
    index: Node
    pos: int


Node = Literal | Call | Member | Index


@dataclass(frozen=True)
class _Token:
    kind: str  # ident, string, number, punct, end
    value: str | int | float | None
    pos: int


_PUNCT = "(),.[]"


def is_expression(text: str) -> bool:
    return len(text) >= 2 and text[0] == "[" and text[-1] == "]" and not text.startswith("[[")


def unescape_literal(text: str) -> str:
    """A string that is not an expression: ``[[x]`` stands for the literal ``[x]``."""
    return text[1:] if text.startswith("[[") else text


def _tokens(text: str, start: int, end: int) -> list[_Token]:
    out: list[_Token] = []
    i = start
    while i < end:
        ch = text[i]
        if ch.isspace():
            i += 1
        elif ch in _PUNCT:
            out.append(_Token("punct", ch, i))
            i += 1
        elif ch == "'":
            j = i + 1
            parts: list[str] = []
            while True:
                if j >= end:
                    raise TemplateError(f"unterminated string literal at position {i}", text)
                if text[j] == "'":
                    if j + 1 < end and text[j + 1] == "'":
                        parts.append("'")
                        j += 2
                        continue
                    break
                parts.append(text[j])
                j += 1
            out.append(_Token("string", "".join(parts), i))
            i = j + 1
        elif ch.isdigit() or (ch == "-" and i + 1 < end and text[i + 1].isdigit()):
            j = i + 1
            while j < end and (text[j].isdigit() or text[j] == "."):
                j += 1
            raw = text[i:j]
            try:
                number: int | float = float(raw) if "." in raw else int(raw)
            except ValueError:
                raise TemplateError(f"'{raw}' at position {i} is not a number", text) from None
            out.append(_Token("number", number, i))
            i = j
        elif ch.isalpha() or ch == "_":
            j = i + 1
            while j < end and (text[j].isalnum() or text[j] == "_"):
                j += 1
            out.append(_Token("ident", text[i:j], i))
            i = j
        else:
            raise TemplateError(f"unexpected character '{ch}' at position {i}", text)
    out.append(_Token("end", None, end))
    return out


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.toks = _tokens(text, 1, len(text) - 1)
        self.i = 0

    def peek(self) -> _Token:
        return self.toks[self.i]

    def take(self) -> _Token:
        tok = self.toks[self.i]
        self.i += 1
        return tok

    def fail(self, message: str, tok: _Token) -> TemplateError:
        return TemplateError(f"{message} at position {tok.pos}", self.text)

    def expect(self, punct: str) -> _Token:
        tok = self.take()
        if tok.kind != "punct" or tok.value != punct:
            found = "the end of the expression" if tok.kind == "end" else f"'{tok.value}'"
            raise self.fail(f"expected '{punct}' but found {found}", tok)
        return tok

    def parse(self) -> Node:
        if self.peek().kind == "end":
            raise self.fail("empty expression", self.peek())
        node = self.expression()
        tok = self.peek()
        if tok.kind != "end":
            raise self.fail(f"unexpected '{tok.value}' after the expression", tok)
        return node

    def expression(self) -> Node:
        node = self.primary()
        while True:
            tok = self.peek()
            if tok.kind == "punct" and tok.value == ".":
                self.take()
                name = self.take()
                if name.kind != "ident" or not isinstance(name.value, str):
                    raise self.fail("expected a property name after '.'", name)
                node = Member(node, name.value, name.pos)
            elif tok.kind == "punct" and tok.value == "[":
                self.take()
                index = self.expression()
                self.expect("]")
                node = Index(node, index, tok.pos)
            else:
                return node

    def primary(self) -> Node:
        tok = self.take()
        if tok.kind in ("string", "number") and tok.value is not None:
            return Literal(tok.value, tok.pos)
        if tok.kind == "ident":
            name = str(tok.value)
            # user-defined functions are namespace.member(...)
            if self.peek().kind == "punct" and self.peek().value == ".":
                nxt = self.toks[self.i + 1]
                after = self.toks[self.i + 2] if self.i + 2 < len(self.toks) else None
                if nxt.kind == "ident" and after is not None and after.value == "(":
                    self.take()
                    self.take()
                    name = f"{name}.{nxt.value}"
            if not (self.peek().kind == "punct" and self.peek().value == "("):
                raise self.fail(f"'{name}' must be called as a function, e.g. {name}()", tok)
            self.take()
            args: list[Node] = []
            if not (self.peek().kind == "punct" and self.peek().value == ")"):
                args.append(self.expression())
                while self.peek().kind == "punct" and self.peek().value == ",":
                    self.take()
                    args.append(self.expression())
            self.expect(")")
            return Call(name, tuple(args), tok.pos)
        found = "the end of the expression" if tok.kind == "end" else f"'{tok.value}'"
        raise self.fail(f"expected a function call, a string or a number but found {found}", tok)


_CACHE: dict[str, Node] = {}


def parse(text: str) -> Node:
    """Parse one expression string (with its brackets). Parsed trees are cached."""
    node = _CACHE.get(text)
    if node is None:
        if not is_expression(text):
            raise TemplateError("an expression must be enclosed in '[' and ']'", text)
        node = _Parser(text).parse()
        if len(_CACHE) < 50_000:
            _CACHE[text] = node
    return node
