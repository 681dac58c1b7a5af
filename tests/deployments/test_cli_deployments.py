"""``amlite deployment ...`` against a real embedded server."""

from __future__ import annotations

import importlib.util
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

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
