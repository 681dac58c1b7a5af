"""Refuse control characters in a request's path and query before any route sees them.

The rule is ``amlite.domain.text``'s: a percent-encoded NUL in a job name or a ``run_id``
would otherwise reach the store (PostgreSQL refuses NUL in text) or a file path. The answer
is a 400 naming the parameter, in the ARM envelope, or in MLflow's shape under ``/mlflow``.
"""

from __future__ import annotations

import json
from urllib.parse import parse_qsl

from starlette.types import ASGIApp, Receive, Scope, Send

from amlite.domain.text import control_char_problem


def url_problem(path: str, query: bytes) -> tuple[str, str] | None:
    """(parameter, problem) of the first control character in the path or the query."""
    problem = control_char_problem(path)
    if problem:
        return "path", problem
    if not query:
        return None
    try:
        pairs = parse_qsl(query.decode("latin-1"), keep_blank_values=True, errors="strict")
    except (UnicodeDecodeError, ValueError):
        return "query", "is not a valid URL query string"
    for key, value in pairs:
        problem = control_char_problem(key) or control_char_problem(value)
        if problem:
            return (key if control_char_problem(key) is None else "query"), problem
    return None


class PlainUrls:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            found = url_problem(scope["path"], scope.get("query_string", b""))
            if found is not None:
                await _refuse(scope, send, *found)
                return
        await self.app(scope, receive, send)


async def _refuse(scope: Scope, send: Send, target: str, problem: str) -> None:
    message = f"{target}: {problem}"
    if str(scope["path"]).startswith("/mlflow"):
        body: object = {"error_code": "INVALID_PARAMETER_VALUE", "message": message}
    else:
        body = {
            "error": {"code": "InvalidValue", "message": message, "target": target, "details": []}
        }
    data = json.dumps(body).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 400,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(data)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": data})
