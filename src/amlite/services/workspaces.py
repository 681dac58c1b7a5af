"""Workspaces: created on first use, with a default datastore and a default local compute."""

from __future__ import annotations

import re
import threading
from typing import Any

from amlite.domain.arm_id import WorkspaceRef
from amlite.errors import ValidationFailed, Violation
from amlite.services.envelopes import DEFAULT_COMPUTE, DEFAULT_DATASTORE
from amlite.store import Store

_SEGMENT = re.compile(r"^[-\w\._\(\)]{1,90}$")

DEFAULT_DATASTORE_BODY: dict[str, Any] = {
    "contents": {
        "contentsType": "AzureBlob",
        "accountName": "amlite",
        "containerName": DEFAULT_DATASTORE,
        "endpoint": "core.windows.net",
        "protocol": "https",
        "credentials": {"credentialsType": "None"},
    },
    "description": "Default datastore of the workspace (local disk, emulated by amlite)",
    "isDefault": True,
}

DEFAULT_COMPUTE_BODY: dict[str, Any] = {
    "computeType": "Local",
    "description": "The machine the amlite server runs on",
}


def check_workspace(sub: str, rg: str, ws: str) -> WorkspaceRef:
    """Validate the workspace part of a path; its names become directory names."""
    problems = [
        Violation(target, f"'{value}' is not a valid name (letters, digits, - _ . ( ), at most 90)")
        for target, value in (
            ("subscriptionId", sub),
            ("resourceGroupName", rg),
            ("workspaceName", ws),
        )
        if not _SEGMENT.match(value) or value in (".", "..")
    ]
    if problems:
        raise ValidationFailed(problems)
    return WorkspaceRef(sub, rg, ws)


class Workspaces:
    def __init__(self, store: Store, default_datastore: dict[str, Any] | None = None) -> None:
        self._store = store
        self._default_datastore = default_datastore
        """The server's configured ``workspaceblobstore`` (a blob container), if any."""
        self._known: set[str] = set()
        self._lock = threading.Lock()

    def known(self, workspace: WorkspaceRef) -> bool:
        """``ensure`` has nothing left to do for ``workspace`` (no store access)."""
        return workspace.key in self._known

    def ensure(self, workspace: WorkspaceRef) -> None:
        """Create the workspace and its defaults the first time it is used."""
        if workspace.key in self._known:
            return
        with self._lock:
            if workspace.key in self._known:
                return
            self._store.ensure_workspace(workspace)
            key = workspace.key
            stored = self._store.get_asset(key, "datastores", DEFAULT_DATASTORE)
            configured = self._default_datastore
            if stored is None or (configured is not None and stored.body != configured):
                body = configured or DEFAULT_DATASTORE_BODY
                self._store.put_asset(key, "datastores", DEFAULT_DATASTORE, None, body)
            if self._store.get_asset(key, "computes", DEFAULT_COMPUTE) is None:
                self._store.put_asset(key, "computes", DEFAULT_COMPUTE, None, DEFAULT_COMPUTE_BODY)
            self._known.add(key)
