"""Check and resolve the assets a job names (code, environment, data, datastores, compute).

Every reference is rewritten to the full ARM id of an existing asset, with a concrete
version (``azureml:NAME@latest`` becomes the newest version), so that what runs later does
not depend on how the submitter spelled it. A reference to something missing is a
violation naming the field.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from amlite.domain.arm_id import ResourceRef, WorkspaceRef, parse_reference
from amlite.errors import ValidationFailed, Violation
from amlite.services.resources import DEFAULT_COMPUTE
from amlite.store import Store

Ref = tuple[tuple[str, ...], str, str, bool]


def _component_refs(spec: dict[str, Any], prefix: tuple[str, ...]) -> Iterator[Ref]:
    """(key path, kind, value, versioned) of every reference in a command job or trial."""
    if spec.get("codeId"):
        yield (*prefix, "codeId"), "codes", spec["codeId"], True
    if spec.get("environmentId"):
        yield (*prefix, "environmentId"), "environments", spec["environmentId"], True
    for name, binding in (spec.get("inputDataBindings") or {}).items():
        if binding.get("dataId"):
            yield (*prefix, "inputDataBindings", name, "dataId"), "data", binding["dataId"], True
    for name, binding in (spec.get("outputDataBindings") or {}).items():
        if binding.get("datastoreId"):
            keys = (*prefix, "outputDataBindings", name, "datastoreId")
            yield keys, "datastores", binding["datastoreId"], False


def resolve_references(
    store: Store, ws: WorkspaceRef, spec: dict[str, Any]
) -> tuple[dict[str, Any], str]:
    """Return the spec with every reference as a full ARM id, and the compute's name (its
    full id when it belongs to another workspace).

    Raises ValidationFailed naming each reference that does not resolve.
    """
    out = _deep_copy(spec)
    problems: list[Violation] = []
    refs = list(_component_refs(out, ()))
    if isinstance(out.get("trial"), dict):
        refs += list(_component_refs(out["trial"], ("trial",)))
    for keys, kind, value, versioned in refs:
        resolved = _resolve(store, ws, kind, value, versioned)
        if isinstance(resolved, str):
            path = ".".join(("properties", *keys))
            problems.append(Violation(path, resolved, "ReferenceNotFound"))
        else:
            _set_path(out, keys, resolved.id)
    compute = DEFAULT_COMPUTE
    binding = out.get("compute") or {}
    target = binding.get("target")
    if target and not (binding.get("isLocal") and target.lower() == "local"):
        resolved = _resolve(store, ws, "computes", target, False)
        if isinstance(resolved, str):
            problems.append(Violation("properties.compute.target", resolved, "ReferenceNotFound"))
        else:  # a compute of another workspace is known by its full id
            compute = resolved.name if resolved.workspace.key == ws.key else resolved.id
            binding = {**binding, "target": resolved.id}
            out["compute"] = binding
    if problems:
        raise ValidationFailed(problems)
    return out, compute


def _resolve(
    store: Store, ws: WorkspaceRef, kind: str, value: str, versioned: bool
) -> ResourceRef | str:
    """The resolved reference, or a message saying why it does not resolve."""
    if value.lower().startswith("azureml://registries/"):
        return f"'{value}': registries are not available in amlite; register the asset in the workspace"
    ref = parse_reference(value, kind, ws)
    if ref is None:
        return f"'{value}' is not a reference to {kind} (an ARM id, or azureml:NAME[:VERSION])"
    if ref.workspace.key != ws.key and store.get_workspace(ref.workspace.key) is None:
        return f"'{value}' names workspace {ref.workspace.workspace}, which does not exist"
    key = ref.workspace.key
    if not versioned:
        if store.get_asset(key, kind, ref.name) is None:
            return f"{kind} '{ref.name}' does not exist"
        return ResourceRef(ref.workspace, kind, ref.name)
    version = ref.version
    if version is None or version.lower() == "latest":
        latest = store.latest_version(key, kind, ref.name)
        if latest is None:
            return f"{kind} '{ref.name}' has no versions"
        version = latest.version
    elif store.get_asset(key, kind, ref.name, version) is None:
        return f"{kind} '{ref.name}' version '{version}' does not exist"
    return ResourceRef(ref.workspace, kind, ref.name, version)


def _set_path(doc: dict[str, Any], keys: tuple[str, ...], value: str) -> None:
    node = doc
    for key in keys[:-1]:
        node = node[key]
    node[keys[-1]] = value


def _deep_copy(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _deep_copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_deep_copy(v) for v in value]
    return value
