"""Bicep syntax tree -> a classic ARM template (``resources`` array, computed ``dependsOn``).

The output follows what ``bicep build`` writes for the same file:
- a parameter reference is ``parameters('x')``, a variable ``variables('x')``; a variable whose
  value needs a deployed resource (``reference()``, ``list*()``, a module output) is inlined
  where it is used and left out of ``variables``, as Bicep does;
- a string with ``${}`` holes is ``format('...{0}...', ...)``; operators become ``equals``,
  ``and``, ``if``, ``coalesce``, ``tryGet`` ...; objects and arrays inside function arguments
  are ``createObject`` / ``createArray``;
- ``r.id`` is ``resourceId('type', name segments...)``, ``r.name`` the name expression,
  ``r.properties.x`` ``reference(resourceId(...)).x`` (with the api-version for an
  ``existing`` resource), ``m.outputs.x`` ``reference(<deployment id>).outputs.x.value``;
- ``dependsOn`` lists every deployed resource or module the body refers to, directly or
  through variables, plus the parent; ``existing`` resources are not emitted and not
  depended on;
- loops become ``copy`` (resources, modules, variables, properties, outputs), ``if``
  ``condition``; modules nested ``Microsoft.Resources/deployments`` with inner scope;
- ``loadTextContent`` / ``loadJsonContent`` / ``loadFileAsBase64`` read the file at compile
  time into a ``$fxv#N`` variable.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from amlite.domain.json_value import JsonObject, JsonValue

from . import syntax as s
from .errors import BicepError, Position
from .functions import ARM_FUNCTIONS, BICEP_ONLY, LAMBDA_FUNCTIONS
from .parser import parse

SCHEMA = "https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#"
MODULE_API_VERSION = "2020-10-01"
DEPLOYMENTS_TYPE = "Microsoft.Resources/deployments"
_IDENTIFIER = re.compile(r"^[A-Za-z_$][A-Za-z0-9_$]*$")
_OPERATORS = {
    "==": "equals",
    "&&": "and",
    "||": "or",
    "<": "less",
    "<=": "lessOrEquals",
    ">": "greater",
    ">=": "greaterOrEquals",
    "+": "add",
    "-": "sub",
    "*": "mul",
    "/": "div",
    "%": "mod",
    "??": "coalesce",
}
_PARAM_DECORATORS = {
    "description", "allowed", "secure", "minvalue", "maxvalue", "minlength", "maxlength",
    "metadata",
}  # fmt: skip


@dataclass
class Symbol:
    """A resource or module declaration, with what its references compile to."""

    name: str
    decl: s.ResourceDecl | s.ModuleDecl
    body: s.Obj
    full_type: str
    api_version: str
    existing: bool
    parent: Symbol | None = None
    condition: s.Expr | None = None
    loop: s.ForExpr | None = None
    children: dict[str, Symbol] = field(default_factory=dict)
    key: str = ""  # 'name', or 'parent::name' for a nested resource

    @property
    def is_module(self) -> bool:
        return isinstance(self.decl, s.ModuleDecl)


@dataclass(frozen=True)
class Dep:
    symbol: str  # the resource/module symbol
    index: str | None  # the ARM index expression for `r[i]`, or None for the whole thing


@dataclass
class Usage:
    """What an emitted expression needed: deployed symbols (for dependsOn), runtime values."""

    deps: list[Dep] = field(default_factory=list)
    runtime: bool = False

    def add(self, dep: Dep) -> None:
        if dep not in self.deps:
            self.deps.append(dep)

    def merge(self, other: Usage) -> None:
        for dep in other.deps:
            self.add(dep)
        self.runtime = self.runtime or other.runtime


@dataclass
class Env:
    """Loop variables in scope (name -> ARM expression), innermost last."""

    bindings: dict[str, str] = field(default_factory=dict)
    copy_name: str | None = None  # the property/variable copy loop we are in, if any

    def bind(self, more: dict[str, str], copy_name: str | None = None) -> Env:
        return Env(
            {**self.bindings, **more}, copy_name if copy_name is not None else self.copy_name
        )


def arm_string(text: str) -> str:
    """A string literal inside an ARM expression."""
    return "'" + text.replace("'", "''") + "'"


def json_string(text: str) -> str:
    """A literal JSON string value: a leading '[' is escaped so ARM does not evaluate it."""
    return "[" + text if text.startswith("[") else text


def expression_value(expr: str) -> str:
    return f"[{expr}]"


class Compiler:
    def __init__(self, program: s.Program, file: Path, stack: tuple[Path, ...] = ()) -> None:
        self.program = program
        self.file = file
        self.stack = (*stack, file.resolve())
        self.params: dict[str, s.ParamDecl] = {}
        self.vars: dict[str, s.VarDecl] = {}
        self.symbols: dict[str, Symbol] = {}  # top-level and 'a::b' qualified nested symbols
        self.nested_by_name: dict[str, list[Symbol]] = {}
        self.file_vars: JsonObject = {}  # $fxv#N -> content
        self.file_var_keys: dict[tuple[str, str, str], str] = {}
        self.var_cache: dict[str, tuple[JsonValue, Usage]] = {}
        self.var_in_progress: list[str] = []
        self.variables_out: JsonObject = {}
        self.var_copies: list[JsonValue] = []

    # --- errors ---
    def error(self, message: str, pos: Position) -> BicepError:
        return BicepError(message, pos)

    # --- declarations ---
    def collect(self) -> None:
        seen: dict[str, Position] = {}
        for decl in self.program.declarations:
            if isinstance(decl, s.OutputDecl):
                continue
            if decl.name in seen:
                raise self.error(f"the symbol '{decl.name}' is declared more than once", decl.pos)
            seen[decl.name] = decl.pos
            if isinstance(decl, s.ParamDecl):
                self.params[decl.name] = decl
            elif isinstance(decl, s.VarDecl):
                self.vars[decl.name] = decl
            elif isinstance(decl, s.ResourceDecl):
                self.add_resource(decl, None)
            elif isinstance(decl, s.ModuleDecl):
                body, cond, loop = self.split_body(decl.body, decl.pos)
                self.symbols[decl.name] = Symbol(
                    decl.name, decl, body, DEPLOYMENTS_TYPE, MODULE_API_VERSION, False,
                    condition=cond, loop=loop,
                )  # fmt: skip
        # resolve `parent:` after every symbol is known
        for sym in list(self.symbols.values()):
            if sym.is_module:
                continue
            parent_prop = self.prop(sym.body, "parent")
            if parent_prop is not None:
                if sym.parent is not None:
                    raise self.error("a nested resource cannot also set 'parent'", parent_prop.pos)
                parent = self.resolve_symbol_expr(parent_prop.value)
                if parent is None or parent.is_module:
                    raise self.error(
                        "'parent' must name a resource declared in this file", parent_prop.value.pos
                    )
                sym.parent = parent
                self.qualify_type(sym, parent)

    def split_body(
        self, body: s.Expr, pos: Position
    ) -> tuple[s.Obj, s.Expr | None, s.ForExpr | None]:
        cond: s.Expr | None = None
        loop: s.ForExpr | None = None
        if isinstance(body, s.ForExpr):
            loop = body
            body = body.body
        if isinstance(body, s.IfBody):
            cond = body.cond
            body = body.body
        if not isinstance(body, s.Obj):
            raise self.error("a resource or module body must be an object", body.pos)
        return body, cond, loop

    def add_resource(self, decl: s.ResourceDecl, parent: Symbol | None) -> Symbol:
        body, cond, loop = self.split_body(decl.body, decl.pos)
        type_text = decl.type_text
        full_type, _, api = type_text.partition("@")
        if parent is None and (
            "/" not in full_type or not api or "." not in full_type.split("/")[0]
        ):
            raise self.error(
                f"invalid resource type '{type_text}': expected 'Provider/type@apiVersion'",
                decl.type_pos,
            )
        sym = Symbol(decl.name, decl, body, full_type, api, decl.existing, parent, cond, loop)
        if parent is not None:
            self.qualify_type(sym, parent)
            qualified = f"{self.qualified_name(parent)}::{decl.name}"
            sym.key = qualified
            if decl.name in parent.children:
                raise self.error(f"the symbol '{decl.name}' is declared more than once", decl.pos)
            parent.children[decl.name] = sym
            self.symbols[qualified] = sym
            self.nested_by_name.setdefault(decl.name, []).append(sym)
        else:
            self.symbols[decl.name] = sym
        for child in body.resources:
            self.add_resource(child, sym)
        return sym

    def emission_order(self) -> list[Symbol]:
        """The order ``bicep build`` writes resources in: every nested resource first (children
        before their parent, through the whole file), then top-level resources in declaration
        order, then modules."""
        nested: list[Symbol] = []

        def visit(sym: Symbol) -> None:
            for child in sym.children.values():
                visit(child)
                nested.append(child)

        top = [sym for sym in self.symbols.values() if "::" not in sym.key]
        for sym in top:
            visit(sym)
        resources = [sym for sym in top if not sym.is_module]
        modules = [sym for sym in top if sym.is_module]
        return nested + resources + modules

    def qualify_type(self, sym: Symbol, parent: Symbol) -> None:
        assert isinstance(sym.decl, s.ResourceDecl)
        text = sym.decl.type_text
        short, _, api = text.partition("@")
        # a fully qualified child type ('Microsoft.X/y/z') or a short one ('z')
        qualified = "/" in short and "." in short.split("/")[0]
        full = short if qualified else f"{parent.full_type}/{short}"
        if (
            not full.lower().startswith(parent.full_type.lower() + "/")
            or full.count("/") != parent.full_type.count("/") + 1
        ):
            raise self.error(
                f"the type '{full}' is not a child type of its parent '{parent.full_type}'",
                sym.decl.pos,
            )
        sym.full_type = full
        sym.api_version = api or parent.api_version
        if not sym.api_version:
            raise self.error(f"the resource type '{text}' needs an api-version", sym.decl.pos)

    @staticmethod
    def qualified_name(sym: Symbol) -> str:
        return sym.key or sym.name

    @staticmethod
    def prop(body: s.Obj, key: str) -> s.Property | None:
        for p in body.properties:
            if p.key == key:
                return p
        return None

    def resolve_symbol_expr(self, expr: s.Expr) -> Symbol | None:
        if isinstance(expr, s.Ident):
            if expr.name in self.symbols:
                return self.symbols[expr.name]
            nested = self.nested_by_name.get(expr.name, [])
            if len(nested) == 1 and expr.name not in self.params and expr.name not in self.vars:
                return nested[0]
            return None
        if isinstance(expr, s.Child):
            parent = self.resolve_symbol_expr(expr.target)
            if parent is None:
                raise self.error("'::' must follow a resource", expr.pos)
            child = parent.children.get(expr.name)
            if child is None:
                raise self.error(
                    f"the resource '{parent.name}' has no nested resource '{expr.name}'", expr.pos
                )
            return child
        return None

    # --- top level ---
    def compile(self) -> JsonObject:
        if self.program.target_scope != "resourceGroup":
            raise self.error(
                f"targetScope '{self.program.target_scope}' is not supported: "
                "amlite deploys to resource groups",
                Position(self.file, 1, 1),
            )
        self.collect()
        metadata: JsonObject = {"_generator": {"name": "amlite-bicep", "version": "1"}}
        for key, value in self.program.metadata.items():
            metadata[key] = self.value(value, Env(), Usage())
        parameters: JsonObject = {name: self.param(decl) for name, decl in self.params.items()}
        template: JsonObject = {
            "$schema": SCHEMA,
            "contentVersion": "1.0.0.0",
            "metadata": metadata,
            "parameters": parameters,
        }
        for name in self.vars:
            self.variable(name)
        resources: list[JsonValue] = []
        for sym in self.emission_order():
            if sym.existing:
                continue
            resources.append(self.module(sym) if sym.is_module else self.resource(sym))
        outputs: JsonObject = {
            decl.name: self.output(decl)
            for decl in self.program.declarations
            if isinstance(decl, s.OutputDecl)
        }
        variables: JsonObject = dict(self.file_vars)
        if self.var_copies:
            variables["copy"] = self.var_copies
        for name in self.vars:
            if name in self.variables_out:
                variables[name] = self.variables_out[name]
        if variables:
            template["variables"] = variables
        template["resources"] = resources
        if outputs:
            template["outputs"] = outputs
        if not parameters:
            del template["parameters"]
        return template

    def decorators(self, decl: s.Decl, allowed: set[str]) -> dict[str, s.Decorator]:
        out: dict[str, s.Decorator] = {}
        for dec in decl.decorators:
            key = dec.name.lower()
            if key not in allowed:
                raise self.error(f"the decorator @{dec.name} is not allowed here", dec.pos)
            out[key] = dec
        return out

    def literal_arg(self, dec: s.Decorator, kind: type | tuple[type, ...]) -> JsonValue:
        """A decorator's argument: a literal value, written as is (ARM does not evaluate
        metadata, descriptions or allowed values, so no '[' escaping either)."""
        if len(dec.args) != 1:
            raise self.error(f"@{dec.name} takes one argument", dec.pos)
        value = literal(dec.args[0])
        if (
            isinstance(value, _NotLiteral)
            or not isinstance(value, kind)
            or (kind is int and isinstance(value, bool))
        ):
            raise self.error(f"@{dec.name} needs a literal value", dec.args[0].pos)
        return value

    def param(self, decl: s.ParamDecl) -> JsonObject:
        decs = self.decorators(decl, _PARAM_DECORATORS)
        typ = decl.type.name
        if typ == "any":
            raise self.error(
                "parameters of type 'any' or mixed unions are not supported", decl.type.pos
            )
        arm_type = typ
        if "secure" in decs:
            if typ == "string":
                arm_type = "securestring"
            elif typ == "object":
                arm_type = "secureObject"
            else:
                raise self.error(
                    "@secure() applies to string and object parameters", decs["secure"].pos
                )
        out: JsonObject = {"type": arm_type}
        if decl.default is not None:
            usage = Usage()
            out["defaultValue"] = self.value(decl.default, Env(), usage)
            if usage.deps:
                raise self.error("a parameter default cannot refer to a resource", decl.default.pos)
        allowed: JsonValue = decl.type.allowed
        if "allowed" in decs:
            allowed = self.literal_arg(decs["allowed"], list)
        if allowed is not None:
            out["allowedValues"] = allowed
        for key, arm in (("minvalue", "minValue"), ("maxvalue", "maxValue"),
                         ("minlength", "minLength"), ("maxlength", "maxLength")):  # fmt: skip
            if key in decs:
                out[arm] = self.literal_arg(decs[key], int)
        if decl.type.nullable:
            out["nullable"] = True
        metadata = self.metadata(decs)
        if metadata:
            out["metadata"] = metadata
        return out

    def metadata(self, decs: dict[str, s.Decorator]) -> JsonObject:
        metadata: JsonObject = {}
        if "metadata" in decs:
            given = self.literal_arg(decs["metadata"], dict)
            metadata.update(given if isinstance(given, dict) else {})
        if "description" in decs:
            metadata["description"] = self.literal_arg(decs["description"], str)
        return metadata

    def variable(self, name: str) -> tuple[JsonValue, Usage]:
        """The variable's emitted value and what it needs (memoised; cycles refused)."""
        if name in self.var_cache:
            return self.var_cache[name]
        decl = self.vars[name]
        if name in self.var_in_progress:
            cycle = " -> ".join([*self.var_in_progress[self.var_in_progress.index(name) :], name])
            raise self.error(f"the variables refer to each other in a cycle: {cycle}", decl.pos)
        self.var_in_progress.append(name)
        self.decorators(decl, {"description", "export"})
        usage = Usage()
        value: JsonValue
        if isinstance(decl.value, s.ForExpr):
            copy = self.copy_loop(decl.value, name, Env(), usage, is_property=True)
            value = None
            if not usage.runtime:
                self.var_copies.append(copy)
        else:
            value = self.value(decl.value, Env(), usage)
            if not usage.runtime:
                self.variables_out[name] = value
        self.var_in_progress.pop()
        self.var_cache[name] = (value, usage)
        if usage.runtime and isinstance(decl.value, s.ForExpr):
            raise self.error(
                "a variable loop cannot use runtime values (reference, list*, module outputs)",
                decl.pos,
            )
        return value, usage

    def output(self, decl: s.OutputDecl) -> JsonObject:
        decs = self.decorators(decl, {"description", "metadata", "secure"})
        typ = decl.type.name
        if typ == "any":
            raise self.error(
                "outputs of type 'any' or mixed unions are not supported", decl.type.pos
            )
        if "secure" in decs:
            typ = "securestring" if typ == "string" else "secureObject"
        out: JsonObject = {"type": typ}
        usage = Usage()
        if isinstance(decl.value, s.ForExpr):
            if isinstance(decl.value.body, s.IfBody):
                raise self.error("an output loop cannot have a filter", decl.value.body.pos)
            count, bindings = self.loop_bindings(decl.value, "copyIndex()", Env(), usage)
            out["copy"] = {
                "count": count,
                "input": self.value(decl.value.body, Env().bind(bindings), usage),
            }
        else:
            out["value"] = self.value(decl.value, Env(), usage)
        metadata = self.metadata(decs)
        if metadata:
            out["metadata"] = metadata
        return out

    # --- resources and modules ---
    def symbol_env(self, sym: Symbol, index: str | None, outer: Env, usage: Usage) -> Env:
        """Bindings of the loop variables of ``sym`` (and its ancestors) for one instance."""
        env = outer
        chain: list[Symbol] = []
        cur: Symbol | None = sym
        while cur is not None:
            chain.append(cur)
            cur = cur.parent
        for item in reversed(chain):
            if item.loop is not None:
                if index is None:
                    raise self.error(
                        f"'{item.name}' is a loop: refer to one element with {item.name}[index]",
                        item.decl.pos,
                    )
                _, bindings = self.loop_bindings(item.loop, index, Env(), Usage())
                env = env.bind(bindings)
        return env

    def name_segments(self, sym: Symbol, env: Env, usage: Usage) -> list[str]:
        name_prop = self.prop(sym.body, "name")
        if name_prop is None:
            raise self.error(f"the resource '{sym.name}' has no name", sym.decl.pos)
        own = self.expr(name_prop.value, env, usage)
        if sym.parent is not None:
            return [*self.name_segments(sym.parent, env, usage), own]
        depth = sym.full_type.count("/")
        if depth <= 1:
            return [own]
        if isinstance(name_prop.value, s.Str) and not name_prop.value.holes:
            parts = name_prop.value.texts[0].split("/")
            if len(parts) == depth:
                return [arm_string(p) for p in parts]
        return [f"split({own}, '/')[{i}]" for i in range(depth)]

    def name_value(self, sym: Symbol, env: Env, usage: Usage) -> JsonValue:
        name_prop = self.prop(sym.body, "name")
        if name_prop is None:
            raise self.error(f"the resource '{sym.name}' has no name", sym.decl.pos)
        if sym.parent is None:
            return self.value(name_prop.value, env, usage)
        segments = self.name_segments(sym, env, usage)
        pattern = "/".join(f"{{{i}}}" for i in range(len(segments)))
        return expression_value(f"format('{pattern}', {', '.join(segments)})")

    def resource_id(self, sym: Symbol, env: Env, usage: Usage) -> str:
        if sym.is_module:
            name_prop = self.prop(sym.body, "name")
            if name_prop is None:
                raise self.error(f"the module '{sym.name}' needs a name", sym.decl.pos)
            return f"resourceId('{DEPLOYMENTS_TYPE}', {self.expr(name_prop.value, env, usage)})"
        segments = self.name_segments(sym, env, usage)
        scope = "".join(self.scope_args(sym, env, usage))
        return f"resourceId({scope}'{sym.full_type}', {', '.join(segments)})"

    def scope_args(self, sym: Symbol, env: Env, usage: Usage) -> list[str]:
        """``resourceId``'s leading subscription / resource group for an ``existing`` resource
        declared with ``scope: resourceGroup([sub, ]rg)`` (its own or its ancestors')."""
        cur: Symbol | None = sym
        while cur is not None:
            prop = self.prop(cur.body, "scope")
            if prop is not None:
                if not sym.existing:
                    what = (
                        "on existing resources and modules"
                        if cur is sym
                        else "for existing resources"
                    )
                    raise self.error(
                        f"'scope' is only supported {what}: "
                        f"'{sym.name}' would be deployed to another resource group",
                        prop.pos,
                    )
                call = prop.value
                if isinstance(call, s.Call) and call.target is not None:
                    call = (
                        s.Call(call.pos, call.name, call.args)
                        if self.is_namespace(call.target)
                        else call
                    )
                if not (
                    isinstance(call, s.Call)
                    and call.target is None
                    and call.name == "resourceGroup"
                    and 1 <= len(call.args) <= 2
                ):
                    raise self.error(
                        "'scope' must be resourceGroup('name') or resourceGroup('sub', 'name')",
                        prop.pos,
                    )
                return [f"{self.expr(a, env, usage)}, " for a in call.args]
            cur = cur.parent
        return []

    def is_namespace(self, target: s.Expr) -> bool:
        return (
            isinstance(target, s.Ident)
            and target.name in ("az", "sys")
            and target.name not in self.params
        )

    def resource(self, sym: Symbol) -> JsonObject:
        usage = Usage()
        env = Env()
        out: JsonObject = {"type": sym.full_type, "apiVersion": sym.api_version}
        copy: JsonObject | None = None
        if sym.loop is not None:
            count, bindings = self.loop_bindings(sym.loop, "copyIndex()", env, usage)
            copy = {"name": sym.name, "count": count}
            env = env.bind(bindings)
        # an ancestor's loop is not ours: refuse rather than emit something wrong
        anc = sym.parent
        while anc is not None:
            if anc.loop is not None:
                raise self.error(
                    "a nested resource inside a resource loop is not supported", sym.decl.pos
                )
            anc = anc.parent
        self.scope_args(sym, env, usage)  # a deployed resource cannot live in another group
        out["name"] = self.name_value(sym, env, usage)
        decs = self.decorators(sym.decl, {"batchsize", "description"})
        for p in sym.body.properties:
            if p.key in ("name", "parent", "dependsOn"):
                continue
            if p.key == "scope":
                continue  # refused above

            out[p.key] = self.value(p.value, env, usage, in_resource=True)
        if sym.condition is not None:
            out["condition"] = self.value(sym.condition, env, usage)
        if copy is not None:
            if "batchsize" in decs:
                copy["mode"] = "serial"
                copy["batchSize"] = self.literal_arg(decs["batchsize"], int)
            out["copy"] = copy
        if sym.parent is not None and not sym.parent.existing:
            usage.add(Dep(self.qualified_name(sym.parent), None))
        self.explicit_depends_on(sym, env, usage)
        depends = self.depends_on(sym, usage)
        if depends:
            out["dependsOn"] = [*depends]
        return out

    def module(self, sym: Symbol) -> JsonObject:
        decl = sym.decl
        assert isinstance(decl, s.ModuleDecl)
        usage = Usage()
        env = Env()
        out: JsonObject = {"type": DEPLOYMENTS_TYPE, "apiVersion": MODULE_API_VERSION}
        copy: JsonObject | None = None
        if sym.loop is not None:
            count, bindings = self.loop_bindings(sym.loop, "copyIndex()", env, usage)
            copy = {"name": sym.name, "count": count}
            env = env.bind(bindings)
        name_prop = self.prop(sym.body, "name")
        if name_prop is None:
            raise self.error(
                f"the module '{sym.name}' needs a name (the deployment name)", decl.pos
            )
        out["name"] = self.value(name_prop.value, env, usage)
        path = (self.file.parent / decl.path).resolve()
        if decl.path.startswith(("br:", "ts:", "br/", "ts/")) or not decl.path.endswith(".bicep"):
            raise self.error(
                f"only local .bicep modules are supported, not '{decl.path}'", decl.path_pos
            )
        if path in self.stack:
            raise self.error(
                f"the module '{decl.path}' refers back to a file that uses it (a cycle)",
                decl.path_pos,
            )
        if not path.is_file():
            raise self.error(
                f"the module file '{decl.path}' does not exist ({path})", decl.path_pos
            )
        template = compile_file(path, self.stack)
        found = template.get("parameters")
        declared: JsonObject = found if isinstance(found, dict) else {}
        parameters: JsonObject = {}
        for p in sym.body.properties:
            if p.key in ("name", "dependsOn"):
                continue
            if p.key == "params":
                if not isinstance(p.value, s.Obj):
                    raise self.error("a module's 'params' must be an object", p.value.pos)
                for param in p.value.properties:
                    if param.key not in declared:
                        raise self.error(
                            f"the module '{decl.path}' has no parameter '{param.key}'", param.pos
                        )
                    parameters[param.key] = {
                        "value": self.value(param.value, env, usage, in_resource=True)
                    }
            elif p.key == "scope":
                out["resourceGroup"] = self.module_scope(p.value, env, usage)
            else:
                raise self.error(f"unknown module property '{p.key}'", p.pos)
        missing = [
            k for k, v in declared.items()
            if not (isinstance(v, dict) and ("defaultValue" in v or v.get("nullable")))
            and k not in parameters
        ]  # fmt: skip
        if missing:
            raise self.error(
                f"the module '{decl.path}' needs the parameter(s) {', '.join(missing)}", decl.pos
            )
        out["properties"] = {
            "expressionEvaluationOptions": {"scope": "inner"},
            "mode": "Incremental",
            "parameters": parameters,
            "template": template,
        }
        if sym.condition is not None:
            out["condition"] = self.value(sym.condition, env, usage)
        if copy is not None:
            decs = self.decorators(decl, {"batchsize", "description"})
            if "batchsize" in decs:
                copy["mode"] = "serial"
                copy["batchSize"] = self.literal_arg(decs["batchsize"], int)
            out["copy"] = copy
        self.explicit_depends_on(sym, env, usage)
        depends = self.depends_on(sym, usage)
        if depends:
            out["dependsOn"] = [*depends]
        return out

    def module_scope(self, expr: s.Expr, env: Env, usage: Usage) -> JsonValue:
        if isinstance(expr, s.Call) and expr.name == "resourceGroup" and len(expr.args) == 1:
            return self.value(expr.args[0], env, usage)
        raise self.error(
            "a module 'scope' must be resourceGroup('name') in this resource group's subscription",
            expr.pos,
        )

    def explicit_depends_on(self, sym: Symbol, env: Env, usage: Usage) -> None:
        prop = self.prop(sym.body, "dependsOn")
        if prop is None:
            return
        if not isinstance(prop.value, s.Arr):
            raise self.error("'dependsOn' must be an array of resources or modules", prop.value.pos)
        for item in prop.value.items:
            target = item.target if isinstance(item, s.Index) else item
            dep_sym = self.resolve_symbol_expr(target)
            if dep_sym is None:
                raise self.error("'dependsOn' entries must name resources or modules", item.pos)
            index = self.expr(item.index, env, usage) if isinstance(item, s.Index) else None
            usage.add(Dep(self.qualified_name(dep_sym), index))

    def depends_on(self, sym: Symbol, usage: Usage) -> list[str]:
        out: list[str] = []
        me = self.qualified_name(sym)
        for dep in usage.deps:
            target = self.symbols[dep.symbol]
            if target.existing or dep.symbol == me:
                continue
            if target.loop is not None and dep.index is None:
                entry = target.name
            else:
                entry = expression_value(
                    self.resource_id(
                        target, self.symbol_env(target, dep.index, Env(), Usage()), Usage()
                    )
                )
            if entry not in out:
                out.append(entry)
        return out

    # --- loops ---
    def loop_bindings(
        self, loop: s.ForExpr, index: str, env: Env, usage: Usage
    ) -> tuple[str, dict[str, str]]:
        """``copy.count`` for the loop, and the loop variables bound for element ``index``."""
        iterable = self.expr(loop.iterable, env, usage)
        bindings: dict[str, str] = {}
        if loop.item is not None:
            bindings[loop.item] = f"{iterable}[{index}]"
        if loop.index is not None:
            bindings[loop.index] = index
        return expression_value(f"length({iterable})"), bindings

    def copy_loop(
        self, loop: s.ForExpr, name: str, env: Env, usage: Usage, is_property: bool
    ) -> JsonObject:
        if isinstance(loop.body, s.IfBody):
            raise self.error(
                "a loop filter ('if') is only supported on resources and modules", loop.body.pos
            )
        count, bindings = self.loop_bindings(loop, f"copyIndex('{name}')", env, usage)
        inner = env.bind(bindings, copy_name=name)
        return {
            "name": name,
            "count": count,
            "input": self.value(loop.body, inner, usage, in_resource=is_property),
        }

    # --- values (JSON structure) and expressions (ARM expression text) ---
    def value(self, expr: s.Expr, env: Env, usage: Usage, in_resource: bool = False) -> JsonValue:
        """The JSON the template holds for ``expr``: structure where Bicep keeps structure."""
        if isinstance(expr, s.Literal):
            return expr.value
        if isinstance(expr, s.Str) and not expr.holes:
            return json_string(expr.texts[0])
        if isinstance(expr, s.Obj):
            if expr.resources:
                raise self.error(
                    "nested resources are only allowed in a resource body", expr.resources[0].pos
                )
            out: JsonObject = {}
            copies: list[JsonValue] = []
            for p in expr.properties:
                if isinstance(p.value, s.ForExpr):
                    if not in_resource:
                        raise self.error(
                            "a property loop is only supported inside a resource or module body",
                            p.value.pos,
                        )
                    copies.append(self.copy_loop(p.value, p.key, env, usage, is_property=True))
                else:
                    out[p.key] = self.value(p.value, env, usage, in_resource)
            if copies:
                out["copy"] = copies
            return out
        if isinstance(expr, s.Arr):
            return [self.value(item, env, usage, in_resource) for item in expr.items]
        if isinstance(expr, s.Ident) and expr.name in self.vars and expr.name not in env.bindings:
            _, var_usage = self.variable(expr.name)
            usage.merge(var_usage)
            if var_usage.runtime:
                return self.value(self.vars[expr.name].value, Env(), usage)
            return expression_value(f"variables('{expr.name}')")
        return expression_value(self.expr(expr, env, usage))

    def expr(self, expr: s.Expr, env: Env, usage: Usage) -> str:
        """ARM expression text (without the surrounding brackets)."""
        if isinstance(expr, s.Literal):
            if expr.value is None:
                return "null()"
            if isinstance(expr.value, bool):
                return "true()" if expr.value else "false()"
            return str(expr.value)
        if isinstance(expr, s.Str):
            if not expr.holes:
                return arm_string(expr.texts[0])
            pattern = ""
            for i, text in enumerate(expr.texts):
                pattern += text.replace("{", "{{").replace("}", "}}")
                if i < len(expr.holes):
                    pattern += f"{{{i}}}"
            args = ", ".join(self.expr(h, env, usage) for h in expr.holes)
            return f"format({arm_string(pattern)}, {args})"
        if isinstance(expr, s.Obj):
            if expr.resources:
                raise self.error(
                    "nested resources are only allowed in a resource body", expr.resources[0].pos
                )
            parts: list[str] = []
            for p in expr.properties:
                if isinstance(p.value, s.ForExpr):
                    raise self.error(
                        "a loop is not supported inside a function argument or expression",
                        p.value.pos,
                    )
                parts += [arm_string(p.key), self.expr(p.value, env, usage)]
            return f"createObject({', '.join(parts)})"
        if isinstance(expr, s.Arr):
            return f"createArray({', '.join(self.expr(i, env, usage) for i in expr.items)})"
        if isinstance(expr, s.ForExpr):
            raise self.error(
                "a loop is only supported as a resource, module, variable, output "
                "or property value",
                expr.pos,
            )
        if isinstance(expr, s.IfBody):
            raise self.error("an 'if' body is only supported on resources and modules", expr.pos)
        if isinstance(expr, s.Ident):
            return self.ident(expr, env, usage)
        if isinstance(expr, s.Unary):
            inner = self.expr(expr.operand, env, usage)
            return f"not({inner})" if expr.op == "!" else f"sub(0, {inner})"
        if isinstance(expr, s.Binary):
            left = self.expr(expr.left, env, usage)
            right = self.expr(expr.right, env, usage)
            if expr.op == "!=":
                return f"not(equals({left}, {right}))"
            if expr.op == "=~":
                return f"equals(toLower({left}), toLower({right}))"
            if expr.op == "!~":
                return f"not(equals(toLower({left}), toLower({right})))"
            return f"{_OPERATORS[expr.op]}({left}, {right})"
        if isinstance(expr, s.Ternary):
            cond = self.expr(expr.cond, env, usage)
            then = self.expr(expr.then, env, usage)
            return f"if({cond}, {then}, {self.expr(expr.other, env, usage)})"
        if isinstance(expr, s.Call):
            return self.call(expr, env, usage)
        if isinstance(expr, s.Member | s.Index | s.Child):
            return self.access(expr, env, usage)
        raise self.error(f"unsupported expression {type(expr).__name__}", expr.pos)

    def ident(self, expr: s.Ident, env: Env, usage: Usage) -> str:
        name = expr.name
        if name in env.bindings:
            return env.bindings[name]
        if name in self.params:
            return f"parameters('{name}')"
        if name in self.vars:
            _, var_usage = self.variable(name)
            usage.merge(var_usage)
            if var_usage.runtime:
                return self.expr(self.vars[name].value, Env(), usage)
            return f"variables('{name}')"
        sym = self.resolve_symbol_expr(expr)
        if sym is not None:
            raise self.error(
                f"'{name}' is a {'module' if sym.is_module else 'resource'}: "
                "use one of its properties (.id, .name, .properties...)",
                expr.pos,
            )
        raise self.error(f"the name '{name}' does not exist in the current context", expr.pos)

    def access(self, expr: s.Member | s.Index | s.Child, env: Env, usage: Usage) -> str:
        # a resource (or module) reached by name, `::` or `[index]`?
        sym, index, rest = self.symbol_access(expr)
        if sym is not None:
            return self.symbol_property(sym, index, rest, expr, env, usage)
        if isinstance(expr, s.Child):
            raise self.error("'::' must follow a resource", expr.pos)
        target = self.expr(expr.target, env, usage)
        if isinstance(expr, s.Member):
            if expr.safe:
                return f"tryGet({target}, {arm_string(expr.name)})"
            if _IDENTIFIER.match(expr.name):
                return f"{target}.{expr.name}"
            return f"{target}[{arm_string(expr.name)}]"
        index_text = self.expr(expr.index, env, usage)
        if expr.safe:
            return f"tryGet({target}, {index_text})"
        return f"{target}[{index_text}]"

    def symbol_access(
        self, expr: s.Expr
    ) -> tuple[Symbol | None, s.Expr | None, list[s.Member | s.Index]]:
        """Split ``sym[i].a.b`` into the symbol, its index and the accessors that follow."""
        rest: list[s.Member | s.Index] = []
        cur = expr
        while isinstance(cur, s.Member | s.Index):
            sym = self.resolve_symbol_expr(cur.target) if isinstance(cur, s.Index) else None
            if sym is not None and isinstance(cur, s.Index):
                return sym, cur.index, list(reversed(rest))
            rest.append(cur)
            cur = cur.target
        sym = self.resolve_symbol_expr(cur) if isinstance(cur, s.Ident | s.Child) else None
        if isinstance(cur, s.Ident) and (cur.name in self.params or cur.name in self.vars):
            sym = None
        return sym, None, list(reversed(rest))

    def symbol_property(
        self,
        sym: Symbol,
        index_expr: s.Expr | None,
        rest: list[s.Member | s.Index],
        whole: s.Expr,
        env: Env,
        usage: Usage,
    ) -> str:
        index = self.expr(index_expr, env, usage) if index_expr is not None else None
        if sym.loop is not None and index is None:
            raise self.error(
                f"'{sym.name}' is a loop: refer to one element with {sym.name}[index]", whole.pos
            )
        sym_env = (
            self.symbol_env(sym, index, env, usage)
            if sym.loop is not None or self.has_looped_ancestor(sym)
            else env
        )
        dep = Dep(self.qualified_name(sym), index)
        if not rest:
            raise self.error(
                f"use a property of '{sym.name}' (.id, .name, .properties...)", whole.pos
            )
        first = rest[0]
        if not isinstance(first, s.Member):
            raise self.error(f"'{sym.name}' cannot be indexed here", first.pos)
        tail = rest[1:]
        rid = self.resource_id(sym, sym_env, Usage())
        if not sym.existing:
            usage.add(dep)
        if sym.is_module:
            if first.name == "name":
                prop = self.prop(sym.body, "name")
                assert prop is not None
                base = self.expr(prop.value, sym_env, usage)
            elif first.name == "outputs":
                usage.runtime = True
                if not tail or not isinstance(tail[0], s.Member):
                    raise self.error("use one output: module.outputs.NAME", first.pos)
                base = f"reference({rid}).outputs.{tail[0].name}.value"
                tail = tail[1:]
            else:
                raise self.error(
                    f"a module has 'name' and 'outputs', not '{first.name}'", first.pos
                )
        elif first.name == "id":
            base = rid
        elif first.name == "name":
            prop = self.prop(sym.body, "name")
            assert prop is not None
            base = self.expr(prop.value, sym_env, usage)
        elif first.name == "type":
            base = arm_string(sym.full_type)
        elif first.name == "apiVersion":
            base = arm_string(sym.api_version)
        elif first.name == "properties":
            usage.runtime = True
            base = f"reference({rid}, '{sym.api_version}')" if sym.existing else f"reference({rid})"
        else:
            usage.runtime = True
            base = f"reference({rid}, '{sym.api_version}', 'full').{first.name}"
        for acc in tail:
            if isinstance(acc, s.Member):
                if acc.safe:
                    base = f"tryGet({base}, {arm_string(acc.name)})"
                elif _IDENTIFIER.match(acc.name):
                    base = f"{base}.{acc.name}"
                else:
                    base = f"{base}[{arm_string(acc.name)}]"
            else:
                idx = self.expr(acc.index, env, usage)
                base = f"tryGet({base}, {idx})" if acc.safe else f"{base}[{idx}]"
        return base

    def has_looped_ancestor(self, sym: Symbol) -> bool:
        cur = sym.parent
        while cur is not None:
            if cur.loop is not None:
                return True
            cur = cur.parent
        return False

    def call(self, expr: s.Call, env: Env, usage: Usage) -> str:
        name = expr.name
        if expr.target is not None:
            if (
                isinstance(expr.target, s.Ident)
                and expr.target.name in ("az", "sys")
                and (expr.target.name not in self.params and expr.target.name not in self.vars)
            ):
                return self.call(s.Call(expr.pos, name, expr.args), env, usage)
            sym, index_expr, rest = self.symbol_access(expr.target)
            if sym is not None and not rest and not sym.is_module:
                if not name.lower().startswith("list"):
                    raise self.error(
                        f"the resource function '{name}' is not supported (only list*)", expr.pos
                    )
                index = self.expr(index_expr, env, usage) if index_expr is not None else None
                sym_env = self.symbol_env(sym, index, env, usage) if sym.loop is not None else env
                if not sym.existing:
                    usage.add(Dep(self.qualified_name(sym), index))
                usage.runtime = True
                args = [self.resource_id(sym, sym_env, usage), arm_string(sym.api_version)]
                args += [self.expr(a, env, usage) for a in expr.args]
                return f"{name}({', '.join(args)})"
            raise self.error(f"unknown function namespace in '{name}()'", expr.pos)
        lower = name.lower()
        if lower in LAMBDA_FUNCTIONS:
            raise self.error(
                f"the function '{name}' takes a lambda, "
                "which amlite's Bicep compiler does not support",
                expr.pos,
            )
        if lower in BICEP_ONLY:
            return self.bicep_function(expr, env, usage)
        if lower not in ARM_FUNCTIONS:
            raise self.error(f"unknown function '{name}'", expr.pos)
        if lower.startswith("list") or lower == "reference":
            usage.runtime = True
        return f"{name}({', '.join(self.expr(a, env, usage) for a in expr.args)})"

    def bicep_function(self, expr: s.Call, env: Env, usage: Usage) -> str:
        lower = expr.name.lower()
        if lower == "any":
            if len(expr.args) != 1:
                raise self.error("any() takes one argument", expr.pos)
            return self.expr(expr.args[0], env, usage)
        if not expr.args or not isinstance(expr.args[0], s.Str) or expr.args[0].holes:
            raise self.error(f"{expr.name}() needs a file path as a string literal", expr.pos)
        rel = expr.args[0].texts[0]
        path = (self.file.parent / rel).resolve()
        if not path.is_file():
            raise self.error(
                f"{expr.name}(): the file '{rel}' does not exist ({path})", expr.args[0].pos
            )
        extra: list[str] = []
        for arg in expr.args[1:]:
            if not isinstance(arg, s.Str) or arg.holes:
                raise self.error(f"{expr.name}() options must be string literals", arg.pos)
            extra.append(arg.texts[0])
        content: JsonValue
        if lower == "loadfileasbase64":
            content = base64.b64encode(path.read_bytes()).decode("ascii")
        else:
            encoding = extra[0] if lower == "loadtextcontent" and extra else "utf-8"
            try:
                text = path.read_bytes().decode(encoding.replace("utf-16BE", "utf-16-be").lower())
            except (LookupError, UnicodeDecodeError) as exc:
                raise self.error(
                    f"{expr.name}(): cannot read '{rel}': {exc}", expr.args[0].pos
                ) from None
            if text.startswith("\ufeff"):
                text = text[1:]
            if lower == "loadtextcontent":
                content = text
            else:
                try:
                    content = json.loads(text)
                except json.JSONDecodeError as exc:
                    raise self.error(
                        f"loadJsonContent(): '{rel}' is not JSON: {exc}", expr.args[0].pos
                    ) from None
                if extra:
                    content = json_path(
                        content, extra[0], lambda m: self.error(m, expr.args[1].pos)
                    )
        key_id = (lower, str(path), "|".join(extra))
        if key_id not in self.file_var_keys:
            key = f"$fxv#{len(self.file_var_keys)}"
            self.file_var_keys[key_id] = key
            self.file_vars[key] = escape_strings(content)
        return f"variables('{self.file_var_keys[key_id]}')"


