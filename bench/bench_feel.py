"""Where people feel the API's speed (issue 10, part 5), against a live server on loopback:

- ``amlite job create -f job.yml --stream`` of a trivial job (``command: "true"``): wall
  time of the CLI process, from start to its final status line (median of N);
- ``amlite job list`` of 1,000 jobs (``--max 1000``): wall time of the CLI process;
- a job that calls ``mlflow.log_metric`` 1,000 times (the plain ``mlflow`` client inside
  the job, against amlite's tracking API): calls/s as the job measured it;
- the CLI's start-up: wall and CPU time of ``amlite --help``, ``amlite job show NAME`` and
  ``amlite job list --max 10`` (median of ``--startup-runs``, every variant's CLI against one
  server, the variants' runs interleaved), beside ``python -c pass``.
  ``--startup-only`` measures only this (seconds, not minutes).

``--variant NAME=SRC`` also runs the amlite package in SRC (e.g. another commit's ``src``,
from ``git archive``) as NAME, server and CLI, in the same run: read the ratios, the
machine is shared.

Run: ``.venv/bin/python bench/bench_feel.py`` (a few minutes). Results are appended to
``bench/results/feel.md``. ``--mlflow EXE`` (the ``mlflow`` executable of a full MLflow
install, see ``bench_tracking.py``) also runs the same metric loop, the same script with the
same client, against ``mlflow server`` (SQLite backend store, ``--workers 4``) in the same
run: the peer of issue 10's "calls/s vs the MLflow server".
"""

from __future__ import annotations

import argparse
import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from _server import API, WS, BenchServer
from bench_tracking import MlflowServer

RESULTS = Path(__file__).parent / "results" / "feel.md"
METRIC_LOOP = (
    "import time, mlflow\n"
    "t = time.perf_counter()\n"
    "for i in range({n}):\n"
    "    mlflow.log_metric('loss', 1.0 / (i + 1), step=i)\n"
    "print('CALLS_PER_S', {n} / (time.perf_counter() - t))\n"
)


def cli(srv: BenchServer, src: str | None, *args: str) -> tuple[float, str]:
    """Run the amlite CLI (of ``src``, or this checkout's) against ``srv``: (ms, stdout)."""
    env = dict(os.environ, AMLITE_URL=srv.url, AMLITE_TOKEN=srv.token, AMLITE_HOME=str(srv.home))
    env.update(AMLITE_SUBSCRIPTION=WS.split("/")[2], AMLITE_RESOURCE_GROUP="bench")
    env["AMLITE_WORKSPACE"] = "bench"
    if src:
        env["PYTHONPATH"] = src
    t0 = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "amlite.cli.main", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    ms = (time.perf_counter() - t0) * 1000
    if done.returncode != 0:
        raise RuntimeError(f"amlite {' '.join(args)} failed: {done.stderr[-500:]}")
    return ms, done.stdout


def stream_runs(srv: BenchServer, src: str | None, runs: int, tmp: Path) -> list[float]:
    times = []
    for i in range(runs):
        doc = tmp / f"job-{i}.yml"
        doc.write_text(f"command: 'true'\nname: feel-stream-{i}\ncompute: local\n")
        ms, out = cli(srv, src, "job", "create", "-f", str(doc), "--stream")
        if "Completed" not in out:
            raise RuntimeError(f"the streamed job did not complete: {out[-300:]}")
        times.append(ms)
    return times


def seed_jobs(srv: BenchServer, n: int) -> None:
    """n jobs, each cancelled while still queued: listed like any job, without running n
    processes (and without a queue the streamed job would wait behind)."""
    body = {"properties": {"jobType": "Command", "command": "true", "compute": {}}}
    with srv.client() as c:
        for i in range(n):
            name = f"feel-list-{i:05d}"
            c.put(f"{WS}/jobs/{name}?{API}", json=body).raise_for_status()
            c.post(f"{WS}/jobs/{name}/cancel?{API}").raise_for_status()


def list_runs(srv: BenchServer, src: str | None, runs: int, n: int) -> list[float]:
    times = []
    for _ in range(runs):
        ms, out = cli(srv, src, "job", "list", "--max", str(n))
        if out.count("feel-") < n:  # the listed jobs and the streamed ones, newest first
            raise RuntimeError(f"job list showed {out.count('feel-')} of {n} jobs")
        times.append(ms)
    return times


