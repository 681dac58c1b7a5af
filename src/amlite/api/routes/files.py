"""amlite extension: files on a workspace's local datastores, so a remote client needs no
shared disk (the CLI uploads code and data here, and reads job logs and outputs)."""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from typing import Any, TypeVar

from fastapi import APIRouter, Depends, Request, Response
from fastapi.concurrency import run_in_threadpool

from amlite.api.auth import Principal
from amlite.api.bodies import check_declared_size
from amlite.api.deps import WS_PREFIX, api_version, principal, query_ci, runtime, workspace
from amlite.api.params import INT64_MAX, query_int
from amlite.data.backends import AzureUnavailable, DatastoreBackend, blob_name
from amlite.data.paths import PathEscapeError, TooLargeError
from amlite.domain.arm_id import WorkspaceRef
from amlite.errors import NotFound, PayloadTooLarge, ServiceUnavailable, ValidationFailed
from amlite.services.datastores import backend_for
from amlite.services.node_access import check_file_access

router = APIRouter(dependencies=[Depends(api_version)])
BASE = WS_PREFIX + "/datastores/{name}"
MAX_READ = 8 * 1024 * 1024
T = TypeVar("T")


def _backend(request: Request, ws: WorkspaceRef, name: str) -> DatastoreBackend:
    rt = runtime(request)
    rt.assets.get(ws, "datastores", name)  # 404 if the datastore does not exist
    return backend_for(rt.store, rt.settings, ws.key, name)


def _authorize(
    request: Request, who: Principal, ws: WorkspaceRef, name: str, path: str, write: bool
) -> None:
    """The admin token may do anything; a job's token what its Ray nodes were granted
    (``services.node_access``)."""
    rt = runtime(request)
    check_file_access(
        rt.store, rt.settings, who.workspace_key, who.job_name, ws.key, name, path, write
    )


def _call(target: str, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """``fn(*args)``, with a bad path as a 400 naming ``target`` (unless ``target`` is empty)
    and storage errors as 503."""
    try:
        return fn(*args, **kwargs)
    except PathEscapeError as exc:
        if not target:
            raise
        raise ValidationFailed.one(target, str(exc)) from None
    except AzureUnavailable as exc:
        raise ServiceUnavailable(str(exc)) from None
    except Exception as exc:
        if type(exc).__module__.startswith("azure."):
            raise ServiceUnavailable(
                f"the datastore's storage failed: {type(exc).__name__}: {exc}"
            ) from None
        raise


@router.post(BASE + "/upload")
async def upload_archive(
    name: str,
    request: Request,
    ws: WorkspaceRef = Depends(workspace),
    who: Principal = Depends(principal),
) -> dict[str, Any]:
    """Extract a ``.tar.gz`` body into ``path`` on the datastore; all of it or nothing."""
    who.require_admin()
    limit = runtime(request).settings.max_upload_bytes
    check_declared_size(request, limit, "upload")
    backend = await run_in_threadpool(_backend, request, ws, name)
    relative = query_ci(request, "path") or ""
    _call("path", blob_name, relative)
    with tempfile.SpooledTemporaryFile(max_size=16 * 1024 * 1024) as spool:
        size = 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise PayloadTooLarge(f"the upload is larger than {limit} bytes", target="body")
            spool.write(chunk)
        spool.seek(0)
        try:
            count = await run_in_threadpool(
                _call, "", backend.extract_archive, spool, relative, limit
            )
        except ServiceUnavailable:
            raise
        except PathEscapeError as exc:
            raise ValidationFailed.one("body", f"the archive is refused: {exc}") from None
        except TooLargeError as exc:
            raise PayloadTooLarge(str(exc), target="body") from None
        except (OSError, EOFError, ValueError) as exc:
            raise ValidationFailed.one("body", f"not a readable .tar.gz archive: {exc}") from None
    return {"path": relative, "files": count}


@router.put(BASE + "/files/{path:path}")
async def put_file(
    name: str,
    path: str,
    request: Request,
    ws: WorkspaceRef = Depends(workspace),
    who: Principal = Depends(principal),
) -> Response:
    await run_in_threadpool(_authorize, request, who, ws, name, path, True)
    limit = runtime(request).settings.max_upload_bytes
    check_declared_size(request, limit, "upload")
    backend = await run_in_threadpool(_backend, request, ws, name)
    _call("path", blob_name, path)
    with tempfile.SpooledTemporaryFile(max_size=16 * 1024 * 1024) as spool:
        size = 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise PayloadTooLarge(f"the upload is larger than {limit} bytes", target="body")
            spool.write(chunk)
        spool.seek(0)
        await run_in_threadpool(_call, "path", backend.write, path, spool)
    return Response(status_code=201)


@router.get(BASE + "/files/{path:path}")
def get_file(
    name: str,
    path: str,
    request: Request,
    ws: WorkspaceRef = Depends(workspace),
    who: Principal = Depends(principal),
) -> Response:
    """The file's bytes from byte ``offset`` (at most 8 MiB a call); header
    ``x-amlite-file-size`` tells the whole size, so a reader can follow a growing log."""
    _authorize(request, who, ws, name, path, write=False)
    backend = _backend(request, ws, name)
    offset = query_int(request, "offset", maximum=INT64_MAX) or 0
    found = _call("path", backend.read, path, offset, MAX_READ)
    if found is None:
        raise NotFound(f"no file '{path}' on datastore {name}", target="path")
    data, size = found
    return Response(
        content=data,
        media_type="application/octet-stream",
        headers={"x-amlite-file-size": str(size), "x-amlite-offset": str(min(offset, size))},
    )


@router.get(BASE + "/list")
def list_files(
    name: str,
    request: Request,
    ws: WorkspaceRef = Depends(workspace),
    who: Principal = Depends(principal),
) -> dict[str, Any]:
    """Every file below ``path`` (relative paths and sizes)."""
    relative = query_ci(request, "path") or ""
    _authorize(request, who, ws, name, relative, write=False)
    backend = _backend(request, ws, name)
    items = _call("path", backend.list_files, relative)
    return {"value": [{"path": item.path, "size": item.size} for item in items]}
