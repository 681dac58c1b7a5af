"""Sweep jobs through a real server: trials are real processes logging metrics with the real
mlflow client; the controller samples, stops poor trials, picks the best, and survives a
server killed with SIGKILL."""

from __future__ import annotations

import io
import json
import tarfile
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from amlite.domain.search_space import parse_search_space
from amlite.sweep import sweep_seed
from amlite.sweep.samplers import RandomSampler
from support.server import API, WS, LiveServer, history, job_url, wait_terminal

DS = f"{WS}/datastores/workspaceblobstore"

TRAIN = """
import argparse, os, sys, time
import mlflow
p = argparse.ArgumentParser()
p.add_argument("--lr", type=float, required=True)
p.add_argument("--layers", type=int, default=1)
p.add_argument("--steps", type=int, default=3)
p.add_argument("--sleep", type=float, default=0.0)
p.add_argument("--crash", default="no")
a = p.parse_args()
print("sweep env", os.environ.get("AZUREML_SWEEP_lr"), os.environ.get("AZUREML_SWEEP_layers"))
if a.crash == "yes" and a.layers == 3:
    sys.exit(2)
with mlflow.start_run():
    for step in range(a.steps):
        # a learning curve: better with larger lr and more layers, rising with steps
        mlflow.log_metric("accuracy", a.lr * 10 + a.layers + step * 0.01, step=step)
        time.sleep(a.sleep)
"""


def upload_code(c: httpx.Client) -> str:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        data = TRAIN.encode()
        info = tarfile.TarInfo("train.py")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    assert c.post(f"{DS}/upload?{API}&path=code/sweep", content=buf.getvalue()).status_code == 200
    body = {"properties": {"datastoreId": DS, "path": "code/sweep"}}
    assert c.put(f"{WS}/codes/sweepcode/versions/1?{API}", json=body).status_code in (200, 201)
    return f"{WS}/codes/sweepcode/versions/1"


def sweep_body(code_id: str, command: str, **props: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "jobType": "Sweep",
        "algorithm": "Random",
        "compute": {},
        "objective": {"primaryMetric": "accuracy", "goal": "Maximize"},
        "searchSpace": {
            "lr": ["uniform", [0.01, 0.1]],
            "layers": ["choice", [[1, 2, 3]]],
        },
        "maxTotalTrials": 6,
        "maxConcurrentTrials": 2,
        "trial": {"command": command, "codeId": code_id},
    }
    base.update(props)
    return {"properties": base}


def trials_of(c: httpx.Client, sweep: str) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    url: str | None = f"{WS}/jobs?{API}&parentJobName={sweep}"
    while url:
        page = c.get(url).json()
        out += page["value"]
        url = page["nextLink"]
    return sorted(out, key=lambda t: int(t["name"].rsplit("_", 1)[1]))


def statuses_of(c: httpx.Client, name: str) -> list[str]:
    return [e["status"] for e in history(c, name)["value"]]


def metrics_of(c: httpx.Client, name: str) -> list[float]:
    resp = c.get(f"{WS}/jobs/{name}/metrics?{API}")
    resp.raise_for_status()
    return [p["value"] for p in resp.json()["history"].get("accuracy", [])]


