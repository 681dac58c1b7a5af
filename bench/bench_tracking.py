"""Metric ingestion through MLflow's ``runs/log-batch``: amlite (SQLite) against ``mlflow server``
(SQLite backend store), in the same run, with the same client (``mlflow.MlflowClient``).

Measures, for each server: points/s of ``log_batch`` in batches of 1000 points (median of
rounds), calls/s of single ``log_metric`` calls, and the time of one ``get_metric_history`` of
every point logged. Appends a table to ``bench/results/tracking.md``.

The peer needs the full ``mlflow`` package (``mlflow-skinny`` has no server). Install it in
its own virtualenv and pass its ``mlflow`` executable::

    python3 -m venv /tmp/mlflow-server-venv && /tmp/mlflow-server-venv/bin/pip install mlflow
    .venv/bin/python bench/bench_tracking.py --mlflow /tmp/mlflow-server-venv/bin/mlflow
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import httpx
from mlflow import MlflowClient
from mlflow.entities import Metric

sys.path.insert(0, str(Path(__file__).parent))
from _server import API, WS, BenchServer

RESULTS = Path(__file__).parent / "results" / "tracking.md"
BATCH = 1000


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class MlflowServer:
    """``mlflow server`` with a SQLite backend store, stopped by its process group."""

    def __init__(self, exe: str, home: Path, workers: int) -> None:
        self.exe, self.home, self.workers = exe, home, workers
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> MlflowServer:
        self.home.mkdir(parents=True, exist_ok=True)
        log = (self.home / "mlflow.log").open("ab")
        cmd = [
            self.exe, "server",
            "--backend-store-uri", f"sqlite:///{self.home / 'mlflow.db'}",
            "--default-artifact-root", str(self.home / "artifacts"),
            "--host", "127.0.0.1", "--port", str(self.port), "--workers", str(self.workers),
        ]  # fmt: skip
        self.proc = subprocess.Popen(cmd, stdout=log, stderr=log, start_new_session=True)
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"mlflow server exited; see {self.home / 'mlflow.log'}")
            try:
                if httpx.get(f"{self.url}/health", timeout=2).status_code == 200 and (
                    self._workers_started() >= self.workers
                ):  # the first worker answers while the others still import: wait for them
                    return self
            except httpx.TransportError:
                pass
            time.sleep(0.25)
        raise RuntimeError("mlflow server did not start in 180 s")

    def _workers_started(self) -> int:
        return (
            (self.home / "mlflow.log")
            .read_text(errors="replace")
            .count("Application startup complete")
        )

    def __exit__(self, *_: object) -> None:
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)  # its own session: only what we started
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(10)


def measure(client: MlflowClient, run_id: str, rounds: int, batches: int) -> dict[str, float]:
    """points/s of log_batch (median over rounds), log_metric calls/s, history read time."""
    rates = []
    step = 0
    for _ in range(rounds):
        payloads = []
        for _b in range(batches):
            now = int(time.time() * 1000)
            payloads.append(
                [Metric("loss", 1.0 / (step + i + 1), now, step + i) for i in range(BATCH)]
            )
            step += BATCH
        started = time.perf_counter()
        for metrics in payloads:
            client.log_batch(run_id, metrics=metrics, synchronous=True)
        rates.append(batches * BATCH / (time.perf_counter() - started))
    singles = 200
    started = time.perf_counter()
    for i in range(singles):
        client.log_metric(run_id, "single", float(i), step=i, synchronous=True)
    single_rate = singles / (time.perf_counter() - started)
    started = time.perf_counter()
    history = client.get_metric_history(run_id, "loss")
    read_s = time.perf_counter() - started
    assert len(history) == rounds * batches * BATCH, len(history)
    return {
        "points_s": statistics.median(rates),
        "points_s_min": min(rates),
        "points_s_max": max(rates),
        "single_s": single_rate,
        "history_s": read_s,
        "history_n": float(len(history)),
    }


def measure_raw(base: str, token: str | None, run_id: str, rounds: int, batches: int) -> float:
    """points/s of ``runs/log-batch`` posted as ready-made JSON (the server alone, without the
    mlflow client's protobuf serialization, about 20 ms per 1000 points)."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    now = str(int(time.time() * 1000))
    rates = []
    with httpx.Client(base_url=base, headers=headers, timeout=120) as http:
        for r in range(rounds):
            bodies = [
                json.dumps({
                    "run_id": run_id,
                    "metrics": [
                        {"key": "raw", "value": 1.0 / (i + 1), "timestamp": now, "step": str(i)}
                        for i in range((r * batches + b) * BATCH, (r * batches + b + 1) * BATCH)
                    ],
                }).encode()
                for b in range(batches)
            ]  # fmt: skip
            started = time.perf_counter()
            for body in bodies:
                resp = http.post(
                    "/api/2.0/mlflow/runs/log-batch",
                    content=body,
                    headers={"Content-Type": "application/json"},
                )
                resp.raise_for_status()
            rates.append(batches * BATCH / (time.perf_counter() - started))
    return statistics.median(rates)


def with_env(values: dict[str, str | None], fn: Callable[[], dict[str, float]]) -> dict[str, float]:
    saved = {k: os.environ.get(k) for k in values}
    try:
        for k, v in values.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        return fn()
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def bench_amlite(tmp: Path, rounds: int, batches: int) -> dict[str, float]:
    with BenchServer(tmp / "amlite") as srv, srv.client() as http:
        body = {"properties": {"jobType": "Command", "command": "true", "compute": {}}}
        resp = http.put(f"{WS}/jobs/bench-run?{API}", json=body)
        resp.raise_for_status()
        client = MlflowClient(tracking_uri=f"{srv.url}/mlflow")
        env: dict[str, str | None] = {"MLFLOW_TRACKING_TOKEN": srv.token}
        result = with_env(env, lambda: measure(client, "bench-run", rounds, batches))
        result["raw_s"] = measure_raw(f"{srv.url}/mlflow", srv.token, "bench-run", rounds, batches)
        return result


def bench_mlflow(exe: str, tmp: Path, rounds: int, batches: int, workers: int) -> dict[str, float]:
    with MlflowServer(exe, tmp / "mlflow", workers) as srv:
        client = MlflowClient(tracking_uri=srv.url)
        env: dict[str, str | None] = {"MLFLOW_TRACKING_TOKEN": None}

        def run() -> dict[str, float]:
            exp = client.create_experiment("bench")
            run_id = client.create_run(exp).info.run_id
            result = measure(client, run_id, rounds, batches)
            result["raw_s"] = measure_raw(srv.url, None, run_id, rounds, batches)
            return result

        return with_env(env, run)


def report(amlite: dict[str, float], peer: dict[str, float], args: argparse.Namespace) -> str:
    ratio = amlite["points_s"] / peer["points_s"]
    stamp = datetime.now().strftime("%Y-%m-%d %H:%M")
    n = int(amlite["history_n"])
    lines = [
        f"## {stamp} ({os.cpu_count()} cores; {args.rounds} rounds x {args.batches} batches of "
        f"{BATCH} points; peer `mlflow server --workers {args.workers}`)",
        "",
        "| measure | amlite (SQLite) | mlflow server (SQLite) | ratio amlite/mlflow |",
        "|---|---|---|---|",
        f"| `log_batch` ingestion, median (min-max) | {amlite['points_s']:,.0f} "
        f"({amlite['points_s_min']:,.0f}-{amlite['points_s_max']:,.0f}) points/s | "
        f"{peer['points_s']:,.0f} ({peer['points_s_min']:,.0f}-{peer['points_s_max']:,.0f}) "
        f"points/s | {ratio:.1f}x |",
        f"| `runs/log-batch` posted as ready JSON (server alone), median | "
        f"{amlite['raw_s']:,.0f} points/s | {peer['raw_s']:,.0f} points/s | "
        f"{amlite['raw_s'] / peer['raw_s']:.1f}x |",
        f"| single `log_metric` calls | {amlite['single_s']:,.0f} calls/s | "
        f"{peer['single_s']:,.0f} calls/s | {amlite['single_s'] / peer['single_s']:.1f}x |",
        f"| `get_metric_history` of {n:,} points | {amlite['history_s']:.2f} s | "
        f"{peer['history_s']:.2f} s | {peer['history_s'] / amlite['history_s']:.1f}x faster |",
        "",
        f"Target: >= 20,000 points/s into amlite on SQLite through `runs/log-batch`: "
        f"{'met' if amlite['raw_s'] >= 20_000 else 'NOT met'} by the server "
        f"({amlite['raw_s']:,.0f}), {'met' if amlite['points_s'] >= 20_000 else 'not met'} "
        f"end to end with the mlflow client ({amlite['points_s']:,.0f}; the client spends "
        "about 20 ms serializing each batch of 1000).",
        "",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mlflow", default=shutil.which("mlflow") or "mlflow",
                        help="the `mlflow` executable of a full mlflow install")  # fmt: skip
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--batches", type=int, default=20, help="batches of 1000 per round")
    parser.add_argument("--workers", type=int, default=4, help="mlflow server workers")
    parser.add_argument("--no-write", action="store_true", help="print only")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-tracking-") as tmp:
        amlite = bench_amlite(Path(tmp), args.rounds, args.batches)
        print("amlite:", amlite, flush=True)
        peer = bench_mlflow(args.mlflow, Path(tmp), args.rounds, args.batches, args.workers)
        print("mlflow:", peer, flush=True)
    text = report(amlite, peer, args)
    print(text)
    if not args.no_write:
        RESULTS.parent.mkdir(parents=True, exist_ok=True)
        header = "" if RESULTS.exists() else "# Metric ingestion: amlite vs mlflow server\n\n"
        with RESULTS.open("a", encoding="utf-8") as f:
            f.write(header + text + "\n")


if __name__ == "__main__":
    main()
