"""build_plan: stored job -> RunPlan, and those plans run for real (bindings, env vars)."""

from __future__ import annotations

import functools
import http.server
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from amlite.config import Settings
from amlite.data.paths import datastore_root
from amlite.domain.arm_id import WorkspaceRef
from amlite.domain.status import JobStatus
from amlite.errors import ExecutionError
from amlite.executors._base import RunPlan, RunReport
from amlite.executors._local import LocalExecutor
from amlite.services.environments import parse_conda_file, resolve_environment
from amlite.services.preparation import RuntimeContext, build_plan
from amlite.store._base import AssetRecord, JobRecord

WS = WorkspaceRef("Sub1", "RG1", "WS1")
KEY = WS.key
NOW = datetime.now(UTC)


class FakeStore:
    """The part of the Store contract build_plan uses, backed by dicts."""

    def __init__(self) -> None:
        self.assets: dict[tuple[str, str, str, str | None], AssetRecord] = {}
        self.seq = 0

    def get_workspace(self, key: str) -> WorkspaceRef | None:
        return WS if key == KEY else None

    def put(self, kind: str, name: str, version: str | None, body: dict[str, Any]) -> None:
        self.seq += 1
        self.assets[(KEY, kind, name, version)] = AssetRecord(
            KEY, kind, name, version, body, self.seq, NOW, NOW
        )

    def get_asset(
        self, workspace_key: str, kind: str, name: str, version: str | None = None
    ) -> AssetRecord | None:
        return self.assets.get((workspace_key, kind, name, version))

    def latest_version(self, workspace_key: str, kind: str, name: str) -> AssetRecord | None:
        found = [
            a
            for (k, kd, n, v), a in self.assets.items()
            if (k, kd, n) == (workspace_key, kind, name) and v is not None
        ]
        return max(found, key=lambda a: a.seq) if found else None


@pytest.fixture()
def settings(tmp_path: Path) -> Settings:
    return Settings(home=tmp_path / "home")


@pytest.fixture()
def ctx(settings: Settings) -> RuntimeContext:
    return RuntimeContext(settings, "http://127.0.0.1:1/mlflow", "http://127.0.0.1:1")


@pytest.fixture()
def store() -> FakeStore:
    return FakeStore()


