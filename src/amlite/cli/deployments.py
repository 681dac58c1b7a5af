"""``amlite deployment create|validate|what-if|show|list|delete|cancel``, like
``az deployment group``: deploy an ARM template (or a Bicep file / Terraform AzAPI files,
compiled to one) to a resource group and follow each resource's operation."""

from __future__ import annotations

import importlib
import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

import typer

from amlite import API_VERSION
from amlite.cli import output
from amlite.cli.common import (
    EXIT_BAD_INPUT,
    EXIT_CANCELED,
    EXIT_FAILED,
    BadInput,
    Cli,
    OutputOpt,
    SubscriptionOpt,
    reporting,
)
from amlite.client import AmliteClient, ApiError
from amlite.domain.json_value import JsonObject, JsonValue, member, objects, text
from amlite.errors import AmliteError, RequestError

DEPLOYMENTS_API = "2021-04-01"
TERMINAL = ("Succeeded", "Failed", "Canceled")

app = typer.Typer(
    help="Deploy ARM templates, Bicep files and Terraform AzAPI files to a resource group "
    "(like `az deployment group`).",
    no_args_is_help=True,
)

GroupReq = Annotated[str, typer.Option("--resource-group", "-g", help="Resource group.")]
NameOpt = Annotated[
    str | None, typer.Option("--name", "-n", help="Deployment name (default: the file's name).")
]
FileOpt = Annotated[
    Path,
    typer.Option(
        "--template-file",
        "-f",
        help="ARM template (.json), Bicep file (.bicep) or Terraform (.tf file or folder).",
    ),
]
ParamsOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--parameters",
        "-p",
        help="k=v, @params.json or params.bicepparam; repeat for several.",
    ),
]


VarOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--var",
        "-var",
        help="Terraform: name=value for a variable (like terraform -var); repeat for several.",
    ),
]
VarFileOpt = Annotated[
    list[Path] | None,
    typer.Option(
        "--var-file",
        "-var-file",
        help="Terraform: a .tfvars (or .tfvars.json) file of variable values; repeat for several.",
    ),
]
_VAR_FILE_SUFFIXES = (".tfvars", ".tfvars.json")


@dataclass
class TerraformInputs:
    """What reaches a Terraform configuration's variables from the command line."""

    variables: JsonObject = field(default_factory=dict)
    var_files: list[Path] = field(default_factory=list)


def is_terraform(path: Path) -> bool:
    return path.suffix.lower() == ".tf" or path.is_dir()


def _terraform() -> Any:
    try:
        return importlib.import_module("amlite.deployments.terraform")
    except ImportError as exc:
        raise BadInput(
            "Terraform files need amlite's AzAPI reader (amlite.deployments.terraform), "
            f"which this installation lacks ({exc})"
        ) from None


def terraform_inputs(
    parameters: list[str] | None, variables: list[str] | None, var_files: list[Path] | None
) -> TerraformInputs:
    """``--parameters`` / ``-var`` / ``-var-file`` of a Terraform deployment: ``k=v`` values
    (strings, converted to each variable's type as Terraform does), ``.tfvars`` files, and JSON
    values (``.tfvars.json`` or an ARM parameters file). Files are read first, then the
    ``k=v`` values, each later one winning."""
    out = TerraformInputs()
    values: JsonObject = {}
    for item in [*(parameters or []), *(variables or [])]:
        name = item[1:] if item.startswith("@") else item
        if name.lower().endswith((*_VAR_FILE_SUFFIXES, ".json")) and "=" not in item:
            _var_file(Path(name), out)
            continue
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise BadInput(f"{item!r}: expected name=value, a .tfvars file or @values.json")
        values[key.strip()] = value
    for path in var_files or []:
        _var_file(path, out)
    out.variables.update(values)
    return out


def _var_file(path: Path, out: TerraformInputs) -> None:
    if not path.is_file():
        raise BadInput(f"{path}: no such variables file")
    if not path.name.lower().endswith(".json"):
        out.var_files.append(path)
        return
    try:
        data: JsonValue = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BadInput(f"{path}: not JSON: {exc}") from None
    parameters = member(data, "parameters")
    if isinstance(parameters, dict):
        data = {  # an ARM parameters file
            k: v["value"] if isinstance(v, dict) and "value" in v else v
            for k, v in parameters.items()
        }
    if not isinstance(data, dict):
        raise BadInput(f"{path}: variable values are a JSON object")
    out.variables.update(data)


