"""amlite extension: files on a workspace's local datastores, so a remote client needs no
shared disk (the CLI uploads code and data here, and reads job logs and outputs)."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Depends, Request, Response
from fastapi.concurrency import run_in_threadpool

from amlite.api.auth import Principal
from amlite.api.bodies import check_declared_size
from amlite.api.deps import WS_PREFIX, api_version, principal, query_ci, runtime, workspace
from amlite.api.params import INT64_MAX, query_int
from amlite.data.paths import (
    PathEscapeError,
    TooLargeError,
    datastore_root,
    extract_tar_safely,
    safe_join,
)
from amlite.domain.arm_id import WorkspaceRef
from amlite.errors import NotFound, PayloadTooLarge, ValidationFailed

router = APIRouter(dependencies=[Depends(api_version)])
BASE = WS_PREFIX + "/datastores/{name}"
MAX_READ = 8 * 1024 * 1024


def _root(request: Request, ws: WorkspaceRef, name: str) -> Path:
    rt = runtime(request)
    rt.assets.get(ws, "datastores", name)  # 404 if the datastore does not exist
    return datastore_root(rt.settings, ws.key, name)


def _resolve(root: Path, relative: str, target: str) -> Path:
    try:
        return safe_join(root, relative)
    except PathEscapeError as exc:
        raise ValidationFailed.one(target, str(exc)) from None


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
    root = await run_in_threadpool(_root, request, ws, name)
    relative = query_ci(request, "path") or ""
    dest = _resolve(root, relative, "path") if relative else root
    with tempfile.SpooledTemporaryFile(max_size=16 * 1024 * 1024) as spool:
        size = 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise PayloadTooLarge(f"the upload is larger than {limit} bytes", target="body")
            spool.write(chunk)
        spool.seek(0)
        try:
            count = await run_in_threadpool(extract_tar_safely, spool, dest, max_bytes=limit)  # type: ignore[arg-type]
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
    who.require_admin()
    limit = runtime(request).settings.max_upload_bytes
    check_declared_size(request, limit, "upload")
    root = await run_in_threadpool(_root, request, ws, name)
    dest = _resolve(root, path, "path")
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=".upload-")
    size = 0
    try:
        with os.fdopen(fd, "wb") as out:
            async for chunk in request.stream():
                size += len(chunk)
                if size > limit:
                    raise PayloadTooLarge(f"the upload is larger than {limit} bytes", target="body")
                out.write(chunk)
        os.replace(tmp, dest)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
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
    who.require_admin()
    root = _root(request, ws, name)
    file = _resolve(root, path, "path")
    if not file.is_file():
        raise NotFound(f"no file '{path}' on datastore {name}", target="path")
    offset = query_int(request, "offset", maximum=INT64_MAX) or 0
    with file.open("rb") as f:
        size = os.fstat(f.fileno()).st_size
        f.seek(min(offset, size))
        data = f.read(MAX_READ)
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
    who.require_admin()
    root = _root(request, ws, name)
    relative = query_ci(request, "path") or ""
    base = _resolve(root, relative, "path") if relative else root
    if base.is_file():
        return {"value": [{"path": base.name, "size": base.stat().st_size}]}
    items = []
    if base.is_dir():
        for dirpath, _dirs, files in os.walk(base):
            for fname in sorted(files):
                full = Path(dirpath) / fname
                if full.is_file() and not full.is_symlink():
                    rel = full.relative_to(base).as_posix()
                    items.append({"path": rel, "size": full.stat().st_size})
    items.sort(key=lambda item: str(item["path"]))
    return {"value": items}
