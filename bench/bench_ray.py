"""Ray backend benchmark (issue: Ray compute backend).

In one run, against one real 2-node Ray cluster on this machine (head + worker, 2 CPUs
each) and one amlite server on loopback with a Ray compute registered:

1. dispatch overhead, jobs submitted one at a time: submit -> Running and submit ->
   Completed (p50, p90) of a trivial ``true`` job and of a 2-node PyTorch job
   (``instanceCount`` 2, ``processCount`` 2, command ``true``), on the local executor and
   on the Ray compute (``instanceType`` ``cpu=1``); as the floor, the same ``true`` sent
   straight to Ray Jobs. Times are the server's recorded status times (the history
   endpoint) from the client's time just before the PUT; where the time goes on Ray is read
   from the supervisor's (and the gang driver's) system log.
2. throughput: 100 single-node ``true`` jobs (``cpu=1``, so 4 at a time) submitted at once
   through amlite, against the same 100 entrypoints submitted straight to Ray Jobs (the REST
   API ``ray job submit`` uses, ``entrypoint_num_cpus`` 1); wall time from the first submit to
   the last Completed / SUCCEEDED, both sides twice in alternating order (medians). Plus
   ``ray job submit -- true`` through the CLI, 3 runs, as context (it includes the CLI's
   start-up).

Every job must end Completed / SUCCEEDED; failures are counted, printed and make the run
invalid (said in the results).

Run: ``.venv/bin/python bench/bench_ray.py`` (about 10-15 minutes; ``--quick`` for a smoke
run). Needs ``ray`` (``.venv/bin/pip install -e '.[ray]'``). Results are appended to
``bench/results/ray.md``.
"""

from __future__ import annotations

import os

# the same auth mode on every node and every client, set before anything talks to Ray
os.environ["RAY_AUTH_MODE"] = "disabled"
os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
from _server import API, WS, BenchServer

# Reuse the tests' two-node cluster (tests/support/ray_cluster.py: head + worker with their
# own temp dirs, stopped by pid) rather than copying it.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from support.ray_cluster import RayTestCluster, ray_available

RESULTS = Path(__file__).parent / "results" / "ray.md"
RAY = "raycluster"
TERMINAL = {"Completed", "Failed", "Canceled"}
RAY_TERMINAL = {"SUCCEEDED", "FAILED", "STOPPED"}
POLL = 0.015
"""Seconds between polls while one job is followed (part 1)."""
SLOW_POLL = 0.25
"""Seconds between polls while a burst drains (part 2): the client must not compete with
the server and Ray for the 2 cores."""


def parse(ts: str) -> float:
    return datetime.fromisoformat(ts.replace("Z", "+00:00")).timestamp()


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p * len(ordered)))]


