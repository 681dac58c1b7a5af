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
"""

from __future__ import annotations

import os

os.environ["RAY_AUTH_MODE"] = "disabled"
os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")

import argparse
import shutil
import sys
import tempfile
from datetime import datetime
from pathlib import Path
from typing import Any

from _server import API, WS, BenchServer
from bench_ray import RESULTS, Failures, Sample, look_for_others, med, one_job, pct

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


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--jobs", type=int, default=8)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    if not ray_available():
        sys.exit("ray is not installed (pip install -e '.[ray]')")
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


def report(n: int, out: dict[str, list[Sample]], failures: Failures) -> str:
    def values(kind: str, attr: str) -> list[float]:
        return [getattr(s, attr) for s in out[kind] if getattr(s, attr) == getattr(s, attr)]

    load = os.getloadavg()
    lines = [
        f"## {datetime.now().strftime('%Y-%m-%d %H:%M')} Ray without a shared filesystem "
        f"(`bench/bench_ray_nofs.py`, 2 cores)",
        "",
        "One 2-node Ray cluster on this machine, two amlite servers on it: *shared* (the "
        "nodes see the run directory) and *no shared FS* (`AMLITE_RAY_SHARED_FS=off`: code "
        "through Ray's package store, the 1 MiB `Download` input fetched and logs and the "
        "output pushed through the file API, status read from the Ray job's log). "
        f"{n} jobs of each kind, interleaved, after one warm-up round. Load average at the "
        f"end: {load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f}"
        + (
            f"; other work seen at {len(failures.others)} of {failures.checks} checks: "
            f"{'; '.join(sorted(set(failures.others)))}."
            if failures.others
            else "."
        ),
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
