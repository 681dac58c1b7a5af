"""Sweeps in the CLI, as a user sees them: the live trial table of ``--stream``, ``job show``
ranking trials by score, ``job download`` fetching the best trial's files.

Ranking and metric summaries are checked as functions; everything else against a real
embedded server running real trials that log with ``mlflow.log_metric``.
"""

from __future__ import annotations

import contextlib
import io
import json
import re
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console
from typer.testing import CliRunner

from amlite.cli.follow import follow_job
from amlite.cli.main import app
from amlite.cli.sweeps import Trial, metric_summary, rank
from amlite.client import AmliteClient, ApiError, default_workspace
from amlite.config import Settings

server_mod = pytest.importorskip("amlite.api.server")

runner = CliRunner()

TRAIN = """
import argparse, os, sys, time
import mlflow
p = argparse.ArgumentParser()
p.add_argument("--lr", type=float, required=True)
p.add_argument("--layers", type=int, default=1)
p.add_argument("--steps", type=int, default=3)
p.add_argument("--sleep", type=float, default=0.0)
p.add_argument("--out", default=None)
a = p.parse_args()
if a.layers == 9:
    sys.exit(3)
with mlflow.start_run():
    for step in range(a.steps):
        mlflow.log_metric("loss", 1 / (a.lr * 10 + a.layers) + 0.5 / (step + 1), step=step)
        time.sleep(a.sleep)
os.makedirs("outputs", exist_ok=True)
open("outputs/weights.txt", "w").write(f"lr={a.lr} layers={a.layers}")
if a.out:
    open(os.path.join(a.out, "model.bin"), "w").write(f"model {a.lr} {a.layers}")
"""


@dataclass
class Live:
    client: AmliteClient
    root: Path