STARTUP = {
    "`amlite --help`": ("--help",),
    "`amlite job show NAME`": ("job", "show", "feel-list-00000"),
    "`amlite job list --max 10`": ("job", "list", "--max", "10"),
}
"""The short commands whose wall time is mostly the CLI's Python start-up and imports."""
FLOORS = {
    "python": "pass",
    "typer": (
        "import typer\n"
        "app = typer.Typer(add_completion=False)\n"
        "@app.command()\n"
        "def show(name: str, output: str = 'table', workspace: str | None = None) -> None:\n"
        "    print(name)\n"
        "app(['x'])\n"
    ),
}
"""What no amlite command can beat: the interpreter, and a one-command typer app (which
imports typer and builds its parameters' pydantic adapters, as every amlite command does)."""


Timing = tuple[float, float]
"""Wall ms and CPU ms (user + system) of one process."""


def timed(run: Callable[..., object], *args: object) -> Timing:
    """``run(*args)`` starts one child process and waits for it: its wall and CPU ms."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    run(*args)
    wall = (time.perf_counter() - t0) * 1000
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
    return wall, cpu * 1000


def startup_runs(variants: dict[str, str | None], runs: int, tmp: Path) -> dict[str, list[Timing]]:
    """Per variant, the median wall and CPU ms of each STARTUP command (and of each of FLOORS):
    all against one server of this checkout, each round running every variant."""
    times: dict[tuple[str, str], list[Timing]] = {}
    with BenchServer(tmp / "startup") as srv:
        seed_jobs(srv, 10)
        for _ in range(runs):
            for name, src in variants.items():
                for label, args in STARTUP.items():
                    times.setdefault((name, label), []).append(timed(_printing, srv, src, args))
            for name, code in FLOORS.items():
                times.setdefault((name, ""), []).append(timed(_python, code))
    result: dict[str, list[Timing]] = {}
    for name in [*variants, *FLOORS]:
        labels = list(STARTUP) if name in variants else [""]
        result[name] = [
            (
                statistics.median(t[0] for t in times[name, label]),
                statistics.median(t[1] for t in times[name, label]),
            )
            for label in labels
        ]
    return result


def _printing(srv: BenchServer, src: str | None, args: tuple[str, ...]) -> None:
    if not cli(srv, src, *args)[1].strip():
        raise RuntimeError(f"amlite {' '.join(args)} ({src or 'this'}) printed nothing")


def _python(code: str) -> None:
    subprocess.run([sys.executable, "-c", code], check=True, capture_output=True)


def startup_lines(found: dict[str, list[Timing]], runs: int) -> list[str]:
    names = [n for n in found if n not in FLOORS]
    lines = [
        "| CLI start-up, ms | "
        + " | ".join(f"{n} wall" for n in names)
        + " | "
        + " | ".join(f"{n} CPU" for n in names)
        + " |",
        "|---|" + "---|" * 2 * len(names),
    ]
    for i, label in enumerate(STARTUP):
        walls = [f"{found[n][i][0]:.0f}" for n in names]
        cpus = [f"{found[n][i][1]:.0f}" for n in names]
        lines.append(f"| {label} | " + " | ".join(walls + cpus) + " |")
    python, typer = found["python"][0], found["typer"][0]
    lines += [
        "",
        f"Medians of {runs} interleaved runs against one server (CPU: user + system of the "
        f"process, steadier than wall on a loaded machine). Floors in the same rounds: "
        f"`python -c pass` {python[0]:.0f} ms wall / {python[1]:.0f} ms CPU; a one-command "
        f"typer app {typer[0]:.0f} / {typer[1]:.0f} ms.",
    ]
    return lines


def metric_loop(srv: BenchServer, calls: int) -> float:
    name = f"feel-metrics-{calls}"
    body = {
        "properties": {
            "jobType": "Command",
            "command": f'{sys.executable} -c "$AMLITE_LOOP"',
            "environmentVariables": {"AMLITE_LOOP": METRIC_LOOP.format(n=calls)},
            "compute": {},
        }
    }
    with srv.client() as c:
        c.put(f"{WS}/jobs/{name}?{API}", json=body).raise_for_status()
        deadline = time.monotonic() + 600
        while True:
            status = c.get(f"{WS}/jobs/{name}?{API}").json()["properties"]["status"]
            if status in ("Completed", "Failed", "Canceled"):
                break
            if time.monotonic() > deadline:
                raise TimeoutError(name)
            time.sleep(0.5)
    log = "".join(p.read_text() for p in srv.home.rglob("std_log*.txt") if name in str(p))
    found = re.search(r"CALLS_PER_S ([0-9.]+)", log)
    if status != "Completed" or found is None:
        raise RuntimeError(f"the metric job ended {status}: {log[-500:]}")
    return float(found.group(1))


def metric_loop_on_mlflow(exe: str, home: Path, calls: int) -> float:
    """The same loop as a plain process against ``mlflow server``: calls/s it measured."""
    with MlflowServer(exe, home, workers=4) as srv:
        env = dict(os.environ, MLFLOW_TRACKING_URI=srv.url)
        env.pop("MLFLOW_TRACKING_TOKEN", None)
        done = subprocess.run(
            [sys.executable, "-c", METRIC_LOOP.format(n=calls)],
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
        )
    found = re.search(r"CALLS_PER_S ([0-9.]+)", done.stdout)
    if done.returncode != 0 or found is None:
        raise RuntimeError(f"the loop against mlflow server failed: {done.stderr[-500:]}")
    return float(found.group(1))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--list-jobs", type=int, default=1000)
    parser.add_argument("--metric-calls", type=int, default=1000)
    parser.add_argument("--variant", action="append", default=[], metavar="NAME=SRC")
    parser.add_argument("--mlflow", metavar="EXE", help="mlflow executable: the server peer")
    parser.add_argument("--startup-runs", type=int, default=15)
    parser.add_argument("--startup-only", action="store_true", help="only the CLI's start-up")
    args = parser.parse_args()
    variants: dict[str, str | None] = {}
    for item in args.variant:
        name, _, src = item.partition("=")
        variants[name] = str(Path(src).resolve())
    variants["this"] = None
    results: dict[str, dict[str, float]] = {}
    peer = None
    tmp = Path(tempfile.mkdtemp(prefix="amlite-bench-feel-"))
    try:
        startup = startup_runs(variants, args.startup_runs, tmp)
        print("startup", startup, flush=True)
        for name, src in variants.items() if not args.startup_only else []:
            env = {"PYTHONPATH": src} if src else None
            with BenchServer(tmp / name, env) as srv:
                seed_jobs(srv, args.list_jobs)
                streams = stream_runs(srv, src, args.runs, tmp)
                lists = list_runs(srv, src, args.runs, args.list_jobs)
                calls = metric_loop(srv, args.metric_calls)
            results[name] = {
                "stream": statistics.median(streams),
                "list": statistics.median(lists),
                "calls": calls,
            }
            print(name, results[name], flush=True)
        if args.mlflow and not args.startup_only:
            peer = metric_loop_on_mlflow(args.mlflow, tmp / "mlflow", args.metric_calls)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    lines = [
        f"## {datetime.now().strftime('%Y-%m-%d %H:%M')} ({os.cpu_count()} cores, load "
        f"average {os.getloadavg()[0]:.1f} at the end; "
        + (f"medians of {args.runs} CLI runs)" if results else "the CLI's start-up only)"),
        "",
    ]
    if results:
        lines += [
            "| measure | " + " | ".join(results) + " |",
            "|---|" + "---|" * len(results),
            "| `amlite job create --stream` of a `true` job, wall ms | "
            + " | ".join(f"{r['stream']:.0f}" for r in results.values())
            + " |",
            f"| `amlite job list --max {args.list_jobs}`, wall ms | "
            + " | ".join(f"{r['list']:.0f}" for r in results.values())
            + " |",
            f"| `mlflow.log_metric` x {args.metric_calls} inside a job, calls/s | "
            + " | ".join(f"{r['calls']:.0f}" for r in results.values())
            + " |",
            "",
        ]
    lines += startup_lines(startup, args.startup_runs)
    if peer is not None:
        lines += [
            "",
            f"Peer: the same loop (same script, same `mlflow` client) against `mlflow server` "
            f"(SQLite backend store, 4 workers) in the same run: {peer:.0f} calls/s.",
        ]
    text = "\n".join(lines) + "\n\n"
    print(text)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    with RESULTS.open("a") as f:
        f.write(text)


if __name__ == "__main__":
    main()
