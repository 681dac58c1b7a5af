"""Evaluate a template as ARM does: bind parameters, expand resources (copy loops, child
resources, conditions), order them by their dependencies, and evaluate each resource's body
and the outputs when the engine asks (so ``reference()`` reads what was already deployed).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TypedDict

from amlite.deployments.template import expressions as ex
from amlite.deployments.template.errors import DeferredReference, ParameterError, TemplateError
from amlite.deployments.template.functions import (
    FunctionError,
    Thunk,
    get_property,
    lookup,
    type_name,
)
from amlite.domain.json_value import JsonObject, JsonValue, member, objects

MAX_COPY = 800
PARAMETER_TYPES = {
    "string": (str,),
    "securestring": (str,),
    "int": (int,),
    "bool": (bool,),
    "object": (dict,),
    "secureobject": (dict,),
    "array": (list,),
}
SECURE_TYPES = ("securestring", "secureobject")
OUTPUT_TYPES = {
    "string": "String",
    "securestring": "SecureString",
    "int": "Int",
    "bool": "Bool",
    "object": "Object",
    "secureobject": "SecureObject",
    "array": "Array",
}
DEPLOYMENTS_TYPE = "Microsoft.Resources/deployments"


ResourceReader = Callable[[str], JsonObject]
"""How ``reference()`` reads a deployed resource by id: its full GET body (raises
``FunctionError`` when it does not exist)."""


class TemplateOutput(TypedDict):
    """One output as ARM answers it: its declared type (``String``, ``Int``, ...) and value."""

    type: str
    value: JsonValue


@dataclass(frozen=True)
class Scope:
    subscription_id: str
    resource_group: str
    deployment_name: str
    location: str = "local"

    @property
    def resource_group_id(self) -> str:
        return f"/subscriptions/{self.subscription_id}/resourceGroups/{self.resource_group}"


@dataclass
class Instance:
    """One resource the template declares, after copy expansion."""

    key: str
    """Unique within the template: ``resources[2]``, ``resources[2][7]`` (copy), or
    ``sym``/``sym[7]``."""
    path: str
    """Where it is declared, for messages."""
    decl: JsonObject
    type: str
    name: str
    api_version: str
    id: str
    copy: dict[str, int]
    symbolic: str | None = None
    loop: str | None = None
    existing: bool = False
    depends_on: list[str] = field(default_factory=list)
    parent: str | None = None
    """The instance key of the parent when declared as a child resource."""

    @property
    def label(self) -> str:
        return f"{self.type} '{self.name}'"


def _norm_type(value: str) -> str:
    return value.lower()


def is_inner_scope(properties: JsonValue) -> bool:
    """Whether a nested deployment's properties ask for the inner expression scope (its own
    parameters and variables) rather than the outer one (its parent's)."""
    scope = member(properties, "expressionEvaluationOptions", "scope")
    return str(scope or "outer").lower() == "inner"


class Evaluation:
    """One template with its parameter values, in one resource group."""

    def __init__(
        self,
        template: JsonValue,
        parameters: JsonValue,
        scope: Scope,
        reader: ResourceReader | None = None,
        outer: Evaluation | None = None,
    ) -> None:
        if not isinstance(template, dict):
            raise TemplateError("the template must be a JSON object", path="template")
        self.template = template
        self.scope = scope
        self.reader = reader
        self.outer = outer
        self.language_v2 = str(template.get("languageVersion", "")).startswith("2")
        self._param_decls = self._section("parameters")
        self._var_decls = self._section("variables")
        self._supplied = self._check_supplied(parameters)
        self._param_values: JsonObject = {}
        self._var_values: JsonObject = {}
        self._pending: list[str] = []
        self.preflight = False
        """While validating: reference() raises DeferredReference."""
        self.deployed: set[str] = set()
        """Instance keys the engine has deployed (reference() to others is refused)."""
        self.instances: list[Instance] = []
        self._skipped: set[str] = set()
        """Ids, names and loops of resources whose condition left them out."""
        self._by_key: dict[str, Instance] = {}
        if outer is None:
            for name in self._param_decls:
                self.parameter(name)
        self._expand_resources()
        self.order = self._topological_order()

    # -- sections -----------------------------------------------------------------------------
    def _section(self, name: str) -> JsonObject:
        value = self.template.get(name, {})
        if value is None:
            return {}
        if not isinstance(value, dict):
            raise TemplateError(f"'{name}' must be an object", path=name)
        return {k: v for k, v in value.items() if not (name == "variables" and k == "copy")} | (
            {"copy": value["copy"]} if name == "variables" and "copy" in value else {}
        )

    def _check_supplied(self, parameters: JsonValue) -> JsonObject:
        if parameters is None:
            return {}
        if not isinstance(parameters, dict):
            raise ParameterError("'parameters' must be an object", path="parameters")
        if self.outer is not None and parameters:
            raise ParameterError(
                "a nested deployment with outer expression scope takes no parameters; "
                "set expressionEvaluationOptions.scope to 'inner'",
                path="parameters",
            )
        declared = {k.lower(): k for k in self._param_decls}
        unknown = [k for k in parameters if k.lower() not in declared]
        if unknown:
            raise ParameterError(
                f"the parameters {', '.join(repr(u) for u in unknown)} are not declared "
                "in the template",
                path=f"parameters.{unknown[0]}",
            )
        out: JsonObject = {}
        for key, entry in parameters.items():
            if isinstance(entry, dict) and "reference" in entry and "value" not in entry:
                raise ParameterError(
                    f"parameter '{key}' is a Key Vault reference; amlite has no Key Vault",
                    path=f"parameters.{key}",
                )
            if not isinstance(entry, dict) or "value" not in entry:
                raise ParameterError(
                    f"parameter '{key}' must be given as {{\"value\": ...}}",
                    path=f"parameters.{key}",
                )
            out[declared[key.lower()]] = entry["value"]
        return out

    # -- parameters and variables ----------------------------------------------------------------
    def parameter(self, name: str) -> JsonValue:
        if self.outer is not None:
            return self.outer.parameter(name)
        key = self._find(self._param_decls, name, "parameter")
        if key in self._param_values:
            return self._param_values[key]
        decl = self._param_decls[key]
        path = f"parameters.{key}"
        declared = member(decl, "type")
        if not isinstance(decl, dict) or not isinstance(declared, str):
            raise TemplateError(f"parameter '{key}' must declare a 'type'", path=path)
        ptype = declared.lower()
        if ptype not in PARAMETER_TYPES:
            raise TemplateError(
                f"parameter '{key}' has unknown type '{declared}' "
                f"(use one of {', '.join(PARAMETER_TYPES)})",
                path=f"{path}.type",
            )
        if key in self._supplied:
            value: JsonValue = self._supplied[key]
        elif "defaultValue" in decl:
            self._enter(f"parameter '{key}'")
            try:
                value = self.value(decl["defaultValue"], f"{path}.defaultValue", default=True)
            finally:
                self._pending.pop()
        elif decl.get("nullable"):
            value = None
        else:
            raise ParameterError(
                f"the value for the template parameter '{key}' is not provided", path=path
            )
        if value is not None or not decl.get("nullable"):
            _check_parameter(key, decl, ptype, value)
        self._param_values[key] = value
        return value

    def secure_parameters(self) -> set[str]:
        return {
            k
            for k, d in self._param_decls.items()
            if isinstance(d, dict) and str(d.get("type", "")).lower() in SECURE_TYPES
        }

    def parameter_values(self) -> JsonObject:
        return dict(self._param_values)

    def variable(self, name: str) -> JsonValue:
        if self.outer is not None:
            return self.outer.variable(name)
        copies = self._var_decls.get("copy")
        loops = (
            {str(c.get("name", "")).lower(): c for c in copies if isinstance(c, dict)}
            if isinstance(copies, list)
            else {}
        )
        if name.lower() in loops and name.lower() not in {
            k.lower() for k in self._var_decls if k != "copy"
        }:
            key = str(loops[name.lower()]["name"])
            if key not in self._var_values:
                self._enter(f"variable '{key}'")
                try:
                    self._var_values[key] = self._copy_array(
                        loops[name.lower()], f"variables.copy[{key}]", {}
                    )
                finally:
                    self._pending.pop()
            return self._var_values[key]
        key = self._find(
            {k: v for k, v in self._var_decls.items() if k != "copy"}, name, "variable"
        )
        if key not in self._var_values:
            self._enter(f"variable '{key}'")
            try:
                self._var_values[key] = self.value(self._var_decls[key], f"variables.{key}")
            finally:
                self._pending.pop()
        return self._var_values[key]

    def _enter(self, what: str) -> None:
        if what in self._pending:
            cycle = " -> ".join([*self._pending[self._pending.index(what) :], what])
            raise TemplateError(f"circular reference: {cycle}")
        self._pending.append(what)

    @staticmethod
    def _find(section: JsonObject, name: str, what: str) -> str:
        if name in section:
            return name
        for key in section:
            if key.lower() == name.lower():
                return key
        raise FunctionError(f"the template has no {what} named '{name}'")

    # -- values ---------------------------------------------------------------------------------
    def value(
        self,
        raw: JsonValue,
        path: str,
        copy: dict[str, int] | None = None,
        *,
        default: bool = False,
        loop: str | None = None,
    ) -> JsonValue:
        """Evaluate every expression in ``raw`` (strings, and inside arrays and objects)."""
        ctx = _Ctx(self, copy or {}, default, loop)
        return ctx.walk(raw, path)

    def _copy_array(
        self, spec: JsonValue, path: str, copy: dict[str, int], loop_default: bool = False
    ) -> list[JsonValue]:
        if not isinstance(spec, dict) or "input" not in spec:
            raise TemplateError("a copy needs 'name', 'count' and 'input'", path=path)
        name = spec.get("name")
        count = self._count(spec, path, copy)
        out: list[JsonValue] = []
        for i in range(count):
            inner = {**copy, str(name).lower(): i} if name else {**copy, "": i}
            out.append(
                self.value(
                    spec["input"],
                    f"{path}.input",
                    inner,
                    default=loop_default,
                    loop=str(name) if name else "",
                )
            )
        return out

    def _count(self, spec: JsonObject, path: str, copy: dict[str, int]) -> int:
        count = self.value(spec.get("count"), f"{path}.count", copy)
        if isinstance(count, bool) or not isinstance(count, int):
            raise TemplateError(
                f"copy count must be an integer, got {type_name(count)}", path=f"{path}.count"
            )
        if count < 0 or count > MAX_COPY:
            raise TemplateError(
                f"copy count must be between 0 and {MAX_COPY}, got {count}", path=f"{path}.count"
            )
        return count

    # -- resources --------------------------------------------------------------------------------
    def _resource_decls(self) -> Iterator[tuple[str, str | None, JsonValue]]:
        resources = self.template.get("resources", [])
        if self.language_v2:
            if not isinstance(resources, dict):
                raise TemplateError(
                    "languageVersion 2.0 declares 'resources' as an object of symbolic names",
                    path="resources",
                )
            for sym, decl in resources.items():
                yield f"resources['{sym}']", sym, decl
        else:
            if not isinstance(resources, list):
                raise TemplateError("'resources' must be an array", path="resources")
            for i, decl in enumerate(resources):
                yield f"resources[{i}]", None, decl

    def _expand_resources(self) -> None:
        for path, sym, decl in self._resource_decls():
            self._expand(path, sym, decl, None)
        loops: dict[str, list[str]] = {}
        for inst in self.instances:
            if inst.loop:
                loops.setdefault(inst.loop.lower(), []).append(inst.key)
        self._loops = loops
        self._ids: dict[str, list[str]] = {}
        self._symbols: dict[str, list[str]] = {}
        for inst in self.instances:
            self._ids.setdefault(inst.id.lower(), []).append(inst.key)
            if inst.symbolic:
                self._symbols.setdefault(inst.symbolic, []).append(inst.key)
        for inst in self.instances:
            self._resolve_depends_on(inst)

    def _expand(self, path: str, sym: str | None, decl: JsonValue, parent: Instance | None) -> None:
        if not isinstance(decl, dict):
            raise TemplateError("a resource must be an object", path=path)
        for required in ("type", "name"):
            if required not in decl:
                raise TemplateError(f"the resource has no '{required}'", path=path)
        spec = decl.get("copy")
        if spec is not None:
            if parent is not None:
                raise TemplateError(
                    "a child resource inside 'resources' cannot have a copy loop; "
                    "declare it at the top level",
                    path=f"{path}.copy",
                )
            loop = member(spec, "name")
            if not isinstance(spec, dict) or not isinstance(loop, str):
                raise TemplateError(
                    "a resource copy needs a 'name' and a 'count'", path=f"{path}.copy"
                )
            count = self._count(spec, f"{path}.copy", {})
            mode = str(spec.get("mode", "parallel")).lower()
            if mode not in ("serial", "parallel"):
                raise TemplateError(
                    f"copy mode must be 'serial' or 'parallel', got '{spec.get('mode')}'",
                    path=f"{path}.copy.mode",
                )
            batch = spec.get("batchSize", 1)
            if mode == "serial" and (
                isinstance(batch, bool) or not isinstance(batch, int) or batch < 1
            ):
                raise TemplateError(
                    "copy batchSize must be a positive integer", path=f"{path}.copy.batchSize"
                )
            size = batch if isinstance(batch, int) else 1  # checked when serial
            made: list[Instance] = []
            for i in range(count):
                key = f"{sym}[{i}]" if sym else f"{path}[{i}]"
                inst = self._instance(key, path, sym, decl, {loop.lower(): i}, loop, parent)
                if inst is None:
                    continue
                if mode == "serial":
                    batch_no = len(made) // size
                    inst.depends_on.extend(
                        m.key for m in made[(batch_no - 1) * size : batch_no * size] if batch_no
                    )
                made.append(inst)
            return
        inst = self._instance(sym or path, path, sym, decl, {}, None, parent)
        if inst is None:
            return
        children = decl.get("resources")
        if children is not None:
            if not isinstance(children, list):
                raise TemplateError("child 'resources' must be an array", path=f"{path}.resources")
            for j, child in enumerate(children):
                self._expand(f"{path}.resources[{j}]", None, child, inst)

    def _instance(
        self,
        key: str,
        path: str,
        sym: str | None,
        decl: JsonObject,
        copy: dict[str, int],
        loop: str | None,
        parent: Instance | None,
    ) -> Instance | None:
        if "condition" in decl:
            cond = self.value(decl["condition"], f"{path}.condition", copy)
            if not isinstance(cond, bool):
                raise TemplateError(
                    f"condition must be a Boolean, got {type_name(cond)}", path=f"{path}.condition"
                )
            if not cond:
                self._left_out(path, decl, copy, loop)
                return None
        rtype = self.value(decl["type"], f"{path}.type", copy)
        name = self.value(decl["name"], f"{path}.name", copy)
        if not isinstance(rtype, str) or not isinstance(name, str) or not name:
            raise TemplateError(
                "a resource's 'type' and 'name' must be non-empty strings", path=path
            )
        if parent is not None and "." not in rtype.split("/", 1)[0]:
            # a child declared inside its parent with a short type and name
            rtype = f"{parent.type}/{rtype}"
            name = f"{parent.name}/{name}"
        segments = rtype.split("/")
        names = name.split("/")
        if len(segments) < 2 or len(names) != len(segments) - 1:
            raise TemplateError(
                f"the resource name '{name}' must have {len(segments) - 1} segment(s) "
                f"for the type '{rtype}'",
                path=f"{path}.name",
            )
        api_version = decl.get("apiVersion", "")
        if not isinstance(api_version, str):
            raise TemplateError("apiVersion must be a string", path=f"{path}.apiVersion")
        tail = "".join(f"/{k}/{n}" for k, n in zip(segments[1:], names, strict=True))
        rid = f"{self.scope.resource_group_id}/providers/{segments[0]}{tail}"
        inst = Instance(
            key=key,
            path=path if not copy else f"{path}[{next(iter(copy.values()))}]",
            decl=decl,
            type=rtype,
            name=name,
            api_version=api_version,
            id=rid,
            copy=copy,
            symbolic=sym,
            loop=loop,
            existing=bool(decl.get("existing")),
            parent=parent.key if parent else None,
        )
        if inst.key in self._by_key:
            raise TemplateError(f"the resource '{inst.key}' is declared twice", path=path)
        if parent is not None:
            inst.depends_on.append(parent.key)
        self.instances.append(inst)
        self._by_key[inst.key] = inst
        return inst

    def _resolve_depends_on(self, inst: Instance) -> None:
        raw = inst.decl.get("dependsOn", [])
        if not isinstance(raw, list):
            raise TemplateError("dependsOn must be an array", path=f"{inst.path}.dependsOn")
        for j, entry in enumerate(raw):
            path = f"{inst.path}.dependsOn[{j}]"
            target = self.value(entry, path, inst.copy)
            if not isinstance(target, str):
                raise TemplateError("a dependsOn entry must be a string", path=path)
            keys = self._match(target)
            if keys is None:
                # ARM ignores dependencies on resources whose condition is false
                if self._declared_name(target):
                    continue
                raise TemplateError(
                    f"dependsOn names '{target}', "
                    "which is not a resource or copy loop of this template",
                    path=path,
                )
            inst.depends_on.extend(k for k in keys if k != inst.key)

    def _left_out(
        self, path: str, decl: JsonObject, copy: dict[str, int], loop: str | None
    ) -> None:
        """Remember what a resource left out by its condition is called: depending on it is
        allowed (and ignored), as in ARM."""
        skipped = self._skipped
        if loop:
            skipped.add(loop.lower())
        try:
            rtype = self.value(decl["type"], f"{path}.type", copy)
            name = self.value(decl["name"], f"{path}.name", copy)
        except TemplateError:
            return
        if isinstance(rtype, str) and isinstance(name, str):
            segments, names = rtype.split("/"), name.split("/")
            tail = "".join(f"/{k}/{n}" for k, n in zip(segments[1:], names, strict=False))
            skipped.add(f"{self.scope.resource_group_id}/providers/{segments[0]}{tail}".lower())
            skipped.add(name.lower())
            skipped.add(names[-1].lower())

    def _declared_name(self, target: str) -> bool:
        """True when ``target`` names a conditional resource that was left out."""
        if self.language_v2:
            resources = self.template.get("resources", {})
            return isinstance(resources, dict) and target.split("[")[0] in resources
        return target.lower() in self._skipped

    def _match(self, target: str) -> list[str] | None:
        low = target.lower()
        if self.language_v2:
            base = target.split("[")[0]
            if target in self._by_key:
                return [target]
            if base in self._symbols:
                return self._symbols[base]
        if low in self._loops:
            return self._loops[low]
        if low in self._ids:
            return self._ids[low]
        hits = [
            i.key
            for i in self.instances
            if low.endswith("/" + i.name.lower())
            and f"{i.type}/{i.name}".lower().endswith(low.split("/providers/")[-1].lstrip("/"))
        ]
        if hits:
            return hits
        hits = [
            i.key
            for i in self.instances
            if i.name.lower() == low or i.name.lower().rsplit("/", 1)[-1] == low
        ]
        if len(hits) > 1:
            raise TemplateError(f"dependsOn '{target}' is ambiguous: use resourceId() instead")
        return hits or None

    def _topological_order(self) -> list[Instance]:
        indeg = {i.key: 0 for i in self.instances}
        users: dict[str, list[str]] = {i.key: [] for i in self.instances}
        for inst in self.instances:
            for dep in dict.fromkeys(inst.depends_on):
                indeg[inst.key] += 1
                users[dep].append(inst.key)
        ready = [i.key for i in self.instances if indeg[i.key] == 0]
        order: list[Instance] = []
        while ready:
            key = ready.pop(0)
            order.append(self._by_key[key])
            for user in users[key]:
                indeg[user] -= 1
                if indeg[user] == 0:
                    ready.append(user)
        if len(order) != len(self.instances):
            raise TemplateError(
                f"circular dependency between resources: {self._cycle(indeg)}", path="resources"
            )
        return order

    def _cycle(self, indeg: dict[str, int]) -> str:
        left = {k for k, d in indeg.items() if d > 0}
        start = next(k for k in (i.key for i in self.instances) if k in left)
        seen: list[str] = []
        key = start
        while key not in seen:
            seen.append(key)
            key = next(d for d in self._by_key[key].depends_on if d in left)
        loop = [*seen[seen.index(key) :], key]
        return " -> ".join(self._label(k) for k in loop)

    def _label(self, key: str) -> str:
        inst = self._by_key[key]
        return inst.symbolic or f"{inst.type.split('/')[-1]} '{inst.name}'"

    def instance(self, key: str) -> Instance:
        return self._by_key[key]

    # -- bodies and outputs ------------------------------------------------------------------------
    def resource_body(self, inst: Instance) -> JsonObject:
        """The resource's evaluated declaration (properties, tags, ... ) without template keys."""
        skip = {
            "type",
            "name",
            "apiVersion",
            "condition",
            "copy",
            "dependsOn",
            "resources",
            "existing",
            "comments",
            "metadata",
        }
        out: JsonObject = {}
        for key, raw in inst.decl.items():
            if key in skip:
                continue
            if inst.type.lower() == DEPLOYMENTS_TYPE.lower() and key == "properties":
                out[key] = self._nested_properties(inst, raw)
                continue
            out[key] = self.value(raw, f"{inst.path}.{key}", inst.copy)
        return out

    def _nested_properties(self, inst: Instance, raw: JsonValue) -> JsonObject:
        """A nested deployment's properties: its template stays unevaluated (it is evaluated
        in its own scope), the rest is evaluated here."""
        if not isinstance(raw, dict):
            raise TemplateError("properties must be an object", path=f"{inst.path}.properties")
        out: JsonObject = {}
        inner = is_inner_scope(raw)
        for key, value in raw.items():
            if key == "template" or (key == "parameters" and not inner):
                out[key] = value
            else:
                out[key] = self.value(value, f"{inst.path}.properties.{key}", inst.copy)
        return out

    def outputs(self) -> dict[str, TemplateOutput]:
        out: dict[str, TemplateOutput] = {}
        for name in self._output_decls():
            value = self.output(name)
            if value is not None:
                out[name] = value
        return out

    def check_outputs(self) -> None:
        """While validating: every output that does not need reference() is evaluated."""
        self.preflight = True
        try:
            for name in self._output_decls():
                try:
                    self.output(name)
                except DeferredReference:
                    continue
        finally:
            self.preflight = False

    def _output_decls(self) -> JsonObject:
        raw = self.template.get("outputs", {})
        if raw is None:
            return {}
        if not isinstance(raw, dict):
            raise TemplateError("'outputs' must be an object", path="outputs")
        return raw

    def output(self, name: str) -> TemplateOutput | None:
        """One output as ARM answers it ({type, value}); None when its condition is false."""
        decl = self._output_decls()[name]
        path = f"outputs.{name}"
        declared = member(decl, "type")
        if not isinstance(decl, dict) or not isinstance(declared, str):
            raise TemplateError(f"output '{name}' must declare a 'type'", path=path)
        if "condition" in decl and self.value(decl["condition"], f"{path}.condition") is not True:
            return None
        value: JsonValue
        if "copy" in decl:
            spec = decl["copy"]
            if not isinstance(spec, dict):
                raise TemplateError("a copy needs 'name', 'count' and 'input'", path=f"{path}.copy")
            value = self._copy_array({"name": "", **spec}, f"{path}.copy", {})
        else:
            value = self.value(decl.get("value"), f"{path}.value")
        otype = declared.lower()
        wanted = PARAMETER_TYPES.get(otype)
        if wanted is None:
            raise TemplateError(
                f"output '{name}' has unknown type '{declared}'", path=f"{path}.type"
            )
        if value is not None and not _is(value, wanted):
            raise TemplateError(
                f"output '{name}' is declared {declared} but its value is {type_name(value)}",
                path=f"{path}.value",
            )
        return {"type": OUTPUT_TYPES[otype], "value": value}

    # -- reference() ------------------------------------------------------------------------------
    def reference_target(self, target: str) -> tuple[str, Instance | None]:
        """The resource id a reference() argument names, and its instance if the template
        declares it (symbolic name, id or name)."""
        inst = self._by_key.get(target) if self.language_v2 else None
        if inst is None and self.language_v2:
            m = re.fullmatch(r"(.+)\[(\d+)\]", target)
            if m and f"{m.group(1)}[{m.group(2)}]" in self._by_key:
                inst = self._by_key[target]
        if inst is not None:
            return inst.id, inst
        low = target.lower()
        for cand in self.instances:
            if cand.id.lower() == low:
                return cand.id, cand
        if target.startswith("/"):
            return target, None
        for cand in self.instances:
            if cand.name.lower() == low:
                return cand.id, cand
        raise FunctionError(
            f"reference() names '{target}', "
            "which is neither a resource id nor a resource of this template"
        )


def _is(value: JsonValue, types: tuple[type, ...]) -> bool:
    if isinstance(value, bool):
        return bool in types
    return isinstance(value, types)


def _check_parameter(key: str, decl: JsonObject, ptype: str, value: JsonValue) -> None:
    path = f"parameters.{key}"
    wanted = PARAMETER_TYPES[ptype]
    if not _is(value, wanted):
        raise ParameterError(
            f"template parameter '{key}' was provided an invalid value: expected a value of "
            f"type '{decl['type']}', but received a value of type '{type_name(value)}'",
            path=path,
        )
    allowed = decl.get("allowedValues")
    if isinstance(allowed, list):
        ok = all(v in allowed for v in value) if isinstance(value, list) else value in allowed
        if not ok:
            shown = "******" if ptype in SECURE_TYPES else repr(value)
            raise ParameterError(
                f"the value {shown} of parameter '{key}' is not part of the allowed values: "
                f"{', '.join(repr(a) for a in allowed)}",
                path=path,
            )
    if isinstance(value, int) and not isinstance(value, bool):
        low, high = decl.get("minValue"), decl.get("maxValue")
        if isinstance(low, int) and value < low:
            raise ParameterError(
                f"parameter '{key}' is {value}, below its minValue {low}", path=path
            )
        if isinstance(high, int) and value > high:
            raise ParameterError(
                f"parameter '{key}' is {value}, above its maxValue {high}", path=path
            )
    if isinstance(value, str | list):
        low, high = decl.get("minLength"), decl.get("maxLength")
        if isinstance(low, int) and len(value) < low:
            raise ParameterError(
                f"parameter '{key}' has length {len(value)}, below its minLength {low}", path=path
            )
        if isinstance(high, int) and len(value) > high:
            raise ParameterError(
                f"parameter '{key}' has length {len(value)}, above its maxLength {high}", path=path
            )


class _Ctx:
    """One evaluation: an Evaluation plus the copy indexes in force (FunctionContext)."""

    def __init__(
        self, ev: Evaluation, copy: dict[str, int], default: bool, loop: str | None
    ) -> None:
        self.ev = ev
        self.copy = copy
        self.default = default
        self.loop = loop

    def walk(self, raw: JsonValue, path: str) -> JsonValue:
        if isinstance(raw, str):
            if ex.is_expression(raw):
                try:
                    return self.evaluate(ex.parse(raw), raw)
                except TemplateError as err:
                    if err.expression is None:
                        err.expression = raw
                    raise err.at(path) from None
            return ex.unescape_literal(raw)
        if isinstance(raw, list):
            return [self.walk(v, f"{path}[{i}]") for i, v in enumerate(raw)]
        if isinstance(raw, dict):
            out: JsonObject = {}
            for k, v in raw.items():
                loops = objects(v) if k == "copy" else []
                if (
                    k == "copy"
                    and isinstance(v, list)
                    and len(loops) == len(v)
                    and all("input" in c for c in loops)
                ):
                    for c in loops:
                        out[str(c.get("name"))] = self.ev._copy_array(c, f"{path}.copy", self.copy)
                    continue
                out[k] = self.walk(v, f"{path}.{k}")
            return out
        return raw

    def evaluate(self, node: ex.Node, text: str) -> JsonValue:
        if isinstance(node, ex.Literal):
            return node.value
        if isinstance(node, ex.Member):
            target = self.evaluate(node.target, text)
            if not isinstance(target, dict):
                raise TemplateError(
                    f"cannot read property '{node.name}' of a {type_name(target)} "
                    f"at position {node.pos}",
                    text,
                )
            try:
                return get_property(target, node.name)
            except FunctionError as err:
                raise TemplateError(f"{err} at position {node.pos}", text) from None
        if isinstance(node, ex.Index):
            target = self.evaluate(node.target, text)
            index = self.evaluate(node.index, text)
            if isinstance(target, list) and isinstance(index, int) and not isinstance(index, bool):
                if not 0 <= index < len(target):
                    raise TemplateError(
                        f"index {index} is out of range for an array of length {len(target)} "
                        f"at position {node.pos}",
                        text,
                    )
                return target[index]
            if isinstance(target, dict) and isinstance(index, str):
                try:
                    return get_property(target, index)
                except FunctionError as err:
                    raise TemplateError(f"{err} at position {node.pos}", text) from None
            raise TemplateError(
                f"cannot index a {type_name(target)} with a {type_name(index)} "
                f"at position {node.pos}",
                text,
            )
        eager, lazy = lookup(node.name)
        if eager is None and lazy is None:
            raise TemplateError(f"unknown function '{node.name}' at position {node.pos}", text)
        try:
            if lazy is not None:
                thunks = [self._thunk(a, text) for a in node.args]
                return lazy(self, thunks)
            args = [self.evaluate(a, text) for a in node.args]
            assert eager is not None
            return eager(self, args)
        except FunctionError as err:
            raise TemplateError(
                f"{err} (function '{node.name}' at position {node.pos})", text
            ) from None

    def _thunk(self, node: ex.Node, text: str) -> Thunk:
        return lambda: self.evaluate(node, text)

    # -- FunctionContext ---------------------------------------------------------------------------
    def parameter(self, name: str) -> JsonValue:
        return self.ev.parameter(name)

    def variable(self, name: str) -> JsonValue:
        return self.ev.variable(name)

    def copy_index(self, loop: str | None) -> int:
        if loop is None:
            if self.loop is not None and self.loop.lower() in self.copy:
                return self.copy[self.loop.lower()]
            if self.loop == "" and "" in self.copy:
                return self.copy[""]
            if len(self.copy) == 1:
                return next(iter(self.copy.values()))
            raise FunctionError("copyIndex() is only allowed inside a copy loop")
        if loop.lower() not in self.copy:
            raise FunctionError(f"copyIndex('{loop}') is not inside a copy loop named '{loop}'")
        return self.copy[loop.lower()]

    def reference(self, target: str, api_version: str | None, full: bool) -> JsonValue:
        rid, inst = self.ev.reference_target(target)
        if self.ev.preflight:
            raise DeferredReference(f"reference('{target}') is only known while deploying")
        if inst is not None and inst.key not in self.ev.deployed and not inst.existing:
            raise FunctionError(
                f"reference() to {inst.label}, which is not deployed yet: add it to dependsOn"
            )
        if self.ev.reader is None:
            raise FunctionError("reference() cannot be evaluated here (only while deploying)")
        resource = self.ev.reader(rid)
        if full:
            return resource
        return resource.get("properties", {})

    def resource_info(self, symbolic_name: str) -> JsonObject:
        rid, inst = self.ev.reference_target(symbolic_name)
        if inst is None:
            raise FunctionError(
                f"resourceInfo() names '{symbolic_name}', which is not a symbolic resource"
            )
        return {"id": rid, "name": inst.name, "type": inst.type, "apiVersion": inst.api_version}

    def resource_group(self) -> JsonObject:
        s = self.ev.scope
        return {
            "id": s.resource_group_id,
            "name": s.resource_group,
            "type": "Microsoft.Resources/resourceGroups",
            "location": s.location,
            "properties": {"provisioningState": "Succeeded"},
        }

    def subscription(self) -> JsonObject:
        s = self.ev.scope
        return {
            "id": f"/subscriptions/{s.subscription_id}",
            "subscriptionId": s.subscription_id,
            "tenantId": "00000000-0000-0000-0000-000000000000",
            "displayName": s.subscription_id,
        }

    def deployment(self) -> JsonObject:
        s = self.ev.scope
        return {
            "name": s.deployment_name,
            "properties": {
                "template": {
                    "contentVersion": self.ev.template.get("contentVersion", "1.0.0.0"),
                },
                "templateLink": None,
                "provisioningState": "Running",
                "mode": "Incremental",
            },
        }

    def in_parameter_default(self) -> bool:
        return self.default
