"""``HEAD`` on anything that answers ``GET``: the same status and headers, no body.

FastAPI routes do not answer ``HEAD`` (405). ARM does, as its existence check: on an ARM
resource path (``/subscriptions/...``) a resource that exists answers ``204 No Content`` and
a missing one ``404``, as ``Resources_CheckExistence`` does; elsewhere (``/health``, MLflow,
the studio) ``HEAD`` answers like ``GET`` without the body, as HTTP says.
"""

from __future__ import annotations

from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

_DROPPED_ON_204 = (b"content-length", b"content-type")


class HeadAsGet:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "HEAD":
            await self.app(scope, receive, send)
            return
        arm = str(scope["path"]).lower().startswith("/subscriptions/")
        as_get = dict[str, Any](scope)
        as_get["method"] = "GET"

        async def send_headers_only(message: Message) -> None:
            if message["type"] == "http.response.start":
                if arm and message["status"] == 200:
                    headers = [
                        (k, v)
                        for k, v in message.get("headers", [])
                        if k.lower() not in _DROPPED_ON_204
                    ]
                    message = {**message, "status": 204, "headers": headers}
                await send(message)
            elif message["type"] == "http.response.body":
                if not message.get("more_body", False):
                    await send({"type": "http.response.body", "body": b"", "more_body": False})
            else:
                await send(message)

        await self.app(as_get, receive, send_headers_only)
