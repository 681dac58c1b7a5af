"""Settings, read once at an entry point (server, CLI) from the environment.

| variable             | meaning                                      | default                   |
|----------------------|----------------------------------------------|---------------------------|
| AMLITE_HOME          | state directory (database, datastores, runs) | ~/.amlite                 |
| AMLITE_DATABASE_URL  | SQLAlchemy URL of the store                  | sqlite:///                |
|                      |                                              | $AMLITE_HOME/amlite.db    |
| AMLITE_LOCAL_SLOTS   | how many jobs the local compute runs at once | the machine's CPU count   |
| AMLITE_URL           | the server the CLI talks to                  | from                      |
|                      |                                              | $AMLITE_HOME/server.json  |
| AMLITE_MAX_UPLOAD_MB | the largest upload the server accepts        | 1024                      |
| AMLITE_JOB_SANDBOX   | `auto`, `bwrap` or `none` (docs/security.md) | auto                      |
| AMLITE_DEFAULT_      | workspaceblobstore's container:              | local disk                |
| DATASTORE            | azureblob://ACCOUNT/CONTAINER?endpoint=...   |                           |
| AMLITE_DEFAULT_      | its account key / SAS token                  |                           |
| DATASTORE_KEY / _SAS | (docs/datastores.md)                         |                           |
| AMLITE_PUBLIC_URL    | the address jobs, Ray nodes and links use to | the address the server    |
|                      | reach the servers (a load balancer)          | listens on                |
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit


def _default_home() -> Path:
    return Path(os.environ.get("AMLITE_HOME") or Path.home() / ".amlite").expanduser()


@dataclass(frozen=True)
class Settings:
    home: Path = field(default_factory=_default_home)
    database_url: str | None = None
    local_slots: int = 0
    max_upload_bytes: int = 1024 * 1024 * 1024
    job_sandbox: str = "auto"
    default_datastore: str | None = None
    default_datastore_key: str | None = field(default=None, repr=False)
    default_datastore_sas: str | None = field(default=None, repr=False)
    public_url: str | None = None
    """Where clients, jobs and Ray nodes reach the server (docs/high-availability.md)."""

    @classmethod
    def from_env(cls, home: Path | None = None) -> Settings:
        env = os.environ
        slots = int(env.get("AMLITE_LOCAL_SLOTS") or 0)
        max_mb = int(env.get("AMLITE_MAX_UPLOAD_MB") or 1024)
        return cls(
            home=(home or _default_home()).resolve(),
            database_url=env.get("AMLITE_DATABASE_URL") or None,
            local_slots=slots,
            max_upload_bytes=max_mb * 1024 * 1024,
            job_sandbox=env.get("AMLITE_JOB_SANDBOX") or "auto",
            default_datastore=env.get("AMLITE_DEFAULT_DATASTORE") or None,
            default_datastore_key=env.get("AMLITE_DEFAULT_DATASTORE_KEY") or None,
            default_datastore_sas=env.get("AMLITE_DEFAULT_DATASTORE_SAS") or None,
            public_url=env.get("AMLITE_PUBLIC_URL") or None,
        )

    @property
    def db_url(self) -> str:
        return self.database_url or f"sqlite:///{self.home / 'amlite.db'}"

    @property
    def slots(self) -> int:
        return self.local_slots or os.cpu_count() or 1

    @property
    def runs_dir(self) -> Path:
        """Per-job run directories: working dir, logs, supervisor state."""
        return self.home / "runs"

    @property
    def datastores_dir(self) -> Path:
        """Where local (emulated) datastores keep their files."""
        return self.home / "datastores"

    @property
    def envs_dir(self) -> Path:
        """Cached virtualenvs built from environment versions."""
        return self.home / "envs"

    @property
    def token_file(self) -> Path:
        return self.home / "token"

    @property
    def server_file(self) -> Path:
        """Written by a running server: its URL and pid, so the CLI finds it."""
        return self.home / "server.json"


def checked_public_url(url: str) -> str:
    """``url`` as a server's public address (``http[s]://HOST[:PORT]``, no trailing slash);
    ValueError saying what is wrong."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError as exc:
        raise ValueError(f"{url!r} is not a URL: {exc}") from None
    if parts.scheme not in ("http", "https"):
        raise ValueError(f"{url!r} must start with http:// or https://")
    if not parts.hostname:
        raise ValueError(f"{url!r} names no host")
    if parts.path.strip("/") or parts.query or parts.fragment or parts.username:
        raise ValueError(f"{url!r} must be only a scheme, a host and a port (no path)")
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    return f"{parts.scheme}://{host}" + (f":{port}" if port is not None else "")
