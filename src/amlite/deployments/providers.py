"""The resource types a deployment can create, each through the service its REST API uses.

``Microsoft.MachineLearningServices/workspaces`` registers the workspace (its properties are
kept, nothing is provisioned); ``workspaces/jobs`` goes through ``Jobs.create_or_update``;
``codes``, ``data``, ``environments`` (containers and versions), ``datastores`` and ``computes``
through ``Assets.put``. So validation, errors and no-op rules are those of the REST API.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from amlite import API_VERSION, schemas
from amlite.domain.arm_id import PROVIDER, WorkspaceRef
from amlite.domain.json_value import JsonObject
from amlite.errors import NotFound, RequestError, ValidationFailed, Violation
from amlite.services.assets import PLAIN_KINDS, VERSIONED_KINDS, Assets, check_name, check_version
from amlite.services.compute_targets import check_ray_compute
from amlite.services.jobs import Jobs
from amlite.services.workspaces import Workspaces, check_workspace
from amlite.store import Store

WORKSPACE_PROPERTIES_KIND = "workspaces"
"""Deployed workspace properties are kept as an asset of this kind (never listed by the API)."""


class UnsupportedResource(RequestError):
    code = "NoRegisteredProviderFound"


@dataclass(frozen=True)
class Target:
    """What a resource type and name mean to amlite."""

    kind: str
    """``workspaces``, ``jobs``, an asset kind, or ``deployments``."""
    workspace: WorkspaceRef | None
    name: str
    version: str | None = None


@dataclass(frozen=True)
class Applied:
    resource: JsonObject
    change: str
    """Created, Modified or NoChange."""


def classify(sub: str, rg: str, rtype: str, name: str, label: str) -> Target:
    """The target of a resource type/name in resource group ``sub/rg``; clear error otherwise."""
    parts = rtype.split("/")
    names = name.split("/")
    provider = parts[0].lower()
    if provider == "microsoft.resources" and [p.lower() for p in parts[1:]] == ["deployments"]:
        if not re.match(r"^[-\w\._\(\)]{1,64}$", names[0]):
            raise ValidationFailed.one(
                "name", f"{label}: '{names[0]}' is not a valid deployment name (at most 64)"
            )
        return Target("deployments", None, names[0])
    if provider == PROVIDER.lower() and len(parts) >= 2 and parts[1].lower() == "workspaces":
        ws = check_workspace(sub, rg, names[0])
        kinds = [p.lower() for p in parts[2:]]
        if not kinds:
            return Target("workspaces", ws, names[0])
        kind = kinds[0]
        if len(kinds) == 1 and (kind == "jobs" or kind in VERSIONED_KINDS or kind in PLAIN_KINDS):
            return Target(kind, ws, names[1])
        if len(kinds) == 2 and kind in VERSIONED_KINDS and kinds[1] == "versions":
            return Target(kind, ws, names[1], names[2])
    raise UnsupportedResource(
        f"{label}: amlite cannot deploy resources of type '{rtype}'; it deploys "
        f"{PROVIDER}/workspaces, workspaces/jobs, workspaces/codes(/versions), "
        "workspaces/data(/versions), workspaces/environments(/versions), workspaces/datastores, "
        "workspaces/computes and Microsoft.Resources/deployments",
        target=label,
    )


def check_api_version(target: Target, api_version: str, label: str) -> None:
    """Jobs and assets take the 2021-03-01-preview shape only; other versions are refused
    (their bodies differ: e.g. 2022-10-01 jobs use ``environmentId``/``computeId`` at the top)."""
    if target.kind in ("workspaces", "deployments"):
        return
    if api_version != API_VERSION:
        raise ValidationFailed.one(
            "apiVersion",
            f"{label} uses apiVersion '{api_version or '(none)'}', but amlite implements "
            f"{PROVIDER} {API_VERSION} only: the bodies of other versions differ; "
            f"rewrite the resource for {API_VERSION}",
            code="NoRegisteredApiVersion",
        )


class Providers:
    def __init__(self, store: Store, jobs: Jobs, assets: Assets, workspaces: Workspaces) -> None:
        self._store = store
        self._jobs = jobs
        self._assets = assets
        self._workspaces = workspaces

    # -- validation without side effects ---------------------------------------------------------
    def preflight(self, target: Target, body: JsonObject) -> None:
        """Validate a resource body as its PUT would, without creating anything."""
        if target.kind == "jobs":
            check_name(target.name, "name")
            schemas.parse_job(body)
        elif target.kind == "computes":
            check_name(target.name, "name")
            check_ray_compute(schemas.parse_compute(body))
        elif target.kind in VERSIONED_KINDS or target.kind == "datastores":
            check_name(target.name, "name")
            if target.version is not None:
                check_version(target.version)
            schemas.parse_asset(target.kind, body, version=target.version is not None)

    # -- read --------------------------------------------------------------------------------------
    def current(self, target: Target) -> JsonObject | None:
        """The resource as GET answers it, None if it does not exist."""
        ws = target.workspace
        if ws is None:
            return None
        try:
            if target.kind == "workspaces":
                if self._store.get_workspace(ws.key) is None:
                    return None
                record = self._store.get_asset(ws.key, WORKSPACE_PROPERTIES_KIND, ws.workspace)
                return {
                    "id": ws.id,
                    "name": ws.workspace,
                    "type": f"{PROVIDER}/workspaces",
                    "properties": dict(record.body) if record else {},
                }
            if target.kind == "jobs":
                return self._jobs.get(ws, target.name)
            return self._assets.get(ws, target.kind, target.name, target.version)
        except NotFound:
            return None

    # -- create or update ------------------------------------------------------------------------
    def apply(self, target: Target, body: JsonObject) -> Applied:
        ws = target.workspace
        assert ws is not None
        before = self.current(target)
        if target.kind == "workspaces":
            props = body.get("properties") or {}
            if not isinstance(props, dict):
                raise ValidationFailed([Violation("properties", "must be an object")])
            self._workspaces.ensure(ws)
            self._store.put_asset(ws.key, WORKSPACE_PROPERTIES_KIND, ws.workspace, None, props)
            after = self.current(target)
        elif target.kind == "jobs":
            after, _ = self._jobs.create_or_update(ws, target.name, body)
        else:
            after, _ = self._assets.put(ws, target.kind, target.name, target.version, body)
        assert after is not None
        if before is None:
            change = "Created"
        elif _strip(before) == _strip(after):
            change = "NoChange"
        else:
            change = "Modified"
        return Applied(after, change)


def _strip(resource: JsonObject) -> JsonObject:
    return {k: v for k, v in resource.items() if k != "systemData"}
