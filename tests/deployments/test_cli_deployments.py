"""``amlite deployment ...`` against a real embedded server."""

from __future__ import annotations

import importlib.util
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from amlite.cli.main import app
from amlite.config import Settings

server_mod = pytest.importorskip("amlite.api.server")
runner = CliRunner()
JOBS = "Microsoft.MachineLearningServices/workspaces/jobs"


@pytest.fixture
def live(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[object]:
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("AMLITE_HOME", str(home))
    for var in (
        "AMLITE_WORKSPACE",
        "AMLITE_RESOURCE_GROUP",
        "AMLITE_SUBSCRIPTION",
        "AMLITE_URL",
        "AMLITE_TOKEN",
    ):
        monkeypatch.delenv(var, raising=False)
    with server_mod.EmbeddedServer(Settings.from_env()) as srv:
        monkeypatch.setenv("AMLITE_URL", srv.url)
        monkeypatch.setenv("AMLITE_TOKEN", srv.token)
        yield srv


def template(command: str = "echo hi") -> dict[str, Any]:
    return {
        "parameters": {
            "count": {"type": "int"},
            "prefix": {"type": "string", "defaultValue": "cli"},
        },
        "resources": [
            {
                "type": JOBS,
                "apiVersion": "2021-03-01-preview",
                "name": "[format('ws1/{0}-{1}', parameters('prefix'), copyIndex())]",
                "copy": {"name": "jobs", "count": "[parameters('count')]"},
                "properties": {"jobType": "Command", "command": command, "compute": {}},
            }
        ],
        "outputs": {"n": {"type": "int", "value": "[parameters('count')]"}},
    }


def write(tmp_path: Path, name: str, data: Any) -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(data))
    return path


def test_create_follows_operations_and_exits_from_the_outcome(live: object, tmp_path: Path) -> None:
    tpl = write(tmp_path, "main.json", template())
    params = write(tmp_path, "params.json", {"parameters": {"prefix": {"value": "fromfile"}}})
    result = runner.invoke(
        app,
        ["deployment", "create", "-g", "rg1", "-f", str(tpl), "-p", "count=2", "-p", f"@{params}"],
    )
    assert result.exit_code == 0, result.output
    assert "ws1/fromfile-0" in result.output and "ws1/fromfile-1" in result.output
    assert "deployment main: Succeeded" in result.output
    assert "output n = 2" in result.output

    shown = runner.invoke(app, ["deployment", "show", "-g", "rg1", "-n", "main"])
    assert json.loads(shown.output)["properties"]["provisioningState"] == "Succeeded"
    listed = runner.invoke(app, ["deployment", "list", "-g", "rg1", "-o", "json"])
    assert [d["name"] for d in json.loads(listed.output)] == ["main"]

    what = runner.invoke(
        app,
        ["deployment", "what-if", "-g", "rg1", "-f", str(tpl), "-p", "count=3", "-p", f"@{params}"],
    )
    assert what.exit_code == 0, what.output
    assert what.output.count("= NoChange") == 2
    assert what.output.count("+ Create") == 1

    valid = runner.invoke(
        app, ["deployment", "validate", "-g", "rg1", "-f", str(tpl), "-p", "count=1"]
    )
    assert valid.exit_code == 0 and "valid: 1 resource(s)" in valid.output

    as_json = runner.invoke(
        app,
        [
            "deployment",
            "create",
            "-g",
            "rg1",
            "-n",
            "j",
            "-f",
            str(tpl),
            "-p",
            "count=0",
            "-o",
            "json",
        ],
    )
    assert as_json.exit_code == 0, as_json.output
    assert json.loads(as_json.output)["properties"]["outputs"]["n"]["value"] == 0

    deleted = runner.invoke(app, ["deployment", "delete", "-g", "rg1", "-n", "main"])
    assert deleted.exit_code == 0
    gone = runner.invoke(app, ["deployment", "show", "-g", "rg1", "-n", "main"])
    assert gone.exit_code == 2


def test_refused_and_failed_deployments_set_the_exit_code(live: object, tmp_path: Path) -> None:
    tpl = write(tmp_path, "main.json", template())
    missing = runner.invoke(app, ["deployment", "create", "-g", "rg1", "-f", str(tpl)])
    assert missing.exit_code == 2
    assert "the value for the template parameter 'count' is not provided" in missing.output
    wrong = runner.invoke(
        app, ["deployment", "create", "-g", "rg1", "-f", str(tpl), "-p", "count=two"]
    )
    assert wrong.exit_code == 2
    assert "'two' is not a valid int" in wrong.output

    runner.invoke(app, ["deployment", "create", "-g", "rg1", "-f", str(tpl), "-p", "count=1"])
    changed = write(tmp_path, "main.json", template(command="echo changed"))
    failed = runner.invoke(
        app, ["deployment", "create", "-g", "rg1", "-f", str(changed), "-p", "count=1"]
    )
    assert failed.exit_code == 1, failed.output
    assert "DeploymentFailed" in failed.output
    assert "'command' cannot change after the job was created" in failed.output
    # -o json: the deployment's body only (no progress lines), the same exit codes
    as_json = runner.invoke(
        app,
        ["deployment", "create", "-g", "rg1", "-f", str(changed), "-p", "count=1", "-o", "json"],
    )
    assert as_json.exit_code == 1, as_json.output
    body = json.loads(as_json.output)
    assert body["properties"]["provisioningState"] == "Failed"
    assert body["properties"]["error"]["code"] == "DeploymentFailed"
    refused = runner.invoke(
        app, ["deployment", "validate", "-g", "rg1", "-f", str(tpl), "-p", "count=x", "-o", "json"]
    )
    assert refused.exit_code == 2 and "'x' is not a valid int" in refused.output


