"""Check and resolve the assets a job names (code, environment, data, datastores, compute).

Every reference is rewritten to the full ARM id of an existing asset, with a concrete
version (``azureml:NAME@latest`` becomes the newest version), so that what runs later does
not depend on how the submitter spelled it. A reference to something missing is a
violation naming the field.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any

from amlite.domain.arm_id import ResourceRef, WorkspaceRef, parse_reference
from amlite.domain.specs import (
    CommandJobSpec,
    InputBinding,
    JobSpec,
    OutputBinding,
    SweepJobSpec,
    TrialComponent,
)
from amlite.errors import ValidationFailed, Violation
from amlite.services.envelopes import DEFAULT_COMPUTE
from amlite.store import Store

Resolve = Callable[[str, str, str | None, bool], str | None]
"""(JSON path under ``properties``, kind, reference or None, versioned) -> the full id."""


def _component(c: CommandJobSpec | TrialComponent, prefix: str, resolve: Resolve) -> dict[str, Any]:
    """The resolved reference fields of a command job or trial, for ``dataclasses.replace``."""
    inputs: Mapping[str, InputBinding] | None = c.input_data_bindings
    outputs: Mapping[str, OutputBinding] | None = c.output_data_bindings
    fields: dict[str, Any] = {
        "code_id": resolve(f"{prefix}codeId", "codes", c.code_id, True),
        "environment_id": resolve(f"{prefix}environmentId", "environments", c.environment_id, True),
    }
    if inputs is not None:
        at = f"{prefix}inputDataBindings"
        fields["input_data_bindings"] = {
            name: replace(b, data_id=resolve(f"{at}.{name}.dataId", "data", b.data_id, True))
            for name, b in inputs.items()
        }
    if outputs is not None:
        at = f"{prefix}outputDataBindings"
        fields["output_data_bindings"] = {
            name: replace(
                b,
                datastore_id=resolve(
                    f"{at}.{name}.datastoreId", "datastores", b.datastore_id, False
                ),
            )
            for name, b in outputs.items()
        }
    return fields


def resolve_references(store: Store, ws: WorkspaceRef, spec: JobSpec) -> tuple[JobSpec, str]:
    """Return the spec with every reference as a full ARM id, and the compute's name (its
    full id when it belongs to another workspace).

    Raises ValidationFailed naming each reference that does not resolve.
    """
    problems: list[Violation] = []

    def resolve(path: str, kind: str, value: str | None, versioned: bool) -> str | None:
        if not value:
            return value
        found = _resolve(store, ws, kind, value, versioned)
        if isinstance(found, str):
            problems.append(Violation(f"properties.{path}", found, "ReferenceNotFound"))
            return value
        return found.id

    if isinstance(spec, SweepJobSpec):
        spec = replace(spec, trial=replace(spec.trial, **_component(spec.trial, "trial.", resolve)))
    else:
        spec = replace(spec, **_component(spec, "", resolve))
    compute = DEFAULT_COMPUTE
    binding = spec.compute
    target = binding.target
    if target and not (binding.is_local and target.lower() == "local"):
        found = _resolve(store, ws, "computes", target, False)
        if isinstance(found, str):
            problems.append(Violation("properties.compute.target", found, "ReferenceNotFound"))
        else:  # a compute of another workspace is known by its full id
            compute = found.name if found.workspace.key == ws.key else found.id
            spec = replace(spec, compute=replace(binding, target=found.id))
    if problems:
        raise ValidationFailed(problems)
    return spec, compute


def _resolve(
    store: Store, ws: WorkspaceRef, kind: str, value: str, versioned: bool
) -> ResourceRef | str:
    """The resolved reference, or a message saying why it does not resolve."""
    if value.lower().startswith("azureml://registries/"):
        return (
            f"'{value}': registries are not available in amlite; "
            "register the asset in the workspace"
        )
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
