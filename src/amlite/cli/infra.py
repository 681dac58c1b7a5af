"""``amlite datastore ...`` and ``amlite compute ...``: unversioned workspace resources."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from amlite.cli import output
from amlite.cli.assets import read_spec
from amlite.cli.common import (
    BadInput,
    Cli,
    GroupOpt,
    OutputOpt,
    SubscriptionOpt,
    WorkspaceOpt,
    parse_sets,
    reporting,
)
from amlite.domain.json_value import JsonObject, member

datastore_app = typer.Typer(help="Datastores.", no_args_is_help=True)
compute_app = typer.Typer(help="Computes.", no_args_is_help=True)

FileOpt = Annotated[Path | None, typer.Option("--file", "-f", help="YAML or REST body.")]
NameOpt = Annotated[str | None, typer.Option("--name", "-n")]

COMPUTE_TYPES = {
    "local": "Local",
    "amlcompute": "AmlCompute",
    "ray": "Ray",
    "computeinstance": "ComputeInstance",
    "kubernetes": "Kubernetes",
}
_CREDENTIALS = {"account_key": ("AccountKey", "key"), "sas_token": ("Sas", "sasToken")}


def datastore_body(spec: dict[str, Any]) -> JsonObject:
    """A datastore YAML (``type: azure_blob``, ``account_name`` ...) or a REST body."""
    if isinstance(spec.get("properties"), dict):
        return {"properties": spec["properties"]}
    kind = str(spec.get("type") or "azure_blob").lower().replace("_", "")
    if kind != "azureblob":
        raise BadInput(f"type: {spec.get('type')!r}; amlite supports azure_blob datastores")
    credentials: JsonObject = {"credentialsType": "None"}
    for key, (ctype, field) in _CREDENTIALS.items():
        secret = (spec.get("credentials") or {}).get(key)
        if secret:
            credentials = {
                "credentialsType": ctype,
                "secrets": {"secretsType": ctype, field: str(secret)},
            }
    contents: JsonObject = {
        "contentsType": "AzureBlob",
        "accountName": str(spec.get("account_name") or "amlite"),
        "containerName": str(spec.get("container_name") or spec.get("name") or ""),
        "endpoint": str(spec.get("endpoint") or "core.windows.net"),
        "protocol": str(spec.get("protocol") or "https"),
        "credentials": credentials,
    }
    props: JsonObject = {"contents": contents}
    if spec.get("description"):
        props["description"] = str(spec["description"])
    if isinstance(spec.get("tags"), dict):
        props["tags"] = {str(k): str(v) for k, v in spec["tags"].items()}
    return {"properties": props}


def compute_body(spec: dict[str, Any], kind: str | None, sets: dict[str, Any]) -> dict[str, Any]:
    """A compute YAML (``type: amlcompute``, ``size``, ``min/max_instances``; ``type: ray``,
    ``address``, ``python``) or a REST body."""
    if isinstance(spec.get("properties"), dict) and "computeType" in spec["properties"]:
        body = {"properties": dict(spec["properties"])}
    else:
        raw = str(kind or spec.get("type") or "Local")
        ctype = COMPUTE_TYPES.get(raw.lower().replace("_", ""))
        if ctype is None:
            raise BadInput(f"type: {raw!r}; expected one of {', '.join(COMPUTE_TYPES.values())}")
        inner: dict[str, Any] = {}
        if spec.get("size"):
            inner["vmSize"] = str(spec["size"])
        scale = {
            wire: int(spec[key])
            for key, wire in (("min_instances", "minNodeCount"), ("max_instances", "maxNodeCount"))
            if spec.get(key) is not None
        }
        if scale:
            inner["scaleSettings"] = scale
        for key in ("address", "python"):  # type: ray
            if spec.get(key):
                inner[key] = str(spec[key])
        body = {"properties": {"computeType": ctype}}
        if spec.get("description"):
            body["properties"]["description"] = str(spec["description"])
        if inner:
            body["properties"]["properties"] = inner
    if sets:
        body["properties"].setdefault("properties", {}).update(sets)
    return body


def _name(spec: dict[str, Any], name: str | None) -> str:
    got = name or spec.get("name")
    if not got:
        raise BadInput("a name is needed (--name or name: in the file)")
    return str(got)


def _created(cli: Cli, item: JsonObject) -> None:
    cli.emit(item, lambda i: output.console.print(f"created {i.get('id', '')}", markup=False))


def _show(cli: Cli, item: JsonObject) -> None:
    cli.emit(
        item,
        lambda i: output.details(
            str(i.get("name", "")),
            [("name", i.get("name")), ("id", i.get("id")), ("properties", i.get("properties"))],
        ),
    )


@datastore_app.command("create")
def create_datastore(
    file: Annotated[Path, typer.Option("--file", "-f", help="Datastore YAML.")],
    name: NameOpt = None,
    output_: OutputOpt = "table",
    workspace: WorkspaceOpt = None,
    resource_group: GroupOpt = None,
    subscription: SubscriptionOpt = None,
) -> None:
    """Create or update a datastore."""
    cli = Cli(output_, workspace, resource_group, subscription)
    with reporting():
        spec, _base = read_spec(file)
        _created(cli, cli.client().put_datastore(_name(spec, name), datastore_body(spec)))


@datastore_app.command("list")
def list_datastores(
    output_: OutputOpt = "table",
    workspace: WorkspaceOpt = None,
    resource_group: GroupOpt = None,
    subscription: SubscriptionOpt = None,
) -> None:
    """List datastores."""
    cli = Cli(output_, workspace, resource_group, subscription)
    with reporting():
        items = list(cli.client().list_datastores())

        def row(i: JsonObject) -> list[str]:
            return [
                str(i.get("name", "")),
                str(member(i, "properties", "contents", "contentsType") or ""),
                "yes" if member(i, "properties", "isDefault") else "",
            ]

        cli.emit(
            items,
            lambda its: output.table(None, ["Name", "Type", "Default"], [row(i) for i in its]),
        )


@datastore_app.command("show")
def show_datastore(
    name: Annotated[str, typer.Argument()],
    output_: OutputOpt = "table",
    workspace: WorkspaceOpt = None,
    resource_group: GroupOpt = None,
    subscription: SubscriptionOpt = None,
) -> None:
    """Show a datastore."""
    cli = Cli(output_, workspace, resource_group, subscription)
    with reporting():
        _show(cli, cli.client().get_datastore(name))


@compute_app.command("create")
def create_compute(
    file: FileOpt = None,
    name: NameOpt = None,
    type_: Annotated[
        str | None, typer.Option("--type", "-t", help="Local, AmlCompute or Ray.")
    ] = None,
    set_: Annotated[list[str] | None, typer.Option("--set", help="key=value property.")] = None,
    output_: OutputOpt = "table",
    workspace: WorkspaceOpt = None,
    resource_group: GroupOpt = None,
    subscription: SubscriptionOpt = None,
) -> None:
    """Create or update a compute."""
    cli = Cli(output_, workspace, resource_group, subscription)
    sets = parse_sets(set_)
    with reporting():
        spec, _base = read_spec(file)
        body = compute_body(spec, type_, sets)
        _created(cli, cli.client().put_compute(_name(spec, name), body))


@compute_app.command("list")
def list_computes(
    output_: OutputOpt = "table",
    workspace: WorkspaceOpt = None,
    resource_group: GroupOpt = None,
    subscription: SubscriptionOpt = None,
) -> None:
    """List computes."""
    cli = Cli(output_, workspace, resource_group, subscription)
    with reporting():
        items = list(cli.client().list_computes())
        rows = [
            [str(i.get("name", "")), str(member(i, "properties", "computeType") or "")]
            for i in items
        ]
        cli.emit(items, lambda _its: output.table(None, ["Name", "Type"], rows))


@compute_app.command("show")
def show_compute(
    name: Annotated[str, typer.Argument()],
    output_: OutputOpt = "table",
    workspace: WorkspaceOpt = None,
    resource_group: GroupOpt = None,
    subscription: SubscriptionOpt = None,
) -> None:
    """Show a compute."""
    cli = Cli(output_, workspace, resource_group, subscription)
    with reporting():
        _show(cli, cli.client().get_compute(name))
