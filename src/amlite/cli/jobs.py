"""``amlite job ...``: create, show, list, cancel, delete, stream, wait, download."""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Annotated

import typer

from amlite.cli import output
from amlite.cli.common import (
    EXIT_FAILED,
    Cli,
    GroupOpt,
    OutputOpt,
    SubscriptionOpt,
    WorkspaceOpt,
    parse_sets,
    reporting,
)
from amlite.cli.download import download as download_files
from amlite.cli.follow import follow_job
from amlite.cli.submit import submit_job
from amlite.cli.sweeps import fmt_score, is_sweep, sweep_details, sweep_view, trial_table
from amlite.client import AmliteClient
from amlite.domain.json_value import JsonObject

app = typer.Typer(help="Submit and manage jobs.", no_args_is_help=True)

NameArg = Annotated[str, typer.Argument(help="The job name.")]


def create_from_file(
    client: AmliteClient, file: Path, name: str | None, sets: JsonObject, quiet: bool = False
) -> JsonObject:
    """Load, prepare and PUT a job document; the shared path of ``job create`` and ``run``."""
    from amlite.schemas.yaml import load_job_document  # lazy: amlite.cli

    doc = load_job_document(file, sets)

    def log(msg: str) -> None:
        if not quiet:
            output.err_console.print(msg, markup=False)

    return submit_job(client, doc, name, log=log)


def _print_job(cli: Cli, job: JsonObject) -> None:
    cli.emit(job, output.show_job)


def _print_why(cli: Cli, client: AmliteClient, job: JsonObject) -> None:
    """Why a queued job waits, or why a job ended as it did (table output only)."""
    if cli.json:
        return
    history = client.get_history(str(job["name"]))
    if history.get("queueReason"):
        output.console.print(f"waiting: {history['queueReason']}", markup=False)
    elif history.get("reason"):
        output.console.print(f"reason: {history['reason']}", markup=False)


def _print_sweep(cli: Cli, client: AmliteClient, job: JsonObject) -> None:
    """The sweep, then its trials best first (``-o json``: under ``trials``)."""
    view = sweep_view(client, job)
    trials = view.ranked()
    if cli.json:
        output.print_json({**job, "trials": [t.as_json() for t in trials]})
        return
    output.show_job(job)
    output.details(f"sweep {view.name}", sweep_details(job))
    output.console.print(trial_table(view, ranked=True))


def _stream_exit(status: str) -> None:
    if status != "Completed":
        raise typer.Exit(EXIT_FAILED)


@app.command("create")
def create(
    file: Annotated[Path, typer.Option("--file", "-f", help="Job YAML (CLI v2) or REST body.")],
    name: Annotated[str | None, typer.Option("--name", "-n", help="Job name.")] = None,
    stream: Annotated[bool, typer.Option("--stream", help="Follow the job until it ends.")] = False,
    set_: Annotated[
        list[str] | None,
        typer.Option("--set", help="Override a YAML field: key.path=value (repeatable)."),
    ] = None,
    output_: OutputOpt = "table",
    workspace: WorkspaceOpt = None,
    resource_group: GroupOpt = None,
    subscription: SubscriptionOpt = None,
) -> None:
    """Create (and start) a job from a YAML or JSON file."""
    cli = Cli(output_, workspace, resource_group, subscription)
    sets = parse_sets(set_)
    with reporting():
        client = cli.client()
        job = create_from_file(client, file, name, sets, quiet=cli.json)
        _print_job(cli, job)
        if stream:
            status = follow_job(
                client,
                str(job["name"]),
                output.err_console if cli.json else output.console,
                quiet=False,
            )
            _stream_exit(status)


@app.command("show")
def show(
    name: NameArg,
    output_: OutputOpt = "table",
    workspace: WorkspaceOpt = None,
    resource_group: GroupOpt = None,
    subscription: SubscriptionOpt = None,
) -> None:
    """Show a job; a sweep with its trials, best first."""
    cli = Cli(output_, workspace, resource_group, subscription)
    with reporting():
        client = cli.client()
        job = client.get_job(name)
        if is_sweep(job):
            _print_sweep(cli, client, job)
        else:
            _print_job(cli, job)
            _print_why(cli, client, job)


