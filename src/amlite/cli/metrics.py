"""``amlite job metrics NAME``: what a job logged through MLflow (metrics, params, tags)."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from amlite.cli import output
from amlite.cli.common import Cli, GroupOpt, OutputOpt, SubscriptionOpt, WorkspaceOpt, reporting
from amlite.cli.jobs import NameArg
from amlite.cli.jobs import app as job_app


def _fmt(value: Any) -> str:
    return f"{value:.6g}" if isinstance(value, float) else str(value)


def _show(data: dict[str, Any], history: bool) -> None:
    histories: dict[str, list[dict[str, Any]]] = data.get("history") or {}
    rows = [
        [
            str(m.get("key")),
            _fmt(m.get("value")),
            str(m.get("step")),
            str(len(histories.get(str(m.get("key")), []))),
        ]
        for m in data.get("value") or []
    ]
    output.table("metrics (latest value)", ["Metric", "Value", "Step", "Count"], rows)
    if history:
        for key, points in sorted(histories.items()):
            output.table(
                f"{key} (in logged order)",
                ["#", "Value", "Step"],
                [[str(i), _fmt(p.get("value")), str(p.get("step"))] for i, p in enumerate(points)],
            )
    for title, pairs in (("params", data.get("params")), ("tags", data.get("tags"))):
        if pairs:
            output.table(title, ["Key", "Value"], [[k, str(v)] for k, v in sorted(pairs.items())])


@job_app.command("metrics")
def metrics(
    name: NameArg,
    history: Annotated[
        bool, typer.Option("--history", help="Also print every value of every metric.")
    ] = False,
    output_: OutputOpt = "table",
    workspace: WorkspaceOpt = None,
    resource_group: GroupOpt = None,
    subscription: SubscriptionOpt = None,
) -> None:
    """Show the metrics a job logged (latest value of each; -o json has every value)."""
    cli = Cli(output_, workspace, resource_group, subscription)
    with reporting():
        data = cli.client().get_metrics(name)
        cli.emit(data, lambda d: _show(d, history))