@pytest.fixture(autouse=True)
def _short_grace(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AMLITE_KILL_GRACE_SECONDS", "0.5")


def blob(settings: Settings) -> Path:
    return datastore_root(settings, KEY, "workspaceblobstore")


def job(spec: dict[str, Any], name: str = "job1", experiment: str = "exp1") -> JobRecord:
    return JobRecord(
        seq=1,
        workspace_key=KEY,
        name=name,
        job_type="Command",
        status=JobStatus.QUEUED,
        priority=0,
        experiment_name=experiment,
        parent_name=None,
        compute="local",
        spec={"jobType": "Command", "compute": {}, **spec},  # what every stored job has
        created_at=NOW,
        modified_at=NOW,
    )


def run(plan: RunPlan, timeout: float = 15) -> RunReport:
    ex = LocalExecutor()
    rt = ex.start(plan)
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        rep = ex.report(rt)
        if rep.result is not None and not rep.alive:
            return rep
        time.sleep(0.01)
    raise AssertionError("job did not finish")


def log_of(plan: RunPlan) -> str:
    return (Path(plan.artifacts_dir) / "user_logs" / "std_log.txt").read_text()


def test_plan_layout_env_and_code(
    store: FakeStore, settings: Settings, ctx: RuntimeContext
) -> None:
    code = blob(settings) / "LocalUpload" / "abc" / "src"
    code.mkdir(parents=True)
    (code / "train.py").write_text("print('training')\n")
    store.put(
        "codes", "code1", "1", {"datastoreId": "workspaceblobstore", "path": "LocalUpload/abc/src"}
    )
    spec = {
        "codeId": WS.resource_id("codes", "code1", "1"),
        "command": 'python train.py && echo "RUN=$AZUREML_RUN_ID TOKEN=$AZUREML_RUN_TOKEN"',
        "environmentVariables": {"MY_VAR": "mine", "AZUREML_RUN_ID": "user-tries"},
        "timeout": "PT1H30M",
        "identity": {"identityType": "Managed", "clientId": "cid-1"},
    }
    plan = build_plan(
        store, job(spec), token="tok123", ctx=ctx, extra_env={"AZUREML_SWEEP_lr": "0.1"}
    )  # type: ignore[arg-type]
    run_dir = settings.home / "runs" / "sub1" / "rg1" / "ws1" / "job1"
    assert plan.run_dir == str(run_dir)
    assert plan.working_dir == str(run_dir / "wd")
    assert plan.artifacts_dir == str(blob(settings) / "ExperimentRun" / "dcid.job1")
    assert plan.job_id == WS.resource_id("jobs", "job1")
    assert plan.timeout_seconds == 5400
    assert plan.environment is None and plan.fail_reason is None
    env = plan.env
    assert env["MY_VAR"] == "mine"
    assert env["AZUREML_RUN_ID"] == "job1"  # the runtime wins
    assert env["AZUREML_ARM_SUBSCRIPTION"] == "Sub1"
    assert env["AZUREML_ARM_RESOURCEGROUP"] == "RG1"
    assert env["AZUREML_ARM_WORKSPACE_NAME"] == "WS1"
    assert env["AZUREML_ARM_PROJECT_NAME"] == "exp1"
    assert env["AZUREML_RUN_TOKEN"] == env["MLFLOW_TRACKING_TOKEN"] == "tok123"
    assert env["MLFLOW_TRACKING_URI"] == "http://127.0.0.1:1/mlflow"
    assert env["MLFLOW_RUN_ID"] == "job1" and env["MLFLOW_EXPERIMENT_ID"] == "exp1"
    assert env["DEFAULT_IDENTITY_CLIENT_ID"] == "cid-1"
    assert env["AZUREML_SWEEP_lr"] == "0.1"
    rep = run(plan)
    assert rep.result is not None and rep.result.outcome == "Completed", rep.result
    assert "training" in log_of(plan) and "RUN=job1 TOKEN=tok123" in log_of(plan)


def test_code_as_local_path_and_latest(
    store: FakeStore, settings: Settings, ctx: RuntimeContext, tmp_path: Path
) -> None:
    src = tmp_path / "project"
    src.mkdir()
    (src / "main.sh").write_text("echo from-local\n")
    store.put("codes", "c", "1", {"path": "/nonexistent"})
    store.put("codes", "c", "2", {"path": src.as_uri()})
    plan = build_plan(
        store, job({"codeId": "azureml:c@latest", "command": "bash main.sh"}), token="t", ctx=ctx
    )  # type: ignore[arg-type]
    rep = run(plan)
    assert rep.result is not None and rep.result.outcome == "Completed"
    assert "from-local" in log_of(plan)


def test_inputs_each_mode(store: FakeStore, settings: Settings, ctx: RuntimeContext) -> None:
    data_dir = blob(settings) / "datasets" / "iris"
    data_dir.mkdir(parents=True)
    (data_dir / "iris.csv").write_text("a,b\n")
    store.put(
        "data",
        "iris",
        "1",
        {"path": "azureml://datastores/workspaceblobstore/paths/datasets/iris/"},
    )
    store.put(
        "data",
        "irisfile",
        "1",
        {"datastoreId": "workspaceblobstore", "path": "datasets/iris/iris.csv"},
    )
    iris = WS.resource_id("data", "iris", "1")
    spec = {
        "command": (
            "test -L ${{inputs.mounted}} && echo MOUNT_LINK; "
            "test -d {inputs.downloaded} && ! test -L {inputs.downloaded} && echo DL_COPY; "
            "cat $AZURE_ML_INPUT_single; echo DIRECT=$AZURE_ML_INPUT_direct; "
            "test -L local_iris && echo POC_LINK; "
            "echo changed > ${{inputs.downloaded}}/iris.csv"
        ),
        "inputDataBindings": {
            "mounted": {"dataId": iris},
            "downloaded": {"dataId": iris, "mode": "Download"},
            "single": {"dataId": "azureml:irisfile:1", "mode": "ReadOnlyMount"},
            "direct": {"dataId": iris, "mode": "Direct"},
            "poc": {"dataId": iris, "mode": "EvalMount", "pathOnCompute": "local_iris"},
        },
    }
    plan = build_plan(store, job(spec), token="t", ctx=ctx)  # type: ignore[arg-type]
    run_dir = Path(plan.run_dir)
    assert plan.env["AZURE_ML_INPUT_mounted"] == str(run_dir / "inputs" / "mounted")
    assert plan.env["AZURE_ML_INPUT_single"] == str(run_dir / "inputs" / "single" / "iris.csv")
    assert (
        plan.env["AZURE_ML_INPUT_direct"]
        == "azureml://datastores/workspaceblobstore/paths/datasets/iris/"
    )
    assert plan.env["AZURE_ML_INPUT_poc"] == str(run_dir / "wd" / "local_iris")
    rep = run(plan)
    assert rep.result is not None and rep.result.outcome == "Completed", rep.result
    log = log_of(plan)
    for marker in ("MOUNT_LINK", "DL_COPY", "a,b", "DIRECT=azureml://", "POC_LINK"):
        assert marker in log, log
    assert (data_dir / "iris.csv").read_text() == "a,b\n"  # the download was a copy


@pytest.fixture()
def http_root(tmp_path: Path) -> Iterator[tuple[Path, str]]:
    root = tmp_path / "www"
    root.mkdir()

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

    handler = functools.partial(Quiet, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield root, f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_http_input_downloaded(
    store: FakeStore, ctx: RuntimeContext, http_root: tuple[Path, str]
) -> None:
    root, url = http_root
    (root / "data.txt").write_text("remote-content\n")
    store.put("data", "web", "1", {"path": f"{url}/data.txt"})
    spec = {
        "command": "cat ${{inputs.web}} {inputs.raw}",
        "inputDataBindings": {
            "web": {"dataId": "azureml:web:1", "mode": "Mount"},
            "raw": {"dataId": f"{url}/data.txt", "mode": "Download"},
        },
    }
    plan = build_plan(store, job(spec), token="t", ctx=ctx)  # type: ignore[arg-type]
    assert plan.env["AZURE_ML_INPUT_web"].endswith("/inputs/web/data.txt")
    rep = run(plan)
    assert rep.result is not None and rep.result.outcome == "Completed", rep.result
    assert log_of(plan).count("remote-content") == 2


def test_outputs_modes_and_artifacts(
    store: FakeStore, settings: Settings, ctx: RuntimeContext
) -> None:
    store.put("datastores", "other", None, {"contentsType": "AzureBlob"})
    other = datastore_root(settings, KEY, "other")
    flag = settings.home / "flag"
    spec = {
        "command": (
            f"echo rw > ${{{{outputs.model}}}}/m.txt; "
            f"while [ ! -e {flag} ]; do sleep 0.02; done; "
            "echo up > {outputs.report}/r.txt; echo poc > here/p.txt; "
            "mkdir -p outputs logs; echo art > outputs/a.txt; echo lg > logs/l.txt"
        ),
        "outputDataBindings": {
            "model": {},
            "report": {
                "mode": "Upload",
                "datastoreId": "azureml:other",
                "pathOnDatastore": "reports/x",
            },
            "poc": {"mode": "ReadWriteMount", "pathOnCompute": "here"},
        },
    }
    plan = build_plan(store, job(spec), token="t", ctx=ctx)  # type: ignore[arg-type]
    run_dir = Path(plan.run_dir)
    assert plan.env["AZURE_ML_OUTPUT_model"] == str(run_dir / "outputs" / "model")
    ex = LocalExecutor()
    rt = ex.start(plan)
    model_file = blob(settings) / "azureml" / "job1" / "model" / "m.txt"
    deadline = time.monotonic() + 10
    while not model_file.exists() and time.monotonic() < deadline:
        time.sleep(0.01)
    assert model_file.read_text() == "rw\n"  # ReadWriteMount writes straight to the datastore
    assert not (other / "reports" / "x" / "r.txt").exists()
    flag.write_text("go")
    while ex.report(rt).result is None and time.monotonic() < deadline:
        time.sleep(0.01)
    rep = ex.report(rt)
    assert rep.result is not None and rep.result.outcome == "Completed", rep.result
    assert (other / "reports" / "x" / "r.txt").read_text() == "up\n"  # Upload copied at the end
    assert (blob(settings) / "azureml" / "job1" / "poc" / "p.txt").read_text() == "poc\n"
    art = Path(plan.artifacts_dir)
    assert (art / "outputs" / "a.txt").read_text() == "art\n"
    assert (art / "logs" / "l.txt").read_text() == "lg\n"


def test_missing_assets_raise(store: FakeStore, ctx: RuntimeContext) -> None:
    with pytest.raises(ExecutionError, match="codes 'nope' version 1 does not exist"):
        build_plan(store, job({"codeId": "azureml:nope:1", "command": "x"}), token="t", ctx=ctx)  # type: ignore[arg-type]
    with pytest.raises(ExecutionError, match="environments"):
        build_plan(
            store, job({"environmentId": "azureml:env:1", "command": "x"}), token="t", ctx=ctx
        )  # type: ignore[arg-type]
    spec = {"command": "x", "inputDataBindings": {"d": {"dataId": "/no/such/data"}}}
    with pytest.raises(ExecutionError, match="does not exist"):
        build_plan(store, job(spec), token="t", ctx=ctx)  # type: ignore[arg-type]
    spec = {"command": "x", "outputDataBindings": {"o": {"datastoreId": "azureml:ghost"}}}
    with pytest.raises(ExecutionError, match="datastore 'ghost' does not exist"):
        build_plan(store, job(spec), token="t", ctx=ctx)  # type: ignore[arg-type]
    with pytest.raises(ExecutionError, match=r"inputs\.x"):
        build_plan(store, job({"command": "echo ${{inputs.x}}"}), token="t", ctx=ctx)  # type: ignore[arg-type]


def test_a_malformed_stored_spec_fails_naming_its_field(
    store: FakeStore, ctx: RuntimeContext
) -> None:
    with pytest.raises(ExecutionError, match=r"the stored job is malformed: timeout: 'P1M' uses"):
        build_plan(store, job({"command": "x", "timeout": "P1M"}), token="t", ctx=ctx)  # type: ignore[arg-type]
    sweep = {"jobType": "Sweep", "command": "x"}
    with pytest.raises(ExecutionError, match="the stored job is malformed: searchSpace"):
        build_plan(store, job(sweep), token="t", ctx=ctx)  # type: ignore[arg-type]


def test_paths_may_not_escape(store: FakeStore, ctx: RuntimeContext) -> None:
    spec = {"command": "x", "outputDataBindings": {"o": {"pathOnDatastore": "../../etc"}}}
    with pytest.raises(ExecutionError, match="escapes"):
        build_plan(store, job(spec), token="t", ctx=ctx)  # type: ignore[arg-type]
    spec = {"command": "x", "outputDataBindings": {"o": {"pathOnCompute": "/tmp/x"}}}
    with pytest.raises(ExecutionError, match="pathOnCompute"):
        build_plan(store, job(spec), token="t", ctx=ctx)  # type: ignore[arg-type]
    store.put("data", "d", "1", {"path": "azureml://datastores/workspaceblobstore/paths/../../x"})
    spec = {"command": "x", "inputDataBindings": {"i": {"dataId": "azureml:d:1"}}}
    with pytest.raises(ExecutionError, match="escapes"):
        build_plan(store, job(spec), token="t", ctx=ctx)  # type: ignore[arg-type]


def test_search_space_placeholders_from_sweep_env(store: FakeStore, ctx: RuntimeContext) -> None:
    plan = build_plan(
        store,
        job({"command": "python t.py --lr ${{search_space.lr}}"}),
        token="t",
        ctx=ctx,  # type: ignore[arg-type]
        extra_env={"AZUREML_SWEEP_lr": "0.5"},
    )
    assert plan.command == "python t.py --lr 0.5"


def test_environments(store: FakeStore, settings: Settings, ctx: RuntimeContext) -> None:
    conda = """
dependencies:
  - python=3.8
  - pip
  - conda-forge::numpy=1.21=py38_0
  - scipy>=1.5
  - mkl
  - pip:
    - requests==2.31.0
    - --extra-index-url https://example.invalid/simple
"""
    parsed = parse_conda_file(conda)
    assert parsed.python_version == "3.8"
    assert parsed.requirements == [
        "numpy==1.21",
        "scipy>=1.5",
        "requests==2.31.0",
        "--extra-index-url",
        "https://example.invalid/simple",
    ]
    assert any("mkl" in n for n in parsed.notes)
    a, _ = resolve_environment(settings, {"condaFile": conda})
    b, _ = resolve_environment(settings, {"condaFile": conda, "docker": {"dockerImageUri": "x"}})
    assert a is not None and b is not None and a.dir == b.dir
    assert any("docker image ignored" in n for n in b.notes)
    none, reason = resolve_environment(settings, {"docker": {"dockerImageUri": "ubuntu"}})
    assert none is None and reason is not None and "docker" in reason

    store.put("environments", "env", "1", {"docker": {"dockerImageUri": "ubuntu"}})
    plan = build_plan(
        store, job({"environmentId": "azureml:env:1", "command": "x"}), token="t", ctx=ctx
    )  # type: ignore[arg-type]
    assert plan.fail_reason is not None and plan.environment is None
    store.put("environments", "env", "2", {"condaFile": conda})
    plan = build_plan(
        store, job({"environmentId": "azureml:env:2", "command": "x"}), token="t", ctx=ctx
    )  # type: ignore[arg-type]
    assert plan.environment is not None and plan.environment.dir == a.dir
    assert plan.environment.dir.startswith(str(settings.envs_dir))


@pytest.mark.parametrize("name", ["../../../../tmp/x", "..", "a/b", "", "a\x00b"])
def test_binding_names_may_not_leave_the_run_dir(
    store: FakeStore, settings: Settings, ctx: RuntimeContext, tmp_path: Path, name: str
) -> None:
    """Defence in depth: a stored job whose binding name slipped past the API fails to plan."""
    data = tmp_path / "data"
    data.mkdir()
    (data / "f.txt").write_text("x")
    spec = {
        "command": "true",
        "inputDataBindings": {name: {"dataId": str(data), "mode": "Download"}},
    }
    with pytest.raises(ExecutionError, match="inputDataBindings"):
        build_plan(store, job(spec), token="t", ctx=ctx)  # type: ignore[arg-type]
    spec = {"command": "true", "outputDataBindings": {name: {"mode": "Upload"}}}
    with pytest.raises(ExecutionError, match="outputDataBindings"):
        build_plan(store, job(spec), token="t", ctx=ctx)  # type: ignore[arg-type]


def test_every_start_of_a_job_has_its_start_id_and_no_other_job_has_it(
    store: FakeStore, ctx: RuntimeContext
) -> None:
    """``start_id`` (what a Ray job's submission id is derived from) is the same for every
    plan of one stored job, and differs for a job deleted and created again under its name."""
    import dataclasses

    record = job({"command": "true"})
    first = build_plan(store, record, token="t1", ctx=ctx)  # type: ignore[arg-type]
    again = build_plan(store, record, token="t2", ctx=ctx)  # type: ignore[arg-type]
    assert first.start_id and first.start_id == again.start_id
    recreated = dataclasses.replace(record, seq=2, created_at=datetime.now(UTC))
    other = build_plan(store, recreated, token="t1", ctx=ctx)  # type: ignore[arg-type]
    assert other.start_id != first.start_id