# -- reading templates and parameters ----------------------------------------------------------
def load_template(path: Path, terraform: TerraformInputs | None = None) -> JsonObject:
    """The ARM template JSON of ``path``: a JSON template, or compiled from Bicep / Terraform
    (with the Terraform variables given on the command line)."""
    if not path.exists():
        raise BadInput(f"{path}: no such file or folder")
    suffix = path.suffix.lower()
    if suffix == ".bicep":
        try:
            compile_file = importlib.import_module("amlite.deployments.bicep").compile_file
        except (ImportError, AttributeError) as exc:
            raise BadInput(
                f"{path}: Bicep files need amlite's Bicep compiler (amlite.deployments.bicep), "
                f"which this installation lacks ({exc})"
            ) from None
        try:
            return dict(compile_file(path))
        except RequestError as exc:  # a compile error is the user's input: exit 2
            raise BadInput(exc.message) from None
    if is_terraform(path):
        return dict(load_configuration(path, terraform).template)
    try:
        data: JsonValue = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BadInput(f"{path}: not a JSON template: {exc}") from None
    if not isinstance(data, dict):
        raise BadInput(f"{path}: a template is a JSON object")
    return data


def _typed(value: str, ptype: str) -> JsonValue:
    """A ``k=v`` value as the template declares the parameter (as ``az`` does)."""
    kind = ptype.lower()
    if kind in ("string", "securestring"):
        return value
    try:
        if kind == "int":
            return int(value)
        if kind == "bool":
            if value.lower() not in ("true", "false"):
                raise ValueError(value)
            return value.lower() == "true"
        parsed: JsonValue = json.loads(value)
        return parsed
    except ValueError:
        raise BadInput(f"parameter value {value!r} is not a valid {ptype}") from None


def parse_parameters(items: list[str] | None, template: JsonObject) -> JsonObject:
    """``--parameters`` values to ``{name: {"value": ...}}``; later ones win."""
    declared = template.get("parameters") or {}
    types = (
        {
            k.lower(): str(v.get("type", "string")) if isinstance(v, dict) else "string"
            for k, v in declared.items()
        }
        if isinstance(declared, dict)
        else {}
    )
    out: JsonObject = {}
    for item in items or []:
        if item.startswith("@") or item.lower().endswith((".json", ".bicepparam")):
            path = Path(item[1:] if item.startswith("@") else item)
            out.update(_parameters_file(path))
            continue
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise BadInput(f"{item!r}: expected name=value, @file.json or file.bicepparam")
        key = key.strip()
        out[key] = {"value": _typed(value, types.get(key.lower(), "string"))}
    return out


def _parameters_file(path: Path) -> JsonObject:
    if not path.is_file():
        raise BadInput(f"{path}: no such parameters file")
    if path.suffix.lower() == ".bicepparam":
        try:
            bicep = importlib.import_module("amlite.deployments.bicep")
        except ImportError as exc:
            raise BadInput(
                f"{path}: .bicepparam files need amlite's Bicep compiler ({exc})"
            ) from None
        compile_params = getattr(bicep, "compile_params", None)
        if compile_params is None:
            raise BadInput(f"{path}: amlite.deployments.bicep has no compile_params()")
        data: JsonValue = compile_params(path)
    else:
        try:
            data = json.loads(path.read_text())
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise BadInput(f"{path}: not JSON: {exc}") from None
    parameters = member(data, "parameters")
    if isinstance(parameters, dict):
        data = parameters  # a deploymentParameters file
    if not isinstance(data, dict):
        raise BadInput(f"{path}: parameters are a JSON object")
    return {
        k: v if isinstance(v, dict) and ("value" in v or "reference" in v) else {"value": v}
        for k, v in data.items()
    }


# -- talking to the server -----------------------------------------------------------------------
class _Api:
    def __init__(self, cli: Cli, resource_group: str) -> None:
        self.client: AmliteClient = cli.client()
        sub = cli.workspace_ref.subscription
        self.base = (
            f"/subscriptions/{sub}/resourceGroups/{resource_group}"
            "/providers/Microsoft.Resources/deployments"
        )

    def url(self, name: str = "", action: str = "") -> str:
        path = self.base + (f"/{name}" if name else "") + (f"/{action}" if action else "")
        return f"{path}?api-version={DEPLOYMENTS_API}"

    def call(
        self, method: str, name: str = "", action: str = "", body: JsonValue = None
    ) -> JsonValue:
        response = self.client.request(method, self.url(name, action), json_body=body)
        answer: JsonValue = response.json() if response.content else {}
        return answer

    def pages(self, first: str) -> list[JsonObject]:
        items: list[JsonObject] = []
        page: JsonValue = self.client.request("GET", first).json()
        while True:
            items.extend(objects(member(page, "value")))
            link = member(page, "nextLink")
            if not link:
                return items
            page = self.client.request("GET", str(link)).json()


