"""ARM paths are case-insensitive in their fixed segments: rewrite them to one spelling."""

from __future__ import annotations

from typing import Any

from starlette.types import ASGIApp, Receive, Scope, Send

_CANONICAL = {
    word.lower(): word
    for word in (
        "subscriptions",
        "resourceGroups",
        "providers",
        "Microsoft.MachineLearningServices",
        "workspaces",
        "jobs",
        "codes",
        "data",
        "environments",
        "datastores",
        "computes",
        "versions",
        "cancel",
        "files",
        "list",
        "upload",
        "deletion",
        "history",
        "Microsoft.Resources",
        "deployments",
        "operations",
        "operationStatuses",
        "validate",
        "whatIf",
    )
}
_FIXED_POSITIONS = (0, 2, 4, 5, 6, 8, 10)
"""Indexes of the keyword segments of
/subscriptions/{s}/resourceGroups/{rg}/providers/{p}/workspaces/{ws}/{kind}/{name}/{action}"""


def canonical_path(path: str) -> str:
    parts = path.split("/")
    if len(parts) < 2 or parts[1].lower() != "subscriptions":
        return path
    for pos in _FIXED_POSITIONS:
        i = pos + 1
        if i < len(parts):
            parts[i] = _CANONICAL.get(parts[i].lower(), parts[i])
    return "/".join(parts)


class CanonicalPaths:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            path = canonical_path(scope["path"])
            if path != scope["path"]:
                scope = dict[str, Any](scope)
                scope["path"] = path
        await self.app(scope, receive, send)
