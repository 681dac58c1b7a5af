"""A Terraform configuration of ``azapi_resource`` blocks -> an ARM template amlite deploys.

Everything Terraform knows at plan time is evaluated here (variables, locals, names,
``parent_id``, ``count``/``for_each``, functions), so each resource instance becomes one ARM
resource with literal type, name and body; what only the deployment knows
(``azapi_resource.x.output...``) becomes a ``reference()`` expression. ``dependsOn`` holds
every azapi resource an instance refers to (directly, through locals, or in ``depends_on``).
The ids of the created resources come back too, in creation order, for ``--destroy``.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import hcl2
from lark import Tree
from lark.exceptions import LarkError, UnexpectedInput

from amlite.domain.json_value import JsonObject, JsonValue

from .errors import TerraformError
from .expressions import (
    Deferred,
    Evaluator,
    HclValue,
    first_token,
    meaningful,
    reference_path,
)
from .functions import Json, to_string

SCHEMA = "https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#"
_RG_ID = re.compile(r"^/subscriptions/([^/]+)/resourceGroups/([^/]+)$", re.IGNORECASE)
_ALLOWED_RESOURCE_ATTRIBUTES = {
    "type", "name", "parent_id", "body", "location", "tags", "identity", "count", "for_each",
    "depends_on", "response_export_values", "schema_validation_enabled", "ignore_casing",
    "ignore_missing_property", "ignore_body_changes", "locks", "replace_triggers_external_values",
    "replace_triggers_refs", "retry", "create_headers", "update_headers", "read_headers",
    "delete_headers", "create_query_parameters", "update_query_parameters",
    "read_query_parameters", "delete_query_parameters", "provider", "lifecycle", "timeouts",
    "sensitive_body", "sensitive_body_version", "resource_id",
}  # fmt: skip
_IGNORED_BLOCKS = {"terraform", "provider", "moved", "import", "check", "removed"}


@dataclass
class Configuration:
    """What ``load_configuration`` gives: the template to deploy and the ids it creates."""

    template: JsonObject
    resource_ids: list[str]  # creation order; destroy in reverse
    resource_group_id: str | None  # /subscriptions/S/resourceGroups/R the resources live in
    addresses: dict[str, str] = field(default_factory=dict)  # id -> 'azapi_resource.x[0]'


@dataclass
class Block:
    kind: str  # variable, locals, resource, data, output
    labels: list[str]
    body: Tree
    node: Tree
    evaluator: Evaluator

    def attributes(self) -> dict[str, Tree]:
        return attributes(self.body)

    def blocks(self) -> list[tuple[str, list[str], Tree]]:
        return [(kind, labels, body) for kind, labels, body, _ in blocks(self.body)]


@dataclass
class Instance:
    address: str
    key: HclValue  # None, the count index or the for_each key
    bindings: dict[str, HclValue]
    type: str = ""
    api_version: str = ""
    name: str = ""
    parent_id: str = ""
    id: str = ""


def attributes(body: Tree) -> dict[str, Tree]:
    out: dict[str, Tree] = {}
    for child in meaningful(body):
        if child.data == "attribute":
            name_node, value = meaningful(child)
            out[str(first_token(name_node))] = value
    return out


def blocks(body: Tree) -> list[tuple[str, list[str], Tree, Tree]]:
    out = []
    for child in meaningful(body):
        if child.data == "block":
            kids = meaningful(child)
            kind = str(first_token(kids[0]))
            labels = []
            for label in kids[1:-1]:
                if label.data == "string":
                    labels.append("".join(str(t) for p in meaningful(label) for t in p.children))
                else:
                    labels.append(str(first_token(label)))
            out.append((kind, labels, kids[-1], child))
    return out


def parse_file(path: Path) -> Tree:
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise TerraformError(f"cannot read the file: {exc.strerror}", str(path)) from None
    try:
        tree: Tree = hcl2.parses_to_tree(text)
        return tree
    except UnexpectedInput as exc:
        raise TerraformError(
            f"syntax error: {str(exc).splitlines()[0]}", f"{path}:{exc.line}:{exc.column}"
        ) from None
    except LarkError as exc:
        raise TerraformError(f"syntax error: {exc}", str(path)) from None


class Loader:
    def __init__(self, files: Sequence[Path]) -> None:
        self.variables: dict[str, Block] = {}
        self.locals: dict[str, tuple[Tree, Evaluator]] = {}
        self.resources: dict[str, Block] = {}  # 'azapi_resource.name'
        self.data: dict[str, Block] = {}  # 'azapi_resource.name'
        self.outputs: dict[str, Block] = {}
        self.var_values: dict[str, HclValue] = {}
        self.local_cache: dict[str, tuple[Any, set[str]]] = {}
        self.in_progress: list[str] = []
        self.instances_cache: dict[str, list[Instance]] = {}
        self.collectors: list[set[str]] = []
        for path in files:
            tree = parse_file(path)
            evaluator = Evaluator(path, self.resolve)
            for kind, labels, body, node in blocks(tree.children[0]):
                block = Block(kind, labels, body, node, evaluator)
                self.add(block)

    def add(self, block: Block) -> None:
        where = block.evaluator.where(block.node)
        kind, labels = block.kind, block.labels
        if kind == "variable" and len(labels) == 1:
            self.unique(self.variables, labels[0], block, "variable")
        elif kind == "locals":
            for name, expr in block.attributes().items():
                if name in self.locals:
                    raise TerraformError(
                        f"the local value '{name}' is defined more than once", where
                    )
                self.locals[name] = (expr, block.evaluator)
        elif kind == "resource" and len(labels) == 2:
            if labels[0] != "azapi_resource":
                raise TerraformError(
                    f"the resource type '{labels[0]}' ({labels[0]}.{labels[1]}) is not supported: "
                    "amlite deploys azapi_resource blocks only",
                    where,
                )
            self.unique(self.resources, labels[1], block, "resource azapi_resource")
        elif kind == "data" and len(labels) == 2:
            if labels[0] != "azapi_resource":
                raise TerraformError(
                    f"the data source '{labels[0]}' is not supported (only azapi_resource)", where
                )
            self.unique(self.data, labels[1], block, "data azapi_resource")
        elif kind == "output" and len(labels) == 1:
            self.unique(self.outputs, labels[0], block, "output")
        elif kind == "module":
            raise TerraformError(
                "module blocks are not supported: put the resources in the configuration", where
            )
        elif kind in _IGNORED_BLOCKS:
            return
        else:
            raise TerraformError(f"unexpected block '{kind} {' '.join(labels)}'".strip(), where)

    @staticmethod
    def unique(table: dict[str, Block], name: str, block: Block, what: str) -> None:
        if name in table:
            where = block.evaluator.where(block.node)
            raise TerraformError(f"the {what} '{name}' is declared more than once", where)
        table[name] = block

    # --- variables ---
    def set_variables(
        self, folder: Path | None, var_files: Sequence[Path], given: Mapping[str, JsonValue]
    ) -> None:
        raw: dict[str, tuple[Any, bool, str]] = {}  # name -> (value, is_text, source)
        for key, value in os.environ.items():
            if key.startswith("TF_VAR_") and key[7:] in self.variables:
                raw[key[7:]] = (value, True, f"environment variable {key}")
        files: list[Path] = []
        if folder is not None:
            if (folder / "terraform.tfvars").is_file():
                files.append(folder / "terraform.tfvars")
            files += sorted(folder.glob("*.auto.tfvars"))
        files += [Path(p) for p in var_files]
        for path in files:
            tree = parse_file(path)
            evaluator = Evaluator(path, self.no_references)
            for name, expr in attributes(tree.children[0]).items():
                raw[name] = (evaluator.eval(expr), False, str(path))
        for name, given_value in given.items():
            if name not in self.variables:
                raise TerraformError(
                    f"the variable '{name}' is not declared in the configuration", "-var"
                )
            raw[name] = (given_value, isinstance(given_value, str), f"-var {name}")
        for name, block in self.variables.items():
            attrs = block.attributes()
            where = block.evaluator.where(block.node)
            if name in raw:
                value, is_text, source = raw[name]
                value = self.convert(
                    name, attrs.get("type"), value, is_text, source, block.evaluator
                )
            elif "default" in attrs:
                value = block.evaluator.eval(attrs["default"])
            else:
                raise TerraformError(
                    f"no value for the required variable '{name}' (use -var {name}=...)", where
                )
            if (
                value is None
                and "nullable" in attrs
                and block.evaluator.eval(attrs["nullable"]) is False
            ):
                raise TerraformError(f"the variable '{name}' must not be null", where)
            self.var_values[name] = value
        for name, block in self.variables.items():
            for kind, _, body in block.blocks():
                if kind != "validation":
                    continue
                vattrs = attributes(body)
                ok = block.evaluator.eval(vattrs["condition"])
                if ok is not True:
                    message = (
                        block.evaluator.eval(vattrs["error_message"])
                        if "error_message" in vattrs
                        else "invalid"
                    )
                    where = block.evaluator.where(vattrs["condition"])
                    raise TerraformError(
                        f"invalid value for the variable '{name}': {message}", where
                    )

    @staticmethod
    def no_references(ev: Evaluator, name: str, path: list[Any], node: Tree) -> Any:
        raise ev.error(f"a variable value cannot refer to '{name}'", node)

    def convert(self, name: str, type_node: Tree | None, value: Any, is_text: bool, source: str,
                evaluator: Evaluator) -> Any:  # fmt: skip
        kind = "any"
        if type_node is not None:
            tok = first_token(type_node)
            kind = str(tok) if tok is not None else "any"
        try:
            if kind == "string":
                return value if isinstance(value, str) else to_string(value)
            if kind == "number":
                if isinstance(value, bool):
                    raise ValueError("a bool is not a number")
                if isinstance(value, int | float):
                    return value
                text = str(value).strip()
                return int(text) if re.fullmatch(r"-?\d+", text) else float(text)
            if kind == "bool":
                if isinstance(value, bool):
                    return value
                return {"true": True, "false": False}[str(value).strip()]
            if is_text and kind in ("list", "set", "map", "object", "tuple"):
                tree = hcl2.parses_to_tree(f"x = {value}\n")
                expr = attributes(tree.children[0])["x"]
                value = Evaluator(Path(source), self.no_references).eval(expr)
            if kind in ("list", "set", "tuple") and not isinstance(value, list):
                raise ValueError("a list is expected")
            if kind in ("map", "object") and not isinstance(value, dict):
                raise ValueError("a map/object is expected")
            return value
        except (ValueError, KeyError, LarkError) as exc:
            raise TerraformError(
                f"invalid value for the variable '{name}' ({kind}): {exc}", source
            ) from None

    # --- references ---
    def resolve(self, ev: Evaluator, name: str, path: list[Any], node: Tree) -> Any:
        if name == "var":
            if not path or path[0] not in self.var_values:
                raise ev.error(f"the variable '{path[0] if path else ''}' is not declared", node)
            return self.rest(self.var_values[path[0]], path[1:], node, ev)
        if name == "local":
            if not path:
                raise ev.error("use local.NAME", node)
            return self.rest(self.local(path[0], node, ev), path[1:], node, ev)
        if name == "azapi_resource":
            if not path or path[0] not in self.resources:
                raise ev.error(
                    f"there is no resource azapi_resource.{path[0] if path else ''}", node
                )
            for collector in self.collectors:
                collector.add(path[0])
            return self.rest(
                self.resource_value(path[0], self.resources[path[0]], False), path[1:], node, ev
            )
        if name == "data":
            if len(path) < 2 or path[0] != "azapi_resource" or path[1] not in self.data:
                raise ev.error(f"there is no data source data.{'.'.join(map(str, path[:2]))}", node)
            return self.rest(
                self.resource_value(path[1], self.data[path[1]], True), path[2:], node, ev
            )
        if name == "path" and path and path[0] in ("module", "root", "cwd"):
            return self.rest(str(ev.file.parent), path[1:], node, ev)
        if name in ("count", "each"):
            raise ev.error(
                f"'{name}' is only available in a resource with "
                f"'{name if name == 'count' else 'for_each'}'",
                node,
            )
        raise ev.error(f"the name '{name}' is not defined", node)

    def rest(self, value: Any, path: list[Any], node: Tree, ev: Evaluator) -> Any:
        for key in path:
            value = ev.index(value, key, node)
        return value

    @staticmethod
    def eval(ev: Evaluator, node: Tree, bindings: dict[str, HclValue] | None = None) -> Any:
        """Evaluate with exactly ``bindings`` (count/each) in scope: a resource evaluated while
        another one is (a reference) must not see that one's count.index or each.key."""
        saved = ev.scopes
        ev.scopes = [bindings] if bindings else []
        try:
            return ev.eval(node)
        finally:
            ev.scopes = saved

    def local(self, name: str, node: Tree, ev: Evaluator) -> Any:
        if name not in self.locals:
            raise ev.error(f"the local value '{name}' is not defined", node)
        if name not in self.local_cache:
            key = f"local.{name}"
            if key in self.in_progress:
                cycle = " -> ".join([*self.in_progress[self.in_progress.index(key) :], key])
                raise ev.error(f"a cycle: {cycle}", node)
            self.in_progress.append(key)
            expr, local_ev = self.locals[name]
            deps: set[str] = set()
            self.collectors.append(deps)
            try:
                value = self.eval(local_ev, expr)
            finally:
                self.collectors.pop()
                self.in_progress.pop()
            self.local_cache[name] = (value, deps)
        value, deps = self.local_cache[name]
        for collector in self.collectors:
            collector.update(deps)
        return value

    # --- resources ---
    def instances(self, label: str, block: Block, existing: bool) -> list[Instance]:
        prefix = "data.azapi_resource" if existing else "azapi_resource"
        address = f"{prefix}.{label}"
        if address in self.instances_cache:
            return self.instances_cache[address]
        if address in self.in_progress:
            cycle = " -> ".join([*self.in_progress[self.in_progress.index(address) :], address])
            raise TerraformError(f"a cycle: {cycle}", block.evaluator.where(block.node))
        self.in_progress.append(address)
        try:
            attrs = block.attributes()
            ev = block.evaluator
            for key in attrs:
                if key not in _ALLOWED_RESOURCE_ATTRIBUTES:
                    raise ev.error(f"unsupported argument '{key}' in {address}", attrs[key])
            for kind, _, _, node in blocks(block.body):
                if kind not in ("identity", "lifecycle", "timeouts", "retry"):
                    raise ev.error(f"unsupported block '{kind}' in {address}", node)
            out: list[Instance] = []
            if "count" in attrs and "for_each" in attrs:
                raise ev.error("'count' and 'for_each' cannot both be set", attrs["count"])
            if "count" in attrs:
                count = self.eval(ev, attrs["count"])
                if isinstance(count, float) and count.is_integer():
                    count = int(count)
                if not isinstance(count, int) or isinstance(count, bool) or count < 0:
                    raise ev.error(
                        f"'count' must be a whole number >= 0, got {count!r}", attrs["count"]
                    )
                out = [
                    Instance(f"{address}[{i}]", i, {"count": {"index": i}}) for i in range(count)
                ]
            elif "for_each" in attrs:
                each = self.eval(ev, attrs["for_each"])
                if isinstance(each, list):
                    if not all(isinstance(x, str) for x in each):
                        raise ev.error(
                            "'for_each' takes a map or a set of strings", attrs["for_each"]
                        )
                    each = {x: x for x in each}
                if not isinstance(each, dict):
                    raise ev.error("'for_each' takes a map or a set of strings", attrs["for_each"])
                out = [
                    Instance(f'{address}["{k}"]', k, {"each": {"key": k, "value": v}})
                    for k, v in each.items()
                ]
            else:
                out = [Instance(address, None, {})]
            for inst in out:
                self.identify(inst, block, existing)
        finally:
            self.in_progress.pop()
        self.instances_cache[address] = out
        return out

    def identify(self, inst: Instance, block: Block, existing: bool) -> None:
        attrs = block.attributes()
        ev = block.evaluator
        where = ev.where(block.node)
        if existing and "resource_id" in attrs:
            rid = self.eval(ev, attrs["resource_id"], inst.bindings)
            type_text = self.eval(ev, attrs["type"], inst.bindings) if "type" in attrs else ""
            inst.type, _, inst.api_version = str(type_text).partition("@")
            inst.id = str(rid)
            inst.name = inst.id.rsplit("/", 1)[-1]
            inst.parent_id = inst.id.rsplit("/", 2)[0]
            return
        for required in ("type", "name", "parent_id"):
            if required not in attrs:
                raise TerraformError(f"{inst.address} needs '{required}'", where)
        type_text = self.eval(ev, attrs["type"], inst.bindings)
        if not isinstance(type_text, str) or "@" not in type_text or "/" not in type_text:
            raise ev.error(
                f"'type' must be 'Provider/type@api-version', got {type_text!r}", attrs["type"]
            )
        inst.type, _, inst.api_version = type_text.partition("@")
        name = self.eval(ev, attrs["name"], inst.bindings)
        parent = self.eval(ev, attrs["parent_id"], inst.bindings)
        for what, value in (("name", name), ("parent_id", parent)):
            if not isinstance(value, str) or not value:
                raise ev.error(f"'{what}' must be a string known before deployment", attrs[what])
        if "/" in name:
            raise ev.error(
                f"'name' must be one segment, not {name!r}: the parent goes in parent_id",
                attrs["name"],
            )
        inst.name, inst.parent_id = name, parent.rstrip("/")
        inst.id = resource_id(
            inst.type, inst.name, inst.parent_id, lambda m: ev.error(m, attrs["parent_id"])
        )

    def resource_value(self, label: str, block: Block, existing: bool) -> Any:
        insts = self.instances(label, block, existing)
        objects = [self.instance_object(i) for i in insts]
        attrs = block.attributes()
        if "count" in attrs:
            return objects
        if "for_each" in attrs:
            return {i.key: o for i, o in zip(insts, objects, strict=True)}
        return objects[0]

    @staticmethod
    def instance_object(inst: Instance) -> dict[str, HclValue]:
        ref = f"reference({arm_resource_id(inst)}, '{inst.api_version}', 'Full')"
        return {
            "id": inst.id,
            "name": inst.name,
            "type": f"{inst.type}@{inst.api_version}",
            "parent_id": inst.parent_id,
            "output": Deferred(ref),
            "location": Deferred(f"{ref}.location"),
            "identity": Deferred(f"{ref}.identity"),
        }

    def resource_template(
        self, label: str, block: Block, inst: Instance
    ) -> tuple[JsonObject, set[str]]:
        attrs = block.attributes()
        ev = block.evaluator
        deps: set[str] = set()
        self.collectors.append(deps)
        try:
            out: JsonObject = {
                "type": inst.type,
                "apiVersion": inst.api_version,
                "name": arm_name(inst.id),
            }
            # the parent and name expressions count as references too
            for key in ("name", "parent_id"):
                self.eval(ev, attrs[key], inst.bindings)
            body: Any = {}
            if "body" in attrs:
                body = self.eval(ev, attrs["body"], inst.bindings)
                if isinstance(body, Json):
                    body = body.value
                elif isinstance(body, str):
                    import json

                    try:
                        body = json.loads(body)
                    except json.JSONDecodeError as exc:
                        raise ev.error(f"'body' is not JSON: {exc}", attrs["body"]) from None
                if not isinstance(body, dict):
                    raise ev.error("'body' must be an object", attrs["body"])
            for key, value in body.items():
                if key in ("name", "type", "id"):
                    raise ev.error(
                        f"'body' cannot set '{key}': use the resource's own argument", attrs["body"]
                    )
                out[key] = to_template(value)
            for key in ("location", "tags"):
                if key in attrs:
                    out[key] = to_template(self.eval(ev, attrs[key], inst.bindings))
            if "identity" in attrs:
                out["identity"] = to_template(self.eval(ev, attrs["identity"], inst.bindings))
            for kind, _, ibody in block.blocks():
                if kind == "identity":
                    iattrs = attributes(ibody)
                    identity: dict[str, HclValue] = {
                        "type": self.eval(ev, iattrs["type"], inst.bindings)
                    }
                    if "identity_ids" in iattrs:
                        ids = self.eval(ev, iattrs["identity_ids"], inst.bindings)
                        identity["userAssignedIdentities"] = {i: {} for i in ids}
                    out["identity"] = to_template(identity)
            if "depends_on" in attrs:
                items = meaningful(meaningful(attrs["depends_on"])[0])
                for item in items:
                    path = reference_path(item)
                    if path is None or len(path) < 2:
                        raise ev.error(
                            "depends_on takes resource references such as azapi_resource.ws", item
                        )
                    if path[0] == "azapi_resource":
                        if path[1] not in self.resources:
                            raise ev.error(f"there is no resource azapi_resource.{path[1]}", item)
                        deps.add(str(path[1]))
                    elif path[0] not in ("data", "var", "local"):
                        raise ev.error(
                            f"depends_on: '{'.'.join(map(str, path))}' is not an azapi resource",
                            item,
                        )
        finally:
            self.collectors.pop()
        return out, deps


