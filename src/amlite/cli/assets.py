"""``amlite code|data|environment create|list|show``: versioned assets."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any

import typer

from amlite.cli import output
from amlite.cli.common import (
    BadInput,
    Cli,
    GroupOpt,
    OutputOpt,
    SubscriptionOpt,
    WorkspaceOpt,
    reporting,
)
from amlite.cli.submit import environment_body, upload_local
from amlite.client import AmliteClient

_DATASTORE_URI = re.compile(r"^azureml://datastores/(?P<ds>[^/]+)/paths/(?P<path>.*)$", re.I)
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")

FileOpt = Annotated[Path | None, typer.Option("--file", "-f", help="Asset YAML.")]
NameOpt = Annotated[str | None, typer.Option("--name", "-n", help="Asset name.")]
VersionOpt = Annotated[str | None, typer.Option("--version", "-v", help="Asset version.")]
PathOpt = Annotated[str | None, typer.Option("--path", "-p", help="Local path or URI.")]
DescOpt = Annotated[str | None, typer.Option("--description", "-d")]


def read_spec(file: Path | None) -> tuple[dict[str, Any], Path]:
    """An asset YAML as a dict plus the folder its relative paths are relative to."""
    if file is None:
        return {}, Path.cwd()
    import yaml  # lazy: amlite.cli

    try:
        spec = yaml.safe_load(file.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise BadInput(f"{file}: cannot read: {exc}") from exc
    if not isinstance(spec, dict):
        raise BadInput(f"{file}: an asset file must be a mapping")
    return spec, file.parent


def _identity(spec: dict[str, Any], name: str | None, version: str | None) -> tuple[str, str]:
    name = name or spec.get("name")
    version = version or (str(spec["version"]) if spec.get("version") is not None else None)
    if not name or not version:
        raise BadInput("a name and a version are needed (--name/--version or in the file)")
    return str(name), str(version)


def _meta(spec: dict[str, Any], description: str | None) -> dict[str, Any]:
    props: dict[str, Any] = {}
    if description or spec.get("description"):
        props["description"] = description or str(spec["description"])
    if isinstance(spec.get("tags"), dict):
        props["tags"] = {str(k): "" if v is None else str(v) for k, v in spec["tags"].items()}
    return props


def _local(base: Path, text: str) -> Path:
    path = Path(text.removeprefix("file:")).expanduser()
    path = path if path.is_absolute() else base / path
    if not path.exists():
        raise BadInput(f"{path} does not exist")
    return path.resolve()


def _location(
    client: AmliteClient, kind: str, base: Path, spec: dict[str, Any], path: str | None
) -> dict[str, Any]:
    """datastoreId + path of a code/data asset, uploading local files first."""
    text = path or spec.get("local_path") or spec.get("path")
    if not text:
        raise BadInput("a path is needed (--path or path/local_path in the file)")
    text = str(text)
    m = _DATASTORE_URI.match(text)
    if m:
        ds = client.workspace.resource_id("datastores", m.group("ds"))
        return {"datastoreId": ds, "path": m.group("path")}
    if _SCHEME.match(text):
        return {"path": text}
    if spec.get("datastore") and not spec.get("local_path") and not path:
        ds_name = str(spec["datastore"]).removeprefix("azureml:")
        return {"datastoreId": client.workspace.resource_id("datastores", ds_name), "path": text}
    _digest, datastore_id, remote = upload_local(client, kind, _local(base, text))
    return {"datastoreId": datastore_id, "path": remote}


def _show_versioned(
    cli: Cli, client: AmliteClient, kind: str, name: str, version: str | None
) -> None:
    item = client.get_asset(kind, name, version)
    cli.emit(
        item,
        lambda i: output.details(
            f"{kind} {name}",
            [("name", i.get("name")), ("id", i.get("id")), ("properties", i.get("properties"))],
        ),
    )


def _list(cli: Cli, client: AmliteClient, kind: str, name: str | None) -> None:
    items = list(client.list_assets(kind, name))
    columns = ["Version", "Path / image", "Description"] if name else ["Name", "Description"]

    def row(item: dict[str, Any]) -> list[str]:
        props = item.get("properties") or {}
        if not name:
            return [str(item.get("name", "")), str(props.get("description") or "")]
        where = props.get("path") or (props.get("docker") or {}).get("dockerImageUri") or ""
        return [str(item.get("name", "")), str(where), str(props.get("description") or "")]

    cli.emit(
        items,
        lambda its: output.table(
            kind if not name else f"{kind} {name}", columns, [row(i) for i in its]
        ),
    )


def _group(kind: str, help_text: str) -> typer.Typer:
    """A group with ``list`` and ``show``; ``create`` is added per kind."""
    group = typer.Typer(help=help_text, no_args_is_help=True)

    @group.command("list")
    def list_cmd(
        name: NameOpt = None,
        output_: OutputOpt = "table",
        workspace: WorkspaceOpt = None,
        resource_group: GroupOpt = None,
        subscription: SubscriptionOpt = None,
    ) -> None:
        """List assets, or the versions of --name."""
        cli = Cli(output_, workspace, resource_group, subscription)
        with reporting():
            _list(cli, cli.client(), kind, name)

    @group.command("show")
    def show_cmd(
        name: Annotated[str, typer.Argument()],
        version: VersionOpt = None,
        output_: OutputOpt = "table",
        workspace: WorkspaceOpt = None,
        resource_group: GroupOpt = None,
        subscription: SubscriptionOpt = None,
    ) -> None:
        """Show an asset (or one of its versions)."""
        cli = Cli(output_, workspace, resource_group, subscription)
        with reporting():
            _show_versioned(cli, cli.client(), kind, name, version)

    return group


code_app = _group("codes", "Code snapshots.")
data_app = _group("data", "Data assets.")
environment_app = _group("environments", "Environments.")


def _created(cli: Cli, kind: str, item: dict[str, Any]) -> None:
    cli.emit(
        item, lambda i: output.console.print(f"created {kind} {i.get('id', '')}", markup=False)
    )


def _create_located(
    cli: Cli,
    kind: str,
    label: str,
    file: Path | None,
    name: str | None,
    version: str | None,
    path: str | None,
    description: str | None,
) -> None:
    """Create a code or data version whose files are at ``path`` (uploaded when local)."""
    with reporting():
        spec, base = read_spec(file)
        name, version = _identity(spec, name, version)
        client = cli.client()
        props = {**_meta(spec, description), **_location(client, kind, base, spec, path)}
        _created(cli, label, client.put_asset(kind, name, version, {"properties": props}))


@code_app.command("create")
def create_code(
    file: FileOpt = None,
    name: NameOpt = None,
    version: VersionOpt = None,
    path: PathOpt = None,
    description: DescOpt = None,
    output_: OutputOpt = "table",
    workspace: WorkspaceOpt = None,
    resource_group: GroupOpt = None,
    subscription: SubscriptionOpt = None,
) -> None:
    """Upload a local folder and register it as a code version."""
    cli = Cli(output_, workspace, resource_group, subscription)
    _create_located(cli, "codes", "code", file, name, version, path, description)


@data_app.command("create")
def create_data(
    file: FileOpt = None,
    name: NameOpt = None,
    version: VersionOpt = None,
    path: PathOpt = None,
    description: DescOpt = None,
    output_: OutputOpt = "table",
    workspace: WorkspaceOpt = None,
    resource_group: GroupOpt = None,
    subscription: SubscriptionOpt = None,
) -> None:
    """Register data: a local file/folder (uploaded), a URL or azureml://datastores/D/paths/P."""
    cli = Cli(output_, workspace, resource_group, subscription)
    _create_located(cli, "data", "data", file, name, version, path, description)


