"""Ray without a shared filesystem against Ray with it (issue 13, part 1).

In one run, against one real 2-node Ray cluster on this machine (``tests/support``'s) and
two amlite servers on loopback, each with a Ray compute on that cluster:

- *shared*: the default (``AMLITE_RAY_SHARED_FS`` unset): the nodes see the server's home
  (one machine), so they run on the run directory (the fast path);
- *no shared FS*: ``AMLITE_RAY_SHARED_FS=off``: the nodes do what they do on a cluster that
  cannot see the server's disk: code from Ray's package store, inputs fetched and logs and
  outputs pushed through the server's file API, events and result read back from the Ray
  job's log.

The same jobs one at a time, kinds interleaved (so noise hits them alike): a one-node job
and a 2-node PyTorch job (``processCount`` 2, ``cpu=1`` per node), each with a code
snapshot and a 1 MiB ``Download`` input, command: read the input, write an output file.
Times: submit → Running, submit → Completed (server-recorded) and submit → seen Completed
by the client (includes amlite noticing the end). Both servers submit to the same cluster,
one job at a time, so they never compete for its nodes.

Run: ``.venv/bin/python bench/bench_ray_nofs.py [--jobs N]`` (about 5 minutes with the
default 8). Results are appended to ``bench/results/ray.md``.

``--uploads N`` measures something else instead: what is uploaded to the cluster's package
store for N jobs with the same code. One server in no-shared-FS mode, whose Ray compute's
address is a counting proxy in front of the dashboard (it forwards every request and counts
``PUT /api/packages/gcs/...`` by package), gets N one-node jobs (``python main.py``, the
same code asset) at once; every package PUT is then classified by what the Ray jobs'
``runtime_env`` name it: amlite's node package, the code package, a job's descriptor.
"""

from __future__ import annotations

import os

os.environ["RAY_AUTH_MODE"] = "disabled"
os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")

import argparse
import http.client
import shutil
import sys
import tempfile
import threading
import time
import urllib.parse
from collections import Counter
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from _server import API, WS, BenchServer
from bench_ray import (
    RESULTS,
    SLOW_POLL,
    TERMINAL,
    Failures,
    Sample,
    history,
    look_for_others,
    med,
    one_job,
    pct,
)

from amlite.executors.ray import ship

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from support.ray_cluster import RayTestCluster, ray_available
from support.server import upload_code

RAY = "raycluster"
COMMAND = (
    "python -c \"import os, pathlib; d = pathlib.Path(os.environ['AZURE_ML_INPUT_data']); "
    "n = sum(f.stat().st_size for f in d.rglob('*') if f.is_file()); "
    "pathlib.Path(os.environ['AZURE_ML_OUTPUT_model'], 'n.txt').write_text(str(n))\""
)


def body(code: str, two_nodes: bool) -> dict[str, Any]:
    props: dict[str, Any] = {
        "jobType": "Command",
        "command": COMMAND,
        "codeId": code,
        "compute": {"target": RAY, "instanceType": "cpu=1"},
        "inputDataBindings": {"data": {"dataId": "azureml:benchdata:1", "mode": "Download"}},
        "outputDataBindings": {"model": {"mode": "ReadWriteMount"}},
    }
    if two_nodes:
        props["compute"]["instanceCount"] = 2
        props["distribution"] = {"distributionType": "PyTorch", "processCount": 2}
    return {"properties": props}


def setup_server(srv: BenchServer, dashboard: str) -> str:
    with srv.client() as c:
        resp = c.put(
            f"{WS}/computes/{RAY}?{API}",
            json={"properties": {"computeType": "Ray", "properties": {"address": dashboard}}},
        )
        resp.raise_for_status()
        resp = c.put(
            f"{WS}/datastores/workspaceblobstore/files/bench/d1/blob.bin?{API}",
            content=os.urandom(1024 * 1024),
        )
        resp.raise_for_status()
        asset = {"properties": {"path": "azureml://datastores/workspaceblobstore/paths/bench/d1"}}
        c.put(f"{WS}/data/benchdata/versions/1?{API}", json=asset).raise_for_status()
        return upload_code(c, "benchcode", {"main.py": "print('hello')\n" * 200})


