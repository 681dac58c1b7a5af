"""A small REST client of an amlite server (the Azure ML jobs API, 2021-03-01-preview).

Used by the CLI; usable from scripts::

    client = AmliteClient.from_settings(Settings.from_env())
    client.put_job("hello", {"properties": {...}})
"""

from __future__ import annotations

import io
import json
import os
import tarfile
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from amlite import API_VERSION
from amlite.config import Settings
from amlite.domain import names
from amlite.domain.arm_id import WorkspaceRef
from amlite.domain.json_value import JsonObject, JsonValue, objects
from amlite.errors import AmliteError
from amlite.executors.supervisor.procs import pid_alive

if TYPE_CHECKING:
    import httpx

DEFAULT_SUBSCRIPTION = "00000000-0000-0000-0000-000000000000"
DEFAULT_RESOURCE_GROUP = "amlite"
DEFAULT_WORKSPACE = "default"
DEFAULT_DATASTORE = names.DEFAULT_DATASTORE
NO_SERVER = "no amlite server found; start one with `amlite server` or use `amlite run`"
ASSET_KINDS = ("codes", "data", "environments")

QueryValue = str | int | float | bool | None
"""One value of a query string."""


class ServerNotFound(AmliteError):
    """No server URL could be found (no AMLITE_URL, no live $AMLITE_HOME/server.json)."""


class ApiError(AmliteError):
    """A non-2xx answer; carries the ARM error envelope's fields."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        target: str | None = None,
        details: list[JsonObject] | None = None,
    ) -> None:
        super().__init__(f"{code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.target = target
        self.details = list(details or [])

    @classmethod
    def from_response(cls, response: httpx.Response) -> ApiError:
        try:
            error = response.json().get("error") or {}
        except (ValueError, AttributeError):
            error = {}
        if not isinstance(error, dict):
            error = {}
        text = response.text.strip()[:500] if not error else ""
        return cls(
            response.status_code,
            str(error.get("code") or f"HTTP{response.status_code}"),
            str(error.get("message") or text or response.reason_phrase),
            error.get("target"),
            [d for d in error.get("details") or [] if isinstance(d, dict)],
        )


def default_workspace(
    subscription: str | None = None, resource_group: str | None = None, workspace: str | None = None
) -> WorkspaceRef:
    """The workspace to talk to: explicit values, else AMLITE_* env vars, else the defaults."""
    env = os.environ
    return WorkspaceRef(
        subscription or env.get("AMLITE_SUBSCRIPTION") or DEFAULT_SUBSCRIPTION,
        resource_group or env.get("AMLITE_RESOURCE_GROUP") or DEFAULT_RESOURCE_GROUP,
        workspace or env.get("AMLITE_WORKSPACE") or DEFAULT_WORKSPACE,
    )


def find_server(settings: Settings) -> str:
    """The URL of the running server: AMLITE_URL, else $AMLITE_HOME/server.json if its pid lives."""
    url = os.environ.get("AMLITE_URL")
    if url:
        return url
    try:
        info = json.loads(settings.server_file.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ServerNotFound(NO_SERVER) from exc
    pid = info.get("pid")
    if not info.get("url") or (isinstance(pid, int) and not pid_alive(pid)):
        raise ServerNotFound(NO_SERVER)
    return str(info["url"])


def find_token(settings: Settings) -> str:
    token = os.environ.get("AMLITE_TOKEN")
    if token:
        return token
    try:
        return settings.token_file.read_text(encoding="utf-8").strip()
    except OSError:
        return ""


def tar_gz(local: Path) -> bytes:
    """A folder's contents (or one file) as an in-memory .tar.gz, paths relative to it."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        if local.is_file():
            tar.add(local, arcname=local.name)
        else:
            for item in sorted(local.rglob("*")):
                if item.is_file() and not item.is_symlink():
                    tar.add(item, arcname=item.relative_to(local).as_posix())
    return buf.getvalue()


