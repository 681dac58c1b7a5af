"""Hostile sweeps through a real server: values reach the trial as exact arguments and run
nothing, an oversized grid is refused at PUT, and a sweep whose controller step raises fails
alone while a plain job completes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from amlite.domain.arm_id import WorkspaceRef
from amlite.domain.status import ACCEPT_PATH
from amlite.services.workspaces import Workspaces
from amlite.store import NewJob, open_store
from support.server import (
    LiveServer,
    command_body,
    history,
    job_url,
    read_artifact,
    upload_code,
    wait_terminal,
)

ECHO_ARGS = """
import json, os, sys
os.makedirs("outputs", exist_ok=True)
with open("outputs/args.json", "w") as f:
    json.dump(sys.argv[1:], f)
"""

HOSTILE = [
    "1; touch pwned",
    "$(touch pwned)",
    "`touch pwned`",
    "a'b\"c; touch pwned",
    "line1\ntouch pwned",
    "{inputs.data}",
]


def sweep(code: str, command: str, space: dict[str, Any], **props: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "jobType": "Sweep",
        "algorithm": "Grid",
        "compute": {},
        "objective": {"primaryMetric": "acc", "goal": "Maximize"},
        "searchSpace": space,
        "maxConcurrentTrials": 2,
        "trial": {"command": command, "codeId": code},
    }
    body.update(props)
    return {"properties": body}


def no_marker_anywhere(*roots: Path) -> None:
    for root in roots:
        assert not list(root.rglob("pwned")), f"a hostile value ran under {root}"


def test_hostile_values_are_exact_arguments_and_run_nothing(
    server: LiveServer, tmp_path: Path
) -> None:
    command = "python echo_args.py '${{search_space.v}}' \"v=${{search_space.v}}\""
    space = {"v": ["choice", [HOSTILE]], "--lr": ["choice", [["0.1; touch pwned"]]]}
    with server.client() as c:
        code = upload_code(c, "echoargs", {"echo_args.py": ECHO_ARGS})
        resp = c.put(job_url("hostile"), json=sweep(code, command, space))
        assert resp.status_code == 201, resp.text
        done = wait_terminal(c, "hostile", timeout=180)
        assert done["properties"]["status"] == "Completed", history(c, "hostile")
        for i, value in enumerate(HOSTILE):
            trial = f"hostile_{i}"
            got = json.loads(read_artifact(c, trial, "outputs/args.json"))
            assert got == [value, f"v={value}", "--lr", "0.1; touch pwned"], (trial, got)
    no_marker_anywhere(server.home, tmp_path)


def test_hostile_parameter_names_and_quoting_are_refused_at_put(server: LiveServer) -> None:
    with server.client() as c:
        code = upload_code(c, "echoargs", {"echo_args.py": ECHO_ARGS})
        bad_name = sweep(code, "python echo_args.py", {"--x; touch pwned": ["choice", [[1]]]})
        resp = c.put(job_url("badname"), json=bad_name)
        assert resp.status_code == 400, resp.text
        assert "properties.searchSpace.--x; touch pwned" in json.dumps(resp.json())
        in_backticks = sweep(code, "echo `echo ${{search_space.v}}`", {"v": ["choice", [[1]]]})
        resp = c.put(job_url("backticks"), json=in_backticks)
        assert resp.status_code == 400, resp.text
        assert "properties.trial.command" in json.dumps(resp.json())


def test_an_oversized_nested_grid_is_refused_at_put(server: LiveServer) -> None:
    inner = {f"p{i}": ["choice", [list(range(10))]] for i in range(8)}
    space = {"model": ["choice", [[{"name": "a", **inner}, {"name": "b", **inner}]]]}
    body = sweep("ignored", "python train.py", space)
    assert len(json.dumps(body)) < 2000
    with server.client() as c:
        resp = c.put(job_url("huge"), json=body)
        assert resp.status_code == 400, resp.text
        error = resp.json()["error"]
        assert "properties.searchSpace" in json.dumps(error)
        assert "200,000,000 points" in json.dumps(error)
        assert c.get(job_url("huge")).status_code == 404


def test_a_sweep_whose_controller_raises_fails_alone(server: LiveServer) -> None:
    """A sweep stored without validation (an older version, a hand-edited row) cannot be
    decoded by its controller: that sweep fails naming the field, a plain job still runs to
    completion."""
    ws = WorkspaceRef("00000000-0000-0000-0000-000000000000", "rg1", "ws1")
    store = open_store(f"sqlite:///{server.home / 'amlite.db'}")
    Workspaces(store).ensure(ws)
    broken = {
        "jobType": "Sweep",
        "algorithm": "Grid",
        "compute": {},
        "objective": {"primaryMetric": "acc"},  # no goal: the stored spec does not decode
        "searchSpace": {"n": ["choice", [[1, 2]]]},
        "trial": {"command": "true"},
    }
    store.create_job(NewJob(workspace=ws, name="broken", job_type="Sweep", spec=broken))
    store.transition(ws.key, "broken", ACCEPT_PATH)
    with server.client() as c:
        resp = c.put(job_url("plain"), json=command_body("echo fine"))
        assert resp.status_code == 201, resp.text
        assert wait_terminal(c, "plain", timeout=60)["properties"]["status"] == "Completed"
        failed = wait_terminal(c, "broken", timeout=30)
        assert failed["properties"]["status"] == "Failed"
        events = history(c, "broken")["value"]
        assert events[-1]["status"] == "Failed"
        assert events[-1]["reason"] == "the sweep cannot run: objective.goal: is required"
