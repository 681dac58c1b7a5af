"""Liveness and readiness: no auth, no api-version, so scripts can wait for the server.

200 when the database can be written; 503 with ``Retry-After`` and the reason while it is
read-only or out of reach (the server keeps running and recovers by itself).
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from amlite import __version__
from amlite.api.deps import runtime
from amlite.api.errors import unavailable_headers

router = APIRouter()


@router.get("/health")
async def health(request: Request) -> JSONResponse:
    rt = runtime(request)
    state = await run_in_threadpool(rt.availability.check, rt.store.probe_writable)
    if state.reason is None:
        return JSONResponse({"status": "ok", "version": __version__, "database": "ok"})
    return JSONResponse(
        {"status": "unavailable", "version": __version__, "database": state.reason},
        status_code=503,
        headers=unavailable_headers(),
    )
