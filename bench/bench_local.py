"""Local executor benchmark (issue: command jobs end to end).

Measures, against a real server on loopback with the embedded default (SQLite, local
processes):
- submit -> Running and submit -> Completed latency of a trivial job (p50, p90);
- how fast 500 queued ``true`` jobs drain (jobs/s);
- the server's idle RSS;
and, as the peer figure, the same trivial job through Ray Jobs (``ray job submit`` on a
local Ray), if Ray is installed (``pip install -e '.[ray]'``).

Run: ``.venv/bin/python bench/bench_local.py`` (about 2 minutes). Results are appended
to ``bench/results/local_executor.md``.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

from _server import API, WS, BenchServer

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from support.ray_cluster import RAY_ENV, _free_port, stop_sessions

RESULTS = Path(__file__).parent / "results" / "local_executor.md"


def parse(ts: str) -> float:
    return datetime.fromisoformat(ts.replace("Z", "+00:00")).timestamp()


def body(command: str) -> dict:
    return {"properties": {"jobType": "Command", "command": command, "compute": {}}}


def wait_done(c, name: str, timeout: float = 120) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while c.get(f"{WS}/jobs/{name}?{API}").json()["properties"]["status"] not in {
        "Completed",
        "Failed",
        "Canceled",
    }:
        if time.monotonic() > deadline:
            raise TimeoutError(name)
        time.sleep(0.005)


def latencies(srv: BenchServer, n: int) -> tuple[list[float], list[float]]:
    to_running, to_completed = [], []
    with srv.client() as c:
        for i in range(n):
            name = f"lat-{i}"
            t0 = time.time()
            resp = c.put(f"{WS}/jobs/{name}?{API}", json=body("true"))
            assert resp.status_code == 201, resp.text
            wait_done(c, name)
            events = c.get(f"{WS}/jobs/{name}/history?{API}").json()["value"]
            at = {e["status"]: parse(e["at"]) for e in events}
            assert "Completed" in at, events
            to_running.append((at["Running"] - t0) * 1000)
            to_completed.append((at["Completed"] - t0) * 1000)
    return to_running, to_completed


def drain(srv: BenchServer, n: int) -> float:
    """Submit n jobs back to back; rate = n / (last Completed time - first submission).

    Completion times come from the jobs' status histories, and the client polls slowly,
    so the measurement does not compete with the server for the 2 cores.
    """
    with srv.client() as c:
        t0 = time.time()
        for i in range(n):
            assert c.put(f"{WS}/jobs/drain-{i}?{API}", json=body("true")).status_code == 201
        submitted = time.time()
        last = 0.0
        for i in reversed(range(n)):
            name = f"drain-{i}"
            while True:
                events = c.get(f"{WS}/jobs/{name}/history?{API}").json()
                if events["status"] in ("Completed", "Failed", "Canceled"):
                    break
                time.sleep(0.2)
            assert events["status"] == "Completed", events
            last = max(last, parse(events["value"][-1]["at"]))
    print(f"  submitted {n} in {submitted - t0:.2f}s, last completed after {last - t0:.2f}s")
    return n / (last - t0)


def ray_peer(n: int) -> tuple[list[float], str]:
    """Wall time of `ray job submit -- true` against a local Ray head, n times.

    The head runs in a session of its own on free ports; only that session's processes
    (and their descendants) are stopped afterwards, by pid: never `ray stop`, which would
    end every Ray process on the machine, other users' clusters included.
    """
    ray = shutil.which("ray", path=str(Path(sys.executable).parent)) or shutil.which("ray")
    if ray is None:
        return [], "ray not installed (pip install -e '.[ray]')"
    tmp = tempfile.mkdtemp(prefix="ray-bench-")
    dashboard = f"http://127.0.0.1:{_free_port()}"
    env_args = [
        f"--temp-dir={tmp}",
        f"--port={_free_port()}",
        "--include-dashboard=true",
        "--dashboard-host=127.0.0.1",
        f"--dashboard-port={dashboard.rsplit(':', 1)[1]}",
        f"--ray-client-server-port={_free_port()}",
        f"--dashboard-agent-listen-port={_free_port()}",
    ]
    env = {**os.environ, **RAY_ENV}  # the same auth mode on the head and every client
    head = subprocess.Popen(
        [ray, "start", "--head", "--num-cpus=2", *env_args],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    times: list[float] = []
    submit = [ray, "job", "submit", "--address", dashboard, "--", "true"]
    try:
        if head.wait(120) != 0:
            return [], "ray start --head failed"
        for _ in range(10):  # the job server may need a moment after `ray start`
            if subprocess.run(submit, capture_output=True, env=env).returncode == 0:
                break
            time.sleep(2)
        else:
            return [], "ray job submit kept failing against the local head"
        for _ in range(n):
            t0 = time.time()
            done = subprocess.run(submit, capture_output=True, text=True, env=env)
            if done.returncode != 0:
                return times, f"ray job submit failed: {done.stderr.strip()[-200:]}"
            times.append((time.time() - t0) * 1000)
    finally:
        stop_sessions([head.pid])
        shutil.rmtree(tmp, ignore_errors=True)
    return times, "ray job submit (waits for the job), local head, 2 CPUs"


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--latency-jobs", type=int, default=60)
    parser.add_argument("--drain-jobs", type=int, default=500)
    parser.add_argument("--ray-jobs", type=int, default=10)
    args = parser.parse_args()
    home = Path(tempfile.mkdtemp(prefix="amlite-bench-"))
    try:
        with BenchServer(home) as srv:
            time.sleep(1.0)
            idle_start = srv.rss_mb()
            run, done = latencies(srv, args.latency_jobs)
            rate = drain(srv, args.drain_jobs)
            time.sleep(2.0)
            idle_after = srv.rss_mb()
        ray_times, ray_note = ray_peer(args.ray_jobs)
    finally:
        shutil.rmtree(home, ignore_errors=True)
    lines = [
        f"## {datetime.now().strftime('%Y-%m-%d %H:%M')} "
        f"(2 cores; medians of {args.latency_jobs} jobs)",
        "",
        "| measure | amlite | target |",
        "|---|---|---|",
        f"| submit → Running, p50 / p90 | {statistics.median(run):.1f} / "
        f"{pct(run, 0.9):.1f} ms | p50 < 100 ms |",
        f"| submit → Completed (`true`), p50 / p90 | {statistics.median(done):.1f} / "
        f"{pct(done, 0.9):.1f} ms | p50 < 300 ms |",
        f"| {args.drain_jobs} queued `true` jobs drain | {rate:.1f} jobs/s | ≥ 30 jobs/s |",
        f"| server idle RSS at start / after the runs | {idle_start:.0f} / "
        f"{idle_after:.0f} MB | < 150 MB |",
    ]
    if ray_times:
        med = statistics.median(ray_times)
        lines.append(
            f"| peer: {ray_note}, p50 | {med:.0f} ms | ratio amlite/Ray (submit → Completed): "
            f"{statistics.median(done) / med:.2f} |"
        )
    else:
        lines.append(f"| peer: Ray Jobs | not measured: {ray_note} | |")
    text = "\n".join(lines) + "\n\n"
    print(text)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    with RESULTS.open("a") as f:
        f.write(text)


if __name__ == "__main__":
    main()
