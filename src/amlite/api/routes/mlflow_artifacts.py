"""MLflow's proxied artifact endpoints (``mlflow-artifacts:`` URIs), onto a job's ``outputs/``.

A run's ``artifact_uri`` is ``mlflow-artifacts:/{sub}/{rg}/{ws}/{job}``; the client turns
``mlflow.log_artifact("f.txt")`` into
``PUT .../mlflow-artifacts/artifacts/{sub}/{rg}/{ws}/{job}/f.txt``, which lands in
``ExperimentRun/dcid.{job}/outputs/f.txt`` on ``workspaceblobstore``. Reads and writes follow
the run's rules (a job's token: its own run only, writes until the job ends).
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import FileResponse
from starlette.concurrency import run_in_threadpool

from amlite.api.auth import Principal
from amlite.api.bodies import check_declared_size
from amlite.api.deps import principal, runtime
from amlite.api.routes._mlflow import MlflowRoute, query, tracking
from amlite.services.mlflow_wire import RESOURCE_DOES_NOT_EXIST, MlflowError
from amlite.services.tracking import Tracking

router = APIRouter(route_class=MlflowRoute)


@router.put("/artifacts/{path:path}")
async def upload_artifact(
    path: str,
    request: Request,
    who: Principal = Depends(principal),
    tr: Tracking = Depends(tracking),
) -> dict[str, Any]:
    limit = runtime(request).settings.max_upload_bytes
    check_declared_size(request, limit, "artifact")
    _, target = await run_in_threadpool(lambda: tr.artifact_target(who, path, write=True))
    if target.is_dir():
        raise MlflowError("INVALID_PARAMETER_VALUE", f"{path!r} is a folder of artifacts")
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".upload-")
    try:
        size = 0
        with os.fdopen(fd, "wb") as out:
            async for chunk in request.stream():
                size += len(chunk)
                if size > limit:
                    raise MlflowError(
                        "INVALID_PARAMETER_VALUE", f"the artifact is larger than {limit} bytes", 413
                    )
                out.write(chunk)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return {}


@router.get("/artifacts/{path:path}")
def download_artifact(
    path: str, who: Principal = Depends(principal), tr: Tracking = Depends(tracking)
) -> FileResponse:
    _, target = tr.artifact_target(who, path)
    if not target.is_file():
        raise MlflowError(RESOURCE_DOES_NOT_EXIST, f"no artifact at {path!r}")
    return FileResponse(target, media_type="application/octet-stream")


@router.get("/artifacts")
def list_artifacts(
    request: Request, who: Principal = Depends(principal), tr: Tracking = Depends(tracking)
) -> dict[str, Any]:
    """The entries of one folder, paths relative to it (what MLflow's server answers)."""
    _, folder = tr.artifact_target(who, query(request, "path"))
    if folder.is_file():
        return {
            "files": [{"path": folder.name, "is_dir": False, "file_size": folder.stat().st_size}]
        }
    if not folder.is_dir():
        return {"files": []}
    files: list[dict[str, Any]] = []
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if entry.name.startswith(".upload-") or entry.is_symlink():
            continue
        if entry.is_dir():
            files.append({"path": entry.name, "is_dir": True})
        else:
            files.append({"path": entry.name, "is_dir": False, "file_size": entry.stat().st_size})
    return {"files": files}
