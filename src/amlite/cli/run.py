"""``amlite run FILE``: run one job on an embedded server, no separate server needed.

Exit codes: 0 Completed, 1 Failed, 2 bad input, 130 Canceled or interrupted (Ctrl-C cancels).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated, Any

import typer

from amlite.cli import output
from amlite.cli.common import (
    EXIT_CANCELED,
    EXIT_FAILED,
    Cli,
    GroupOpt,
    SubscriptionOpt,
    WorkspaceOpt,
    parse_sets,
    reporting,
)
from amlite.cli.follow import TERMINAL, follow_job
from amlite.cli.jobs import create_from_file
from amlite.client import AmliteClient
from amlite.config import Settings
from amlite.domain.json_value import member

EXIT_BY_STATUS = {"Completed": 0, "Failed": EXIT_FAILED, "Canceled": EXIT_CANCELED}


def run(
    file: Annotated[Path, typer.Argument(help="Job YAML (CLI v2) or REST body.")],
    name: Annotated[str | None, typer.Option("--name", "-n", help="Job name.")] = None,
    set_: Annotated[
        list[str] | None, typer.Option("--set", help="key.path=value override.")
    ] = None,
    workspace: WorkspaceOpt = None,
    resource_group: GroupOpt = None,
    subscription: SubscriptionOpt = None,
) -> None:
    """Run a job to completion on an embedded server and stream its logs."""
    cli = Cli("table", workspace, resource_group, subscription)
    sets = parse_sets(set_)
    from amlite.schemas.yaml import load_job_document  # lazy: amlite.cli

    with reporting():
        load_job_document(file, sets)  # bad documents fail before a server starts
    try:
        from amlite.api.server import EmbeddedServer
    except ImportError as exc:
        output.error(f"the amlite server is not available in this installation: {exc}")
        raise typer.Exit(EXIT_FAILED) from exc
    from amlite.scheduler.membership import SecondServer

    settings = Settings.from_env()
    try:
        embedded = EmbeddedServer(settings)
    except SecondServer as exc:  # a server runs on this home: submit to it instead
        output.error(f"{exc} To run the job on that server: amlite job create -f {file}")
        raise typer.Exit(EXIT_FAILED) from exc
    with embedded as srv, reporting():
        client = cli.client(srv.url, srv.token)
        job = create_from_file(client, file, name, sets)
        job_name = str(job["name"])
        output.console.print(f"job {job_name} submitted", markup=False)
        try:
            status = follow_job(client, job_name, output.console)
        except KeyboardInterrupt:
            _cancel(client, job_name)
            raise typer.Exit(EXIT_CANCELED) from None
        _show_where(settings, client, job)
    raise typer.Exit(EXIT_BY_STATUS.get(status, EXIT_FAILED))


def _show_where(settings: Settings, client: AmliteClient, job: dict[str, Any]) -> None:
    """Say where the job's logs and outputs are on this machine (no server is left running)."""
    # lazy: amlite.cli
    from amlite.data.paths import DEFAULT_DATASTORE, artifacts_path, datastore_root

    key = client.workspace.key
    store = datastore_root(settings, key, DEFAULT_DATASTORE)
    output.console.print(
        f"logs and ./outputs: {store / artifacts_path(str(job['name']))}", markup=False
    )
    bindings = (job.get("properties") or {}).get("outputDataBindings") or {}
    for out_name, binding in bindings.items():
        rel = binding.get("pathOnDatastore") or f"azureml/{job['name']}/{out_name}/"
        if binding.get("datastoreId") in (None, "") or str(binding["datastoreId"]).endswith(
            f"/datastores/{DEFAULT_DATASTORE}"
        ):
            output.console.print(f"output {out_name}: {store / rel}", markup=False)


def _cancel(client: AmliteClient, name: str, timeout: float = 30) -> None:
    """Cancel after Ctrl-C and wait (briefly) for the job to stop; a second Ctrl-C gives up."""
    output.err_console.print(f"cancelling {name} ...", markup=False)
    try:
        client.cancel_job(name)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            status = member(client.get_job(name), "properties", "status")
            if status in TERMINAL:
                output.err_console.print(f"{name}: {status}", markup=False)
                return
            time.sleep(0.5)
    except KeyboardInterrupt:
        return