class CountingProxy:
    """Forwards every request to the dashboard; counts package uploads (``PUT``) and
    existence checks (``GET``) per package name, with the bytes uploaded."""

    PACKAGES = "/api/packages/gcs/"

    def __init__(self, dashboard: str) -> None:
        self.target = urllib.parse.urlsplit(dashboard)
        self.puts: Counter[str] = Counter()
        self.gets: Counter[str] = Counter()
        self.put_bytes: Counter[str] = Counter()
        self.lock = threading.Lock()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def forward(self) -> None:
                size = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(size) if size else None
                if self.path.startswith(proxy.PACKAGES):
                    name = self.path[len(proxy.PACKAGES) :]
                    with proxy.lock:
                        if self.command == "PUT":
                            proxy.puts[name] += 1
                            proxy.put_bytes[name] += size
                        elif self.command == "GET":
                            proxy.gets[name] += 1
                conn = http.client.HTTPConnection(proxy.target.netloc, timeout=60)
                headers = {"Content-Type": self.headers.get("Content-Type") or ""}
                conn.request(self.command, self.path, body=body, headers=headers)
                resp = conn.getresponse()
                data = resp.read()
                conn.close()
                self.send_response(resp.status)
                self.send_header("Content-Type", resp.getheader("Content-Type") or "")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_PUT = do_POST = do_DELETE = forward

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def uploads(n: int, write: bool) -> None:
    """N jobs with one code on the no-shared-FS path: which packages were uploaded how often."""
    home = Path(tempfile.mkdtemp(prefix="amlite-bench-uploads-"))
    cluster = RayTestCluster(cpus_per_node=2, memory_gib=4).start()
    proxy = CountingProxy(cluster.dashboard)
    failures = Failures()
    statuses: Counter[str] = Counter()
    try:
        with BenchServer(home, {"AMLITE_RAY_SHARED_FS": "off"}) as srv:
            with srv.client() as c:
                resp = c.put(
                    f"{WS}/computes/{RAY}?{API}",
                    json={
                        "properties": {"computeType": "Ray", "properties": {"address": proxy.url}}
                    },
                )
                resp.raise_for_status()
                code = upload_code(c, "benchcode", {"main.py": "print('hello')\n" * 200})
                body = {
                    "properties": {
                        "jobType": "Command",
                        "command": "python main.py",
                        "codeId": code,
                        "compute": {"target": RAY, "instanceType": "cpu=1"},
                    }
                }
                names = [f"up-{i}" for i in range(n)]
                before = {j["submission_id"] for j in cluster.jobs()}
                t0 = time.monotonic()
                for name in names:
                    resp = c.put(f"{WS}/jobs/{name}?{API}", json=body)
                    if resp.status_code != 201:
                        failures.add(f"{name}: PUT answered {resp.status_code}")
                look_for_others(cluster, failures)
                for name in names:
                    while (data := history(c, name))["status"] not in TERMINAL:
                        if time.monotonic() - t0 > 1800:
                            raise TimeoutError(f"{name} still {data['status']}")
                        time.sleep(SLOW_POLL)
                    statuses[data["status"]] += 1
                    if data["status"] != "Completed":
                        failures.add(f"{name}: {data['status']}: {data.get('reason')!r}")
                wall = time.monotonic() - t0
                look_for_others(cluster, failures)
            jobs = [j for j in cluster.jobs() if j["submission_id"] not in before]
    finally:
        proxy.close()
        cluster.stop()
        shutil.rmtree(home, ignore_errors=True)
    text = uploads_report(n, wall, statuses, jobs, proxy, failures)
    print(text)
    if write and not failures.items:
        with RESULTS.open("a") as f:
            f.write(text)
    if failures.items:
        sys.exit(1)


