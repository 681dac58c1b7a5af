"""Every error answer uses the ARM envelope; no input yields a 500."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from amlite import schemas
from amlite.errors import InvalidTransition, RequestError, ValidationFailed, Violation
from amlite.store.availability import RETRY_AFTER_SECONDS, STORE_ERRORS, unavailable_reason

log = logging.getLogger("amlite.api")


def envelope(code: str, message: str, target: str | None = None) -> dict[str, object]:
    return {"error": {"code": code, "message": message, "target": target, "details": []}}


def challenge(message: str) -> dict[str, str]:
    """The ``WWW-Authenticate`` header of a 401 (RFC 6750, as ARM sends it)."""
    description = message.replace("\\", "").replace('"', "'")
    return {
        "WWW-Authenticate": (
            f'Bearer realm="amlite", error="invalid_token", error_description="{description}"'
        )
    }


def unavailable_headers() -> dict[str, str]:
    return {"Retry-After": str(RETRY_AFTER_SECONDS)}


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(RequestError)
    async def _request_error(_: Request, exc: RequestError) -> JSONResponse:
        headers = challenge(exc.message) if exc.status_code == 401 else None
        return JSONResponse(
            schemas.error_envelope(exc), status_code=exc.status_code, headers=headers
        )

    async def _store_error(request: Request, exc: Exception) -> JSONResponse:
        reason = unavailable_reason(exc)
        if reason is None:
            return await _unexpected(request, exc)
        log.warning("%s %s: %s", request.method, request.url.path, reason)
        return JSONResponse(
            envelope("ServiceUnavailable", f"{reason}; try again later", "database"),
            status_code=503,
            headers=unavailable_headers(),
        )

    for store_error in STORE_ERRORS:
        app.add_exception_handler(store_error, _store_error)

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
    async def _unexpected_error(request: Request, exc: Exception) -> JSONResponse:
        return await _unexpected(request, exc)


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.error("unexpected error on %s %s", request.method, request.url.path, exc_info=exc)
    return JSONResponse(
        envelope("InternalServerError", f"amlite hit an unexpected error: {type(exc).__name__}"),
        status_code=500,
    )