def invoke(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    root = tmp_path_factory.mktemp("sweeps")
    (root / "src").mkdir()
    (root / "src" / "train.py").write_text(TRAIN)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("AMLITE_HOME", str(root / "home"))
        mp.setenv("AMLITE_LOCAL_SLOTS", "4")
        for var in (
            "AMLITE_WORKSPACE",
            "AMLITE_RESOURCE_GROUP",
            "AMLITE_SUBSCRIPTION",
            "AMLITE_URL",
            "AMLITE_TOKEN",
        ):
            mp.delenv(var, raising=False)
        with server_mod.EmbeddedServer(Settings.from_env()) as srv:
            mp.setenv("AMLITE_URL", srv.url)
            mp.setenv("AMLITE_TOKEN", srv.token)
            with AmliteClient(srv.url, srv.token, default_workspace()) as client:
                yield Live(client, root)


def sweep_yaml(
    live: Live,
    name: str,
    layers: list[int],
    lrs: list[float],
    goal: str = "minimize",
    extra_args: str = "",
    extra: str = "",
) -> Path:
    """A grid sweep over ``lr`` x ``layers`` of ``train.py`` (lower loss with higher values)."""
    file = live.root / f"{name}.yml"
    file.write_text(
        "type: sweep\n"
        "sampling_algorithm: grid\n"
        "trial:\n"
        "  code: src\n"
        "  command: >-\n"
        "    python train.py --lr ${{search_space.lr}} --layers ${{search_space.layers}}"
        f" {extra_args}\n"
        "search_space:\n"
        f"  lr: {{type: choice, values: {lrs}}}\n"
        f"  layers: {{type: choice, values: {layers}}}\n"
        f"objective: {{primary_metric: loss, goal: {goal}}}\n"
        "limits: {max_total_trials: 10, max_concurrent_trials: 2}\n" + extra
    )
    return file


def loss(lr: float, layers: int, steps: int = 3) -> float:
    """The best (lowest) loss train.py logs: at its last step."""
    return 1 / (lr * 10 + layers) + 0.5 / steps


# -- functions -------------------------------------------------------------------------------
def test_rank_is_goal_aware_and_puts_trials_without_a_score_last() -> None:
    trials = [
        Trial("s_0", 0, "Failed", {}),
        Trial("s_1", 1, "Completed", {}, score=0.5),
        Trial("s_2", 2, "Running", {}, best=0.9),
        Trial("s_3", 3, "Completed", {}, score=0.1),
    ]
    assert [t.name for t in rank(trials, maximize=True)] == ["s_2", "s_1", "s_3", "s_0"]
    assert [t.name for t in rank(trials, maximize=False)] == ["s_3", "s_1", "s_2", "s_0"]


def test_metric_summary_reads_latest_and_goal_aware_best() -> None:
    metrics = {
        "value": [{"key": "acc", "value": 0.7, "step": 2}, {"key": "other", "value": 5}],
        "history": {"acc": [{"value": 0.5}, {"value": 0.9}, {"value": 0.7}]},
    }
    assert metric_summary(metrics, "acc", maximize=True) == (0.7, 0.9, 3)
    assert metric_summary(metrics, "acc", maximize=False) == (0.7, 0.5, 3)
    assert metric_summary({}, "acc", maximize=True) == (None, None, 0)


# -- against a server --------------------------------------------------------------------------
def test_stream_shows_trials_best_so_far_and_ends_with_the_best_trial(live: Live) -> None:
    file = sweep_yaml(live, "grid1", layers=[1, 3], lrs=[0.1, 0.2])
    code, out, err = invoke("job", "create", "-f", str(file), "-n", "grid1", "--stream")
    assert code == 0, out + err
    lines = out.splitlines()
    for i, (lr, layers) in enumerate([(0.1, 1), (0.1, 3), (0.2, 1), (0.2, 3)]):
        final = [ln for ln in lines if ln.startswith(f"  grid1_{i}  Completed")]
        assert final, out
        assert f"layers={layers} lr={lr}" in final[-1]
        assert re.search(rf"loss=[\d.]+ \(best {loss(lr, layers):.6g}\)", final[-1]), final[-1]
    assert any(ln.startswith("best so far: grid1_") for ln in lines)
    assert "grid1: Completed" in out
    tail = out[out.index("best trial:") :]
    assert tail.splitlines()[0] == "best trial: grid1_3"
    assert f"loss (min): {loss(0.2, 3):.6g}" in tail
    assert "parameters: layers=3 lr=0.2" in tail


def test_show_ranks_trials_by_score_goal_aware_with_failed_ones_last(live: Live) -> None:
    # layers 9 makes train.py exit 3: those trials fail and have no score
    names = (("rank_min", "minimize"), ("rank_max", "maximize"))
    for name, goal in names:
        file = sweep_yaml(live, name, layers=[1, 9, 2], lrs=[0.1], goal=goal)
        code, out, err = invoke("job", "create", "-f", str(file), "-n", name)
        assert code == 0, out + err
    for name, _goal in names:
        code, out, err = invoke("job", "stream", name)
        assert code == 0, out + err

    code, out, _ = invoke("job", "show", "rank_min")
    assert code == 0
    rows = re.findall(r"^│ (\*?) +│ (rank_min_\d) +│ (\w+) ", out, re.M)
    assert rows == [
        ("*", "rank_min_2", "Completed"),
        ("", "rank_min_0", "Completed"),
        ("", "rank_min_1", "Failed"),
    ]
    assert "Minimize loss" in out

    code, out, _ = invoke("job", "show", "rank_max", "-o", "json")
    data = json.loads(out)
    assert data["name"] == "rank_max" and data["properties"]["status"] == "Completed"
    trials = data["trials"]
    assert [t["name"] for t in trials] == ["rank_max_0", "rank_max_2", "rank_max_1"]
    assert trials[0]["score"] == pytest.approx(1 / (0.1 * 10 + 1) + 0.5)  # the first step's
    assert trials[0]["hyperparameters"] == {"layers": 1, "lr": 0.1}
    assert trials[-1]["status"] == "Failed" and trials[-1]["score"] is None
    assert data["properties"]["properties"]["best_child_run_id"] == "rank_max_0"


def test_download_fetches_the_best_trials_artifacts_and_named_outputs(live: Live) -> None:
    file = sweep_yaml(
        live,
        "dlsweep",
        layers=[1, 2],
        lrs=[0.1],
        extra_args="--out ${{outputs.model}}",
        extra="outputs:\n  model:\n",
    )
    code, out, err = invoke("job", "create", "-f", str(file), "-n", "dlsweep", "--stream")
    assert code == 0, out + err
    dest = live.root / "dl"
    code, out, err = invoke("job", "download", "dlsweep", "--download-path", str(dest))
    assert code == 0, err
    assert "sweep dlsweep: best trial dlsweep_1" in out
    assert f"of dlsweep_1 to {dest}" in out
    assert (dest / "artifacts" / "outputs" / "weights.txt").read_text() == "lr=0.1 layers=2"
    assert (dest / "named-outputs" / "model" / "model.bin").read_text() == "model 0.1 2"
    assert (dest / "artifacts" / "user_logs" / "std_log.txt").exists()

    code, out, err = invoke("job", "download", "dlsweep", "-p", str(live.root / "j"), "-o", "json")
    assert code == 0
    assert any(f.endswith("model.bin") for f in json.loads(out))
    assert "best trial dlsweep_1" in err


def test_download_of_a_sweep_without_a_best_trial_is_refused(live: Live) -> None:
    file = sweep_yaml(live, "allfail", layers=[9], lrs=[0.1])
    code, out, err = invoke("job", "create", "-f", str(file), "-n", "allfail", "--stream")
    assert code == 0, out + err  # every trial failed, yet the sweep itself completed
    assert "no trial reported loss" in out
    code, _, err = invoke("job", "download", "allfail", "-p", str(live.root / "none"))
    assert code == 2
    assert "has no best trial" in err


def test_early_terminated_trials_are_marked(live: Live) -> None:
    policy = (
        "early_termination: {type: bandit, slack_factor: 0.1, evaluation_interval: 1,"
        " delay_evaluation: 3}\n"
    )
    file = sweep_yaml(
        live, "bandit", layers=[4, 1], lrs=[0.1], extra_args="--steps 30 --sleep 0.1", extra=policy
    )
    code, out, err = invoke("job", "create", "-f", str(file), "-n", "bandit", "--stream")
    assert code == 0, out + err
    assert re.search(r"^  bandit_1  Canceled  .*\[early terminated\]$", out, re.M), out
    assert "best trial: bandit_0" in out

    buf = io.StringIO()
    console = Console(file=buf, force_terminal=True, width=160, color_system=None)
    assert follow_job(live.client, "bandit", console) == "Completed"
    screen = buf.getvalue()
    assert "early terminated" in screen and "sweep bandit: Completed" in screen
    row = next(ln for ln in screen.splitlines() if "bandit_0" in ln and "│" in ln)
    assert "*" in row.split("│")[1]


def test_stream_of_a_canceled_sweep_exits_1(live: Live) -> None:
    file = sweep_yaml(
        live, "stopme", layers=[1, 2], lrs=[0.1], extra_args="--steps 300 --sleep 0.1"
    )
    code, _, err = invoke("job", "create", "-f", str(file), "-n", "stopme")
    assert code == 0, err

    def cancel_when_running() -> None:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            trial: dict[str, Any] = {}
            with contextlib.suppress(ApiError):  # not created yet
                trial = live.client.get_job("stopme_0")
            if (trial.get("properties") or {}).get("status") == "Running":
                break
            time.sleep(0.1)
        live.client.cancel_job("stopme")

    canceller = threading.Thread(target=cancel_when_running)
    canceller.start()
    code, out, _ = invoke("job", "stream", "stopme")
    canceller.join()
    assert code == 1
    assert "stopme: Canceled" in out
    assert re.search(r"^  stopme_0  Canceled", out, re.M), out