def uploads_report(
    n: int,
    wall: float,
    statuses: Counter[str],
    jobs: list[dict[str, Any]],
    proxy: CountingProxy,
    failures: Failures,
) -> str:
    def name(uri: str) -> str:
        return uri.removeprefix("gcs://")

    modules: Counter[str] = Counter()
    descriptors: set[str] = set()
    for job in jobs:
        env = job.get("runtime_env") or {}
        modules.update(name(u) for u in env.get("py_modules") or [])
        if env.get("working_dir"):
            descriptors.add(name(env["working_dir"]))
    node_pkg = name(ship.node_package()[0])  # this checkout's, as the server ships it
    kinds = {
        "amlite's node package (`amlite_node`)": [m for m in modules if m == node_pkg],
        "the code package (`amlite_code`)": [m for m in modules if m != node_pkg],
        "job descriptors (`working_dir`)": sorted(descriptors),
    }
    lines = [
        f"## {datetime.now().strftime('%Y-%m-%d %H:%M')} Package uploads for {n} jobs with one "
        f"code, no shared filesystem (`bench/bench_ray_nofs.py --uploads {n}`, 2 cores)",
        "",
        f"One amlite server (`AMLITE_RAY_SHARED_FS=off`) on the 2-node test cluster, its Ray "
        f"compute's address a counting proxy in front of the dashboard. {n} one-node jobs "
        f"(`python main.py`, `cpu=1`: 4 at a time) with the same code asset submitted at "
        f"once: {dict(statuses)} in {wall:.0f} s; {len(jobs)} Ray jobs. Uploads are the "
        f"`PUT /api/packages/gcs/...` the proxy forwarded, classified by the Ray jobs' "
        f"`runtime_env`. The machine was loaded by other work (other helpers' tests and "
        f"builds); load average at the end: " + machine_note(failures),
        "",
        "| package | distinct in the jobs' runtime_env | uploads (PUT) | bytes uploaded | "
        "existence checks (GET) |",
        "|---|---|---|---|---|",
    ]
    for label, names in kinds.items():
        lines.append(
            f"| {label} | {len(names)} | {sum(proxy.puts[x] for x in names)} | "
            f"{sum(proxy.put_bytes[x] for x in names)} | {sum(proxy.gets[x] for x in names)} |"
        )
    known = {x for names in kinds.values() for x in names}
    other = sum(k for x, k in proxy.puts.items() if x not in known)
    lines += [
        "",
        f"Uploads of packages no job names: {other}. Total package uploads: "
        f"{sum(proxy.puts.values())} for {n} jobs.",
        "",
    ]
    if failures.items:
        lines += [f"**INVALID: {len(failures.items)} job(s) did not complete.**", ""]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--jobs", type=int, default=8)
    parser.add_argument(
        "--uploads", type=int, default=0, metavar="N", help="count N jobs' package uploads"
    )
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    if not ray_available():
        sys.exit("ray is not installed (pip install -e '.[ray]')")
    if args.uploads:
        uploads(args.uploads, not args.no_write)
        return
    home = Path(tempfile.mkdtemp(prefix="amlite-bench-nofs-"))
    cluster = RayTestCluster(cpus_per_node=2, memory_gib=4).start()
    failures = Failures()
    kinds = ["shared-1", "nofs-1", "shared-2", "nofs-2"]
    out: dict[str, list[Sample]] = {k: [] for k in kinds}
    try:
        with (
            BenchServer(home / "shared") as shared,
            BenchServer(home / "nofs", {"AMLITE_RAY_SHARED_FS": "off"}) as nofs,
        ):
            codes = {
                "shared": setup_server(shared, cluster.dashboard),
                "nofs": setup_server(nofs, cluster.dashboard),
            }
            servers = {"shared": shared, "nofs": nofs}
            for i in range(args.jobs + 1):  # round 0 warms up (first workers, first imports)
                look_for_others(cluster, failures)
                for kind in kinds:
                    side, nodes = kind.split("-")
                    with servers[side].client() as c:
                        sample = one_job(
                            c, f"{kind}-{i}", kind, body(codes[side], two_nodes=nodes == "2")
                        )
                    if sample.failure:
                        failures.add(sample.failure)
                    elif i > 0:
                        out[kind].append(sample)
                print(
                    f"  round {i}: "
                    + ", ".join(f"{k} {v[-1].completed:.0f} ms" for k, v in out.items() if v),
                    flush=True,
                )
    finally:
        cluster.stop()
        shutil.rmtree(home, ignore_errors=True)
    text = report(args.jobs, out, failures)
    print(text)
    if not args.no_write and not failures.items:
        with RESULTS.open("a") as f:
            f.write(text)
    if failures.items:
        sys.exit(1)


def machine_note(failures: Failures) -> str:
    """The load average now, and the other work the checks saw, ending the sentence."""
    load = os.getloadavg()
    others = (
        f"; other work seen at {len(failures.others)} of {failures.checks} checks: "
        f"{'; '.join(sorted(set(failures.others)))}."
        if failures.others
        else "."
    )
    return f"{load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f}{others}"


def report(n: int, out: dict[str, list[Sample]], failures: Failures) -> str:
    def values(kind: str, attr: str) -> list[float]:
        return [getattr(s, attr) for s in out[kind] if getattr(s, attr) == getattr(s, attr)]

    lines = [
        f"## {datetime.now().strftime('%Y-%m-%d %H:%M')} Ray without a shared filesystem "
        f"(`bench/bench_ray_nofs.py`, 2 cores)",
        "",
        "One 2-node Ray cluster on this machine, two amlite servers on it: *shared* (the "
        "nodes see the run directory) and *no shared FS* (`AMLITE_RAY_SHARED_FS=off`: code "
        "through Ray's package store, the 1 MiB `Download` input fetched and logs and the "
        "output pushed through the file API, status read from the Ray job's log). "
        f"{n} jobs of each kind, interleaved, after one warm-up round. Load average at the "
        f"end: " + machine_note(failures),
        "",
    ]
    if failures.items:
        lines += [f"**INVALID: {len(failures.items)} job(s) did not complete.**", ""]
    lines += [
        "| job | submit → Running p50 | submit → Completed p50 / p90 | seen Completed p50 |",
        "|---|---|---|---|",
    ]
    labels = {
        "shared-1": "1 node, shared",
        "nofs-1": "1 node, no shared FS",
        "shared-2": "2-node PyTorch, shared",
        "nofs-2": "2-node PyTorch, no shared FS",
    }
    for kind, label in labels.items():
        done = values(kind, "completed")
        lines.append(
            f"| {label} | {med(values(kind, 'running')):.0f} ms | {med(done):.0f} / "
            f"{pct(done, 0.9) if done else float('nan'):.0f} ms | "
            f"{med(values(kind, 'observed')):.0f} ms |"
        )
    lines += [
        "",
        "| comparison (p50, submit → seen Completed) | no shared FS / shared | difference |",
    ]
    lines += ["|---|---|---|"]
    for nodes in ("1", "2"):
        a, b = med(values(f"shared-{nodes}", "observed")), med(values(f"nofs-{nodes}", "observed"))
        label = "1 node" if nodes == "1" else "2-node PyTorch"
        lines.append(f"| {label} | {b / a:.2f}x | {b - a:+.0f} ms |")
    lines.append("")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
