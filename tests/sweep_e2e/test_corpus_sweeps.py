"""The corpus's sweep documents run to completion through the real CLI and a real server.

What the samples fetch from the network is stood in for by ``fixtures/`` (a tiny iris.csv,
small training scripts that accept the samples' arguments and log their primary metric with
``mlflow.log_metric``). Each YAML is loaded, copied next to its stand-in ``src/``, its network
references rewritten *in the loaded dict* (the shared files stay untouched) and its limits
made small; ``azureml:`` computes, environments and codes the samples name are registered
under those very names in the test workspace. Then ``amlite job create -f FILE --stream``
(or ``amlite run FILE``) runs it, and the sweep must end Completed with a best trial whose
score is the best of what the trials logged.
"""

from __future__ import annotations

import json
import math
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from amlite.cli.main import app
from amlite.cli.sweeps import get_metrics, list_trials
from amlite.client import AmliteClient, default_workspace
from amlite.config import Settings
from support.shared import CORPUS

server_mod = pytest.importorskip("amlite.api.server")

EXAMPLES = CORPUS / "azureml-examples/cli"
SDK = CORPUS / "azure-sdk-for-python/sdk/ml/azure-ai-ml/tests/test_configs/sweep_job"
FIXTURES = Path(__file__).parent / "fixtures"
IRIS_URL = "https://azuremlexamples.blob.core.windows.net/datasets/iris.csv"


runner = CliRunner()

# Stand-ins registered under the names the samples use; an environment without condaFile
# or docker runs with the server's own Python (which has mlflow). Azure's curated
# environments (``AzureML-sklearn-1.5`` ...) have dots in their names, which the API refuses
# for user assets, so the samples naming them get ``STAND_IN_ENV`` instead.
COMPUTES = ("cpu-cluster", "testCompute")
STAND_IN_ENV = "azureml:local-python:1"
ENVIRONMENTS = (("lightgbm-environment", "1"), ("local-python", "1"))
CODES = (("testCode", "1", "sdk"), ("train-lightgbm", "1", "lightgbm"))


@dataclass
class Live:
    url: str
    token: str
    client: AmliteClient


