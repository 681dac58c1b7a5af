"""``amlite server``: run the API server in the foreground."""

from __future__ import annotations

from typing import Annotated

import typer

from amlite.cli import output
from amlite.config import Settings


def server(
    host: Annotated[str, typer.Option("--host", help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="Port to listen on.")] = 8642,
) -> None:
    """Run the amlite server (the jobs REST API, scheduler and executors) until stopped."""
    try:
        from amlite.api.server import run_server
    except ImportError as exc:
        output.error(f"the amlite server is not available in this installation: {exc}")
        raise typer.Exit(1) from exc
    run_server(Settings.from_env(), host, port)