def med(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


# -- amlite ------------------------------------------------------------------------------


def job_body(command: str, *, ray: bool, two_nodes: bool) -> dict[str, Any]:
    compute: dict[str, Any] = {}
    props: dict[str, Any] = {"jobType": "Command", "command": command, "compute": compute}
    if ray:
        compute.update(target=RAY, instanceType="cpu=1")
    if two_nodes:
        compute["instanceCount"] = 2
        props["distribution"] = {"distributionType": "PyTorch", "processCount": 2}
    return {"properties": props}


def history(c: httpx.Client, name: str) -> dict[str, Any]:
    resp = c.get(f"{WS}/jobs/{name}/history?{API}")
    resp.raise_for_status()
    data: dict[str, Any] = resp.json()
    return data


def artifact(c: httpx.Client, name: str, path: str) -> str:
    resp = c.get(f"{WS}/datastores/workspaceblobstore/files/ExperimentRun/dcid.{name}/{path}?{API}")
    return resp.text if resp.status_code == 200 else ""


def first_time(log: str, contains: str = "") -> float | None:
    """The time of the first line of a system log (each line starts with an ISO time)."""
    times = []
    for line in log.splitlines():
        stamp, _, rest = line.partition(" ")
        if contains in rest:
            try:
                times.append(parse(stamp))
            except ValueError:
                continue
    return min(times) if times else None


@dataclass
class Sample:
    """One job of part 1; times in ms from the client's time just before the PUT."""

    kind: str
    running: float = float("nan")
    completed: float = float("nan")
    observed: float = float("nan")
    """When the client saw the job terminal (includes amlite noticing the end)."""
    driver: float = float("nan")
    """2-node Ray jobs: the gang driver's first log line (after its ``ray.init``)."""
    reserved: float = float("nan")
    """2-node Ray jobs: when the gang driver had its placement group."""
    process: float = float("nan")
    """When the (first) supervisor wrote its first log line: the job's process started."""
    failure: str | None = None


@dataclass
class Failures:
    items: list[str] = field(default_factory=list)
    others: list[str] = field(default_factory=list)
    """Other work seen on the machine while measuring (another Ray cluster, a test run)."""
    checks: int = 0

    def add(self, what: str) -> None:
        print(f"  FAILED: {what}", flush=True)
        self.items.append(what)


def look_for_others(cluster: RayTestCluster, failures: Failures) -> None:
    """Note another Ray head or a pytest run on the machine (the figures are then noisier)."""
    failures.checks += 1
    seen = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmd = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if "gcs_server" in cmd and str(cluster.root) not in cmd:
            seen.add("another Ray cluster")
        elif "pytest" in cmd and "bench_ray" not in cmd:
            seen.add("a pytest run")
    if seen:
        failures.others.append(", ".join(sorted(seen)))


def one_job(c: httpx.Client, name: str, kind: str, body: dict[str, Any]) -> Sample:
    sample = Sample(kind)
    t0 = time.time()
    resp = c.put(f"{WS}/jobs/{name}?{API}", json=body)
    if resp.status_code != 201:
        sample.failure = f"{name}: PUT answered {resp.status_code}: {resp.text[:300]}"
        return sample
    deadline = time.monotonic() + 300
    while True:
        data = history(c, name)
        if data["status"] in TERMINAL:
            sample.observed = (time.time() - t0) * 1000
            break
        if time.monotonic() > deadline:
            sample.failure = f"{name}: still {data['status']} after 300 s"
            return sample
        time.sleep(POLL)
    at = {e["status"]: parse(e["at"]) for e in data["value"]}
    if data["status"] != "Completed":
        gang = artifact(c, name, "system_logs/ray_gang.log")
        sup = artifact(c, name, "system_logs/supervisor.log")
        sample.failure = (
            f"{name} ({kind}): {data['status']}: {data.get('reason')!r}"
            f"\n    supervisor.log: {sup.strip()[-600:]!r}"
            f"\n    ray_gang.log: {gang.strip()[-600:]!r}"
        )
        return sample
    sample.running = (at["Running"] - t0) * 1000
    sample.completed = (at["Completed"] - t0) * 1000
    started = first_time(artifact(c, name, "system_logs/supervisor.log"), "supervisor ")
    if started is not None:
        sample.process = (started - t0) * 1000
    gang = artifact(c, name, "system_logs/ray_gang.log")
    driver, reserved = first_time(gang), first_time(gang, "all nodes reserved")
    if driver is not None:
        sample.driver = (driver - t0) * 1000
    if reserved is not None:
        sample.reserved = (reserved - t0) * 1000
    return sample


# -- Ray Jobs straight -----------------------------------------------------------------


def ray_submit(h: httpx.Client, sid: str) -> None:
    body = {"entrypoint": "true", "submission_id": sid, "entrypoint_num_cpus": 1}
    resp = h.post("/api/jobs/", json=body)
    resp.raise_for_status()


def ray_job(h: httpx.Client, sid: str) -> dict[str, Any]:
    resp = h.get(f"/api/jobs/{sid}")
    resp.raise_for_status()
    data: dict[str, Any] = resp.json()
    return data


def ray_one(h: httpx.Client, failures: Failures) -> Sample:
    sample = Sample("ray-jobs")
    sid = f"bench-one-{uuid.uuid4().hex[:10]}"
    t0 = time.time()
    ray_submit(h, sid)
    deadline = time.monotonic() + 300
    while (job := ray_job(h, sid))["status"] not in RAY_TERMINAL:
        if time.monotonic() > deadline:
            failures.add(f"Ray job {sid} still {job['status']} after 300 s")
            sample.failure = "timeout"
            return sample
        time.sleep(POLL)
    sample.observed = (time.time() - t0) * 1000
    if job["status"] != "SUCCEEDED":
        failures.add(f"Ray job {sid}: {job['status']}: {job.get('message')}")
        sample.failure = job["status"]
        return sample
    sample.completed = job["end_time"] - t0 * 1000
    return sample


# -- part 1 --------------------------------------------------------------------------------

KINDS = {
    "local-1": job_body("true", ray=False, two_nodes=False),
    "ray-1": job_body("true", ray=True, two_nodes=False),
    "local-2": job_body("true", ray=False, two_nodes=True),
    "ray-2": job_body("true", ray=True, two_nodes=True),
}


def latencies(
    srv: BenchServer,
    h: httpx.Client,
    cluster: RayTestCluster,
    n: int,
    failures: Failures,
    prefix: str = "lat",
) -> dict[str, list[Sample]]:
    """n jobs of each kind, one at a time, kinds interleaved (so noise hits them alike)."""
    out: dict[str, list[Sample]] = {k: [] for k in [*KINDS, "ray-jobs"]}
    with srv.client() as c:
        for i in range(n):
            look_for_others(cluster, failures)
            for kind, body in KINDS.items():
                s = one_job(c, f"{prefix}-{kind}-{i}", kind, body)
                if s.failure:
                    failures.add(s.failure)
                else:
                    out[kind].append(s)
            s = ray_one(h, failures)
            if not s.failure:
                out["ray-jobs"].append(s)
            print(
                f"  round {i + 1}/{n}: "
                + ", ".join(
                    f"{k} {v[-1].completed:.0f} ms" for k, v in out.items() if v and len(v) > i
                ),
                flush=True,
            )
    return out


# -- part 2 --------------------------------------------------------------------------------


@dataclass
class Burst:
    side: str
    n: int
    wall: float = float("nan")
    """Seconds from the first submit to the last Completed / SUCCEEDED (recorded times)."""
    observed: float = float("nan")
    """Seconds from the first submit until the client had seen every job end."""
    submitted: float = float("nan")
    """Seconds the n submissions took."""
    ray_runtime: list[float] = field(default_factory=list)
    """Ray's own start_time -> end_time of each Ray job (ms)."""
    failed: int = 0


def ray_times(cluster: RayTestCluster, prefix: str | None = None) -> dict[str, tuple[int, int]]:
    """submission id (or amlite entrypoint's run dir name) -> (start_time, end_time) in ms."""
    out = {}
    for job in cluster.jobs():
        sid = str(job.get("submission_id") or "")
        if prefix is not None and not sid.startswith(prefix):
            continue
        if job.get("start_time") and job.get("end_time"):
            out[sid] = (int(job["start_time"]), int(job["end_time"]))
    return out


def amlite_burst(
    srv: BenchServer, cluster: RayTestCluster, n: int, tag: str, failures: Failures
) -> Burst:
    burst = Burst("amlite", n)
    before = set(ray_times(cluster))
    body = job_body("true", ray=True, two_nodes=False)
    names = [f"burst-{tag}-{i}" for i in range(n)]
    with srv.client() as c:
        t0 = time.time()
        for name in names:
            resp = c.put(f"{WS}/jobs/{name}?{API}", json=body)
            if resp.status_code != 201:
                failures.add(f"{name}: PUT answered {resp.status_code}: {resp.text[:300]}")
        burst.submitted = time.time() - t0
        last = 0.0
        deadline = time.monotonic() + 1200
        for name in reversed(names):  # a strict queue: the last submitted ends (about) last
            while (data := history(c, name))["status"] not in TERMINAL:
                if time.monotonic() > deadline:
                    raise TimeoutError(f"{name} still {data['status']}")
                time.sleep(SLOW_POLL)
            if data["status"] != "Completed":
                burst.failed += 1
                failures.add(f"{name}: {data['status']}: {data.get('reason')!r}")
                continue
            last = max(last, parse(data["value"][-1]["at"]))
        burst.observed = time.time() - t0
    burst.wall = last - t0
    after = ray_times(cluster)
    burst.ray_runtime = [end - start for sid, (start, end) in after.items() if sid not in before]
    return burst


def ray_burst(
    h: httpx.Client, cluster: RayTestCluster, n: int, tag: str, failures: Failures
) -> Burst:
    burst = Burst("ray-jobs", n)
    sids = [f"bench-{tag}-{i}-{uuid.uuid4().hex[:6]}" for i in range(n)]
    t0 = time.time()
    for sid in sids:
        ray_submit(h, sid)
    burst.submitted = time.time() - t0
    last = 0.0
    deadline = time.monotonic() + 1200
    for sid in reversed(sids):
        while (job := ray_job(h, sid))["status"] not in RAY_TERMINAL:
            if time.monotonic() > deadline:
                raise TimeoutError(f"Ray job {sid} still {job['status']}")
            time.sleep(SLOW_POLL)
        if job["status"] != "SUCCEEDED":
            burst.failed += 1
            failures.add(f"Ray job {sid}: {job['status']}: {job.get('message')}")
            continue
        last = max(last, job["end_time"] / 1000)
    burst.observed = time.time() - t0
    burst.wall = last - t0
    times = ray_times(cluster, f"bench-{tag}-")
    burst.ray_runtime = [end - start for start, end in times.values()]
    return burst


def cli_runs(cluster: RayTestCluster, n: int, failures: Failures) -> list[float]:
    ray = str(Path(sys.executable).parent / "ray")
    out = []
    for _ in range(n):
        t0 = time.time()
        done = subprocess.run(
            [ray, "job", "submit", "--address", cluster.dashboard, "--", "true"],
            capture_output=True,
            text=True,
            env=cluster.env,
        )
        took = time.time() - t0
        if done.returncode != 0 or "succeeded" not in (done.stdout + done.stderr).lower():
            out_text = (done.stdout + done.stderr).strip()[-300:]
            failures.add(f"ray job submit: code {done.returncode}: {out_text}")
            continue
        out.append(took * 1000)
        print(f"  ray job submit -- true: {took * 1000:.0f} ms", flush=True)
    return out


def wait_idle(cluster: RayTestCluster, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while any(j.get("status") in ("PENDING", "RUNNING") for j in cluster.jobs()):
        if time.monotonic() > deadline:
            raise RuntimeError("the Ray cluster still runs jobs")
        time.sleep(0.5)


# -- report ------------------------------------------------------------------------------------


def row(label: str, values: list[float]) -> str:
    if not values:
        return f"| {label} | - | - |"
    return f"| {label} | {med(values):.0f} | {pct(values, 0.9):.0f} |"


def report(
    args: argparse.Namespace,
    lat: dict[str, list[Sample]],
    bursts: list[Burst],
    cli: list[float],
    failures: Failures,
    setup: str,
) -> str:
    def field_of(kind: str, attr: str) -> list[float]:
        return [getattr(s, attr) for s in lat[kind] if getattr(s, attr) == getattr(s, attr)]

    lines = [
        f"## {datetime.now().strftime('%Y-%m-%d %H:%M')} "
        f"(2 cores; {'--quick' if args.quick else 'full run'})",
        "",
        setup,
        "",
    ]
    load = os.getloadavg()
    if failures.others:
        lines += [
            f"Other work on the machine during the run, seen at {len(failures.others)} of "
            f"{failures.checks} checks: {'; '.join(sorted(set(failures.others)))}. "
            f"Load average at the end: {load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f}.",
            "",
        ]
    else:
        lines += [
            f"No other Ray cluster or test run seen on the machine during the run "
            f"({failures.checks} checks). Load average at the end: "
            f"{load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f}.",
            "",
        ]
    if failures.items:
        lines += [
            f"**INVALID: {len(failures.items)} job(s) did not complete:**",
            "",
            *[f"- `{f.splitlines()[0][:300]}`" for f in failures.items],
            "",
        ]
    n = args.latency_jobs
    lines += [
        f"### 1. Dispatch overhead, one job at a time ({n} jobs of each kind, interleaved)",
        "",
        "Milliseconds from the client's time just before the PUT to the status time the",
        "server recorded (the history endpoint); *seen* is when the client's 15 ms poll saw",
        "the job terminal, so it includes amlite noticing the end.",
        "",
        "| job | p50 (ms) | p90 (ms) |",
        "|---|---|---|",
    ]
    labels = {
        "local-1": "`true`, local",
        "ray-1": "`true`, Ray (`cpu=1`)",
        "local-2": "2-node PyTorch `true`, local",
        "ray-2": "2-node PyTorch `true`, Ray (`cpu=1` x 2)",
    }
    for kind, label in labels.items():
        lines.append(row(f"{label}: submit → Running", field_of(kind, "running")))
        lines.append(row(f"{label}: submit → Completed", field_of(kind, "completed")))
        lines.append(row(f"{label}: submit → Completed seen", field_of(kind, "observed")))
    lines.append(
        row("`true` straight to Ray Jobs: submit → SUCCEEDED", field_of("ray-jobs", "completed"))
    )
    lines.append(
        row(
            "`true` straight to Ray Jobs: submit → SUCCEEDED seen", field_of("ray-jobs", "observed")
        )
    )
    lines += ["", "| comparison (p50) | Ray / local | Ray - local (ms) |", "|---|---|---|"]
    for local_kind, ray_kind, label in (
        ("local-1", "ray-1", "`true`"),
        ("local-2", "ray-2", "2-node `true`"),
    ):
        for attr, what in (("running", "submit → Running"), ("completed", "submit → Completed")):
            la, ra = med(field_of(local_kind, attr)), med(field_of(ray_kind, attr))
            lines.append(f"| {label}, {what} | {ra / la:.1f}x | {ra - la:.0f} |")
    direct = med(field_of("ray-jobs", "completed"))
    ray1 = med(field_of("ray-1", "completed"))
    lines.append(
        f"| `true`, amlite on Ray vs straight to Ray Jobs, submit → Completed | "
        f"{ray1 / direct:.2f}x | {ray1 - direct:.0f} |"
    )

    def gaps(kind: str) -> list[str]:
        """Median of each step of the chain submit → Running → (driver → placement group)
        → supervisor → Completed → seen, over the jobs of a kind."""
        steps: list[list[float]] = [[] for _ in range(6)]
        for s in lat[kind]:
            chain = [0.0, s.running, s.driver, s.reserved, s.process, s.completed, s.observed]
            prev = 0.0
            for i, point in enumerate(chain[1:]):
                if point == point:  # not NaN
                    steps[i].append(point - prev)
                    prev = point
        return [f"{med(v):.0f}" if v else "-" for v in steps]

    lines += [
        "",
        "Where the time goes (medians, ms), each step from the previous one that applies:",
        "*dispatch* = submit → Running (amlite queues the job, the scheduler places it and",
        "starts it: on Ray it submits the Ray Job, and Running is set once Ray Jobs accepted",
        "it); *driver up* (2-node Ray) = Running → the gang driver's first log line, after Ray",
        "Jobs started its JobSupervisor actor and entrypoint and the driver ran `ray.init`;",
        "*placement group* = → 'all nodes reserved'; *process start* = → the (first) supervisor's",
        "first log line (on Ray, 1 node: Ray Jobs' JobSupervisor actor and the entrypoint",
        "process, which is the supervisor; 2-node: the supervisor tasks; local: the spare",
        "supervisor may log before the job is marked Running, hence ≤ 0); *run* = → the",
        "supervisor's result time (Completed); *noticed* = → the client saw it terminal (the",
        "scheduler follows Ray jobs once a second; a local supervisor's exit wakes it at once).",
        "",
        "| job | dispatch | driver up | placement group | process start | run | noticed |",
        "|---|---|---|---|---|---|---|",
    ]
    for kind, label in labels.items():
        lines.append(f"| {label} | " + " | ".join(gaps(kind)) + " |")

    # part 2
    am = [b for b in bursts if b.side == "amlite"]
    rj = [b for b in bursts if b.side == "ray-jobs"]
    nb = args.burst_jobs
    lines += [
        "",
        f"### 2. {nb} `true` jobs submitted at once on the 2-node cluster (`cpu=1`: 4 at a time)",
        "",
        "Wall = first submit → last Completed (amlite, server-recorded) / last SUCCEEDED (Ray",
        "Jobs' `end_time`); *seen* = until the client (polling every 250 ms) had seen all",
        "end. *Ray job* = Ray's own start_time (its submission) → end_time of each Ray job,",
        "median: straight to Ray Jobs it includes the wait in Ray's queue; amlite keeps its",
        "queue itself and submits a Ray job only when a node has a CPU free.",
        "",
        "| side | round | submit all (s) | wall (s) | seen (s) | jobs/s | Ray job p50 (ms) |",
        "|---|---|---|---|---|---|---|",
    ]
    for b in bursts:
        rnd = (am if b.side == "amlite" else rj).index(b) + 1
        lines.append(
            f"| {'amlite → Ray' if b.side == 'amlite' else 'Ray Jobs REST'} | {rnd} | "
            f"{b.submitted:.2f} | {b.wall:.1f} | {b.observed:.1f} | {b.n / b.wall:.2f} | "
            f"{med(b.ray_runtime):.0f} |"
        )
    if am and rj:
        aw, rw = med([b.wall for b in am]), med([b.wall for b in rj])
        lines += [
            "",
            "| median of rounds | amlite → Ray | Ray Jobs REST | ratio | amlite overhead per job |",
            "|---|---|---|---|---|",
            f"| wall (s) | {aw:.1f} | {rw:.1f} | {aw / rw:.2f}x | {(aw - rw) / nb * 1000:.0f} ms |",
            f"| jobs/s | {nb / aw:.2f} | {nb / rw:.2f} | | |",
        ]
    if cli:
        lines += [
            "",
            f"`ray job submit --address DASHBOARD -- true` (CLI, waits for the job; includes the "
            f"CLI's start-up), {len(cli)} runs: median {med(cli):.0f} ms "
            f"(min {min(cli):.0f}, max {max(cli):.0f}).",
        ]
    return "\n".join(lines) + "\n\n"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="fewer repetitions (smoke run)")
    parser.add_argument("--latency-jobs", type=int, default=None)
    parser.add_argument("--burst-jobs", type=int, default=None)
    parser.add_argument("--rounds", type=int, default=None)
    parser.add_argument("--no-write", action="store_true", help="print only")
    args = parser.parse_args()
    args.latency_jobs = args.latency_jobs or (3 if args.quick else 15)
    args.burst_jobs = args.burst_jobs or (20 if args.quick else 100)
    args.rounds = args.rounds or (1 if args.quick else 2)
    if not ray_available():
        sys.exit("ray is not installed: .venv/bin/pip install -e '.[ray]'")
    failures = Failures()
    home = Path(tempfile.mkdtemp(prefix="amlite-bench-ray-"))
    cluster = RayTestCluster(cpus_per_node=2, memory_gib=4)
    srv: BenchServer | None = None
    try:
        t = time.time()
        cluster.start()
        print(
            f"Ray cluster up in {time.time() - t:.0f} s, dashboard {cluster.dashboard}", flush=True
        )
        srv = BenchServer(home)
        srv.__enter__()  # stopped in the finally block, even if it fails to start
        with srv.client() as c:
            resp = c.put(
                f"{WS}/computes/{RAY}?{API}",
                json={
                    "properties": {
                        "computeType": "Ray",
                        "properties": {"address": cluster.dashboard},
                    }
                },
            )
            assert resp.status_code in (200, 201), resp.text
        import ray as ray_module

        setup = (
            f"Ray {ray_module.__version__}, 2-node cluster on this machine "
            f"(`tests/support/ray_cluster.py`: head + worker, 2 CPUs and 4 GiB each, "
            f"`RAY_AUTH_MODE=disabled`); amlite server on loopback (SQLite, "
            f"{os.cpu_count()} local slots) with a Ray compute on the dashboard address."
        )
        with httpx.Client(base_url=cluster.dashboard, timeout=60) as h:
            # warm-up: one job of each kind (first Python imports, first Ray workers)
            print("warm-up", flush=True)
            latencies(srv, h, cluster, 1, Failures(), prefix="warm")
            print(f"part 1: {args.latency_jobs} jobs of each kind, one at a time", flush=True)
            lat = latencies(srv, h, cluster, args.latency_jobs, failures)
            bursts: list[Burst] = []
            for r in range(args.rounds):
                order = ("amlite", "ray") if r % 2 == 0 else ("ray", "amlite")
                for side in order:
                    wait_idle(cluster)
                    look_for_others(cluster, failures)
                    print(f"part 2, round {r + 1}: {side}, {args.burst_jobs} jobs", flush=True)
                    if side == "amlite":
                        b = amlite_burst(srv, cluster, args.burst_jobs, f"r{r}", failures)
                    else:
                        b = ray_burst(h, cluster, args.burst_jobs, f"r{r}", failures)
                    print(
                        f"  wall {b.wall:.1f} s (seen {b.observed:.1f} s, submit "
                        f"{b.submitted:.2f} s), {b.failed} failed",
                        flush=True,
                    )
                    bursts.append(b)
            wait_idle(cluster)
            print("ray job submit (CLI)", flush=True)
            cli = cli_runs(cluster, 1 if args.quick else 3, failures)
    finally:
        if srv is not None:
            srv.__exit__()
        cluster.stop()
        shutil.rmtree(home, ignore_errors=True)
    text = report(args, lat, bursts, cli, failures, setup)
    print(text)
    if failures.items:
        print(f"{len(failures.items)} FAILURES:\n" + "\n".join(failures.items))
    if not args.no_write:
        RESULTS.parent.mkdir(parents=True, exist_ok=True)
        with RESULTS.open("a") as f:
            f.write(text)
    if failures.items:
        sys.exit(1)


if __name__ == "__main__":
    main()
