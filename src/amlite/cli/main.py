"""The ``amlite`` command: ``amlite job|code|data|environment|datastore|compute ...``,
``amlite server`` and ``amlite run FILE``."""

from __future__ import annotations

import typer

from amlite.cli import metrics as _metrics  # noqa: F401  (registers `job metrics`)
from amlite.cli.assets import code_app, data_app, environment_app
from amlite.cli.deployments import app as deployment_app
from amlite.cli.infra import compute_app, datastore_app
from amlite.cli.jobs import app as job_app
from amlite.cli.run import run
from amlite.cli.server import server

app = typer.Typer(
    name="amlite",
    help="A self-hosted Azure ML jobs service (api-version 2021-03-01-preview), like `az ml`.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
app.add_typer(job_app, name="job")
app.add_typer(code_app, name="code")
app.add_typer(data_app, name="data")
app.add_typer(environment_app, name="environment")
app.add_typer(datastore_app, name="datastore")
app.add_typer(compute_app, name="compute")
app.add_typer(deployment_app, name="deployment")
app.command("server")(server)
app.command("run")(run)

if __name__ == "__main__":  # pragma: no cover
    app()
