"""The Bicep syntax tree: declarations and expressions, each with its source position."""

from __future__ import annotations

from dataclasses import dataclass, field

from amlite.domain.json_value import JsonValue

from .errors import Position

# --- expressions ---------------------------------------------------------------------------


@dataclass
class Expr:
    pos: Position


@dataclass
class Literal(Expr):
    value: int | bool | None


@dataclass
class Str(Expr):
    """A string; ``texts`` has one more element than ``holes`` (the ``${}`` interpolations)."""

    texts: list[str]
    holes: list[Expr]


@dataclass
class Ident(Expr):
    name: str


@dataclass
class Property:
    pos: Position
    key: str
    value: Expr


@dataclass
class Obj(Expr):
    properties: list[Property]
    resources: list[ResourceDecl] = field(default_factory=list)  # nested child resources


@dataclass
class Arr(Expr):
    items: list[Expr]


@dataclass
class Call(Expr):
    name: str
    args: list[Expr]
    target: Expr | None = None  # `ns.fn()` or `resource.listKeys()`


@dataclass
class Member(Expr):
    target: Expr
    name: str
    safe: bool = False  # `.?name`


@dataclass
class Index(Expr):
    target: Expr
    index: Expr
    safe: bool = False  # `[?index]`


@dataclass
class Child(Expr):
    """``parent::child``: a nested resource reached through its parent."""

    target: Expr
    name: str


@dataclass
class Unary(Expr):
    op: str
    operand: Expr


@dataclass
class Binary(Expr):
    op: str
    left: Expr
    right: Expr


@dataclass
class Ternary(Expr):
    cond: Expr
    then: Expr
    other: Expr


@dataclass
class ForExpr(Expr):
    item: str | None
    index: str | None
    iterable: Expr
    body: Expr  # the body, or an IfBody for a filter


@dataclass
class IfBody(Expr):
    cond: Expr
    body: Expr


# --- declarations ---------------------------------------------------------------------------


@dataclass
class Decorator:
    pos: Position
    name: str
    args: list[Expr]


@dataclass
class TypeRef:
    pos: Position
    name: str  # string, int, bool, object, array; literal unions become 'string'/'int'
    allowed: list[JsonValue] | None = None  # from a literal union type `'a' | 'b'`
    nullable: bool = False


@dataclass
class Decl:
    pos: Position
    name: str
    decorators: list[Decorator]


@dataclass
class ParamDecl(Decl):
    type: TypeRef
    default: Expr | None


@dataclass
class VarDecl(Decl):
    value: Expr


@dataclass
class ResourceDecl(Decl):
    type_text: str  # 'Microsoft.X/y@version' (or a short child type 'y' / 'y@version')
    type_pos: Position
    existing: bool
    body: Expr  # Obj, IfBody or ForExpr


@dataclass
class ModuleDecl(Decl):
    path: str
    path_pos: Position
    body: Expr


@dataclass
class OutputDecl(Decl):
    type: TypeRef
    value: Expr


@dataclass
class Program:
    declarations: list[Decl]
    target_scope: str = "resourceGroup"
    metadata: dict[str, Expr] = field(default_factory=dict)
