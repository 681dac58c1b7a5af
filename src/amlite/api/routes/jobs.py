"""``{workspace}/jobs``: PUT, GET, LIST, DELETE, POST cancel (Jobs_* operations of mfe.json)."""

from __future__ import annotations

import functools

from fastapi import APIRouter, Depends, Request, Response
from pydantic_core import to_json

from amlite.api.auth import Principal
from amlite.api.deps import (
    WS_PREFIX,
    api_version,
    path_workspace,
    principal,
    query_ci,
    read_json,
    require_api_version,
    runtime,
    workspace,
)
from amlite.api.params import query_int
from amlite.api.responses import json_response
from amlite.domain.arm_id import WorkspaceRef
from amlite.errors import NotFound
from amlite.services.paging import next_link

router = APIRouter(dependencies=[Depends(api_version)])
JOBS = WS_PREFIX + "/jobs"
RETRY_AFTER_SECONDS = 10  # the spec's minimum for Jobs_Delete


# -- the hot routes: plain Starlette endpoints --------------------------------------------
# PUT, GET and LIST of jobs are what clients call most (every CLI stream poll, every studio
# refresh, every submission). FastAPI's dependency injection cost a GET about a quarter of
# its CPU (solving four dependencies and validating the path parameters), so these three
# are plain ``async def endpoint(request)`` routes doing the same checks, in the same order,
# as the dependencies of the other routes: the caller (401), the api-version, the body (PUT),
# the workspace path. Errors still reach the app's handlers (ARM envelope). They are left
# out of ``/openapi.json`` (mfe.json describes them).


async def put_job(request: Request) -> Response:
    who = await principal(request)
    require_api_version(request)
    body = await read_json(request)
    ws = path_workspace(request)
    who.require_admin()
    rt = runtime(request)
    resource, created = await rt.jobs.submit(
        ws, request.path_params["name"], body, local_reads=rt.local_reads
    )
    return json_response(resource, status_code=201 if created else 200)


async def get_job(request: Request) -> Response:
    who = await principal(request)
    require_api_version(request)
    ws = path_workspace(request)
    name: str = request.path_params["name"]
    who.require_job(ws.key, name)
    rt = runtime(request)
    body = await rt.read(rt.jobs.get_rendered, ws, name)
    return Response(body, media_type="application/json")


async def list_jobs(request: Request) -> Response:
    who = await principal(request)
    require_api_version(request)
    ws = path_workspace(request)
    who.require_admin()
    rt = runtime(request)
    page = await rt.read(
        functools.partial(
            rt.jobs.list,
            ws,
            job_type=query_ci(request, "jobType"),
            tag=query_ci(request, "tag"),
            tags=query_ci(request, "tags"),
            skiptoken=query_ci(request, "$skiptoken"),
            top=query_int(request, "$top"),
            parent_name=query_ci(request, "parentJobName"),
            experiment=query_ci(request, "experimentName"),
            status=query_ci(request, "status"),
        )
    )
    link = (
        next_link(rt.public_url, request.url.path, dict(request.query_params), page.next_seq)
        if page.next_seq is not None
        else None
    )
    body = b'{"value":[' + b",".join(page.value) + b'],"nextLink":' + to_json(link) + b"}"
    return Response(body, media_type="application/json")


router.add_route(JOBS + "/{name}", put_job, methods=["PUT"], include_in_schema=False)
router.add_route(JOBS + "/{name}", get_job, methods=["GET"], include_in_schema=False)
router.add_route(JOBS, list_jobs, methods=["GET"], include_in_schema=False)


@router.post(JOBS + "/{name}/cancel")
def cancel_job(
    name: str,
    request: Request,
    ws: WorkspaceRef = Depends(workspace),
    who: Principal = Depends(principal),
) -> Response:
    who.require_job(ws.key, name)
    runtime(request).jobs.cancel(ws, name)
    return Response(status_code=200)


@router.delete(JOBS + "/{name}")
def delete_job(
    name: str,
    request: Request,
    ws: WorkspaceRef = Depends(workspace),
    who: Principal = Depends(principal),
) -> Response:
    """202 + ``Location`` while the job is cancelled and removed; 204 if there is no such job
    (ARM's contract: deleting what does not exist succeeds, so SDK pollers end cleanly)."""
    who.require_admin()
    rt = runtime(request)
    try:
        rt.jobs.record(ws, name)
    except NotFound:
        return Response(status_code=204)
    rt.jobs.delete(ws, name)
    return _deletion_pending(rt.public_url, request)


@router.get(JOBS + "/{name}/deletion")
def deletion_status(
    name: str,
    request: Request,
    ws: WorkspaceRef = Depends(workspace),
    who: Principal = Depends(principal),
) -> Response:
    """The ``Location`` of a job deletion: 202 while it runs, 204 once the job is gone."""
    who.require_admin()
    rt = runtime(request)
    if rt.jobs.delete(ws, name):
        return Response(status_code=204)
    return _deletion_pending(rt.public_url, request)


@router.get(JOBS + "/{name}/history")
def job_history(
    name: str,
    request: Request,
    ws: WorkspaceRef = Depends(workspace),
    who: Principal = Depends(principal),
) -> Response:
    """amlite extension: every status the job went through, with times, and why it ended."""
    who.require_job(ws.key, name)
    rt = runtime(request)
    record = rt.jobs.record(ws, name)
    return json_response(
        {
            "value": rt.jobs.history(ws, name),
            "status": record.status.value,
            "reason": record.status_reason,
            "queueReason": rt.jobs.queue_reason(record),
            "exitCode": record.exit_code,
        }
    )


def _deletion_pending(public_url: str, request: Request) -> Response:
    path = request.url.path.rstrip("/")
    if not path.endswith("/deletion"):
        path += "/deletion"
    location = f"{public_url}{path}?api-version={request.query_params.get('api-version')}"
    return Response(
        status_code=202,
        headers={
            "Location": location,
            "Retry-After": str(RETRY_AFTER_SECONDS),
            "x-ms-async-operation-timeout": "PT5M",
        },
    )