def resource_id(type_: str, name: str, parent_id: str, fail: Any) -> str:
    namespace, *types = type_.split("/")
    if not types:
        raise fail(f"the type '{type_}' has no resource type after the namespace")
    if _RG_ID.match(parent_id):
        if len(types) != 1:
            expected = f"{namespace}/{'/'.join(types[:-1])}"
            raise fail(
                f"the parent of a {type_} must be a {expected}, not a resource group ({parent_id})"
            )
        return f"{parent_id}/providers/{type_}/{name}"
    marker = "/providers/"
    at = parent_id.lower().rfind(marker)
    if at < 0 or not _RG_ID.match(parent_id[:at]):
        raise fail(f"parent_id '{parent_id}' is not a resource group or resource id")
    segments = parent_id[at + len(marker) :].split("/")
    parent_type = "/".join([segments[0], *segments[1::2]])
    expected = f"{namespace}/{'/'.join(types[:-1])}"
    if len(types) < 2 or parent_type.lower() != expected.lower():
        raise fail(
            f"parent_id '{parent_id}' is a {parent_type}, but a {type_} belongs to a {expected}"
        )
    return f"{parent_id}/{types[-1]}/{name}"


def split_id(rid: str) -> tuple[str, str, list[str]]:
    """An ARM resource id -> (resource group id, type, name segments)."""
    at = rid.lower().rfind("/providers/")
    rg = rid[:at]
    segments = rid[at + len("/providers/") :].split("/")
    type_ = "/".join([segments[0], *segments[1::2]])
    return rg, type_, segments[2::2]