@app.command("list")
def list_(
    type_: Annotated[str | None, typer.Option("--type", help="Command or Sweep.")] = None,
    tag: Annotated[str | None, typer.Option("--tag", help="Only jobs with this tag key.")] = None,
    tags: Annotated[str | None, typer.Option("--tags", help="k=v[,k=v] tag values.")] = None,
    max_results: Annotated[int | None, typer.Option("--max", "--max-results", min=1)] = None,
    output_: OutputOpt = "table",
    workspace: WorkspaceOpt = None,
    resource_group: GroupOpt = None,
    subscription: SubscriptionOpt = None,
) -> None:
    """List jobs of the workspace."""
    cli = Cli(output_, workspace, resource_group, subscription)
    with reporting():
        jobs = list(itertools.islice(cli.client().list_jobs(type_, tag, tags), max_results))
        cli.emit(
            jobs, lambda js: output.table(None, output.JOB_COLUMNS, [output.job_row(j) for j in js])
        )


@app.command("cancel")
def cancel(
    name: NameArg,
    output_: OutputOpt = "table",
    workspace: WorkspaceOpt = None,
    resource_group: GroupOpt = None,
    subscription: SubscriptionOpt = None,
) -> None:
    """Cancel a running job."""
    cli = Cli(output_, workspace, resource_group, subscription)
    with reporting():
        client = cli.client()
        client.cancel_job(name)
        job = client.get_job(name)
        cli.emit(
            job,
            lambda j: output.console.print(
                f"{name}: {(j.get('properties') or {}).get('status')}", markup=False
            ),
        )


@app.command("delete")
def delete(
    name: NameArg,
    output_: OutputOpt = "table",
    workspace: WorkspaceOpt = None,
    resource_group: GroupOpt = None,
    subscription: SubscriptionOpt = None,
) -> None:
    """Delete a job (cancelling it first if it runs)."""
    cli = Cli(output_, workspace, resource_group, subscription)
    with reporting():
        cli.client().delete_job(name)
        cli.emit(
            {"name": name, "deleted": True},
            lambda _d: output.console.print(f"deleted {name}", markup=False),
        )


@app.command("stream")
def stream(
    name: NameArg,
    workspace: WorkspaceOpt = None,
    resource_group: GroupOpt = None,
    subscription: SubscriptionOpt = None,
) -> None:
    """Follow a job's status and logs until it ends (exit 0 if Completed, else 1)."""
    cli = Cli("table", workspace, resource_group, subscription)
    with reporting():
        status = follow_job(cli.client(), name, output.console)
    _stream_exit(status)


@app.command("wait")
def wait(
    name: NameArg,
    output_: OutputOpt = "table",
    workspace: WorkspaceOpt = None,
    resource_group: GroupOpt = None,
    subscription: SubscriptionOpt = None,
) -> None:
    """Wait for a job to end without its logs (exit 0 if Completed, else 1)."""
    cli = Cli(output_, workspace, resource_group, subscription)
    with reporting():
        client = cli.client()
        status = follow_job(
            client,
            name,
            output.err_console if cli.json else output.console,
            logs=False,
            quiet=cli.json,
        )
        if cli.json:
            output.print_json(client.get_job(name))
    _stream_exit(status)


@app.command("download")
def download(
    name: NameArg,
    download_path: Annotated[
        Path, typer.Option("--download-path", "-p", help="Folder to download into.")
    ] = Path("."),
    output_: OutputOpt = "table",
    workspace: WorkspaceOpt = None,
    resource_group: GroupOpt = None,
    subscription: SubscriptionOpt = None,
) -> None:
    """Download a job's logs, ./outputs (DIR/artifacts) and named outputs (DIR/named-outputs);
    for a sweep, those of its best trial."""
    cli = Cli(output_, workspace, resource_group, subscription)
    with reporting():
        got = download_files(cli.client(), name, download_path)
        if got.sweep:
            where = output.err_console if cli.json else output.console
            where.print(
                f"sweep {got.sweep}: best trial {got.job} ({got.metric}={fmt_score(got.score)})",
                markup=False,
            )
        cli.emit(
            [str(f) for f in got.files],
            lambda fs: output.console.print(
                f"downloaded {len(fs)} file(s) of {got.job} to {download_path}", markup=False
            ),
        )