class _NotLiteral:
    """What ``literal`` answers for an expression that is not a literal."""


_NOT_LITERAL = _NotLiteral()


def literal(expr: s.Expr) -> JsonValue | _NotLiteral:
    """The Python value of a literal expression (no holes, calls or names), else _NOT_LITERAL."""
    if isinstance(expr, s.Literal):
        return expr.value
    if isinstance(expr, s.Str):
        return expr.texts[0] if not expr.holes else _NOT_LITERAL
    if isinstance(expr, s.Arr):
        items: list[JsonValue] = []
        for i in expr.items:
            item = literal(i)
            if isinstance(item, _NotLiteral):
                return _NOT_LITERAL
            items.append(item)
        return items
    if isinstance(expr, s.Obj) and not expr.resources:
        values: JsonObject = {}
        for p in expr.properties:
            value = literal(p.value)
            if isinstance(value, _NotLiteral):
                return _NOT_LITERAL
            values[p.key] = value
        return values
    return _NOT_LITERAL


def escape_strings(value: JsonValue) -> JsonValue:
    """Literal JSON loaded from a file: strings starting with '[' must stay literal in ARM."""
    if isinstance(value, str):
        return json_string(value)
    if isinstance(value, list):
        return [escape_strings(v) for v in value]
    if isinstance(value, dict):
        return {k: escape_strings(v) for k, v in value.items()}
    return value


