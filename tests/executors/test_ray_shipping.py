"""What a Ray job is shipped with when its nodes share no filesystem with the server:
packages, the job's descriptor, the node's view of the plan, the token's grants, and the
events and result the server reads back from the Ray job's log."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import zipfile
from pathlib import Path, PurePosixPath

import pytest

from amlite.data import paths
from amlite.executors._base import EnvironmentBuild, FileStep, NodeSlot, RunPlan
from amlite.executors.ray import node as ray_node
from amlite.executors.ray import ship as ray_ship
from amlite.executors.ray.executor import apply_node_log

WS_ID = (
    "/subscriptions/s1/resourceGroups/rg1/providers/Microsoft.MachineLearningServices/"
    "workspaces/ws1"
)


def make_plan(home: Path) -> RunPlan:
    stores = home / "datastores" / "s1" / "rg1" / "ws1"
    run = home / "runs" / "s1" / "rg1" / "ws1" / "j1"
    wd = run / "wd"
    art = stores / "workspaceblobstore" / "ExperimentRun" / "dcid.j1"
    code = stores / "workspaceblobstore" / "LocalUpload" / "code1"
    return RunPlan(
        job_id=f"{WS_ID}/jobs/j1",
        run_dir=str(run),
        working_dir=str(wd),
        artifacts_dir=str(art),
        command=f"python train.py --data {run}/inputs/data --out {run}/outputs/model",
        env={
            "AMLITE_URL": "http://10.0.0.1:8080",
            "AZUREML_RUN_TOKEN": "amlj_secret",
            "AZURE_ML_INPUT_data": f"{run}/inputs/data",
        },
        prepare=[
            FileStep("copy", str(code), str(wd)),
            FileStep(
                "copy", str(stores / "workspaceblobstore" / "sets" / "d1"), f"{run}/inputs/data"
            ),
            FileStep("mount_ro", str(stores / "other" / "ro"), f"{run}/inputs/ro"),
            FileStep("mkdir", "", str(stores / "workspaceblobstore" / "azureml" / "j1" / "model")),
            FileStep(
                "mount",
                str(stores / "workspaceblobstore" / "azureml" / "j1" / "model"),
                f"{run}/outputs/model",
            ),
            FileStep("download", "https://example.com/x.csv", f"{run}/inputs/web/x.csv"),
        ],
        finalize=[
            FileStep("mkdir", "", str(stores / "workspaceblobstore" / "up")),
            FileStep("copy_into", f"{run}/outputs/up", str(stores / "workspaceblobstore" / "up")),
            FileStep("copy_into", str(wd / "outputs"), str(art / "outputs")),
        ],
        environment=EnvironmentBuild(str(home / "envs" / "abc123"), "/nowhere/python3.11", ["x"]),
        nodes=[NodeSlot("n0", "10.0.0.2", 1, 0)],
    )


def test_the_node_package_is_named_by_its_content_and_holds_the_stdlib_files() -> None:
    uri, data = ray_ship.node_package()
    assert ray_ship.node_package() == (uri, data)
    assert uri.startswith("gcs://_ray_pkg_") and uri.endswith(".zip")
    assert ray_ship.package_uri(data) == uri
    names = set(zipfile.ZipFile(io.BytesIO(data)).namelist())
    supervisor = Path(ray_ship.__file__).parents[1] / "supervisor"  # the stdlib-only package
    assert names == {
        "amlite_node/__init__.py",
        "amlite_node/ray/__init__.py",
        "amlite_node/ray/node.py",
        "amlite_node/ray/gang.py",
        *(f"amlite_node/supervisor/{f.name}" for f in supervisor.glob("*.py")),
    }
    assert "amlite_node/supervisor/__main__.py" in names  # run by path on the node


def test_the_node_package_runs_where_amlite_is_not_installed(tmp_path: Path) -> None:
    """As shipped (``python -m amlite_node.ray.node`` in the Ray job's working directory),
    without site-packages: its relative imports reach the shipped supervisor's contract."""
    zipfile.ZipFile(io.BytesIO(ray_ship.node_package()[1])).extractall(tmp_path)
    run = [sys.executable, "-S", "-E"]
    node = subprocess.run(
        [*run, "-m", ray_ship.NODE_MODULE, "nothing.json"], cwd=tmp_path, capture_output=True
    )
    assert node.returncode == 2 and b"no job descriptor" in node.stderr, node.stderr
    gang = "import amlite_node.ray.gang as g; print(g.contract.RESULT)"  # imports ray lazily
    done = subprocess.run([*run, "-c", gang], cwd=tmp_path, capture_output=True, text=True)
    assert done.stdout.strip() == "result.json", done.stderr


def test_code_packages_are_reproducible_and_change_with_the_code(tmp_path: Path) -> None:
    code = tmp_path / "code"
    (code / "pkg").mkdir(parents=True)
    (code / "train.py").write_text("print(1)")
    (code / "pkg" / "m.py").write_text("x = 1")
    first = ray_ship._zip(ray_ship._tree(code))
    assert ray_ship._zip(ray_ship._tree(code)) == first  # timestamps do not matter
    names = zipfile.ZipFile(io.BytesIO(first)).namelist()
    assert sorted(names) == ["amlite_code/pkg/m.py", "amlite_code/train.py"]
    (code / "train.py").write_text("print(2)")
    assert ray_ship.package_uri(ray_ship._zip(ray_ship._tree(code))) != ray_ship.package_uri(first)


def test_the_artifacts_path_has_the_depth_the_nodes_assume() -> None:
    assert len(PurePosixPath(paths.artifacts_path("j1")).parts) == ray_ship.ARTIFACTS_DEPTH


def test_descriptor_names_the_server_the_token_and_the_datastores(tmp_path: Path) -> None:
    plan = make_plan(tmp_path)
    desc = ray_ship.descriptor(plan, "amlite-x-1")
    assert desc["workspace"] == WS_ID and desc["job"] == "j1"
    assert desc["server_url"] == "http://10.0.0.1:8080" and desc["token"] == "amlj_secret"
    assert desc["datastores"] == str(tmp_path / "datastores" / "s1" / "rg1" / "ws1")
    assert desc["artifacts_store"] == "workspaceblobstore"
    assert desc["artifacts_path"] == "ExperimentRun/dcid.j1"
    assert desc["code"] == plan.prepare[0].src and desc["code_is_file"] is False
    data = ray_ship.working_dir_package(desc)[1]
    shipped = json.loads(zipfile.ZipFile(io.BytesIO(data)).read(ray_node.DESCRIPTOR))
    assert shipped["plan"]["command"] == plan.command


def test_a_node_without_the_filesystem_fetches_inputs_and_pushes_outputs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AMLITE_NODE_ROOT", "/node")
    plan = make_plan(tmp_path / "home")
    desc = ray_ship.descriptor(plan, "sid1")
    local, fetches, pushes = ray_node.localize(desc["plan"], desc)
    root = "/node/runs/sid1"
    assert local["run_dir"] == root and local["working_dir"] == f"{root}/wd"
    assert local["artifacts_dir"] == f"{root}/artifacts"
    assert (
        local["command"] == f"python train.py --data {root}/inputs/data --out {root}/outputs/model"
    )
    assert local["env"]["AZURE_ML_INPUT_data"] == f"{root}/inputs/data"
    assert fetches == [
        {"code": True, "dst": f"{root}/wd"},
        {"datastore": "workspaceblobstore", "path": "sets/d1", "dst": f"{root}/inputs/data",
         "missing_ok": False},
        {"datastore": "other", "path": "ro", "dst": f"{root}/inputs/ro", "missing_ok": False},
        {"datastore": "workspaceblobstore", "path": "azureml/j1/model",
         "dst": f"{root}/outputs/model", "missing_ok": True},
    ]  # fmt: skip
    assert pushes == [
        (f"{root}/outputs/model", "workspaceblobstore", "azureml/j1/model"),
        (f"{root}/outputs/up", "workspaceblobstore", "up"),
    ]
    # what stays for the supervisor: steps on the node's own paths, downloads from the web
    assert [s["op"] for s in local["prepare"]] == ["download"]
    assert local["finalize"] == [
        {"op": "copy_into", "src": f"{root}/wd/outputs", "dst": f"{root}/artifacts/outputs"}
    ]
    # the environment is built on the node, cached by its hash, with the node's Python
    assert local["environment"]["dir"] == "/node/envs/abc123"
    assert local["environment"]["python"] != "/nowhere/python3.11"


def test_a_token_is_granted_exactly_its_inputs_outputs_and_artifacts(tmp_path: Path) -> None:
    plan = make_plan(tmp_path)
    run = Path(plan.run_dir)
    run.mkdir(parents=True)
    ray_ship.write_grants(run, ray_ship.descriptor(plan, "sid1"))
    ok = ray_ship.granted
    assert ok(run, "workspaceblobstore", "sets/d1/part-0.csv", write=False)
    assert ok(run, "other", "ro", write=False)
    assert not ok(run, "other", "ro/x", write=True)  # read-only input
    assert ok(run, "workspaceblobstore", "/azureml/j1/model/w.bin", write=True)
    assert ok(run, "workspaceblobstore", "up/a.txt", write=True)
    assert ok(run, "WorkspaceBlobStore", "ExperimentRun/dcid.j1/user_logs/std_log.txt", True)
    assert not ok(run, "workspaceblobstore", "ExperimentRun/dcid.j2/x", write=True)
    assert not ok(run, "workspaceblobstore", "sets/d10/x", write=False)
    assert not ok(run, "workspaceblobstore", "sets/d1/../../secret", write=False)
    assert not ok(run, "workspaceblobstore", "LocalUpload/code1/train.py", write=False)
    assert not ok(tmp_path / "nowhere", "workspaceblobstore", "sets/d1", write=False)


def test_the_server_reads_events_and_result_from_the_ray_job_log(tmp_path: Path) -> None:
    log = "\n".join(
        [
            "some noise",
            ray_node.MODE_TAG + "remote",
            ray_node.EVENT_TAG + json.dumps({"status": "Running", "at": "t1"}),
        ]
    )
    assert apply_node_log(tmp_path, log) == "remote"
    assert not (tmp_path / "result.json").exists()
    log += "\n" + ray_node.EVENT_TAG + json.dumps({"status": "Finalizing", "at": "t2"})
    log += "\n" + ray_node.RESULT_TAG + json.dumps({"exitCode": 0, "outcome": "Completed"})
    apply_node_log(tmp_path, log)
    lines = (tmp_path / "events.jsonl").read_text().splitlines()
    assert [json.loads(x)["status"] for x in lines] == ["Running", "Finalizing"]
    assert json.loads((tmp_path / "result.json").read_text())["outcome"] == "Completed"
    assert apply_node_log(tmp_path, ray_node.MODE_TAG + "shared\n") == "shared"


def test_each_node_of_a_job_keeps_its_artifacts_apart(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AMLITE_NODE_ROOT", "/node")
    desc = ray_ship.descriptor(make_plan(tmp_path), "sid1")
    server_form = ray_node.localize(desc["plan"], desc, 1)[0]
    # a plan the gang driver already made the node's (it could not see the run directory)
    driver_form = ray_node.localize(
        ray_node.remap(desc["plan"], ray_node.path_mapping(desc)), desc, 1
    )[0]
    for local in (server_form, driver_form):
        assert local["artifacts_dir"] == "/node/runs/sid1/artifacts-node1"
        assert local["finalize"][0]["dst"] == "/node/runs/sid1/artifacts-node1/outputs"
        assert local["run_dir"] == "/node/runs/sid1"
