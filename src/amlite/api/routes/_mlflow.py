"""Plumbing of the MLflow routes: MLflow's error shape, bodies, and the tracking service.

These routes are MLflow's API, not ARM's: every error is ``{"error_code", "message"}`` with
MLflow's HTTP status, including auth failures and malformed requests, never a 500 for bad
input. ``MlflowRoute`` does the conversion for every route of a router that uses it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Coroutine, Mapping
from typing import Any

from fastapi import Depends, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute

from amlite.api.auth import Principal
from amlite.api.bodies import MAX_JSON_BYTES, parse_json, read_capped
from amlite.api.deps import principal, runtime
from amlite.api.errors import challenge, unavailable_headers
from amlite.errors import RequestError
from amlite.services.mlflow_wire import (
    INTERNAL_ERROR,
    INVALID_PARAMETER_VALUE,
    PERMISSION_DENIED,
    RESOURCE_DOES_NOT_EXIST,
    TEMPORARILY_UNAVAILABLE,
    UNAUTHENTICATED,
    MlflowError,
    invalid,
    require_object,
)
from amlite.services.tracking import Tracking
from amlite.services.workspaces import check_workspace
from amlite.store.availability import unavailable_reason

log = logging.getLogger("amlite.api.mlflow")

_CODE_OF_STATUS = {401: UNAUTHENTICATED, 403: PERMISSION_DENIED, 404: RESOURCE_DOES_NOT_EXIST}


def mlflow_error_response(exc: Exception) -> JSONResponse:
    """The MLflow answer to an exception raised while serving an MLflow route."""
    if isinstance(exc, MlflowError):
        return JSONResponse(exc.body(), status_code=exc.status)
    if isinstance(exc, RequestError):
        code = _CODE_OF_STATUS.get(exc.status_code, INVALID_PARAMETER_VALUE)
        status = exc.status_code if exc.status_code in (401, 403, 404, 413) else 400
        headers = challenge(exc.message) if status == 401 else None
        return JSONResponse(
            {"error_code": code, "message": exc.message}, status_code=status, headers=headers
        )
    reason = unavailable_reason(exc)
    if reason is not None:
        log.warning("MLflow route: %s", reason)
        return JSONResponse(
            {"error_code": TEMPORARILY_UNAVAILABLE, "message": f"{reason}; try again later"},
            status_code=503,
            headers=unavailable_headers(),
        )
    if isinstance(exc, RequestValidationError):
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e.get('loc', ()))}: {e.get('msg')}" for e in exc.errors()
        )
        return JSONResponse(
            {"error_code": INVALID_PARAMETER_VALUE, "message": problems or "invalid request"},
            status_code=400,
        )
    log.exception("unexpected error in an MLflow route", exc_info=exc)
    return JSONResponse(
        {
            "error_code": INTERNAL_ERROR,
            "message": f"amlite hit an unexpected error: {type(exc).__name__}",
        },
        status_code=500,
    )


class MlflowRoute(APIRoute):
    """An ``APIRoute`` whose errors (auth, validation, service) use MLflow's shape."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        original = super().get_route_handler()

        async def handler(request: Request) -> Response:
            try:
                return await original(request)
            except Exception as exc:  # every failure answers in MLflow's shape
                return mlflow_error_response(exc)

        return handler


async def tracking(request: Request) -> Tracking:
    """The tracking service, scoped to the workspace of a workspace-scoped tracking URI."""
    rt = runtime(request)
    p = request.path_params
    scope = None
    if "workspace" in p:
        scope = check_workspace(p["subscription"], p["resource_group"], p["workspace"])
    return Tracking(rt.store, rt.settings, scope)


async def mlflow_body(request: Request, _: Principal = Depends(principal)) -> Mapping[str, Any]:
    """The JSON object of a POST, read only once the caller is authenticated (MLflow's rules:
    bad JSON or no object is a 400; the limits of ``amlite.api.bodies``, with MLflow's
    ``NaN``/``Infinity`` metric values allowed)."""
    raw = await read_capped(request, MAX_JSON_BYTES)
    return require_object(parse_json(raw, allow_non_finite=True, free_text=True))


def query(request: Request, *names: str) -> str:
    """The first present query parameter among ``names`` (MLflow sends run_id and run_uuid)."""
    for name in names:
        value = request.query_params.get(name)
        if value:
            return value
    raise invalid(f"Missing value for required parameter '{names[0]}'")
