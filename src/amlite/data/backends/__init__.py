"""Datastore backends: where a datastore's files are and how to read and write them.

``open_backend`` picks one from the datastore's stored body:

- ``AzureBlob`` with ``AccountKey`` or ``Sas`` credentials that carry a secret: the container
  itself (``azure_blob``, needs the ``[azure]`` extra);
- anything else (the default ``workspaceblobstore``, datastores without secrets): a directory
  on the server's disk (``local``), as amlite always did.

``default_datastore_body`` turns the server's ``--default-datastore azureblob://...`` into the
body of ``workspaceblobstore``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qs, urlparse

from amlite.config import Settings
from amlite.data import paths
from amlite.data.backends._base import DatastoreBackend, FileInfo, blob_name
from amlite.data.backends.azure_blob import (
    AzureBlobContainer,
    AzureUnavailable,
    BlobAccount,
    account_url,
)
from amlite.data.backends.local import LocalDirectory

__all__ = [
    "AzureBlobContainer",
    "AzureUnavailable",
    "BlobAccount",
    "DatastoreBackend",
    "FileInfo",
    "LocalDirectory",
    "account_url",
    "blob_account",
    "blob_name",
    "default_datastore_body",
    "open_backend",
]


def _ci(mapping: Mapping[str, Any], key: str) -> Any:
    """A wire field by name, any casing (bodies keep the casing the client sent)."""
    for k, v in mapping.items():
        if k.lower() == key.lower():
            return v
    return None


def blob_account(body: Mapping[str, Any]) -> BlobAccount | None:
    """The blob account of a datastore body, or None if it is kept on local disk."""
    contents = _ci(body, "contents") or {}
    if str(_ci(contents, "contentsType") or "").lower() != "azureblob":
        return None
    creds = _ci(contents, "credentials") or {}
    secrets = _ci(creds, "secrets") or {}
    kind = str(_ci(creds, "credentialsType") or "").lower()
    key = _ci(secrets, "key") if kind == "accountkey" else None
    sas = _ci(secrets, "sasToken") if kind == "sas" else None
    if not key and not sas:
        return None
    return BlobAccount(
        account=str(_ci(contents, "accountName")),
        container=str(_ci(contents, "containerName")),
        endpoint=str(_ci(contents, "endpoint") or "core.windows.net"),
        protocol=str(_ci(contents, "protocol") or "https"),
        account_key=str(key) if key else None,
        sas_token=str(sas) if sas else None,
    )


def open_backend(
    settings: Settings, workspace_key: str, name: str, body: Mapping[str, Any]
) -> DatastoreBackend:
    """The backend of datastore ``name`` of a workspace (``ValueError`` for a bad name)."""
    local_root = paths.datastore_root(settings, workspace_key, name)
    account = blob_account(body)
    if account is None:
        return LocalDirectory(local_root)
    live = local_root if name.lower() == paths.DEFAULT_DATASTORE else None
    return AzureBlobContainer(account, live_cache=live)


def default_datastore_body(
    url: str, *, account_key: str | None, sas_token: str | None
) -> dict[str, Any]:
    """``azureblob://ACCOUNT/CONTAINER?endpoint=HOST[:PORT]&protocol=http|https`` and a
    secret -> a datastore body; ``ValueError`` naming what is wrong."""
    parsed = urlparse(url)
    if parsed.scheme.lower() != "azureblob":
        raise ValueError(
            f"the default datastore must be azureblob://ACCOUNT/CONTAINER, not {url!r}"
        )
    account = parsed.netloc
    container = parsed.path.strip("/")
    if not account or not container or "/" in container:
        raise ValueError(
            f"the default datastore must be azureblob://ACCOUNT/CONTAINER, not {url!r}"
        )
    query = {k.lower(): v[-1] for k, v in parse_qs(parsed.query).items()}
    unknown = set(query) - {"endpoint", "protocol"}
    if unknown:
        raise ValueError(
            f"unknown default datastore option(s) {sorted(unknown)}: only endpoint and protocol "
            "(credentials come from AMLITE_DEFAULT_DATASTORE_KEY or AMLITE_DEFAULT_DATASTORE_SAS)"
        )
    protocol = query.get("protocol", "https").lower()
    if protocol not in ("http", "https"):
        raise ValueError(f"protocol must be http or https, not {protocol!r}")
    if bool(account_key) == bool(sas_token):
        raise ValueError(
            "the default datastore needs exactly one secret: AMLITE_DEFAULT_DATASTORE_KEY "
            "(account key) or AMLITE_DEFAULT_DATASTORE_SAS (a container SAS token)"
        )
    credentials: dict[str, Any] = (
        {
            "credentialsType": "AccountKey",
            "secrets": {"secretsType": "AccountKey", "key": account_key},
        }
        if account_key
        else {"credentialsType": "Sas", "secrets": {"secretsType": "Sas", "sasToken": sas_token}}
    )
    return {
        "contents": {
            "contentsType": "AzureBlob",
            "accountName": account,
            "containerName": container,
            "endpoint": query.get("endpoint", "core.windows.net"),
            "protocol": protocol,
            "credentials": credentials,
        },
        "description": f"Default datastore of the workspace (blob container {account}/{container})",
        "isDefault": True,
    }