@pytest.fixture(scope="module", autouse=True)
def slow_sweep(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """A sweep whose one-minute timeout (the spec's durations here have minute precision)
    runs out while the module's other tests run, on a server of its own: its test, the
    module's last, then waits only for what is left of the minute."""
    srv = LiveServer(tmp_path_factory.mktemp("slow") / "home", slots=2).start()
    try:
        with srv.client() as c:
            code = upload_code(c)
            cmd = "python train.py --lr {search_space.lr} --steps 600 --sleep 0.1"
            body = sweep_body(code, cmd, timeout="PT1M")
            assert c.put(job_url("slowsweep"), json=body).status_code == 201
        yield srv
    finally:
        srv.stop()


def test_random_sweep_runs_trials_and_reports_the_best(server: LiveServer) -> None:
    cmd = "python train.py --lr ${{search_space.lr}} --layers {search_space.layers}"
    with server.client() as c:
        code = upload_code(c)
        resp = c.put(job_url("sw1"), json=sweep_body(code, cmd))
        assert resp.status_code == 201, resp.text
        done = wait_terminal(c, "sw1", timeout=120)
        props = done["properties"]
        assert props["status"] == "Completed"
        trials = trials_of(c, "sw1")
        assert [t["name"] for t in trials] == [f"sw1_{i}" for i in range(6)]
        assert all(t["properties"]["status"] == "Completed" for t in trials)
        scores = {t["name"]: max(metrics_of(c, t["name"])) for t in trials}
        best = max(scores, key=lambda n: scores[n])
        assert props["properties"]["best_child_run_id"] == best
        assert abs(float(props["properties"]["score"]) - scores[best]) < 1e-9
        # the values come from the sweep's seeded random stream
        sampler = RandomSampler(
            parse_search_space(props["searchSpace"]),
            seed=sweep_seed("00000000-0000-0000-0000-000000000000/rg1/ws1/sw1"),
        )
        for i, trial in enumerate(trials):
            params = json.loads(trial["properties"]["properties"]["hyperparameters"])
            assert params == sampler.propose(i, [])
            assert trial["properties"]["environmentVariables"]["AZUREML_SWEEP_lr"]
        # at most two trials ever ran at the same time
        spans = []
        for t in trials:
            events = history(c, t["name"])["value"]
            at = {e["status"]: e["at"] for e in events}
            spans.append((at["Running"], at["Completed"]))
        for start, _ in spans:
            overlapping = sum(1 for s, e in spans if s <= start < e)
            assert overlapping <= 2


def test_grid_sweep_covers_the_grid_and_appends_dash_dash_parameters(server: LiveServer) -> None:
    with server.client() as c:
        code = upload_code(c)
        body = sweep_body(
            code,
            "python train.py --steps 1",
            algorithm="Grid",
            searchSpace={"--lr": ["choice", [[0.01, 0.05]]], "--layers": ["choice", [[1, 3]]]},
            maxTotalTrials=10,
        )
        assert c.put(job_url("grid"), json=body).status_code == 201
        done = wait_terminal(c, "grid", timeout=120)
        assert done["properties"]["status"] == "Completed"
        assert done["properties"]["properties"]["space_size"] == "4"
        trials = trials_of(c, "grid")
        commands = [t["properties"]["command"] for t in trials]
        assert commands == [
            "python train.py --steps 1 --lr 0.01 --layers 1",
            "python train.py --steps 1 --lr 0.01 --layers 3",
            "python train.py --steps 1 --lr 0.05 --layers 1",
            "python train.py --steps 1 --lr 0.05 --layers 3",
        ]
        assert done["properties"]["properties"]["best_child_run_id"] == "grid_3"


def test_failing_trials_do_not_stall_the_sweep(server: LiveServer) -> None:
    cmd = "python train.py --lr {search_space.lr} --layers {search_space.layers} --crash yes"
    with server.client() as c:
        code = upload_code(c)
        body = sweep_body(
            code,
            cmd,
            algorithm="Grid",
            searchSpace={"lr": ["choice", [[0.05]]], "layers": ["choice", [[1, 3]]]},
        )
        assert c.put(job_url("crashy"), json=body).status_code == 201
        done = wait_terminal(c, "crashy", timeout=120)
        assert done["properties"]["status"] == "Completed"
        statuses = {t["name"]: t["properties"]["status"] for t in trials_of(c, "crashy")}
        assert statuses == {"crashy_0": "Completed", "crashy_1": "Failed"}
        assert done["properties"]["properties"]["best_child_run_id"] == "crashy_0"


def test_bandit_stops_poor_trials_early(server: LiveServer) -> None:
    cmd = (
        "python train.py --lr {search_space.lr} --layers {search_space.layers} "
        "--steps 30 --sleep 0.1"
    )
    with server.client() as c:
        code = upload_code(c)
        body = sweep_body(
            code,
            cmd,
            algorithm="Grid",
            searchSpace={"lr": ["choice", [[0.05]]], "layers": ["choice", [[3, 1]]]},
            maxConcurrentTrials=2,
            earlyTermination={
                "policyType": "Bandit",
                "slackFactor": 0.1,
                "evaluationInterval": 1,
                "delayEvaluation": 3,
            },
        )
        assert c.put(job_url("bandit"), json=body).status_code == 201
        done = wait_terminal(c, "bandit", timeout=120)
        assert done["properties"]["status"] == "Completed"
        trials = {t["name"]: t for t in trials_of(c, "bandit")}
        good, poor = trials["bandit_0"], trials["bandit_1"]
        assert good["properties"]["status"] == "Completed"
        assert poor["properties"]["status"] == "Canceled"
        reason = history(c, "bandit_1")["reason"]
        assert reason.startswith("early termination")
        assert poor["properties"]["properties"]["early_terminated"] == "true"
        assert len(metrics_of(c, "bandit_1")) < 30
        assert done["properties"]["properties"]["best_child_run_id"] == "bandit_0"


def test_cancelling_a_sweep_cancels_its_running_trials(server: LiveServer) -> None:
    cmd = "python train.py --lr {search_space.lr} --steps 600 --sleep 0.1"
    with server.client() as c:
        code = upload_code(c)
        assert c.put(job_url("stopme"), json=sweep_body(code, cmd)).status_code == 201
        deadline = time.monotonic() + 60
        while sum(t["properties"]["status"] == "Running" for t in trials_of(c, "stopme")) < 2:
            assert time.monotonic() < deadline
            time.sleep(0.1)
        assert c.post(f"{WS}/jobs/stopme/cancel?{API}").status_code == 200
        done = wait_terminal(c, "stopme", timeout=60)
        assert done["properties"]["status"] == "Canceled"
        trials = trials_of(c, "stopme")
        ran = [t for t in trials if "Running" in statuses_of(c, t["name"])]
        assert len(ran) == 2
        # and the two trials created ahead of their turn (``LOOK_AHEAD``), which never ran
        assert [t["name"] for t in trials] == [f"stopme_{i}" for i in range(4)]
        assert all(t["properties"]["status"] == "Canceled" for t in trials)


def test_a_sweep_survives_the_server_being_killed(server: LiveServer) -> None:
    cmd = (
        "python train.py --lr {search_space.lr} --layers {search_space.layers} "
        "--steps 5 --sleep 0.2"
    )
    with server.client() as c:
        code = upload_code(c)
        body = sweep_body(code, cmd, maxTotalTrials=8)
        assert c.put(job_url("crashsafe"), json=body).status_code == 201
        deadline = time.monotonic() + 60
        while sum(t["properties"]["status"] == "Running" for t in trials_of(c, "crashsafe")) < 2:
            assert time.monotonic() < deadline
            time.sleep(0.05)
        while len(trials_of(c, "crashsafe")) < 4:
            assert time.monotonic() < deadline
            time.sleep(0.05)
    server.kill()
    time.sleep(1.0)
    server.start()
    with server.client() as c:
        done = wait_terminal(c, "crashsafe", timeout=180)
        assert done["properties"]["status"] == "Completed"
        trials = trials_of(c, "crashsafe")
        assert [t["name"] for t in trials] == [f"crashsafe_{i}" for i in range(8)]
        sampler = RandomSampler(
            parse_search_space(done["properties"]["searchSpace"]),
            seed=sweep_seed("00000000-0000-0000-0000-000000000000/rg1/ws1/crashsafe"),
        )
        for i, trial in enumerate(trials):
            assert trial["properties"]["status"] == "Completed", trial["name"]
            params = json.loads(trial["properties"]["properties"]["hyperparameters"])
            assert params == sampler.propose(i, [])
            runs = [e for e in history(c, trial["name"])["value"] if e["status"] == "Running"]
            assert len(runs) == 1, f"{trial['name']} ran {len(runs)} times"
            assert len(metrics_of(c, trial["name"])) == 5
        scores = {t["name"]: max(metrics_of(c, t["name"])) for t in trials}
        assert done["properties"]["properties"]["best_child_run_id"] == max(scores, key=scores.get)


def test_trials_that_never_log_the_metric_do_not_stall_the_sweep(server: LiveServer) -> None:
    with server.client() as c:
        body = sweep_body("", "echo no metric here", maxTotalTrials=3)
        del body["properties"]["trial"]["codeId"]
        assert c.put(job_url("silent"), json=body).status_code == 201
        done = wait_terminal(c, "silent", timeout=60)
        assert done["properties"]["status"] == "Completed"
        assert "best_child_run_id" not in done["properties"]["properties"]
        assert [t["properties"]["status"] for t in trials_of(c, "silent")] == ["Completed"] * 3


def test_sweep_timeout_cancels_it(slow_sweep: LiveServer) -> None:
    """Last in the module (see ``slow_sweep``)."""
    with slow_sweep.client() as c:
        done = wait_terminal(c, "slowsweep", timeout=120)
        assert done["properties"]["status"] == "Canceled"
        assert "timeout" in history(c, "slowsweep")["reason"]
        trials = trials_of(c, "slowsweep")
        assert trials and all(t["properties"]["status"] == "Canceled" for t in trials), [
            (t["name"], t["properties"]["status"]) for t in trials
        ]