def load_configuration(path: Path, terraform: TerraformInputs | None = None) -> Any:
    """A Terraform file or folder read with its variables; its errors are bad input."""
    inputs = terraform or TerraformInputs()
    try:
        return _terraform().load_configuration([path], inputs.variables, inputs.var_files)
    except RequestError as exc:
        raise BadInput(exc.message) from None


def _request(template: JsonObject, parameters: JsonObject) -> JsonObject:
    return {"properties": {"template": template, "parameters": parameters, "mode": "Incremental"}}


def _prepare(
    file: Path,
    params: list[str] | None,
    name: str | None,
    variables: list[str] | None = None,
    var_files: list[Path] | None = None,
) -> tuple[str, JsonObject]:
    if not is_terraform(file):
        if variables or var_files:
            raise BadInput(
                "-var / --var-file set Terraform variables; for an ARM template or a Bicep file "
                "use --parameters"
            )
        template = load_template(file)
        return name or file.stem, _request(template, parse_parameters(params, template))
    # Terraform variables are resolved when the files are read (names, count and for_each
    # depend on them): they shape the template, which has no parameters of its own
    template = load_template(file, terraform_inputs(params, variables, var_files))
    default = file.stem if file.is_file() else file.resolve().name
    return name or default, _request(template, {})


def _check_group(template: JsonValue, cli: Cli, resource_group: str) -> None:
    """A Terraform configuration's ids are literal (from ``parent_id``): they must name the
    resource group deployed to."""
    group = member(template, "metadata", "terraform", "resourceGroupId")
    if not group:
        return
    wanted = f"/subscriptions/{cli.workspace_ref.subscription}/resourceGroups/{resource_group}"
    if str(group).lower() != wanted.lower():
        raise BadInput(
            f"the configuration's resources are in {group} (their parent_id), not in {wanted}: "
            "deploy it with that --resource-group / --subscription"
        )


_MARK = {"Succeeded": "[green]✓[/green]", "Failed": "[red]✗[/red]", "Running": "[yellow]…[/yellow]"}


def _state(resource: JsonValue, what: str) -> str:
    """The ``properties.provisioningState`` of a deployment or an operation the server sent."""
    state = text(member(resource, "properties", "provisioningState"))
    if state is None:
        raise AmliteError(f"the server's answer for {what} has no provisioningState")
    return state


def _follow(api: _Api, name: str, quiet: bool) -> JsonObject:
    """Poll the deployment, printing each operation as its state changes."""
    seen: dict[str, str] = {}
    while True:
        deployment = api.call("GET", name)
        state = _state(deployment, f"the deployment '{name}'")
        if not quiet:
            for op in api.pages(api.url(name, "operations")):
                props = member(op, "properties")
                op_id = str(member(op, "operationId"))
                op_state = _state(op, f"the operation {op_id}")
                if seen.get(op_id) == op_state:
                    continue
                seen[op_id] = op_state
                target = member(props, "targetResource")
                line = (
                    f"{_MARK.get(op_state, op_state)} "
                    f"{member(target, 'resourceType')} {member(target, 'resourceName')}"
                )
                if op_state != "Running":
                    line += f"  {member(props, 'statusCode') or ''}"
                output.console.print(line)
                error = member(props, "statusMessage", "error")
                if error:
                    output.console.print(
                        f"    [red]{member(error, 'code')}[/red]: {member(error, 'message')}"
                    )
                    for detail in objects(member(error, "details")):
                        output.console.print(
                            f"      {detail.get('target') or '-'}: {detail.get('message')}"
                        )
        if state in TERMINAL and isinstance(deployment, dict):
            return deployment
        time.sleep(0.3)


def _outcome(cli: Cli, deployment: JsonObject) -> None:
    props = member(deployment, "properties")
    state = _state(deployment, "the deployment")
    if cli.json:
        output.print_json(deployment)
    else:
        colour = {"Succeeded": "green", "Failed": "red"}.get(state, "yellow")
        output.console.print(
            f"deployment {member(deployment, 'name')}: [{colour}]{state}[/{colour}] "
            f"({member(props, 'duration') or ''})"
        )
        outputs = member(props, "outputs")
        for key, out in outputs.items() if isinstance(outputs, dict) else []:
            shown = (
                json.dumps(out["value"]) if isinstance(out, dict) and "value" in out else "(secure)"
            )
            output.console.print(f"  output {key} = {shown}")
        error = member(props, "error")
        if error:
            output.error(f"{member(error, 'code')}: {member(error, 'message')}")
            for detail in objects(member(error, "details")):
                output.err_console.print(
                    f"  {detail.get('target') or '-'}: {detail.get('message')}"
                )
    if state == "Failed":
        raise typer.Exit(EXIT_FAILED)
    if state == "Canceled":
        raise typer.Exit(EXIT_CANCELED)


