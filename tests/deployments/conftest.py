from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from azure.core.credentials import AccessToken
from azure.core.pipeline import PipelineRequest
from azure.core.pipeline.policies import SansIOHTTPPolicy
from azure.mgmt.resource.deployments import DeploymentsMgmtClient

from support.server import LiveServer

SUB = "00000000-0000-0000-0000-000000000000"
RG = "rg1"


class StaticToken:
    """A credential that hands out amlite's admin token."""

    def __init__(self, token: str) -> None:
        self.token = token

    def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        return AccessToken(self.token, 2**31 - 1)


class PlainHttp(SansIOHTTPPolicy[Any, Any]):
    """Lets the bearer-token policy send the token over http to the loopback server."""

    def on_request(self, request: PipelineRequest[Any]) -> None:
        request.context["enforce_https"] = False


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    srv = LiveServer(Path(tmp_path_factory.mktemp("deploy")) / "home").start()
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def sdk(live: LiveServer) -> DeploymentsMgmtClient:
    return DeploymentsMgmtClient(
        StaticToken(live.token),
        SUB,
        base_url=live.url,
        per_call_policies=[PlainHttp()],
        polling_interval=0.2,
    )
