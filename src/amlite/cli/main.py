"""The ``amlite`` command: ``amlite job|code|data|environment|datastore|compute ...``,
``amlite server`` and ``amlite run FILE``."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

import typer
import typer.main
from typer.core import TyperGroup

from amlite.cli.run import run
from amlite.cli.server import server

if TYPE_CHECKING:
    from typer.core import _click

GROUPS = {
    # `job metrics` is registered on the job group by amlite.cli.metrics
    "job": ("amlite.cli.metrics", "job_app"),
    "code": ("amlite.cli.assets", "code_app"),
    "data": ("amlite.cli.assets", "data_app"),
    "environment": ("amlite.cli.assets", "environment_app"),
    "datastore": ("amlite.cli.infra", "datastore_app"),
    "compute": ("amlite.cli.infra", "compute_app"),
    "deployment": ("amlite.cli.deployments", "app"),
}
"""The command groups: name -> (module, its typer app), in the order ``--help`` lists them."""


class LazyGroups(TyperGroup):
    """The root command: a group's module is imported and its click group built when that group
    is asked for (click's lazy subcommands), so ``amlite job show`` neither imports nor builds
    the deployment, asset and infra groups (the start-up rule of :mod:`amlite.cli`)."""

    def list_commands(self, ctx: _click.Context) -> list[str]:
        return [*(n for n in super().list_commands(ctx) if n not in GROUPS), *GROUPS]

    def get_command(self, ctx: _click.Context, cmd_name: str) -> _click.Command | None:
        if cmd_name in GROUPS:
            self._load(cmd_name)
        elif cmd_name not in self.commands:  # a typo: "Did you mean ...?" looks at them all
            for name in GROUPS:
                self._load(name)
        return super().get_command(ctx, cmd_name)

    def _load(self, name: str) -> None:
        if name not in self.commands:
            module, attribute = GROUPS[name]
            group = typer.main.get_group(getattr(importlib.import_module(module), attribute))
            group.name = name
            self.add_command(group, name)


app = typer.Typer(
    name="amlite",
    help="A self-hosted Azure ML jobs service (api-version 2021-03-01-preview), like `az ml`.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    cls=LazyGroups,
)
app.command("server")(server)
app.command("run")(run)

if __name__ == "__main__":  # pragma: no cover
    app()
