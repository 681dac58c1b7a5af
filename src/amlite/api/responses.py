"""JSON responses rendered in one pass by pydantic-core's serializer.

A route that returns a plain ``dict`` pays FastAPI a response-model validation on a worker
thread (one more thread hop for a sync route) and then a second walk to render it. Routes on
hot paths return ``json_response(...)`` instead: the same JSON (UTF-8, compact, integers of
any size), rendered about 3x faster than ``json.dumps`` and with no extra hop.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fastapi import Response
from pydantic_core import to_json


def json_response(
    content: Any, status_code: int = 200, headers: Mapping[str, str] | None = None
) -> Response:
    return Response(
        to_json(content), status_code=status_code, headers=headers, media_type="application/json"
    )
