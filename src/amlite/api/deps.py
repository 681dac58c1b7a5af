"""Request-level helpers shared by the routes: the runtime, auth, api-version, JSON bodies."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from fastapi import Depends, Request
from starlette.concurrency import run_in_threadpool

from amlite import API_VERSION
from amlite.api.auth import Authenticator, Principal
from amlite.api.bodies import MAX_JSON_BYTES, parse_json, read_capped
from amlite.config import Settings
from amlite.domain.arm_id import WorkspaceRef
from amlite.errors import ValidationFailed
from amlite.services.assets import Assets
from amlite.services.jobs import Jobs
from amlite.services.workspaces import check_workspace
from amlite.store import Store
from amlite.store.availability import AvailabilityProbe

T = TypeVar("T")

WS_PREFIX = (
    "/subscriptions/{subscription}/resourceGroups/{resource_group}"
    "/providers/Microsoft.MachineLearningServices/workspaces/{workspace}"
)


@dataclass
class Runtime:
    settings: Settings
    store: Store
    jobs: Jobs
    assets: Assets
    authenticate: Authenticator
    public_url: str
    availability: AvailabilityProbe = field(default_factory=AvailabilityProbe)
    local_reads: bool = False
    """The store is a SQLite file on this machine: a read is a few hundred microseconds of
    CPU that never waits for a writer (WAL), cheaper on the event loop than the thread hop
    it would take (about 15 % of a GET). On PostgreSQL a read waits for the network, so it
    goes to a worker thread."""

    async def read(self, fn: Callable[..., T], *args: Any) -> T:
        """``fn(*args)``, a read of the store: on the event loop when reads are local."""
        if self.local_reads:
            return fn(*args)
        return await run_in_threadpool(fn, *args)


def runtime(request: Request) -> Runtime:
    rt: Runtime = request.app.state.runtime
    return rt


async def principal(request: Request) -> Principal:
    """The caller. A dependency that runs on the event loop: only a token not seen before
    goes to the store, on a worker thread (a sync dependency would cost a thread hop per
    request, which was a quarter of a GET's CPU)."""
    authenticate = runtime(request).authenticate
    known = authenticate.cached(request)
    if known is not None:
        return known
    return await run_in_threadpool(authenticate, request)


async def api_version(request: Request, _: Principal = Depends(principal)) -> str:
    return require_api_version(request)


def require_api_version(request: Request) -> str:
    """The request's api-version, which must be the one amlite serves."""
    value = request.query_params.get("api-version")
    if not value:
        raise ValidationFailed.one("api-version", "the api-version query parameter is required")
    if value != API_VERSION:
        raise ValidationFailed.one(
            "api-version", f"unsupported api-version '{value}'; amlite serves {API_VERSION}"
        )
    return value


async def workspace(subscription: str, resource_group: str, workspace: str) -> WorkspaceRef:
    return check_workspace(subscription, resource_group, workspace)


def path_workspace(request: Request) -> WorkspaceRef:
    """The workspace of a ``WS_PREFIX`` path, for routes without dependency injection."""
    params = request.path_params
    return check_workspace(params["subscription"], params["resource_group"], params["workspace"])


async def read_json(request: Request) -> Any:
    """The JSON body (``json_body`` for routes without dependency injection: call it once
    the caller is authenticated)."""
    return parse_json(await read_capped(request, MAX_JSON_BYTES))


async def json_body(request: Request, _: Principal = Depends(principal)) -> Any:
    """The JSON body of a request, read only once the caller is authenticated (see
    ``amlite.api.bodies`` for the limits)."""
    return await read_json(request)


def query_ci(request: Request, name: str) -> str | None:
    """A query parameter by case-insensitive name (clients send $skipToken and $skiptoken)."""
    lowered = name.lower()
    for key, value in request.query_params.items():
        if key.lower() == lowered:
            return value
    return None
