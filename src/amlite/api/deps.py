"""Request-level helpers shared by the routes: the runtime, auth, api-version, JSON bodies."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from fastapi import Depends, Request

from amlite import API_VERSION
from amlite.api.auth import Authenticator, Principal
from amlite.config import Settings
from amlite.domain.arm_id import WorkspaceRef
from amlite.errors import PayloadTooLarge, ValidationFailed
from amlite.services.assets import Assets
from amlite.services.jobs import Jobs
from amlite.services.workspaces import check_workspace
from amlite.store import Store

WS_PREFIX = (
    "/subscriptions/{subscription}/resourceGroups/{resource_group}"
    "/providers/Microsoft.MachineLearningServices/workspaces/{workspace}"
)
MAX_JSON_BYTES = 4 * 1024 * 1024


@dataclass
class Runtime:
    settings: Settings
    store: Store
    jobs: Jobs
    assets: Assets
    authenticate: Authenticator
    public_url: str


def runtime(request: Request) -> Runtime:
    rt: Runtime = request.app.state.runtime
    return rt


def principal(request: Request) -> Principal:
    return runtime(request).authenticate(request)


def api_version(request: Request, _: Principal = Depends(principal)) -> str:
    value = request.query_params.get("api-version")
    if not value:
        raise ValidationFailed.one("api-version", "the api-version query parameter is required")
    if value != API_VERSION:
        raise ValidationFailed.one(
            "api-version", f"unsupported api-version '{value}'; amlite serves {API_VERSION}"
        )
    return value


def workspace(subscription: str, resource_group: str, workspace: str) -> WorkspaceRef:
    return check_workspace(subscription, resource_group, workspace)


async def json_body(request: Request) -> Any:
    raw = await request.body()
    if len(raw) > MAX_JSON_BYTES:
        raise PayloadTooLarge(f"the body is larger than {MAX_JSON_BYTES} bytes", target="body")
    if not raw.strip():
        raise ValidationFailed.one("body", "a JSON body is required")
    try:
        return json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ValidationFailed.one("body", f"malformed JSON: {exc}") from None


def query_ci(request: Request, name: str) -> str | None:
    """A query parameter by case-insensitive name (clients send $skipToken and $skiptoken)."""
    lowered = name.lower()
    for key, value in request.query_params.items():
        if key.lower() == lowered:
            return value
    return None
