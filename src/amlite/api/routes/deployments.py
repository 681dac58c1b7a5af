"""``Microsoft.Resources/deployments`` at resource-group scope (Deployments_* of ARM)."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, TypeVar

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import JSONResponse

from amlite.api.auth import Principal
from amlite.api.deps import json_body, principal, query_ci, runtime
from amlite.deployments.engine import DeploymentRequestError
from amlite.deployments.service import Deployments
from amlite.errors import ValidationFailed
from amlite.services.paging import next_link

MIN_API_VERSION = "2019-10-01"
_API_VERSION = re.compile(r"^\d{4}-\d{2}-\d{2}(-preview)?$")
RETRY_AFTER_SECONDS = 1


async def deployments_api_version(request: Request, _: Principal = Depends(principal)) -> str:
    value = request.query_params.get("api-version")
    if not value:
        raise ValidationFailed.one("api-version", "the api-version query parameter is required")
    if not _API_VERSION.match(value) or value[:10] < MIN_API_VERSION:
        raise ValidationFailed.one(
            "api-version",
            f"unsupported api-version '{value}' for Microsoft.Resources/deployments; amlite "
            f"serves {MIN_API_VERSION} and later",
        )
    return value


router = APIRouter(dependencies=[Depends(deployments_api_version)])
BASE = (
    "/subscriptions/{subscription}/resourceGroups/{resource_group}"
    "/providers/Microsoft.Resources/deployments"
)
ONE = BASE + "/{name}"

T = TypeVar("T")


def service(request: Request) -> Deployments:
    deployments: Deployments = request.app.state.deployments
    return deployments


def _answer(call: Callable[[], T]) -> T | JSONResponse:
    """Run a service call; a refused template answers 400 with one detail per problem."""
    try:
        return call()
    except DeploymentRequestError as exc:
        return JSONResponse(exc.envelope(), status_code=exc.status_code)


def _status_url(request: Request, subscription: str, resource_group: str, name: str) -> str:
    base = runtime(request).public_url
    version = request.query_params.get("api-version")
    return (
        f"{base}/subscriptions/{subscription}/resourcegroups/{resource_group}/providers/"
        f"Microsoft.Resources/deployments/{name}/operationStatuses/{name}?api-version={version}"
    )


def _top(request: Request) -> int | None:
    top = query_ci(request, "$top")
    return int(top) if top and top.isdigit() else None


@router.put(ONE)
def put_deployment(
    subscription: str,
    resource_group: str,
    name: str,
    request: Request,
    body: Any = Depends(json_body),
    who: Principal = Depends(principal),
) -> Response:
    who.require_admin()
    result = _answer(lambda: service(request).create(subscription, resource_group, name, body))
    if isinstance(result, JSONResponse):
        return result
    resource, created = result
    return JSONResponse(
        resource,
        status_code=201 if created else 200,
        headers={
            "Azure-AsyncOperation": _status_url(request, subscription, resource_group, name),
            "Retry-After": str(RETRY_AFTER_SECONDS),
        },
    )


@router.get(ONE)
def get_deployment(
    subscription: str,
    resource_group: str,
    name: str,
    request: Request,
    who: Principal = Depends(principal),
) -> dict[str, Any]:
    who.require_admin()
    return service(request).get(subscription, resource_group, name)


@router.head(ONE)
def check_existence(
    subscription: str,
    resource_group: str,
    name: str,
    request: Request,
    who: Principal = Depends(principal),
) -> Response:
    who.require_admin()
    found = service(request).exists(subscription, resource_group, name)
    return Response(status_code=204 if found else 404)


@router.get(ONE + "/operationStatuses/{operation}")
def operation_status(
    subscription: str,
    resource_group: str,
    name: str,
    operation: str,
    request: Request,
    who: Principal = Depends(principal),
) -> dict[str, Any]:
    who.require_admin()
    return service(request).status(subscription, resource_group, name)


@router.get(BASE)
def list_deployments(
    subscription: str, resource_group: str, request: Request, who: Principal = Depends(principal)
) -> dict[str, Any]:
    who.require_admin()
    value, more = service(request).list_page(
        subscription, resource_group, skiptoken=query_ci(request, "$skiptoken"), top=_top(request)
    )
    return {"value": value, "nextLink": _next(request, more)}


def _next(request: Request, more: int | None) -> str | None:
    if more is None:
        return None
    return next_link(
        runtime(request).public_url, request.url.path, dict(request.query_params), more
    )


@router.delete(ONE)
def delete_deployment(
    subscription: str,
    resource_group: str,
    name: str,
    request: Request,
    who: Principal = Depends(principal),
) -> Response:
    who.require_admin()
    service(request).delete(subscription, resource_group, name)
    return Response(status_code=204)


@router.post(ONE + "/cancel")
def cancel_deployment(
    subscription: str,
    resource_group: str,
    name: str,
    request: Request,
    who: Principal = Depends(principal),
) -> Response:
    who.require_admin()
    service(request).cancel(subscription, resource_group, name)
    return Response(status_code=204)


@router.post(ONE + "/validate")
def validate_deployment(
    subscription: str,
    resource_group: str,
    name: str,
    request: Request,
    body: Any = Depends(json_body),
    who: Principal = Depends(principal),
) -> Any:
    who.require_admin()
    return _answer(lambda: service(request).validate(subscription, resource_group, name, body))


@router.post(ONE + "/whatIf")
def what_if(
    subscription: str,
    resource_group: str,
    name: str,
    request: Request,
    body: Any = Depends(json_body),
    who: Principal = Depends(principal),
) -> Any:
    who.require_admin()
    return _answer(lambda: service(request).what_if(subscription, resource_group, name, body))


OPS_SHORT = "/subscriptions/{subscription}/resourceGroups/{resource_group}/deployments/{name}"
"""Deployment operations are also served without ``providers/Microsoft.Resources`` (as ARM
does; Azure's client uses this form)."""


@router.get(OPS_SHORT + "/operations")
@router.get(ONE + "/operations")
def list_operations(
    subscription: str,
    resource_group: str,
    name: str,
    request: Request,
    who: Principal = Depends(principal),
) -> dict[str, Any]:
    who.require_admin()
    value, more = service(request).operations(
        subscription,
        resource_group,
        name,
        skiptoken=query_ci(request, "$skiptoken"),
        top=_top(request),
    )
    return {"value": value, "nextLink": _next(request, more)}


@router.get(OPS_SHORT + "/operations/{operation_id}")
@router.get(ONE + "/operations/{operation_id}")
def get_operation(
    subscription: str,
    resource_group: str,
    name: str,
    operation_id: str,
    request: Request,
    who: Principal = Depends(principal),
) -> dict[str, Any]:
    who.require_admin()
    return service(request).operation(subscription, resource_group, name, operation_id)
