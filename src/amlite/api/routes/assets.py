"""Assets: ``codes``, ``data``, ``environments`` (containers and versions), ``datastores``,
``computes``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import JSONResponse

from amlite.api.auth import Principal
from amlite.api.deps import (
    WS_PREFIX,
    api_version,
    json_body,
    principal,
    query_ci,
    runtime,
    workspace,
)
from amlite.api.params import query_int
from amlite.domain.arm_id import WorkspaceRef
from amlite.services.assets import PLAIN_KINDS, VERSIONED_KINDS, Page
from amlite.services.paging import next_link

router = APIRouter(dependencies=[Depends(api_version)])


def _page(request: Request, page: Page) -> dict[str, Any]:
    rt = runtime(request)
    link = (
        next_link(rt.public_url, request.url.path, dict(request.query_params), page.next_seq)
        if page.next_seq is not None
        else None
    )
    return {"value": page.value, "nextLink": link}


def _top(request: Request) -> int | None:
    return query_int(request, "$top", "count")


def _add_kind(kind: str, versioned: bool) -> None:
    base = f"{WS_PREFIX}/{kind}"

    def list_items(
        request: Request, ws: WorkspaceRef = Depends(workspace), who: Principal = Depends(principal)
    ) -> dict[str, Any]:
        who.require_admin()
        page = runtime(request).assets.list(
            ws, kind, skiptoken=query_ci(request, "$skiptoken"), top=_top(request)
        )
        return _page(request, page)

    def get_item(
        name: str,
        request: Request,
        ws: WorkspaceRef = Depends(workspace),
        who: Principal = Depends(principal),
    ) -> dict[str, Any]:
        who.require_admin()
        return runtime(request).assets.get(ws, kind, name)

    def put_item(
        name: str,
        request: Request,
        body: Any = Depends(json_body),
        ws: WorkspaceRef = Depends(workspace),
        who: Principal = Depends(principal),
    ) -> JSONResponse:
        who.require_admin()
        resource, created = runtime(request).assets.put(ws, kind, name, None, body)
        return JSONResponse(resource, status_code=201 if created else 200)

    def delete_item(
        name: str,
        request: Request,
        ws: WorkspaceRef = Depends(workspace),
        who: Principal = Depends(principal),
    ) -> Response:
        who.require_admin()
        deleted = runtime(request).assets.delete(ws, kind, name)
        return Response(status_code=200 if deleted else 204)

    _route(base, "GET", list_items, f"list_{kind}")
    _route(base + "/{name}", "GET", get_item, f"get_{kind}")
    _route(base + "/{name}", "PUT", put_item, f"put_{kind}")
    _route(base + "/{name}", "DELETE", delete_item, f"delete_{kind}")
    if versioned:
        _add_versions(kind, base)


def _add_versions(kind: str, base: str) -> None:
    def list_versions(
        name: str,
        request: Request,
        ws: WorkspaceRef = Depends(workspace),
        who: Principal = Depends(principal),
    ) -> dict[str, Any]:
        who.require_admin()
        page = runtime(request).assets.list(
            ws, kind, name=name, skiptoken=query_ci(request, "$skiptoken"), top=_top(request)
        )
        return _page(request, page)

    def get_version(
        name: str,
        version: str,
        request: Request,
        ws: WorkspaceRef = Depends(workspace),
        who: Principal = Depends(principal),
    ) -> dict[str, Any]:
        who.require_admin()
        return runtime(request).assets.get(ws, kind, name, version)

    def put_version(
        name: str,
        version: str,
        request: Request,
        body: Any = Depends(json_body),
        ws: WorkspaceRef = Depends(workspace),
        who: Principal = Depends(principal),
    ) -> JSONResponse:
        who.require_admin()
        resource, created = runtime(request).assets.put(ws, kind, name, version, body)
        return JSONResponse(resource, status_code=201 if created else 200)

    def delete_version(
        name: str,
        version: str,
        request: Request,
        ws: WorkspaceRef = Depends(workspace),
        who: Principal = Depends(principal),
    ) -> Response:
        who.require_admin()
        deleted = runtime(request).assets.delete(ws, kind, name, version)
        return Response(status_code=200 if deleted else 204)

    path = base + "/{name}/versions"
    _route(path, "GET", list_versions, f"list_{kind}_versions")
    _route(path + "/{version}", "GET", get_version, f"get_{kind}_version")
    _route(path + "/{version}", "PUT", put_version, f"put_{kind}_version")
    _route(path + "/{version}", "DELETE", delete_version, f"delete_{kind}_version")


@router.post(WS_PREFIX + "/datastores/{name}/listSecrets")
def list_datastore_secrets(
    name: str,
    request: Request,
    ws: WorkspaceRef = Depends(workspace),
    who: Principal = Depends(principal),
) -> dict[str, Any]:
    """A datastore's secrets: an action of its own, as in ARM (GET never returns them)."""
    who.require_admin()
    return runtime(request).assets.list_secrets(ws, name)


def _route(path: str, method: str, endpoint: Callable[..., Any], name: str) -> None:
    router.add_api_route(path, endpoint, methods=[method], name=name)


for _kind in VERSIONED_KINDS:
    _add_kind(_kind, versioned=True)
for _kind in PLAIN_KINDS:
    _add_kind(_kind, versioned=False)
