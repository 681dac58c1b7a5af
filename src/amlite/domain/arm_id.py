"""ARM resource ids of workspaces and the resources inside them.

``/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.MachineLearningServices/
workspaces/{ws}/{kind}/{name}[/versions/{version}]``. ARM ids are case-insensitive in
their fixed segments; names keep their casing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

PROVIDER = "Microsoft.MachineLearningServices"

KINDS = ("jobs", "codes", "data", "environments", "datastores", "computes")
"""Resource kinds inside a workspace. ``datastore`` (singular, used by Azure's examples) is read
as ``datastores``."""

_ID = re.compile(
    r"^/subscriptions/(?P<sub>[^/]+)/resourceGroups/(?P<rg>[^/]+)/providers/"
    + re.escape(PROVIDER)
    + r"/workspaces/(?P<ws>[^/]+)"
    r"(?:/(?P<kind>jobs|codes|data|environments|datastores|datastore|computes)/(?P<name>[^/]+)"
    r"(?:/versions/(?P<version>[^/]+))?)?/?$",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class WorkspaceRef:
    subscription: str
    resource_group: str
    workspace: str

    @property
    def key(self) -> str:
        """Case-insensitive identity of the workspace, as stored."""
        return f"{self.subscription}/{self.resource_group}/{self.workspace}".lower()

    @property
    def id(self) -> str:
        return (
            f"/subscriptions/{self.subscription}/resourceGroups/{self.resource_group}"
            f"/providers/{PROVIDER}/workspaces/{self.workspace}"
        )

    def resource_id(self, kind: str, name: str, version: str | None = None) -> str:
        rid = f"{self.id}/{kind}/{name}"
        return f"{rid}/versions/{version}" if version is not None else rid


@dataclass(frozen=True)
class ResourceRef:
    workspace: WorkspaceRef
    kind: str
    name: str
    version: str | None = None

    @property
    def id(self) -> str:
        return self.workspace.resource_id(self.kind, self.name, self.version)


def parse_resource_id(value: str) -> ResourceRef | None:
    """Parse a full ARM id of a workspace resource; None if it is not one."""
    m = _ID.match(value.strip())
    if not m or not m.group("kind"):
        return None
    kind = m.group("kind").lower()
    kind = "datastores" if kind == "datastore" else kind
    ws = WorkspaceRef(m.group("sub"), m.group("rg"), m.group("ws"))
    return ResourceRef(ws, kind, m.group("name"), m.group("version"))


_SHORT = re.compile(r"^azureml:(?P<name>[^:@/]+)(?:(?::|@)(?P<version>[^:@/]+))?$", re.IGNORECASE)


def parse_reference(value: str, kind: str, workspace: WorkspaceRef) -> ResourceRef | None:
    """Resolve an asset reference as a job may write it.

    Accepts a full ARM id, ``azureml:NAME``, ``azureml:NAME:VERSION`` and ``azureml:NAME@latest``
    (version ``latest`` is left for the caller to resolve). A bare name is read as a name in
    ``workspace``. Returns None when the value cannot be a reference of ``kind``.
    """
    ref = parse_resource_id(value)
    if ref is not None:
        return ref if ref.kind == kind else None
    m = _SHORT.match(value.strip())
    if m:
        return ResourceRef(workspace, kind, m.group("name"), m.group("version"))
    if re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9\-_.]*", value.strip()):
        return ResourceRef(workspace, kind, value.strip())
    return None
