"""What every command shares: workspace/output options, the client, error reporting."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any

import typer

from amlite.cli import output
from amlite.client import (
    AmliteClient,
    ApiError,
    ServerNotFound,
    default_workspace,
    find_server,
    find_token,
)
from amlite.config import Settings
from amlite.domain.arm_id import WorkspaceRef
from amlite.errors import AmliteError, JobDocumentError

if TYPE_CHECKING:
    import httpx

EXIT_FAILED = 1
EXIT_BAD_INPUT = 2
EXIT_CANCELED = 130

OutputOpt = Annotated[str, typer.Option("--output", "-o", help="table or json.")]
WorkspaceOpt = Annotated[
    str | None,
    typer.Option(
        "--workspace", "-w", help="Workspace name (env AMLITE_WORKSPACE, default 'default')."
    ),
]
GroupOpt = Annotated[
    str | None,
    typer.Option(
        "--resource-group",
        "-g",
        help="Resource group (env AMLITE_RESOURCE_GROUP, default 'amlite').",
    ),
]
SubscriptionOpt = Annotated[
    str | None, typer.Option("--subscription", help="Subscription id (env AMLITE_SUBSCRIPTION).")
]

transport: httpx.BaseTransport | None = None
"""Tests set this to talk to an in-process fake instead of a real server."""


@dataclass
class Cli:
    """The common options of one command invocation."""

    output: str = "table"
    workspace: str | None = None
    resource_group: str | None = None
    subscription: str | None = None

    @property
    def json(self) -> bool:
        return self.output.lower() == "json"

    @property
    def workspace_ref(self) -> WorkspaceRef:
        return default_workspace(self.subscription, self.resource_group, self.workspace)

    def client(self, url: str | None = None, token: str | None = None) -> AmliteClient:
        settings = Settings.from_env()
        return AmliteClient(
            url or find_server(settings),
            token if token is not None else find_token(settings),
            self.workspace_ref,
            transport=transport,
        )

    def emit(self, data: Any, human: Any = None) -> None:
        """JSON when asked, else call ``human(data)`` (or print JSON if none)."""
        if self.json or human is None:
            output.print_json(data)
        else:
            human(data)


def parse_sets(values: list[str] | None) -> dict[str, Any]:
    """``["a.b=3", "c=x"]`` -> ``{"a.b": 3, "c": "x"}`` (values read as YAML scalars)."""
    if not values:
        return {}
    import yaml  # lazy: amlite.cli

    result: dict[str, Any] = {}
    for item in values:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise typer.BadParameter(f"{item!r}: expected key=value", param_hint="--set")
        try:
            result[key.strip()] = yaml.safe_load(value) if value else ""
        except yaml.YAMLError:
            result[key.strip()] = value
    return result


@contextmanager
def reporting() -> Iterator[None]:
    """Turn amlite's errors into messages and exit codes (2 for bad input / 4xx)."""
    try:
        yield
    except ApiError as exc:
        output.print_api_error(exc)
        raise typer.Exit(EXIT_BAD_INPUT if 400 <= exc.status < 500 else EXIT_FAILED) from exc
    except JobDocumentError as exc:
        where = f"{exc.source}: " if exc.source else ""
        output.print_problems(exc.problems, f"{where}the job document is not valid")
        raise typer.Exit(EXIT_BAD_INPUT) from exc
    except ServerNotFound as exc:
        output.error(str(exc))
        raise typer.Exit(EXIT_FAILED) from exc
    except BadInput as exc:
        output.error(str(exc))
        raise typer.Exit(EXIT_BAD_INPUT) from exc
    except AmliteError as exc:
        output.error(str(exc))
        raise typer.Exit(EXIT_FAILED) from exc


class BadInput(AmliteError):
    """A problem with what the user gave the CLI (missing file, bad option value)."""
