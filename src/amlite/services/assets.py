"""Assets a job references by ARM id: codes, data, environments (containers and versions),
datastores and computes."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from amlite import schemas
from amlite.domain.arm_id import WorkspaceRef
from amlite.domain.names import ASSET_NAME_PATTERN, is_asset_name
from amlite.errors import NotFound, ValidationFailed
from amlite.services.compute_targets import check_ray_compute
from amlite.services.envelopes import DEFAULT_DATASTORE, asset_resource
from amlite.services.paging import decode_token
from amlite.services.workspaces import Workspaces
from amlite.store import Store

VERSIONED_KINDS = ("codes", "data", "environments")
PLAIN_KINDS = ("datastores", "computes")
_VERSION = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._\-]{0,254}$")
PAGE_SIZE = 100


@dataclass(frozen=True)
class Page:
    value: list[dict[str, Any]]
    next_seq: int | None


def check_name(name: str, target: str = "name") -> None:
    if not is_asset_name(name):
        raise ValidationFailed.one(target, f"'{name}' must match {ASSET_NAME_PATTERN}")


def check_version(version: str) -> None:
    if not _VERSION.match(version):
        raise ValidationFailed.one(
            "version",
            f"'{version}' must start with a letter or digit and hold only letters, digits, . _ -",
        )


class Assets:
    def __init__(self, store: Store, workspaces: Workspaces) -> None:
        self._store = store
        self._workspaces = workspaces

    def put(
        self, ws: WorkspaceRef, kind: str, name: str, version: str | None, body: Any
    ) -> tuple[dict[str, Any], bool]:
        check_name(name)
        if version is not None:
            check_version(version)
        if kind == "computes":
            props = schemas.parse_compute(body)
            check_ray_compute(props)
        else:
            props = schemas.parse_asset(kind, body, version=version is not None)
        self._workspaces.ensure(ws)
        if kind == "datastores" and name == DEFAULT_DATASTORE:
            props = {**props, "isDefault": True}  # the default datastore stays the default
        if version is not None and self._store.get_asset(ws.key, kind, name) is None:
            self._store.put_asset(ws.key, kind, name, None, {})
        record, created = self._store.put_asset(ws.key, kind, name, version, props)
        return asset_resource(record, ws), created

    def get(
        self, ws: WorkspaceRef, kind: str, name: str, version: str | None = None
    ) -> dict[str, Any]:
        self._workspaces.ensure(ws)
        record = self._store.get_asset(ws.key, kind, name, version)
        if record is None:
            what = f"{kind}/{name}" + (f"/versions/{version}" if version is not None else "")
            raise NotFound(f"{what} does not exist in workspace {ws.workspace}")
        return asset_resource(record, ws)

    def list(
        self,
        ws: WorkspaceRef,
        kind: str,
        *,
        name: str | None = None,
        skiptoken: str | None = None,
        top: int | None = None,
    ) -> Page:
        self._workspaces.ensure(ws)
        after = decode_token(skiptoken)
        limit = max(1, min(top or PAGE_SIZE, PAGE_SIZE))
        if name is not None and self._store.get_asset(ws.key, kind, name) is None:
            raise NotFound(f"{kind}/{name} does not exist in workspace {ws.workspace}")
        records = self._store.list_assets(
            ws.key, kind, name=name, versions=name is not None, after_seq=after, limit=limit + 1
        )
        more = len(records) > limit
        records = records[:limit]
        return Page(
            [asset_resource(r, ws) for r in records], records[-1].seq if more and records else None
        )

    def list_secrets(self, ws: WorkspaceRef, name: str) -> dict[str, Any]:
        """``POST .../datastores/{name}/listSecrets``: the datastore's ``DatastoreSecrets``,
        which GET and LIST never return (``{"secretsType": ...}`` alone when none were
        given)."""
        self._workspaces.ensure(ws)
        record = self._store.get_asset(ws.key, "datastores", name)
        if record is None:
            raise NotFound(f"datastores/{name} does not exist in workspace {ws.workspace}")
        creds = (record.body.get("contents") or {}).get("credentials") or {}
        secrets = creds.get("secrets") if isinstance(creds, dict) else None
        if isinstance(secrets, dict) and secrets.get("secretsType"):
            return dict(secrets)
        return {"secretsType": str(creds.get("credentialsType") or "None")}

    def delete(self, ws: WorkspaceRef, kind: str, name: str, version: str | None = None) -> bool:
        self._workspaces.ensure(ws)
        return self._store.delete_asset(ws.key, kind, name, version)
