"""A recursive-descent parser for Bicep (the grammar of Azure/bicep's docs/grammar.md).

Operator precedence, lowest first: ``?:``, ``??``, ``||``, ``&&``, ``== != =~ !~``,
``< <= > >=``, ``+ -``, ``* / %``, unary ``! -``, then member access, indexing, calls and
``::``. Newlines end statements and separate object and array members; inside parentheses
they are ignored.
"""

from __future__ import annotations

from pathlib import Path

from amlite.domain.json_value import JsonValue

from . import syntax as s
from .errors import BicepError, Position
from .lexer import EOF, IDENT, INT, NEWLINE, STRING, Token, tokenize

_BINARY_LEVELS: list[tuple[str, ...]] = [
    ("??",),
    ("||",),
    ("&&",),
    ("==", "!=", "=~", "!~"),
    ("<", "<=", ">", ">="),
    ("+", "-"),
    ("*", "/", "%"),
]

MAX_DEPTH = 50  # nesting of expressions; deeper input is refused, not a RecursionError

MAX_CHAIN = 200  # operators in a row at one precedence level (`a + b + ...`)

_TYPE_NAMES = {"string", "int", "bool", "object", "array", "any"}


class Parser:
    def __init__(self, tokens: list[Token]) -> None:
        self.tokens = tokens
        self.i = 0
        self.paren_depth = 0
        self.depth = 0

    def enter(self) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise self.error(f"expressions are nested too deeply (more than {MAX_DEPTH} levels)")

    # --- token helpers ---
    def peek(self, offset: int = 0) -> Token:
        if offset == 0 and (self.paren_depth == 0 or self.tokens[self.i].kind != NEWLINE):
            return self.tokens[self.i]
        j = self.i
        seen = 0
        while True:
            tok = self.tokens[min(j, len(self.tokens) - 1)]
            if tok.kind == NEWLINE and self.paren_depth > 0:
                j += 1
                continue
            if seen == offset or tok.kind == EOF:
                return tok
            seen += 1
            j += 1

    def next(self) -> Token:
        while self.paren_depth > 0 and self.tokens[self.i].kind == NEWLINE:
            self.i += 1
        tok = self.tokens[self.i]
        if tok.kind != EOF:
            self.i += 1
        return tok

    def at(self, kind: str, text: str | None = None) -> bool:
        tok = self.peek()
        return tok.kind == kind and (text is None or tok.text == text)

    def at_keyword(self, word: str) -> bool:
        return self.at(IDENT, word)

    def expect(self, kind: str, what: str | None = None) -> Token:
        tok = self.peek()
        if tok.kind != kind:
            raise self.error(f"{what or repr(kind)} expected, found {describe(tok)}", tok)
        return self.next()

    def expect_keyword(self, word: str) -> Token:
        tok = self.peek()
        if tok.kind != IDENT or tok.text != word:
            raise self.error(f"'{word}' expected, found {describe(tok)}", tok)
        return self.next()

    def skip_newlines(self) -> None:
        while self.tokens[self.i].kind == NEWLINE:
            self.i += 1

    def error(self, message: str, tok: Token | None = None) -> BicepError:
        return BicepError(message, (tok or self.peek()).position)

    def end_of_statement(self) -> None:
        tok = self.peek()
        if tok.kind not in (NEWLINE, EOF):
            raise self.error(f"end of line expected, found {describe(tok)}", tok)

    # --- declarations ---
    def program(self) -> s.Program:
        program = s.Program(declarations=[])
        self.skip_newlines()
        while not self.at(EOF):
            decorators = self.decorators()
            tok = self.peek()
            if tok.kind != IDENT:
                raise self.error(f"a declaration expected, found {describe(tok)}", tok)
            word = tok.text
            if word == "targetScope":
                self.next()
                self.expect("=")
                value = self.expression()
                if not isinstance(value, s.Str) or value.holes:
                    raise self.error("targetScope must be a string literal", tok)
                program.target_scope = value.texts[0]
            elif word == "metadata":
                self.next()
                meta = self.expect(IDENT, "a metadata name").text
                self.expect("=")
                program.metadata[meta] = self.expression()
            elif word == "param":
                program.declarations.append(self.param(decorators))
            elif word == "var":
                self.next()
                var = self.expect(IDENT, "a variable name")
                self.expect("=")
                program.declarations.append(
                    s.VarDecl(tok.position, var.text, decorators, self.expression())
                )
            elif word == "resource":
                program.declarations.append(self.resource(decorators))
            elif word == "module":
                program.declarations.append(self.module(decorators))
            elif word == "output":
                self.next()
                out = self.expect(IDENT, "an output name")
                typ = self.type_ref()
                self.expect("=")
                program.declarations.append(
                    s.OutputDecl(tok.position, out.text, decorators, typ, self.expression())
                )
            elif word in ("import", "type", "func", "extension", "provider", "using"):
                raise self.error(
                    f"'{word}' declarations are not supported by amlite's Bicep compiler", tok
                )
            else:
                raise self.error(f"unknown declaration '{word}'", tok)
            self.end_of_statement()
            self.skip_newlines()
        return program

    def decorators(self) -> list[s.Decorator]:
        out: list[s.Decorator] = []
        while self.at("@"):
            at = self.next()
            expr = self.postfix()
            if not isinstance(expr, s.Call):
                raise self.error(
                    "a decorator must be a function call such as @description('...')", at
                )
            name = expr.name
            if isinstance(expr.target, s.Ident) and expr.target.name == "sys":
                expr.target = None
            if expr.target is not None:
                raise self.error(f"unknown decorator namespace in @{name}", at)
            out.append(s.Decorator(at.position, name, expr.args))
            self.skip_newlines()
        return out

    def param(self, decorators: list[s.Decorator]) -> s.ParamDecl:
        kw = self.next()
        name = self.expect(IDENT, "a parameter name")
        typ = self.type_ref()
        default = None
        if self.at("="):
            self.next()
            default = self.expression()
        return s.ParamDecl(kw.position, name.text, decorators, typ, default)

    def type_ref(self) -> s.TypeRef:
        tok = self.peek()
        allowed: list[JsonValue] = []
        name = ""
        while True:
            t = self.peek()
            if t.kind == IDENT and t.text in _TYPE_NAMES:
                self.next()
                base = t.text
            elif t.kind == IDENT and t.text in ("true", "false"):
                self.next()
                base = "bool"
                allowed.append(t.text == "true")
            elif t.kind == STRING:
                self.next()
                if len(t.parts) != 1:
                    raise self.error("a string literal type cannot use interpolation", t)
                base = "string"
                allowed.append(str(t.parts[0]))
            elif t.kind == INT or (t.kind == "-" and self.peek(1).kind == INT):
                sign = -1 if t.kind == "-" else 1
                if sign < 0:
                    self.next()
                num = self.next()
                base = "int"
                allowed.append(sign * int(num.text))
            elif t.kind == "{":
                self.object_expr()  # an object type: checked by ARM as a plain object
                base = "object"
            elif t.kind == IDENT and t.text == "resource":
                raise self.error("resource-typed parameters and outputs are not supported", t)
            else:
                raise self.error(f"a type expected, found {describe(t)}", t)
            while self.at("[") and self.peek(1).kind == "]":
                self.next()
                self.next()
                base = "array"
                allowed = []
            name = "any" if name and name != base else base
            if self.at("|"):
                self.next()
                continue
            break
        nullable = False
        if self.at("?"):
            self.next()
            nullable = True
        return s.TypeRef(tok.position, name, allowed or None, nullable)

    def resource(self, decorators: list[s.Decorator]) -> s.ResourceDecl:
        kw = self.next()
        name = self.expect(IDENT, "a resource symbolic name")
        type_tok = self.expect(STRING, "the resource type string 'Provider/type@version'")
        if len(type_tok.parts) != 1:
            raise self.error("the resource type cannot use interpolation", type_tok)
        existing = False
        if self.at_keyword("existing"):
            self.next()
            existing = True
        self.expect("=")
        body = self.declaration_body()
        type_text = type_tok.parts[0]
        assert isinstance(type_text, str)
        return s.ResourceDecl(
            kw.position, name.text, decorators, type_text, type_tok.position, existing, body
        )

    def module(self, decorators: list[s.Decorator]) -> s.ModuleDecl:
        kw = self.next()
        name = self.expect(IDENT, "a module symbolic name")
        path_tok = self.expect(STRING, "the module path string")
        if len(path_tok.parts) != 1:
            raise self.error("the module path cannot use interpolation", path_tok)
        self.expect("=")
        body = self.declaration_body()
        path = path_tok.parts[0]
        assert isinstance(path, str)
        return s.ModuleDecl(kw.position, name.text, decorators, path, path_tok.position, body)

    def declaration_body(self) -> s.Expr:
        """``{...}``, ``if (cond) {...}`` or ``[for ... : {...}]`` after a resource or module."""
        tok = self.peek()
        if tok.kind == IDENT and tok.text == "if":
            return self.if_body()
        if tok.kind == "[" and self.peek(1).kind == IDENT and self.peek(1).text == "for":
            return self.array_or_for()
        if tok.kind == "{":
            return self.object_expr(allow_resources=True)
        raise self.error(f"'{{', 'if' or '[for' expected, found {describe(tok)}", tok)

    def if_body(self) -> s.IfBody:
        kw = self.expect_keyword("if")
        self.expect("(")
        self.paren_depth += 1
        cond = self.expression()
        self.paren_depth -= 1
        self.expect(")")
        if not self.at("{"):
            raise self.error(f"'{{' expected after the if condition, found {describe(self.peek())}")
        return s.IfBody(kw.position, cond, self.object_expr(allow_resources=True))

    # --- expressions ---
    def expression(self) -> s.Expr:
        self.enter()
        cond = self.binary(0)
        if self.at("?"):
            q = self.next()
            then = self.expression()
            self.expect(":", "':' of the ternary")
            other = self.expression()
            cond = s.Ternary(q.position, cond, then, other)
        self.depth -= 1
        return cond

    def binary(self, level: int) -> s.Expr:
        if level == len(_BINARY_LEVELS):
            return self.unary()
        left = self.binary(level + 1)
        chain = 0
        while self.peek().kind in _BINARY_LEVELS[level]:
            op = self.next()
            chain += 1
            if chain > MAX_CHAIN:
                raise self.error(
                    f"too many operators in one expression (more than {MAX_CHAIN})", op
                )
            right = self.binary(level + 1)
            left = s.Binary(op.position, op.kind, left, right)
        return left

    def unary(self) -> s.Expr:
        tok = self.peek()
        if tok.kind in ("!", "-"):
            self.next()
            self.enter()
            operand = self.unary()
            self.depth -= 1
            if tok.kind == "-" and isinstance(operand, s.Literal) and type(operand.value) is int:
                return s.Literal(tok.position, -operand.value)
            return s.Unary(tok.position, tok.kind, operand)
        return self.postfix()

    def postfix(self) -> s.Expr:
        expr = self.primary()
        while True:
            tok = self.peek()
            if tok.kind in (".", ".?"):
                self.next()
                name = self.expect(IDENT, "a property name")
                if self.at("(") and tok.kind == ".":
                    args = self.call_args()
                    expr = s.Call(name.position, name.text, args, target=expr)
                else:
                    expr = s.Member(tok.position, expr, name.text, safe=tok.kind == ".?")
            elif tok.kind in ("[", "[?"):
                self.next()
                self.paren_depth += 1
                index = self.expression()
                self.paren_depth -= 1
                self.expect("]")
                expr = s.Index(tok.position, expr, index, safe=tok.kind == "[?")
            elif tok.kind == "::":
                self.next()
                name = self.expect(IDENT, "a nested resource name")
                expr = s.Child(tok.position, expr, name.text)
            elif tok.kind == "(" and isinstance(expr, s.Ident):
                args = self.call_args()
                expr = s.Call(expr.pos, expr.name, args)
            else:
                return expr

    def call_args(self) -> list[s.Expr]:
        self.expect("(")
        self.paren_depth += 1
        args: list[s.Expr] = []
        while not self.at(")"):
            args.append(self.expression())
            if not self.at(")"):
                self.expect(",", "',' or ')'")
        self.paren_depth -= 1
        self.expect(")")
        return args

    def primary(self) -> s.Expr:
        tok = self.peek()
        if tok.kind == INT:
            self.next()
            return s.Literal(tok.position, int(tok.text))
        if tok.kind == STRING:
            self.next()
            return self.string(tok)
        if tok.kind == IDENT:
            self.next()
            if tok.text in ("true", "false"):
                return s.Literal(tok.position, tok.text == "true")
            if tok.text == "null":
                return s.Literal(tok.position, None)
            if self.at("=>"):
                raise self.error("lambda expressions are not supported", tok)
            return s.Ident(tok.position, tok.text)
        if tok.kind == "(":
            self.next()
            self.paren_depth += 1
            inner = self.expression()
            self.paren_depth -= 1
            self.expect(")")
            return inner
        if tok.kind == "{":
            return self.object_expr()
        if tok.kind == "[":
            return self.array_or_for()
        raise self.error(f"an expression expected, found {describe(tok)}", tok)

    def string(self, tok: Token) -> s.Str:
        texts: list[str] = []
        holes: list[s.Expr] = []
        for part in tok.parts:
            if isinstance(part, str):
                texts.append(part)
            else:
                sub = Parser(part)
                sub.paren_depth = 1
                sub.depth = self.depth
                holes.append(sub.expression())
                end = sub.peek()
                if end.kind != EOF:
                    raise sub.error(
                        f"'}}' expected to close the interpolation, found {describe(end)}", end
                    )
        return s.Str(tok.position, texts, holes)

    def object_expr(self, allow_resources: bool = False) -> s.Obj:
        open_tok = self.expect("{")
        saved = self.paren_depth
        self.paren_depth = 0
        props: list[s.Property] = []
        resources: list[s.ResourceDecl] = []
        seen: set[str] = set()
        self.skip_newlines()
        while not self.at("}"):
            decorators = self.decorators() if self.at("@") else []
            tok = self.peek()
            if (
                allow_resources
                and tok.kind == IDENT
                and tok.text == "resource"
                and self.peek(1).kind == IDENT
            ):
                resources.append(self.resource(decorators))
            else:
                if decorators:
                    raise self.error("decorators are only allowed on declarations", tok)
                if tok.kind == IDENT:
                    key = tok.text
                elif tok.kind == STRING and len(tok.parts) == 1:
                    key = str(tok.parts[0])
                elif tok.kind == STRING:
                    raise self.error("an object key cannot use interpolation", tok)
                else:
                    raise self.error(f"a property name expected, found {describe(tok)}", tok)
                self.next()
                self.expect(":", "':' after the property name")
                if key.lower() in seen:
                    raise self.error(f"the property '{key}' is declared more than once", tok)
                seen.add(key.lower())
                props.append(s.Property(tok.position, key, self.expression()))
            if self.at(","):
                self.next()
            elif not self.at("}"):
                self.expect(NEWLINE, "a new line or '}'")
            self.skip_newlines()
        self.expect("}")
        self.paren_depth = saved
        return s.Obj(open_tok.position, props, resources)

    def array_or_for(self) -> s.Expr:
        open_tok = self.expect("[")
        saved = self.paren_depth
        self.paren_depth = 0
        if self.at_keyword("for"):
            result = self.for_rest(open_tok)
            self.paren_depth = saved
            return result
        items: list[s.Expr] = []
        self.skip_newlines()
        while not self.at("]"):
            items.append(self.expression())
            if self.at(","):
                self.next()
            elif not self.at("]"):
                self.expect(NEWLINE, "a new line or ']'")
            self.skip_newlines()
        self.expect("]")
        self.paren_depth = saved
        return s.Arr(open_tok.position, items)

    def for_rest(self, open_tok: Token) -> s.ForExpr:
        self.expect_keyword("for")
        item: str | None
        index: str | None = None
        if self.at("("):
            self.next()
            item = self.expect(IDENT, "the loop item name").text
            self.expect(",")
            index = self.expect(IDENT, "the loop index name").text
            self.expect(")")
        else:
            item = self.expect(IDENT, "the loop item name").text
        self.expect_keyword("in")
        self.paren_depth += 1
        iterable = self.expression()
        self.paren_depth -= 1
        self.expect(":", "':' after the loop source")
        body = self.if_body() if self.at_keyword("if") else self.expression()
        self.skip_newlines()
        self.expect("]")
        return s.ForExpr(open_tok.position, item, index, iterable, body)


def describe(tok: Token) -> str:
    if tok.kind == EOF:
        return "the end of the file"
    if tok.kind == NEWLINE:
        return "a new line"
    if tok.kind == STRING:
        return "a string"
    return f"'{tok.text}'"


def parse(text: str, file: Path) -> s.Program:
    return Parser(tokenize(text, file)).program()


__all__ = ["Position", "parse"]