@pytest.mark.skipif(
    importlib.util.find_spec("amlite.deployments.bicep") is not None,
    reason="the Bicep compiler is installed",
)
def test_bicep_without_the_compiler_says_so(live: object, tmp_path: Path) -> None:
    main = tmp_path / "main.bicep"
    main.write_text("param x string\n")
    result = runner.invoke(app, ["deployment", "create", "-g", "rg1", "-f", str(main)])
    assert result.exit_code == 2
    assert "Bicep compiler" in result.output


TF = """
variable "workspace_id" { type = string }
variable "jobs" { type = number }
variable "command" {
  type    = string
  default = "echo default"
}
resource "azapi_resource" "code" {
  type      = "Microsoft.MachineLearningServices/workspaces/codes@2021-03-01-preview"
  name      = "tfcode"
  parent_id = var.workspace_id
  body      = { properties = { description = "from terraform" } }
}
resource "azapi_resource" "job" {
  count     = var.jobs
  type      = "Microsoft.MachineLearningServices/workspaces/jobs@2021-03-01-preview"
  name      = "tf-${count.index}"
  parent_id = var.workspace_id
  body = {
    properties = {
      jobType     = "Command"
      command     = var.command
      compute     = {}
      description = azapi_resource.code.name
    }
  }
}
output "count" { value = var.jobs }
"""
WS_ID = (
    "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg1"
    "/providers/Microsoft.MachineLearningServices/workspaces/ws1"
)


def _client(live: Any) -> httpx.Client:
    return httpx.Client(
        base_url=live.url, headers={"Authorization": f"Bearer {live.token}"}, timeout=30
    )


def _jobs(live: Any) -> dict[str, str]:
    """name -> command of the jobs of ws1 (through the API, as a user sees them)."""
    with _client(live) as c:
        page = c.get(f"{WS_ID}/jobs?api-version=2021-03-01-preview").json()
    return {j["name"]: j["properties"]["command"] for j in page["value"]}


def test_terraform_variables_reach_the_configuration_and_destroy_removes_it(
    live: Any, tmp_path: Path
) -> None:
    main = tmp_path / "infra" / "main.tf"
    main.parent.mkdir()
    main.write_text(TF)
    tfvars = tmp_path / "dev.tfvars"
    tfvars.write_text('jobs = 1\ncommand = "echo from-tfvars"\n')
    deploy = ["deployment", "create", "-g", "rg1", "-f", str(main)]

    # a missing variable is bad input, named
    missing = runner.invoke(app, deploy)
    assert missing.exit_code == 2, missing.output
    assert "no value for the required variable 'workspace_id'" in missing.output

    # --parameters k=v and a .tfvars file (k=v wins over the file)
    result = runner.invoke(
        app, [*deploy, "--parameters", f"workspace_id={WS_ID}", "-p", str(tfvars), "-p", "jobs=2"]
    )
    assert result.exit_code == 0, result.output
    assert "output count = 2" in result.output
    assert _jobs(live) == {"tf-0": "echo from-tfvars", "tf-1": "echo from-tfvars"}

    # -var / -var-file (terraform's spelling), a folder, and what-if sees no change
    same = [f"-var=workspace_id={WS_ID}", "-var-file", str(tfvars), "-var", "jobs=2"]
    what = runner.invoke(app, ["deployment", "what-if", "-g", "rg1", "-f", str(main.parent), *same])
    assert what.exit_code == 0, what.output
    assert what.output.count("= NoChange") == 3, what.output
    more = runner.invoke(app, [*deploy, *same[:3], "-var", "jobs=3"])
    assert more.exit_code == 0, more.output
    assert sorted(_jobs(live)) == ["tf-0", "tf-1", "tf-2"]

    # the ids are literal: another resource group is refused, naming both
    other = runner.invoke(
        app,
        [
            "deployment",
            "create",
            "-g",
            "rg2",
            "-f",
            str(main),
            "-var",
            f"workspace_id={WS_ID}",
            "-var",
            "jobs=1",
        ],
    )
    assert other.exit_code == 2 and "not in /subscriptions/" in other.output

    # --destroy removes what the file (with these variables) creates, last created first
    gone = runner.invoke(
        app, [*deploy, "--destroy", "-var", f"workspace_id={WS_ID}", "-var", "jobs=2", "-o", "json"]
    )
    assert gone.exit_code == 0, gone.output
    results = json.loads(gone.output)
    assert [r["address"] for r in results] == [
        "azapi_resource.job[1]",
        "azapi_resource.job[0]",
        "azapi_resource.code",
    ]
    assert {r["result"] for r in results} == {"Deleted"}
    assert _jobs(live) == {"tf-2": "echo from-tfvars"}  # not one of this reading's 2 jobs
    with _client(live) as c:
        assert c.get(f"{WS_ID}/codes/tfcode?api-version=2021-03-01-preview").status_code == 404
    again = runner.invoke(
        app, [*deploy, "--destroy", "-var", f"workspace_id={WS_ID}", "-var", "jobs=2"]
    )
    assert again.exit_code == 0 and "NotFound" in again.output

    # Terraform options on a template are refused
    tpl = write(tmp_path, "main.json", template())
    wrong = runner.invoke(app, ["deployment", "create", "-g", "rg1", "-f", str(tpl), "-var", "a=b"])
    assert wrong.exit_code == 2 and "--parameters" in wrong.output
    no_destroy = runner.invoke(
        app, ["deployment", "create", "-g", "rg1", "-f", str(tpl), "--destroy"]
    )
    assert no_destroy.exit_code == 2 and "Terraform" in no_destroy.output