@environment_app.command("create")
def create_environment(
    file: FileOpt = None,
    name: NameOpt = None,
    version: VersionOpt = None,
    image: Annotated[str | None, typer.Option("--image", "-i", help="Docker image.")] = None,
    conda_file: Annotated[Path | None, typer.Option("--conda-file", help="Conda YAML.")] = None,
    description: DescOpt = None,
    output_: OutputOpt = "table",
    workspace: WorkspaceOpt = None,
    resource_group: GroupOpt = None,
    subscription: SubscriptionOpt = None,
) -> None:
    """Register an environment version from an image and/or a conda file."""
    cli = Cli(output_, workspace, resource_group, subscription)
    with reporting():
        spec, base = read_spec(file)
        name, version = _identity(spec, name, version)
        from amlite.schemas.yaml import InlineEnvironment  # lazy: amlite.cli

        env = InlineEnvironment(("environmentId",), "environment")
        env.image = image or spec.get("image") or (spec.get("docker") or {}).get("image")
        conda = conda_file or (
            base / str(spec["conda_file"]).removeprefix("file:") if spec.get("conda_file") else None
        )
        if conda is not None:
            env.conda_file = _local(Path.cwd(), str(conda))
        if not env.image and env.conda_file is None:
            raise BadInput("an environment needs --image and/or --conda-file")
        body = environment_body(env)
        body["properties"].pop("isAnonymous", None)
        body["properties"].update(_meta(spec, description))
        client = cli.client()
        _created(cli, "environment", client.put_asset("environments", name, version, body))