# -- commands --------------------------------------------------------------------------------------
@app.command("create")
def create(
    resource_group: GroupReq,
    file: FileOpt,
    name: NameOpt = None,
    parameters: ParamsOpt = None,
    no_wait: Annotated[bool, typer.Option("--no-wait", help="Return once accepted.")] = False,
    variables: VarOpt = None,
    var_files: VarFileOpt = None,
    destroy: Annotated[
        bool,
        typer.Option(
            "--destroy",
            help="Terraform: delete the resources the file creates (last created first) "
            "instead of deploying it.",
        ),
    ] = False,
    output_: OutputOpt = "table",
    subscription: SubscriptionOpt = None,
) -> None:
    """Deploy a template and follow each resource's operation until the deployment ends."""
    cli = Cli(output=output_, subscription=subscription)
    if destroy:
        _destroy(cli, resource_group, file, terraform_inputs(parameters, variables, var_files))
        return
    with reporting():
        name, body = _prepare(file, parameters, name, variables, var_files)
        _check_group(member(body, "properties", "template"), cli, resource_group)
        api = _Api(cli, resource_group)
        accepted = api.call("PUT", name, body=body)
        if no_wait:
            cli.emit(
                accepted,
                lambda d: output.console.print(f"deployment {member(d, 'name')}: accepted"),
            )
            return
        deployment = _follow(api, name, quiet=cli.json)
    _outcome(cli, deployment)


def _destroy(cli: Cli, resource_group: str, file: Path, inputs: TerraformInputs) -> None:
    """Delete what a Terraform configuration creates, last created first. There is no state
    file: the ids come from the configuration read with the same variables. Workspaces are
    kept (amlite has no workspace deletion); a resource already gone is reported, not an
    error."""
    with reporting():
        if not is_terraform(file):
            raise BadInput("--destroy is for Terraform files (.tf or a folder of them)")
        conf = load_configuration(file, inputs)
        _check_group(conf.template, cli, resource_group)
        client = cli.client()
        results: list[dict[str, str]] = []
        for rid in reversed(conf.resource_ids):
            address = conf.addresses.get(rid, rid)
            outcome = "Kept" if _is_workspace(rid) else _delete(client, rid)
            results.append({"id": rid, "address": address, "result": outcome})
            if not cli.json:
                mark = {"Deleted": "[green]-[/green]", "NotFound": "="}.get(outcome, "*")
                output.console.print(f"{mark} {address}  {outcome}")
    if cli.json:
        output.print_json(results)
    else:
        deleted = sum(1 for r in results if r["result"] == "Deleted")
        output.console.print(f"destroyed {deleted} resource(s) of {file}")


def _is_workspace(rid: str) -> bool:
    parts = rid.strip("/").split("/")
    return len(parts) == 8 and parts[6].lower() == "workspaces"


def _delete(client: AmliteClient, rid: str, timeout: float = 120) -> str:
    """DELETE one resource (following a job's 202 until it is gone): Deleted or NotFound."""
    try:
        response = client.request("DELETE", f"{rid}?api-version={API_VERSION}")
    except ApiError as exc:
        if exc.status == 404:
            return "NotFound"
        raise
    if response.status_code == 204:
        return "NotFound"  # ARM's answer for deleting what does not exist
    deadline = time.monotonic() + timeout
    while response.status_code == 202 and response.headers.get("Location"):
        if time.monotonic() > deadline:
            raise AmliteError(f"{rid} was not deleted within {timeout:.0f}s")
        time.sleep(0.2)
        try:
            response = client.request("GET", response.headers["Location"])
        except ApiError as exc:
            if exc.status == 404:
                break
            raise
    return "Deleted"


@app.command("validate")
def validate(
    resource_group: GroupReq,
    file: FileOpt,
    name: NameOpt = None,
    parameters: ParamsOpt = None,
    variables: VarOpt = None,
    var_files: VarFileOpt = None,
    output_: OutputOpt = "table",
    subscription: SubscriptionOpt = None,
) -> None:
    """Check a template and its parameters without deploying anything."""
    cli = Cli(output=output_, subscription=subscription)
    with reporting():
        name, body = _prepare(file, parameters, name, variables, var_files)
        _check_group(member(body, "properties", "template"), cli, resource_group)
        result = _Api(cli, resource_group).call("POST", name, "validate", body)

    def human(data: JsonValue) -> None:
        resources = objects(member(data, "properties", "validatedResources"))
        output.console.print(f"[green]valid[/green]: {len(resources)} resource(s)")
        for res in resources:
            output.console.print(f"  {res.get('id')}")

    cli.emit(result, human)