def arm_name(rid: str) -> str:
    return "/".join(split_id(rid)[2])


def arm_resource_id(inst: Instance) -> str:
    _, type_, names = split_id(inst.id)
    args = ", ".join("'" + n.replace("'", "''") + "'" for n in names)
    return f"resourceId('{type_}', {args})"


def to_template(value: HclValue) -> JsonValue:
    """A Terraform value as template JSON: deferred values become expressions; literal strings
    that start with '[' are escaped so ARM keeps them literal."""
    if isinstance(value, Json):
        return to_template(value.value)
    if isinstance(value, Deferred):
        return f"[{value.expr}]"
    if isinstance(value, str):
        return "[" + value if value.startswith("[") else value
    if isinstance(value, list):
        return [to_template(v) for v in value]
    if isinstance(value, dict):
        return {str(k): to_template(v) for k, v in value.items()}
    if isinstance(value, float) and value.is_integer():
        return value
    return value


def output_type(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict | Json):
        return "object"
    return "string"


def configuration_files(paths: Sequence[Path]) -> tuple[list[Path], Path | None]:
    files: list[Path] = []
    folder: Path | None = None
    for p in paths:
        p = Path(p)
        if p.is_dir():
            folder = folder or p
            files += sorted(p.glob("*.tf"))
        elif p.is_file():
            files.append(p)
            folder = folder or p.parent
        else:
            raise TerraformError("no such file or folder", str(p))
    if not files:
        raise TerraformError("no .tf files found", ", ".join(map(str, paths)))
    return files, folder


