"""Every error answer uses the ARM envelope; no input yields a 500."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from amlite import schemas
from amlite.errors import InvalidTransition, RequestError, ValidationFailed, Violation

log = logging.getLogger("amlite.api")


def envelope(code: str, message: str, target: str | None = None) -> dict[str, object]:
    return {"error": {"code": code, "message": message, "target": target, "details": []}}


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(RequestError)
    async def _request_error(_: Request, exc: RequestError) -> JSONResponse:
        return JSONResponse(schemas.error_envelope(exc), status_code=exc.status_code)

    @app.exception_handler(RequestValidationError)
    async def _fastapi_validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        violations = [
            Violation(
                ".".join(str(p) for p in err.get("loc", ()) if p not in ("path", "query")),
                str(err.get("msg", "invalid")),
            )
            for err in exc.errors()
        ] or [Violation("request", "invalid request")]
        return JSONResponse(schemas.error_envelope(ValidationFailed(violations)), status_code=400)

    @app.exception_handler(InvalidTransition)
    async def _conflict(_: Request, exc: InvalidTransition) -> JSONResponse:
        return JSONResponse(envelope("Conflict", str(exc)), status_code=409)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        if exc.status_code == 404:
            body = envelope("NotFound", f"no such resource or operation: {request.url.path}")
        elif exc.status_code == 405:
            body = envelope(
                "MethodNotAllowed", f"{request.method} is not allowed on {request.url.path}"
            )
        else:
            body = envelope("HttpError", str(exc.detail))
        return JSONResponse(
            body, status_code=exc.status_code, headers=getattr(exc, "headers", None)
        )

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unexpected error on %s %s", request.method, request.url.path)
        return JSONResponse(
            envelope(
                "InternalServerError", f"amlite hit an unexpected error: {type(exc).__name__}"
            ),
            status_code=500,
        )
