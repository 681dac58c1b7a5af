"""A datastore in an Azure Blob Storage container (or Azurite), through ``azure-storage-blob``.

The SDK comes with the ``[azure]`` extra and is imported only when a blob datastore is used.
Endpoint mapping (the spec's ``endpoint`` and ``protocol`` fields):

- a DNS suffix (``core.windows.net``): ``{protocol}://{account}.blob.{endpoint}``;
- a loopback/IP host or ``host:port`` (Azurite, ``127.0.0.1:10000``): path-style
  ``{protocol}://{endpoint}/{account}`` (the form the emulator serves).

Credentials: ``AccountKey`` (the server signs short-lived container SAS for the supervisor)
or ``Sas`` (the token is used as given).
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
import tempfile
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO
from urllib.parse import quote

from amlite.data.archives import extract_tar_safely
from amlite.data.backends._base import DatastoreBackend, FileInfo, blob_name, local_files

if TYPE_CHECKING:
    from azure.storage.blob import ContainerClient

MISSING_EXTRA = (
    "AzureBlob datastores with credentials need the Azure SDK: "
    "pip install 'amlite[azure]' (azure-storage-blob)"
)
API_VERSION_ENV = "AMLITE_AZURE_API_VERSION"
"""Optional x-ms-version for the SDK (an older Azurite may need e.g. ``2025-01-05``)."""


class AzureUnavailable(RuntimeError):
    """The ``[azure]`` extra is not installed."""


@dataclass(frozen=True)
class BlobAccount:
    account: str
    container: str
    endpoint: str
    protocol: str
    account_key: str | None = field(default=None, repr=False)
    sas_token: str | None = field(default=None, repr=False)

    @property
    def account_url(self) -> str:
        return account_url(self.account, self.endpoint, self.protocol)

    @property
    def container_url(self) -> str:
        return f"{self.account_url}/{quote(self.container)}"


def _is_path_style(endpoint: str) -> bool:
    host = endpoint.rsplit(":", 1)[0] if endpoint.count(":") == 1 else endpoint
    if host.lower() == "localhost" or ":" in endpoint:
        return True
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True


def account_url(account: str, endpoint: str, protocol: str) -> str:
    proto = (protocol or "https").lower()
    host = endpoint.strip().rstrip("/")
    if _is_path_style(host):
        return f"{proto}://{host}/{account}"
    return f"{proto}://{account}.blob.{host}"


def _sdk() -> Any:
    try:
        from azure.storage import blob
    except ImportError as exc:
        raise AzureUnavailable(MISSING_EXTRA) from exc
    return blob


class AzureBlobContainer(DatastoreBackend):
    kind = "azureblob"

    def __init__(self, account: BlobAccount, *, live_cache: Path | None = None) -> None:
        self.account = account
        self.live_cache = live_cache
        """A local directory read when a file is not (yet) in the container: the default
        datastore's artifacts of a running job are written there and uploaded when it ends."""
        self._client: ContainerClient | None = None

    @property
    def client(self) -> ContainerClient:
        if self._client is None:
            blob = _sdk()
            kwargs: dict[str, Any] = {}
            if os.environ.get(API_VERSION_ENV):
                kwargs["api_version"] = os.environ[API_VERSION_ENV]
            credential: Any = None
            if self.account.account_key:
                credential = {
                    "account_name": self.account.account,
                    "account_key": self.account.account_key,
                }
            elif self.account.sas_token:
                credential = self.account.sas_token.lstrip("?")
            self._client = blob.ContainerClient(
                self.account.account_url, self.account.container, credential=credential, **kwargs
            )
        return self._client

    def ensure_container(self) -> None:
        from azure.core.exceptions import ResourceExistsError

        with contextlib.suppress(ResourceExistsError):
            self.client.create_container()

    # -- the file endpoints ---------------------------------------------------------------

    def list_files(self, prefix: str) -> list[FileInfo]:
        name = blob_name(prefix)
        items: list[FileInfo] = []
        under = f"{name}/" if name else ""
        for blob in self.client.list_blobs(name_starts_with=name or None):
            if blob.name == name:
                return [FileInfo(name.rsplit("/", 1)[-1], int(blob.size))]
            if blob.name.startswith(under):
                items.append(FileInfo(blob.name[len(under) :], int(blob.size)))
        return sorted(items, key=lambda item: item.path)

    def read(self, path: str, offset: int, length: int) -> tuple[bytes, int] | None:
        from azure.core.exceptions import ResourceNotFoundError

        name = blob_name(path)
        blob = self.client.get_blob_client(name)
        try:
            size = int(blob.get_blob_properties().size)
        except ResourceNotFoundError:
            return self._read_live(name, offset, length)
        start = min(offset, size)
        if start >= size or length <= 0:
            return b"", size
        data = blob.download_blob(offset=start, length=min(length, size - start)).readall()
        return data, size

    def _read_live(self, name: str, offset: int, length: int) -> tuple[bytes, int] | None:
        if self.live_cache is None:
            return None
        from amlite.data.backends.local import LocalDirectory

        return LocalDirectory(self.live_cache).read(name, offset, length)

    def write(self, path: str, source: BinaryIO) -> None:
        self.client.upload_blob(blob_name(path), source, overwrite=True, max_concurrency=4)

    def upload_tree(self, local: Path, prefix: str) -> int:
        base = blob_name(prefix)
        count = 0
        for file, rel in local_files(local):
            with file.open("rb") as f:
                self.write(f"{base}/{rel}" if base else rel, f)
            count += 1
        return count

    def extract_archive(self, archive: BinaryIO, prefix: str, max_bytes: int) -> int:
        blob_name(prefix)
        with tempfile.TemporaryDirectory(prefix="amlite-blob-upload-") as tmp:
            dest = Path(tmp) / "x"
            extract_tar_safely(archive, dest, max_bytes=max_bytes)
            return self.upload_tree(dest, prefix) if dest.exists() else 0

    def delete_prefix(self, prefix: str) -> None:
        name = blob_name(prefix)
        under = f"{name}/" if name else ""
        names = [
            b.name
            for b in self.client.list_blobs(name_starts_with=name or None)
            if b.name == name or b.name.startswith(under)
        ]
        for i in range(0, len(names), 256):
            self.client.delete_blobs(*names[i : i + 256])

    # -- the job plan ---------------------------------------------------------------------

    def exists(self, path: str) -> tuple[bool, bool]:
        """(anything there, it is a single file) for ``path``."""
        name = blob_name(path)
        if name:
            from azure.core.exceptions import ResourceNotFoundError

            try:
                self.client.get_blob_client(name).get_blob_properties()
                return True, True
            except ResourceNotFoundError:
                pass
        under = f"{name}/" if name else None
        for _blob in self.client.list_blobs(name_starts_with=under, results_per_page=1):
            return True, False
        return False, False

    def signed_url(self, path: str, *, write: bool, valid_for: timedelta) -> str:
        """``{container URL}?{SAS}#{path}``: what the supervisor's ``blob_download`` /
        ``blob_upload`` steps take. With an account key the SAS is signed here, for this
        container only, read+list (inputs) or create+write (outputs), expiring after
        ``valid_for``; a datastore with ``Sas`` credentials passes its own token."""
        name = blob_name(path)
        if self.account.account_key:
            blob = _sdk()
            permission = (
                blob.ContainerSasPermissions(create=True, write=True, add=True)
                if write
                else blob.ContainerSasPermissions(read=True, list=True)
            )
            now = datetime.now(UTC)
            token = blob.generate_container_sas(
                self.account.account,
                self.account.container,
                account_key=self.account.account_key,
                permission=permission,
                start=now - timedelta(minutes=5),
                expiry=now + valid_for,
                protocol="https,http",
            )
        else:
            token = (self.account.sas_token or "").lstrip("?")
        return f"{self.account.container_url}?{token}#{quote(name)}"