def load_configuration(
    paths: Sequence[Path],
    variables: Mapping[str, JsonValue] | None = None,
    var_files: Sequence[Path] = (),
) -> Configuration:
    """Read ``.tf`` files (or folders of them) into an ARM template and the ids it creates.

    ``variables`` are ``-var`` values (strings are converted to the declared type, as
    Terraform does); ``var_files`` are ``-var-file`` paths; ``terraform.tfvars`` and
    ``*.auto.tfvars`` beside the configuration and ``TF_VAR_*`` environment variables are
    read too, with Terraform's precedence.
    """
    try:
        return _load(paths, variables or {}, var_files)
    except RecursionError:  # a safety net: evaluation limits nesting well before this
        raise TerraformError("the configuration is nested too deeply to evaluate") from None


def _load(
    paths: Sequence[Path], variables: Mapping[str, JsonValue], var_files: Sequence[Path]
) -> Configuration:
    files, folder = configuration_files(paths)
    loader = Loader(files)
    loader.set_variables(folder, var_files, variables)
    entries: list[tuple[Instance, JsonObject, set[str]]] = []
    for label, block in loader.resources.items():
        for inst in loader.instances(label, block, existing=False):
            resource, deps = loader.resource_template(label, block, inst)
            entries.append((inst, resource, deps))
    for label, block in loader.data.items():
        loader.instances(label, block, existing=True)  # checks them; nothing to deploy
    by_label: dict[str, list[Instance]] = {}
    for inst, _, _ in entries:
        by_label.setdefault(inst.address.split(".")[1].split("[")[0], []).append(inst)
    resources: list[JsonValue] = []
    graph: dict[str, set[str]] = {}
    groups: set[str] = set()
    for inst, resource, deps in entries:
        depends = [
            f"[{arm_resource_id(other)}]"
            for label in sorted(deps)
            for other in by_label.get(label, [])
            if other is not inst
        ]
        if depends:
            resource["dependsOn"] = [*depends]
        graph[inst.id] = {
            other.id for label in deps for other in by_label.get(label, []) if other is not inst
        }
        groups.add(split_id(inst.id)[0].lower())
        resources.append(resource)
    if len(groups) > 1:
        raise TerraformError(
            "the resources are in more than one resource group; "
            "amlite deploys a configuration to one: " + ", ".join(sorted(groups))
        )
    order = creation_order(
        [i.id for i, _, _ in entries], graph, {i.id: i.address for i, _, _ in entries}
    )
    rg_id = split_id(entries[0][0].id)[0] if entries else None
    template: JsonObject = {
        "$schema": SCHEMA,
        "contentVersion": "1.0.0.0",
        "metadata": {
            "_generator": {"name": "amlite-terraform", "version": "1"},
            # what `--destroy` removes (in reverse) when only the template is at hand
            "terraform": {"resourceIds": [*order], "resourceGroupId": rg_id},
        },
        "resources": resources,
    }
    outputs: JsonObject = {}
    for name, block in loader.outputs.items():
        attrs = block.attributes()
        if "value" not in attrs:
            raise TerraformError(
                f"output '{name}' needs a value", block.evaluator.where(block.node)
            )
        value = loader.eval(block.evaluator, attrs["value"])
        sensitive = (
            "sensitive" in attrs and loader.eval(block.evaluator, attrs["sensitive"]) is True
        )
        kind = output_type(value)
        if sensitive:
            kind = "secureObject" if kind in ("object", "array") else "securestring"
        outputs[name] = {"type": kind, "value": to_template(value)}
    if outputs:
        template["outputs"] = outputs
    return Configuration(template, order, rg_id, {i.id: i.address for i, _, _ in entries})


def compile_path(
    path: Path, variables: Mapping[str, JsonValue] | None = None, var_files: Sequence[Path] = ()
) -> JsonObject:
    """The ARM template of a ``.tf`` file or a folder of them (``load_configuration``'s
    template; its ``metadata.terraform.resourceIds`` lists what it creates)."""
    return load_configuration([Path(path)], variables, var_files).template


def creation_order(
    ids: list[str], graph: dict[str, set[str]], addresses: dict[str, str]
) -> list[str]:
    """Ids ordered so each comes after what it depends on (stable in file order)."""
    done: list[str] = []
    placed: set[str] = set()
    visiting: list[str] = []

    def visit(rid: str) -> None:
        if rid in placed:
            return
        if rid in visiting:
            cycle = [addresses[r] for r in visiting[visiting.index(rid) :]] + [addresses[rid]]
            raise TerraformError(
                "the resources depend on each other in a cycle: " + " -> ".join(cycle)
            )
        visiting.append(rid)
        for dep in sorted(graph.get(rid, ()), key=ids.index):
            visit(dep)
        visiting.pop()
        placed.add(rid)
        done.append(rid)

    for rid in ids:
        visit(rid)
    return done
