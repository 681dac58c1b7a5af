"""Datastore backends of a workspace's datastores (``amlite.data.backends``), looked up from
the stored datastore (with its secrets: they never leave the server), and the server's
configured default datastore."""

from __future__ import annotations

import logging
from typing import Any

from amlite.config import Settings
from amlite.data import backends
from amlite.data.backends import AzureBlobContainer, DatastoreBackend
from amlite.errors import NotFound, ValidationFailed
from amlite.services.envelopes import DEFAULT_DATASTORE
from amlite.store import Store

log = logging.getLogger("amlite.datastores")


def configured_default(settings: Settings) -> dict[str, Any] | None:
    """The body of ``workspaceblobstore`` the server was configured with, or None (local
    disk); ``ValueError`` when the configuration is wrong."""
    if not settings.default_datastore:
        return None
    return backends.default_datastore_body(
        settings.default_datastore,
        account_key=settings.default_datastore_key,
        sas_token=settings.default_datastore_sas,
    )


def check_default_reachable(settings: Settings, body: dict[str, Any]) -> None:
    """Create the configured default container if it is missing (fails fast when the
    account cannot be reached or the credentials are wrong)."""
    account = backends.blob_account(body)
    if account is not None and account.account_key:
        AzureBlobContainer(account).ensure_container()


def backend_for(
    store: Store, settings: Settings, workspace_key: str, name: str
) -> DatastoreBackend:
    """The backend of datastore ``name``; ``NotFound`` if there is no such datastore."""
    record = store.get_asset(workspace_key, "datastores", name)
    if record is None and name.lower() == DEFAULT_DATASTORE:
        record = store.get_asset(workspace_key, "datastores", DEFAULT_DATASTORE)
    if record is None:
        raise NotFound(f"datastore '{name}' does not exist", target="name")
    try:
        return backends.open_backend(settings, workspace_key, name, record.body)
    except ValueError as exc:
        raise ValidationFailed.one("name", str(exc)) from None


def remove_blob_artifacts(
    store: Store, settings: Settings, workspace_key: str, prefix: str
) -> None:
    """Delete a purged job's artifacts from a blob ``workspaceblobstore`` (best effort: the
    job's records are gone already; a failure is logged)."""
    record = store.get_asset(workspace_key, "datastores", DEFAULT_DATASTORE)
    account = backends.blob_account(record.body) if record is not None else None
    if account is None:
        return
    try:
        AzureBlobContainer(account).delete_prefix(prefix)
    except Exception as exc:
        log.warning("could not delete blobs below %s in %s: %s", prefix, account.container, exc)
