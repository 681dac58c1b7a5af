"""The CLI against the in-memory fake API: arguments, uploads, streaming, errors, exit codes."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from amlite.cli.main import app

from .fake_api import FakeApi

runner = CliRunner()
WS = (
    "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/amlite/providers/"
    "Microsoft.MachineLearningServices/workspaces/default"
)


def invoke(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_job_create_uploads_registers_and_resolves(fake: FakeApi, project: Path) -> None:
    code, out, err = invoke(
        "job", "create", "-f", str(project / "job.yml"), "--name", "j1", "-o", "json"
    )
    assert code == 0, err
    job = json.loads(out)
    props = job["properties"]
    assert job["name"] == "j1"
    assert props["command"].startswith("python main.py --data ${{inputs.table}} --n 3 ")
    assert props["codeId"].startswith(f"{WS}/codes/src/versions/")
    assert props["environmentId"].startswith(
        f"{WS}/environments/CliV2AnonymousEnvironment/versions/"
    )
    binding = props["inputDataBindings"]["table"]
    assert binding["mode"] == "Download"
    assert binding["dataId"].startswith(f"{WS}/data/data_csv/versions/")
    assert props["compute"]["target"] == f"{WS}/computes/local"
    assert props["properties"]["display_name"] == "my run"
    # the code folder and the input file are on the datastore, the assets point at them
    code_asset = fake.assets[props["codeId"][len(WS) + 1 :]]["properties"]
    assert code_asset["path"].startswith("LocalUpload/") and code_asset["path"].endswith("/src")
    assert fake.files[("workspaceblobstore", code_asset["path"] + "/main.py")] == b"print('hi')\n"
    data_asset = fake.assets[binding["dataId"][len(WS) + 1 :]]["properties"]
    assert fake.files[("workspaceblobstore", data_asset["path"])] == b"a,b\n1,2\n"
    env = fake.assets[props["environmentId"][len(WS) + 1 :]]["properties"]
    assert "numpy" in env["condaFile"]
    assert env["docker"] == {"dockerSpecificationType": "Image", "dockerImageUri": "python:3.11"}


def test_job_create_generates_a_valid_name(fake: FakeApi, project: Path) -> None:
    code, out, _ = invoke("job", "create", "-f", str(project / "job.yml"), "-o", "json")
    assert code == 0
    name = json.loads(out)["name"]
    assert name.startswith("amlite_") and len(name) < 60


def test_job_create_stream_follows_logs_and_exit_code(fake: FakeApi, project: Path) -> None:
    code, out, _ = invoke("job", "create", "-f", str(project / "job.yml"), "-n", "ok", "--stream")
    assert code == 0
    assert "ok: Running" in out and "ok: Completed" in out
    assert out.count("line one") == 1 and "line two \u00e9" in out
    code, out, _ = invoke(
        "job",
        "create",
        "-f",
        str(project / "job.yml"),
        "-n",
        "bad",
        "--set",
        "command=fail now",
        "--stream",
    )
    assert code == 1 and "bad: Failed" in out


def test_set_overrides_the_yaml(fake: FakeApi, project: Path) -> None:
    code, out, _ = invoke(
        "job",
        "create",
        "-f",
        str(project / "job.yml"),
        "-n",
        "s",
        "--set",
        "inputs.n=7",
        "--set",
        "compute=azureml:gpu",
        "-o",
        "json",
    )
    assert code == 0
    props = json.loads(out)["properties"]
    assert " --n 7 " in props["command"]
    assert props["compute"]["target"] == f"{WS}/computes/gpu"


def test_server_validation_errors_are_printed_with_exit_2(fake: FakeApi, tmp_path: Path) -> None:
    body = {"properties": {"jobType": "Command", "command": "", "compute": {"target": "x"}}}
    (tmp_path / "b.json").write_text(json.dumps(body))
    code, _, err = invoke("job", "create", "-f", str(tmp_path / "b.json"))
    assert code == 2
    assert "error: ValidationError: 1 problem" in err
    assert "  properties.command: field required" in err


def test_bad_yaml_exits_2_naming_the_key(fake: FakeApi, tmp_path: Path) -> None:
    (tmp_path / "j.yml").write_text("command: x\nfavourite_colour: blue\n")
    code, _, err = invoke("job", "create", "-f", str(tmp_path / "j.yml"))
    assert code == 2 and "favourite_colour: unknown key" in err
    (tmp_path / "a.yml").write_text("type: automl\ntask: classification\n")
    code, _, err = invoke("job", "create", "-f", str(tmp_path / "a.yml"))
    assert code == 2 and "not supported by api-version 2021-03-01-preview" in err


def test_missing_local_path_exits_2_before_any_upload(fake: FakeApi, tmp_path: Path) -> None:
    (tmp_path / "j.yml").write_text("command: x\ncode: nowhere\n")
    code, _, err = invoke("job", "create", "-f", str(tmp_path / "j.yml"))
    assert code == 2 and "nowhere does not exist" in err
    assert not fake.files and not fake.jobs


def test_show_list_cancel_delete(fake: FakeApi, project: Path) -> None:
    for name in ("a", "b", "c"):
        assert invoke("job", "create", "-f", str(project / "job.yml"), "-n", name)[0] == 0
    code, out, _ = invoke("job", "list", "-o", "json")
    assert code == 0 and [j["name"] for j in json.loads(out)] == ["a", "b", "c"]
    code, out, _ = invoke("job", "list", "--max", "2", "-o", "json")
    assert len(json.loads(out)) == 2
    code, out, _ = invoke("job", "list", "--tag", "team")
    assert code == 0 and "Command" in out and "a" in out
    code, out, _ = invoke("job", "show", "b")
    assert code == 0 and "demo" in out
    code, out, _ = invoke("job", "cancel", "c")
    assert code == 0 and "c: Canceled" in out
    code, out, _ = invoke("job", "stream", "c")
    assert code == 1
    code, _, _ = invoke("job", "delete", "a")
    assert code == 0 and "a" not in fake.jobs
    code, _, err = invoke("job", "show", "a")
    assert code == 2 and "error: ResourceNotFound: job a not found" in err


def test_download_mirrors_artifacts_and_named_outputs(
    fake: FakeApi, project: Path, tmp_path: Path
) -> None:
    assert invoke("job", "create", "-f", str(project / "job.yml"), "-n", "d", "--stream")[0] == 0
    dest = tmp_path / "dl"
    code, _, _ = invoke("job", "download", "d", "--download-path", str(dest))
    assert code == 0
    assert (dest / "artifacts" / "user_logs" / "std_log.txt").read_text().startswith("line one")
    assert (dest / "artifacts" / "outputs" / "model.txt").read_text() == "m"
    assert (dest / "named-outputs" / "result" / "result.txt").read_text() == "42"


def test_no_server_message(monkeypatch, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.delenv("AMLITE_URL", raising=False)
    monkeypatch.setenv("AMLITE_HOME", str(tmp_path))
    code, _, err = invoke("job", "list")
    assert code == 1 and "no amlite server found" in err


def test_assets_create_list_show(fake: FakeApi, project: Path) -> None:
    code, _, err = invoke(
        "code", "create", "--name", "train", "--version", "1", "--path", str(project / "src")
    )
    assert code == 0, err
    props = fake.assets["codes/train/versions/1"]["properties"]
    assert fake.files[("workspaceblobstore", props["path"] + "/main.py")]
    code, _, _ = invoke(
        "data", "create", "-n", "iris", "-v", "2", "--path", "https://example.com/iris.csv"
    )
    assert code == 0
    assert fake.assets["data/iris/versions/2"]["properties"] == {
        "path": "https://example.com/iris.csv"
    }
    code, _, _ = invoke(
        "data",
        "create",
        "-n",
        "ds",
        "-v",
        "1",
        "--path",
        "azureml://datastores/workspaceblobstore/paths/x/y",
    )
    assert fake.assets["data/ds/versions/1"]["properties"]["path"] == "x/y"
    code, _, err = invoke(
        "environment",
        "create",
        "-n",
        "env",
        "-v",
        "1",
        "--conda-file",
        str(project / "env.yml"),
        "--image",
        "python:3.11",
    )
    assert code == 0, err
    assert "numpy" in fake.assets["environments/env/versions/1"]["properties"]["condaFile"]
    code, out, _ = invoke("code", "list", "-o", "json")
    assert [c["name"] for c in json.loads(out)] == ["train"]
    code, out, _ = invoke("data", "list", "--name", "iris")
    assert code == 0 and "example.com" in out
    code, out, _ = invoke("environment", "show", "env", "--version", "1", "-o", "json")
    assert json.loads(out)["name"] == "1"
    code, _, err = invoke("code", "create", "--name", "x")
    assert code == 2 and "a name and a version are needed" in err


def test_data_latest_reference_is_resolved(fake: FakeApi, tmp_path: Path) -> None:
    for version in ("1", "10", "9"):
        invoke("data", "create", "-n", "frames", "-v", version, "--path", "https://e.com/f/")
    (tmp_path / "j.yml").write_text(
        "command: ls ${{inputs.f}}\ninputs:\n  f: {type: uri_folder, path: azureml:frames@latest}\n"
    )
    code, out, err = invoke("job", "create", "-f", str(tmp_path / "j.yml"), "-o", "json")
    assert code == 0, err
    assert json.loads(out)["properties"]["inputDataBindings"]["f"]["dataId"] == (
        f"{WS}/data/frames/versions/10"
    )


def test_compute_and_datastore(fake: FakeApi, tmp_path: Path) -> None:
    code, _, _ = invoke(
        "compute",
        "create",
        "--name",
        "cpu-cluster",
        "--type",
        "AmlCompute",
        "--set",
        "maxNodeCount=4",
    )
    assert code == 0
    assert fake.assets["computes/cpu-cluster"]["properties"] == {
        "computeType": "AmlCompute",
        "properties": {"maxNodeCount": 4},
    }
    (tmp_path / "c.yml").write_text("name: ray1\ntype: ray\n")
    assert invoke("compute", "create", "-f", str(tmp_path / "c.yml"))[0] == 0
    assert fake.assets["computes/ray1"]["properties"]["computeType"] == "Ray"
    code, out, _ = invoke("compute", "list")
    assert code == 0 and "AmlCompute" in out
    code, _, err = invoke("compute", "create", "--name", "x", "--type", "Quantum")
    assert code == 2 and "Quantum" in err
    (tmp_path / "d.yml").write_text(
        "name: blob2\ntype: azure_blob\naccount_name: acc\ncontainer_name: c1\n"
    )
    assert invoke("datastore", "create", "-f", str(tmp_path / "d.yml"))[0] == 0
    contents = fake.assets["datastores/blob2"]["properties"]["contents"]
    assert contents["contentsType"] == "AzureBlob" and contents["containerName"] == "c1"
    code, out, _ = invoke("datastore", "show", "blob2", "-o", "json")
    assert json.loads(out)["name"] == "blob2"
    code, out, _ = invoke("datastore", "list")
    assert code == 0 and "blob2" in out and "AzureBlob" in out


def test_workspace_options_change_the_paths(fake: FakeApi, project: Path) -> None:
    code, out, _ = invoke(
        "job",
        "create",
        "-f",
        str(project / "job.yml"),
        "-n",
        "w",
        "-w",
        "other",
        "-g",
        "rg2",
        "--subscription",
        "sub3",
        "-o",
        "json",
    )
    assert code == 0
    assert json.loads(out)["id"].startswith(
        "/subscriptions/sub3/resourceGroups/rg2/providers/Microsoft.MachineLearningServices/"
        "workspaces/other/jobs/w"
    )