_CHANGE = {
    "Create": "[green]+ Create[/green]",
    "Modify": "[yellow]~ Modify[/yellow]",
    "NoChange": "= NoChange",
    "Unsupported": "[magenta]! Unsupported[/magenta]",
    "Ignore": "* Ignore",
}


@app.command("what-if")
def what_if(
    resource_group: GroupReq,
    file: FileOpt,
    name: NameOpt = None,
    parameters: ParamsOpt = None,
    variables: VarOpt = None,
    var_files: VarFileOpt = None,
    output_: OutputOpt = "table",
    subscription: SubscriptionOpt = None,
) -> None:
    """Show what a deployment would create or change, per resource and property."""
    cli = Cli(output=output_, subscription=subscription)
    with reporting():
        name, body = _prepare(file, parameters, name, variables, var_files)
        _check_group(member(body, "properties", "template"), cli, resource_group)
        result = _Api(cli, resource_group).call("POST", name, "whatIf", body)

    def human(data: JsonValue) -> None:
        for change in objects(member(data, "properties", "changes")):
            kind = str(change.get("changeType"))
            output.console.print(f"{_CHANGE.get(kind, kind)}  {change.get('resourceId')}")
            if change.get("unsupportedReason"):
                output.console.print(f"    {change['unsupportedReason']}")
            for delta in objects(change.get("delta")):
                before = json.dumps(delta.get("before")) if "before" in delta else "(none)"
                after = json.dumps(delta.get("after"))
                output.console.print(f"    {delta.get('path')}: {before} => {after}")

    cli.emit(result, human)


@app.command("show")
def show(
    resource_group: GroupReq,
    name: Annotated[str, typer.Option("--name", "-n", help="Deployment name.")],
    output_: OutputOpt = "json",
    subscription: SubscriptionOpt = None,
) -> None:
    """Show a deployment (JSON by default)."""
    cli = Cli(output=output_, subscription=subscription)
    with reporting():
        deployment = _Api(cli, resource_group).call("GET", name)

    def human(d: JsonValue) -> None:
        props = member(d, "properties")
        output.details(
            str(member(d, "name")),
            [
                ("state", member(props, "provisioningState")),
                ("timestamp", member(props, "timestamp")),
                ("duration", member(props, "duration")),
                ("resources", _length(member(props, "outputResources"))),
                ("error", member(props, "error", "message")),
            ],
        )

    cli.emit(deployment, human)


@app.command("list")
def list_(
    resource_group: GroupReq,
    output_: OutputOpt = "table",
    subscription: SubscriptionOpt = None,
) -> None:
    """List the deployments of a resource group."""
    cli = Cli(output=output_, subscription=subscription)
    with reporting():
        api = _Api(cli, resource_group)
        items = api.pages(api.url())

    def human(rows: list[JsonObject]) -> None:
        output.table(
            None,
            ["name", "state", "timestamp", "duration", "resources"],
            [
                [
                    str(d.get("name")),
                    _state(d, f"the deployment '{d.get('name')}'"),
                    str(member(d, "properties", "timestamp") or ""),
                    str(member(d, "properties", "duration") or ""),
                    str(_length(member(d, "properties", "outputResources"))),
                ]
                for d in rows
            ],
        )

    cli.emit(items, human)


def _length(value: JsonValue) -> int:
    """How many items a list the server sent has (none when it sent no list)."""
    return len(value) if isinstance(value, list) else 0


@app.command("delete")
def delete(
    resource_group: GroupReq,
    name: Annotated[str, typer.Option("--name", "-n", help="Deployment name.")],
    subscription: SubscriptionOpt = None,
) -> None:
    """Delete a deployment's record (the resources it created are kept, as in Azure)."""
    cli = Cli(subscription=subscription)
    with reporting():
        _Api(cli, resource_group).call("DELETE", name)
    output.console.print(f"deployment {name}: deleted")


@app.command("cancel")
def cancel(
    resource_group: GroupReq,
    name: Annotated[str, typer.Option("--name", "-n", help="Deployment name.")],
    subscription: SubscriptionOpt = None,
) -> None:
    """Cancel a running deployment (resources already created are kept)."""
    cli = Cli(subscription=subscription)
    with reporting():
        _Api(cli, resource_group).call("POST", name, "cancel")
    output.console.print(f"deployment {name}: cancel requested")


__all__ = ["EXIT_BAD_INPUT", "app", "load_template", "parse_parameters"]