def json_path(value: JsonValue, path: str, fail: Callable[[str], BicepError]) -> JsonValue:
    """A small JSONPath subset for loadJsonContent: ``$.a.b[0]``."""
    if not path.startswith("$"):
        raise fail(f"loadJsonContent(): the path '{path}' must start with '$'")
    for m in re.finditer(r"\.([A-Za-z_][\w-]*)|\[(\d+)\]|\['([^']*)'\]", path[1:]):
        name = m.group(1) or m.group(3)
        index = int(m.group(2)) if m.group(2) is not None else None
        if index is None and isinstance(value, dict) and name in value:
            value = value[name]
        elif index is not None and isinstance(value, list | str) and index < len(value):
            value = value[index]
        else:
            raise fail(f"loadJsonContent(): the path '{path}' matches nothing")
    return value


def compile_file(path: Path, stack: tuple[Path, ...] = ()) -> JsonObject:
    """Compile the Bicep file at ``path`` (and its local modules) to an ARM template dict."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise BicepError(
            f"cannot read the Bicep file: {exc.strerror}", Position(path, 1, 1)
        ) from None
    try:
        program = parse(text, path)
        return Compiler(program, path, stack).compile()
    except RecursionError:  # a safety net: the parser limits nesting well before this
        raise BicepError("the file is nested too deeply to compile", Position(path, 1, 1)) from None