def invoke(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


def register_standins(client: AmliteClient) -> None:
    for compute in COMPUTES:
        code, _, err = invoke("compute", "create", "--name", compute, "--type", "Local")
        assert code == 0, err
    for env, version in ENVIRONMENTS:
        body = {"properties": {"description": "stand-in: the amlite server's own Python"}}
        client.put_environment(env, version, body)
    for name, version, folder in CODES:
        code, _, err = invoke(
            "code", "create", "--name", name, "--version", version, "--path", str(FIXTURES / folder)
        )
        assert code == 0, err


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    home = tmp_path_factory.mktemp("corpus-home")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("AMLITE_HOME", str(home))
        mp.setenv("AMLITE_LOCAL_SLOTS", "4")
        for var in ("AMLITE_WORKSPACE", "AMLITE_RESOURCE_GROUP", "AMLITE_SUBSCRIPTION"):
            mp.delenv(var, raising=False)
        mp.delenv("AMLITE_URL", raising=False)
        mp.delenv("AMLITE_TOKEN", raising=False)
        with server_mod.EmbeddedServer(Settings.from_env()) as srv:
            mp.setenv("AMLITE_URL", srv.url)
            mp.setenv("AMLITE_TOKEN", srv.token)
            client = AmliteClient(srv.url, srv.token, default_workspace())
            register_standins(client)
            yield Live(srv.url, srv.token, client)
            client.close()


def stage(tmp: Path, source: Path, scripts: str, edit: Callable[[dict[str, Any]], None]) -> Path:
    """Copy a corpus YAML to ``tmp`` beside ``src/`` (the stand-in scripts) and iris.csv."""
    doc = yaml.safe_load(source.read_text(encoding="utf-8"))
    edit(doc)
    shutil.copytree(FIXTURES / scripts, tmp / "src")
    shutil.copy(FIXTURES / "iris.csv", tmp / "iris.csv")
    target = tmp / source.name
    target.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    return target


def curated_env(doc: dict[str, Any]) -> None:
    """A curated ``azureml:AzureML-...`` environment becomes the stand-in."""
    assert str(doc["trial"]["environment"]).startswith("azureml:AzureML-")
    doc["trial"]["environment"] = STAND_IN_ENV


def small_limits(doc: dict[str, Any], total: int = 4, concurrent: int = 2) -> None:
    if "limits" in doc:  # current form
        doc["limits"].update(max_total_trials=total, max_concurrent_trials=concurrent)
    else:  # 2021 form
        doc.update(max_total_trials=total, max_concurrent_trials=concurrent)


def check_best(client: AmliteClient, sweep: str, out: str) -> dict[str, Any]:
    """The sweep Completed; its best trial and score are the best of the trials' metrics."""
    job = client.get_job(sweep)
    props = job["properties"]
    assert props["status"] == "Completed", props
    metric = props["objective"]["primaryMetric"]
    maximize = props["objective"]["goal"] == "Maximize"
    trials = list(list_trials(client, sweep))
    total = int(props["properties"]["max_total_trials"])
    assert len(trials) == total
    scores: dict[str, float] = {}
    for trial in trials:
        values = [p["value"] for p in get_metrics(client, trial["name"])["history"][metric]]
        best = max(values) if maximize else min(values)
        extra = trial["properties"]["properties"]
        assert math.isclose(float(extra["score"]), best, rel_tol=1e-9), trial["name"]
        if trial["properties"]["status"] in ("Completed", "Canceled"):
            scores[trial["name"]] = best
        if extra.get("early_terminated") == "true":
            assert trial["properties"]["status"] == "Canceled"
        assert trial["name"] in out
    winner = (max if maximize else min)(scores, key=lambda n: scores[n])
    extra = props["properties"]
    assert extra["best_child_run_id"] == winner
    assert math.isclose(float(extra["score"]), scores[winner], rel_tol=1e-9)
    assert f"best trial: {winner}" in out
    params = json.loads(
        next(t for t in trials if t["name"] == winner)["properties"]["properties"][
            "hyperparameters"
        ]
    )
    for key in params:
        assert f"{key.lstrip('-')}=" in out.split(f"best trial: {winner}", 1)[1]
    return job


def stream(file: Path, name: str) -> str:
    code, out, err = invoke("job", "create", "-f", str(file), "-n", name, "--stream")
    assert code == 0, out + err
    assert f"{name}: Completed" in out
    return out


# -- the REST body of how-to-train-rest.sh ------------------------------------------------
def test_rest_sweep_body(live: Live, tmp_path: Path) -> None:
    text = (EXAMPLES / "how-to-train-rest.sh.bodies/create_a_sweep_job.json").read_text()
    ws = live.client.workspace
    for var, value in {
        "$SUBSCRIPTION_ID": ws.subscription,
        "$RESOURCE_GROUP": ws.resource_group,
        "$WORKSPACE": ws.workspace,
        "$COMPUTE_NAME": "cpu-cluster",
    }.items():
        text = text.replace(var, value)
    body = json.loads(text)
    body["properties"].update(maxTotalTrials=4, maxConcurrentTrials=2)
    (tmp_path / "sweep.json").write_text(json.dumps(body))
    out = stream(tmp_path / "sweep.json", "rest_sweep")
    job = check_best(live.client, "rest_sweep", out)
    trial = live.client.get_job(job["properties"]["properties"]["best_child_run_id"])
    assert "--learning_rate" in trial["properties"]["command"]
    assert "--boosting" in trial["properties"]["command"]


# -- CLI v2 YAML, 2021 form -----------------------------------------------------------------
def test_2021_lightgbm_job_sweep(live: Live, tmp_path: Path) -> None:
    def edit(doc: dict[str, Any]) -> None:
        assert doc["trial"]["inputs"]["iris"]["data"]["path"] == IRIS_URL
        doc["trial"]["inputs"]["iris"]["data"] = {"local_path": "iris.csv"}
        doc["trial"]["environment"] = STAND_IN_ENV
        small_limits(doc)

    file = stage(tmp_path, EXAMPLES / "jobs/train/lightgbm/iris/job-sweep.yml", "lightgbm", edit)
    out = stream(file, "lgbm2021")
    check_best(live.client, "lgbm2021", out)

    dest = tmp_path / "dl"
    code, dl_out, err = invoke("job", "download", "lgbm2021", "--download-path", str(dest))
    assert code == 0, err
    best = live.client.get_job("lgbm2021")["properties"]["properties"]["best_child_run_id"]
    assert f"best trial {best}" in dl_out
    assert (dest / "artifacts" / "outputs" / "model.txt").read_text().startswith("lr=")
    assert "read 12 rows" in (dest / "artifacts" / "user_logs" / "std_log.txt").read_text()


# -- CLI v2 YAML, current form ----------------------------------------------------------------
@pytest.mark.parametrize(
    ("sample", "scripts", "name"),
    [
        ("jobs/single-step/lightgbm/iris/job-sweep.yml", "lightgbm", "lgbm_single"),
        ("jobs/single-step/scikit-learn/iris/job-sweep.yml", "sklearn", "sklearn_single"),
    ],
)
def test_current_single_step_iris_sweeps(
    live: Live, tmp_path: Path, sample: str, scripts: str, name: str
) -> None:
    def edit(doc: dict[str, Any]) -> None:
        assert doc["inputs"]["iris_csv"]["path"].endswith("iris.csv")  # https:// or wasbs://
        doc["inputs"]["iris_csv"]["path"] = "iris.csv"
        curated_env(doc)
        small_limits(doc)

    out = stream(stage(tmp_path, EXAMPLES / sample, scripts, edit), name)
    check_best(live.client, name, out)


def test_hello_sweep_with_amlite_run(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """``amlite run`` starts its own server: the stand-in environment is registered in its
    home first, by a server that is stopped again."""
    home = tmp_path / "runhome"
    monkeypatch.setenv("AMLITE_HOME", str(home))
    monkeypatch.setenv("AMLITE_LOCAL_SLOTS", "2")
    for var in ("AMLITE_URL", "AMLITE_TOKEN", "AMLITE_WORKSPACE"):
        monkeypatch.delenv(var, raising=False)
    with (
        server_mod.EmbeddedServer(Settings.from_env()) as srv,
        AmliteClient(srv.url, srv.token, default_workspace()) as client,
    ):
        body = {"properties": {"description": "stand-in: the amlite server's own Python"}}
        client.put_environment("local-python", "1", body)

    def edit(doc: dict[str, Any]) -> None:
        curated_env(doc)
        small_limits(doc)

    file = stage(tmp_path / "job", EXAMPLES / "jobs/basics/hello-sweep.yml", "hello", edit)
    code, out, err = invoke("run", str(file), "-n", "hello_sweep")
    assert code == 0, out + err
    assert "hello_sweep: Completed" in out
    trials = [line.split()[0] for line in out.splitlines() if line.startswith("  hello_sweep_")]
    assert sorted(set(trials)) == [f"hello_sweep_{i}" for i in range(4)]
    assert "best trial: hello_sweep_" in out
    assert "B=" in out and "C=" in out


# -- the SDK's early-termination samples ---------------------------------------------------------
def sdk_edit(policy: dict[str, Any]) -> Callable[[dict[str, Any]], None]:
    def edit(doc: dict[str, Any]) -> None:
        curated_env(doc)
        small_limits(doc)
        doc["early_termination"].update(policy)

    return edit


def test_sdk_bandit_refuses_both_slacks_then_runs_with_one(live: Live, tmp_path: Path) -> None:
    both = stage(tmp_path / "both", SDK / "sweep-bandit.yaml", "sdk", sdk_edit({}))
    code, _, err = invoke("job", "create", "-f", str(both), "-n", "bandit_both")
    assert code == 2
    assert "slack" in err.lower() and "exactly one" in err.lower()

    def one(doc: dict[str, Any]) -> None:
        sdk_edit({})(doc)
        del doc["early_termination"]["slack_amount"]
        doc["early_termination"].update(evaluation_interval=1, delay_evaluation=2)

    out = stream(stage(tmp_path / "one", SDK / "sweep-bandit.yaml", "sdk", one), "bandit_one")
    job = check_best(live.client, "bandit_one", out)
    policy = job["properties"]["earlyTermination"]
    assert policy["policyType"] == "Bandit" and policy["slackFactor"] == 40
    assert "slackAmount" not in policy or policy["slackAmount"] is None


@pytest.mark.parametrize(
    ("sample", "name", "policy_type"),
    [
        ("sweep-median.yaml", "median", "MedianStopping"),
        ("sweep-truncation.yaml", "truncation", "TruncationSelection"),
    ],
)
def test_sdk_median_and_truncation(
    live: Live, tmp_path: Path, sample: str, name: str, policy_type: str
) -> None:
    edit = sdk_edit({"evaluation_interval": 1, "delay_evaluation": 2})
    out = stream(stage(tmp_path, SDK / sample, "sdk", edit), name)
    job = check_best(live.client, name, out)
    assert job["properties"]["earlyTermination"]["policyType"] == policy_type
    for trial in list_trials(live.client, name):
        if trial["properties"]["properties"].get("early_terminated") == "true":
            assert f"{trial['name']}  Canceled" in out
            assert "[early terminated]" in out
