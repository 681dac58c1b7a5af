"""``amlite server``: run the API server in the foreground."""

from __future__ import annotations

import dataclasses
from typing import Annotated

import typer

from amlite.cli import output
from amlite.config import Settings, checked_public_url


def server(
    host: Annotated[str, typer.Option("--host", help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="Port to listen on.")] = 8642,
    default_datastore: Annotated[
        str | None,
        typer.Option(
            "--default-datastore",
            help="azureblob://ACCOUNT/CONTAINER?endpoint=HOST[:PORT]&protocol=http|https: the "
            "blob container behind workspaceblobstore (secret from AMLITE_DEFAULT_DATASTORE_KEY "
            "or AMLITE_DEFAULT_DATASTORE_SAS; see docs/datastores.md).",
        ),
    ] = None,
    public_url: Annotated[
        str | None,
        typer.Option(
            "--public-url",
            help="http[s]://HOST[:PORT] where clients, jobs and Ray nodes reach the servers "
            "(the load balancer in front of several; default: the address listened on; "
            "also AMLITE_PUBLIC_URL).",
        ),
    ] = None,
) -> None:
    """Run the amlite server (the jobs REST API, scheduler and executors) until stopped."""
    try:
        from amlite.api.server import run_server
    except ImportError as exc:
        output.error(f"the amlite server is not available in this installation: {exc}")
        raise typer.Exit(1) from exc
    settings = Settings.from_env()
    if default_datastore:
        settings = dataclasses.replace(settings, default_datastore=default_datastore)
    if public_url:
        settings = dataclasses.replace(settings, public_url=public_url)
    if settings.public_url:
        try:
            checked_public_url(settings.public_url)
        except ValueError as exc:
            output.error(f"--public-url / AMLITE_PUBLIC_URL: {exc}")
            raise typer.Exit(2) from exc
    try:
        from amlite.services.datastores import configured_default

        configured_default(settings)
    except ValueError as exc:
        output.error(f"--default-datastore: {exc}")
        raise typer.Exit(2) from exc
    from amlite.scheduler.membership import SecondServer

    try:
        run_server(settings, host, port)
    except SecondServer as exc:
        output.error(str(exc))
        raise typer.Exit(1) from exc
