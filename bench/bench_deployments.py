"""Deployments: a template of N jobs in one copy loop (default 200).

- evaluation: parameters, variables, copy expansion, dependency order and every job body
  evaluated (what a deployment does before and around creating resources), in process,
  median of rounds (target < 100 ms for 200 jobs);
- deployment wall time: PUT → Succeeded through the deployments service on a fresh SQLite
  store, against the peer: the same N job bodies created directly with
  ``Jobs.create_or_update`` in a loop (what the engine must call anyway), same run,
  alternating order; the ratio says how much the engine adds over job creation.

Run: ``.venv/bin/python bench/bench_deployments.py [--jobs 200] [--rounds 5]``. Appends to
``bench/results/deployments.md``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from amlite.config import Settings
from amlite.deployments.service import Deployments
from amlite.deployments.template.evaluator import Evaluation, Scope
from amlite.domain.arm_id import WorkspaceRef
from amlite.services.assets import Assets
from amlite.services.jobs import Jobs
from amlite.services.workspaces import Workspaces
from amlite.store import open_store

SUB = "00000000-0000-0000-0000-000000000000"
RG = "bench"
JOBS = "Microsoft.MachineLearningServices/workspaces/jobs"
RESULTS = Path(__file__).parent / "results" / "deployments.md"


def template() -> dict[str, Any]:
    return {
        "parameters": {
            "workspaceName": {"type": "string", "defaultValue": "ws1"},
            "count": {"type": "int", "minValue": 0, "maxValue": 800},
            "experiment": {"type": "string", "defaultValue": "bench"},
        },
        "variables": {"prefix": "[concat('job-', uniqueString(resourceGroup().id))]"},
        "resources": [
            {
                "type": "Microsoft.MachineLearningServices/workspaces",
                "apiVersion": "2021-03-01-preview",
                "name": "[parameters('workspaceName')]",
                "properties": {},
            },
            {
                "type": JOBS,
                "apiVersion": "2021-03-01-preview",
                "name": (
                    "[format('{0}/{1}-{2}', parameters('workspaceName'), variables('prefix'), "
                    "copyIndex())]"
                ),
                "copy": {"name": "jobs", "count": "[parameters('count')]"},
                "dependsOn": [
                    "[resourceId('Microsoft.MachineLearningServices/workspaces', "
                    "parameters('workspaceName'))]"
                ],
                "properties": {
                    "jobType": "Command",
                    "command": "[concat('echo job ', string(copyIndex()))]",
                    "compute": {"instanceCount": 1},
                    "experimentName": "[parameters('experiment')]",
                    "environmentVariables": {"INDEX": "[string(copyIndex())]"},
                    "tags": {"batch": "[variables('prefix')]"},
                },
            },
        ],
        "outputs": {"count": {"type": "int", "value": "[length(range(0, parameters('count')))]"}},
    }


def evaluate_once(n: int) -> tuple[float, float]:
    """(wall seconds, CPU seconds of this process): on a loaded machine the CPU time is the
    engine's own cost, the wall time includes waiting for a core."""
    start, cpu = time.perf_counter(), time.process_time()
    ev = Evaluation(template(), {"count": {"value": n}}, Scope(SUB, RG, "bench"))
    for inst in ev.order:
        ev.resource_body(inst)
    ev.outputs()
    return time.perf_counter() - start, time.process_time() - cpu


def services(home: Path) -> tuple[Deployments, Jobs]:
    store = open_store(f"sqlite:///{home / 'amlite.db'}")
    workspaces = Workspaces(store)
    jobs = Jobs(store, Settings(home=home), workspaces, "http://127.0.0.1:1")
    return Deployments(store, jobs, Assets(store, workspaces), workspaces), jobs


def deploy_once(n: int) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        svc, _ = services(Path(tmp))
        body = {
            "properties": {
                "template": template(),
                "parameters": {"count": {"value": n}},
                "mode": "Incremental",
            }
        }
        start = time.perf_counter()
        svc.create(SUB, RG, "bench", body)
        svc.wait(SUB, RG, "bench")
        took = time.perf_counter() - start
        state = svc.get(SUB, RG, "bench")["properties"]["provisioningState"]
        svc.shutdown()
        if state != "Succeeded":
            raise SystemExit(f"the deployment ended {state}")
        return took


def direct_once(n: int) -> float:
    """The peer: the same job bodies straight through the jobs service."""
    ev = Evaluation(template(), {"count": {"value": n}}, Scope(SUB, RG, "bench"))
    bodies = [(i.name.split("/")[1], ev.resource_body(i)) for i in ev.order if i.type == JOBS]
    with tempfile.TemporaryDirectory() as tmp:
        _, jobs = services(Path(tmp))
        ws = WorkspaceRef(SUB, RG, "ws1")
        start = time.perf_counter()
        for name, body in bodies:
            jobs.create_or_update(ws, name, body)
        return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--jobs", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    n = args.jobs
    evaluate_once(n)  # warm the parse cache and imports, as a running server has them
    samples = [evaluate_once(n) for _ in range(max(args.rounds, 9))]
    evals = [w for w, _ in samples]
    cpus = [c for _, c in samples]
    deploys: list[float] = []
    directs: list[float] = []
    for r in range(args.rounds):
        if r % 2 == 0:
            deploys.append(deploy_once(n))
            directs.append(direct_once(n))
        else:
            directs.append(direct_once(n))
            deploys.append(deploy_once(n))
    eval_ms = statistics.median(evals) * 1000
    cpu_ms = statistics.median(cpus) * 1000
    load = os.getloadavg()[0]
    dep = statistics.median(deploys)
    dire = statistics.median(directs)
    ms = 1000
    lines = [
        f"## {datetime.now(UTC):%Y-%m-%d %H:%M} UTC: {n} jobs in a copy loop, {args.rounds} rounds",
        "",
        f"Machine: {os.cpu_count()} cores shared with other work (load average {load:.1f}); "
        f"Python {sys.version.split()[0]}; SQLite store.",
        "",
        "| measure | median | min | max |",
        "|---|---|---|---|",
        f"| evaluation, CPU time (params, copy, order, {n} bodies, outputs) | {cpu_ms:.1f} ms "
        f"| {min(cpus) * ms:.1f} ms | {max(cpus) * ms:.1f} ms |",
        f"| evaluation, wall time | {eval_ms:.1f} ms | {min(evals) * ms:.1f} ms "
        f"| {max(evals) * ms:.1f} ms |",
        f"| deployment PUT to Succeeded ({n} jobs + workspace) | {dep:.2f} s "
        f"| {min(deploys):.2f} s | {max(deploys):.2f} s |",
        f"| peer: {n} x Jobs.create_or_update | {dire:.2f} s | {min(directs):.2f} s "
        f"| {max(directs):.2f} s |",
        "",
        f"Deployment / direct job creation: **{dep / dire:.2f}x** "
        f"(engine overhead {ms * (dep - dire) / n:.2f} ms per job); evaluation target < 100 ms: "
        f"{'met' if cpu_ms < 100 else 'MISSED'} in CPU time, "
        f"{'met' if eval_ms < 100 else 'missed'} in wall time on this loaded machine.",
        "",
    ]
    text = "\n".join(lines)
    print(text)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    header = (
        ""
        if RESULTS.exists()
        else "# Deployments benchmark\n\nWritten by `bench/bench_deployments.py`.\n\n"
    )
    with RESULTS.open("a") as fh:
        fh.write(header + text + "\n")


if __name__ == "__main__":
    main()