class AmliteClient:
    def __init__(
        self,
        url: str,
        token: str,
        workspace: WorkspaceRef,
        timeout: float = 30,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        import httpx  # lazy: the CLI's start-up (amlite.cli)

        from amlite.http_transport import for_client

        self.url = url.rstrip("/")
        self.token = token
        self.workspace = workspace
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self._http = httpx.Client(
            base_url=self.url,
            headers=headers,
            timeout=timeout,
            transport=transport if transport is not None else for_client(),
        )

    @classmethod
    def from_settings(
        cls, settings: Settings, workspace: WorkspaceRef | None = None, url: str | None = None
    ) -> AmliteClient:
        return cls(
            url or find_server(settings), find_token(settings), workspace or default_workspace()
        )

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> AmliteClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- plumbing ------------------------------------------------------------------------
    def _path(self, *parts: str) -> str:
        return self.workspace.id + "".join("/" + quote(p, safe="/") for p in parts)

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, QueryValue] | None = None,
        json_body: object = None,
        content: bytes | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> httpx.Response:
        """One call; ``path`` is a workspace-absolute path or a full URL (nextLink)."""
        import httpx  # lazy: the CLI's start-up (amlite.cli); loaded by __init__ already

        query: dict[str, QueryValue] = dict(params or {})
        if "?" in path:  # a nextLink/Location carries its own query; add to it, never replace it
            url = httpx.URL(path)
            path = str(url.copy_merge_params(query)) if query else path
            query = {}
        else:
            query["api-version"] = API_VERSION
        try:
            response = self._http.request(
                method, path, params=query or None, json=json_body, content=content, headers=headers
            )
        except httpx.TransportError as exc:
            raise ServerNotFound(f"cannot reach the amlite server at {self.url}: {exc}") from exc
        if response.status_code >= 400:
            raise ApiError.from_response(response)
        return response

    def _json(self, method: str, path: str, **kw: Any) -> JsonObject:
        response = self.request(method, path, **kw)
        if not response.content:
            return {}
        data = response.json()
        return data if isinstance(data, dict) else {"value": data}

    def _pages(
        self, path: str, params: Mapping[str, QueryValue] | None = None
    ) -> Iterator[JsonObject]:
        page = self._json("GET", path, params=params)
        while True:
            yield from objects(page.get("value"))
            link = page.get("nextLink")
            if not isinstance(link, str) or not link:
                return
            page = self._json("GET", link)

    # -- jobs ----------------------------------------------------------------------------
    def put_job(self, name: str, body: Mapping[str, JsonValue]) -> JsonObject:
        return self._json("PUT", self._path("jobs", name), json_body=body)

    def get_history(self, name: str) -> JsonObject:
        """Every status with its time, the reason, the exit code and, for a queued job, why it
        waits (amlite extension)."""
        data: JsonObject = self.request("GET", self._path("jobs", name, "history")).json()
        return data

    def get_job(self, name: str) -> JsonObject:
        return self._json("GET", self._path("jobs", name))

    def list_jobs(
        self,
        job_type: str | None = None,
        tag: str | None = None,
        tags: str | Mapping[str, str] | None = None,
    ) -> Iterator[JsonObject]:
        params: dict[str, str] = {}
        if job_type:
            params["jobType"] = job_type
        if tag:
            params["tag"] = tag
        if tags:
            params["tags"] = (
                tags if isinstance(tags, str) else ",".join(f"{k}={v}" for k, v in tags.items())
            )
        return self._pages(self._path("jobs"), params)

    def cancel_job(self, name: str) -> None:
        self.request("POST", self._path("jobs", name, "cancel"))

    def delete_job(self, name: str, wait: bool = True, timeout: float = 120) -> None:
        """DELETE; with ``wait``, poll the 202's Location until the job is gone."""
        response = self.request("DELETE", self._path("jobs", name))
        deadline = time.monotonic() + timeout
        while wait and response.status_code == 202 and response.headers.get("Location"):
            if time.monotonic() > deadline:
                raise AmliteError(f"job {name} was not deleted within {timeout:.0f}s")
            try:
                delay = float(response.headers.get("Retry-After") or 1)
            except ValueError:
                delay = 1.0
            time.sleep(min(max(delay, 0.1), 1.0))
            try:
                response = self.request("GET", response.headers["Location"])
            except ApiError as exc:
                if exc.status == 404:
                    return
                raise

    def get_metrics(self, name: str) -> JsonObject:
        """A job's metrics (amlite extension): ``{"value": [latest per key], "history":
        {key: [{"key", "value", "step", "timestamp"}, ...] in logged order}, "params", "tags"}``.
        Non-finite values come as the strings ``"NaN"``, ``"Infinity"``, ``"-Infinity"``."""
        return self._json("GET", self._path("jobs", name, "metrics"))

    # -- assets --------------------------------------------------------------------------
    def put_asset(
        self, kind: str, name: str, version: str | None, body: Mapping[str, JsonValue]
    ) -> JsonObject:
        parts = (kind, name, "versions", version) if version is not None else (kind, name)
        return self._json("PUT", self._path(*parts), json_body=body)

    def get_asset(self, kind: str, name: str, version: str | None = None) -> JsonObject:
        parts = (kind, name, "versions", version) if version is not None else (kind, name)
        return self._json("GET", self._path(*parts))

    def list_assets(self, kind: str, name: str | None = None) -> Iterator[JsonObject]:
        """Containers of ``kind``, or the versions of ``name``."""
        path = self._path(kind, name, "versions") if name else self._path(kind)
        return self._pages(path)

    def put_code(self, name: str, version: str, body: Mapping[str, JsonValue]) -> JsonObject:
        return self.put_asset("codes", name, version, body)

    def put_data(self, name: str, version: str, body: Mapping[str, JsonValue]) -> JsonObject:
        return self.put_asset("data", name, version, body)

    def put_environment(self, name: str, version: str, body: Mapping[str, JsonValue]) -> JsonObject:
        return self.put_asset("environments", name, version, body)

    def put_datastore(self, name: str, body: Mapping[str, JsonValue]) -> JsonObject:
        return self.put_asset("datastores", name, None, body)

    def get_datastore(self, name: str) -> JsonObject:
        return self.get_asset("datastores", name)

    def list_datastores(self) -> Iterator[JsonObject]:
        return self.list_assets("datastores")

    def put_compute(self, name: str, body: Mapping[str, JsonValue]) -> JsonObject:
        return self.put_asset("computes", name, None, body)

    def get_compute(self, name: str) -> JsonObject:
        return self.get_asset("computes", name)

    def list_computes(self) -> Iterator[JsonObject]:
        return self.list_assets("computes")

    # -- datastore files -----------------------------------------------------------------
    def upload_dir(self, datastore: str, local_dir: Path, remote_path: str) -> None:
        """Upload a folder's contents (or one file) under ``remote_path`` on ``datastore``."""
        self.request(
            "POST",
            self._path("datastores", datastore, "upload"),
            params={"path": remote_path},
            content=tar_gz(Path(local_dir)),
            headers={"Content-Type": "application/gzip"},
        )

    def put_file(self, datastore: str, path: str, data: bytes) -> None:
        self.request(
            "PUT",
            self._path("datastores", datastore, "files", path.lstrip("/")),
            content=data,
            headers={"Content-Type": "application/octet-stream"},
        )

    def get_file(self, datastore: str, path: str, offset: int = 0) -> bytes:
        params = {"offset": offset} if offset else None
        return self.request(
            "GET", self._path("datastores", datastore, "files", path.lstrip("/")), params=params
        ).content

    def list_files(self, datastore: str, path: str) -> list[JsonObject]:
        data = self._json("GET", self._path("datastores", datastore, "list"), params={"path": path})
        return objects(data.get("value"))
