"""Sweep benchmark (issue: sweep jobs): controller overhead per trial, and scale.

1. Overhead. A Random sweep of ``--trials`` short trials (``python -c`` sleeping 50 ms and
   touching two sampled uniform parameters; no mlflow) at ``maxConcurrentTrials: 2`` on a
   real server with ``AMLITE_LOCAL_SLOTS=2``. Measured:

   - wall     = sweep's ``Completed`` time (status history) - the client's time just before
                the PUT;
   - sum(cmd) = sum over trials of the user command's own runtime, taken from each trial's
                supervisor log (``command: ...`` line -> ``command ended`` line: ``bash -c``
                + python start + sleep + exit), the same span the Ray trainable times around
                its ``subprocess.run``;
   - ideal    = sum(cmd) / C (C = 2 concurrent trials, ``--concurrency``; the server then
                runs with ``AMLITE_LOCAL_SLOTS=C``); ratio = wall / ideal (target <= 1.1);
   - overhead per trial = (C * wall - sum(cmd)) / N: slot time per trial not spent inside the
                trial's command (target <= 5 ms).

   Also a breakdown from each trial's history and supervisor log (means, ms): ready ->
   Running (dispatch; ready = created, or for a trial created ahead of its turn the end of
   the trial whose slot it takes; a staged trial's Running is when the executor told it to
   go, a trial started by a scheduler round's is when that round recorded it), Running ->
   command start (supervisor start-up, prepare steps), command end -> Completed (finalize,
   result), and the rest (what the means above do not cover: the first and last trials,
   a trial's end seen late).

   Peer: the same command run by a Ray Tune function trainable through ``subprocess.run``,
   ``tune.Tuner(..., tune_config=TuneConfig(num_samples=N, max_concurrent_trials=2))``, 1 CPU
   per trial, in-process ``ray.init(num_cpus=2)``; wall = ``Tuner.fit()``; the same ideal.

2. Scale. A ``--scale-trials`` Random sweep of ``true`` trials at maxConcurrentTrials = slots
   (``--scale-slots``, default 2); total time, trials/s overall and per tenth of the sweep
   (from each trial's ``result.json``), then the latency of ``GET jobs?parentJobName=...&$top=100``
   pages at several depths (each page re-fetched 7 times through its nextLink; median).

Run: ``.venv/bin/python bench/bench_sweep.py`` (``--quick`` for 100 trials and a 1,000-trial
scale run; ``--skip-scale`` / ``--skip-ray``). Results are appended to
``bench/results/sweep.md``.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime
from pathlib import Path
from typing import Any

from _server import API, WS, BenchServer

# the Ray peer as the machine runs Ray (no token authentication; bench_ray.py does the same)
os.environ.setdefault("RAY_AUTH_MODE", "disabled")
os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")

RESULTS = Path(__file__).parent / "results" / "sweep.md"
C = 2
"""maxConcurrentTrials and AMLITE_LOCAL_SLOTS of the overhead run (``--concurrency``)."""
TRIAL = 'python -c "import time; x = {x}; y = {y}; time.sleep(0.05)"'
AML_TRIAL = TRIAL.format(x="${{search_space.x}}", y="${{search_space.y}}")
SPACE = {"x": ["uniform", [0.0, 1.0]], "y": ["uniform", [0.0, 1.0]]}


def parse(ts: str) -> float:
    return datetime.fromisoformat(ts.replace("Z", "+00:00")).timestamp()


def sweep_body(command: str, total: int, concurrent: int) -> dict[str, Any]:
    return {
        "properties": {
            "jobType": "Sweep",
            "algorithm": "Random",
            "compute": {},
            "objective": {"primaryMetric": "accuracy", "goal": "Maximize"},
            "searchSpace": SPACE,
            "maxTotalTrials": total,
            "maxConcurrentTrials": concurrent,
            "trial": {"command": command},
        }
    }


def run_sweep(srv: BenchServer, name: str, command: str, total: int, concurrent: int) -> float:
    """PUT the sweep, wait for it; return wall seconds (PUT -> Completed in its history)."""
    with srv.client() as c:
        t0 = time.time()
        resp = c.put(f"{WS}/jobs/{name}?{API}", json=sweep_body(command, total, concurrent))
        assert resp.status_code == 201, resp.text
        while True:
            time.sleep(0.5)  # slow polling: the client must not compete for the 2 cores
            hist = c.get(f"{WS}/jobs/{name}/history?{API}").json()
            if hist["status"] in ("Completed", "Failed", "Canceled"):
                break
        assert hist["status"] == "Completed", hist
        at = {e["status"]: parse(e["at"]) for e in hist["value"]}
        return at["Completed"] - t0


def trial_names(srv: BenchServer, sweep: str) -> list[str]:
    out: list[str] = []
    with srv.client() as c:
        url: str | None = f"{WS}/jobs?{API}&parentJobName={sweep}&$top=100"
        while url:
            page = c.get(url).json()
            out += [t["name"] for t in page["value"]]
            url = page["nextLink"]
    return out


def run_dirs(home: Path) -> Path:
    (ws,) = list((home / "runs").glob("*/*/*"))
    return ws


def artifacts_dir(home: Path, name: str) -> Path:
    (path,) = list(home.glob(f"datastores/*/*/*/workspaceblobstore/ExperimentRun/dcid.{name}"))
    return path


def supervisor_times(home: Path, name: str) -> tuple[float, float, float]:
    """(supervisor start, command start, command end) from the trial's supervisor log."""
    text = (artifacts_dir(home, name) / "system_logs" / "supervisor.log").read_text()
    sup = cmd0 = cmd1 = float("nan")
    for line in text.splitlines():
        ts, _, msg = line.partition(" ")
        if msg.startswith("supervisor "):
            sup = parse(ts)
        elif msg.startswith("command: "):
            cmd0 = parse(ts)
        elif msg.startswith("command ended"):
            cmd1 = parse(ts)
    return sup, cmd0, cmd1


def overhead_run(args: argparse.Namespace) -> dict[str, Any]:
    n = args.trials
    home = Path(tempfile.mkdtemp(prefix="amlite-bench-sweep-"))
    try:
        with BenchServer(home, {"AMLITE_LOCAL_SLOTS": str(C)}) as srv:
            time.sleep(1.0)
            wall = run_sweep(srv, "ovh", AML_TRIAL, n, C)
            names = trial_names(srv, "ovh")
            assert len(names) == n, len(names)
            rows = []
            with srv.client() as c:
                for name in names:
                    hist = c.get(f"{WS}/jobs/{name}/history?{API}").json()
                    assert hist["status"] == "Completed", hist
                    at = {e["status"]: parse(e["at"]) for e in hist["value"]}
                    created = parse(hist["value"][0]["at"])
                    sup, cmd0, cmd1 = supervisor_times(home, name)
                    rows.append((created, at["Running"], sup, cmd0, cmd1, at["Completed"]))
            rss = srv.rss_mb()
    finally:
        shutil.rmtree(home, ignore_errors=True)
    cmd = [r[4] - r[3] for r in rows]
    hist_run = [r[5] - r[1] for r in rows]
    # concurrency check: at most C commands at once
    spans = sorted((r[1], r[5]) for r in rows)
    peak = max(sum(1 for s, e in spans if s <= start < e) for start, _ in spans)
    mean = statistics.fmean
    # a trial is ready to start once it exists and a slot is free: the i-th start (i >= C)
    # needs the (i-C)-th end (trials created ahead of their turn wait for that, not dispatch)
    ends = sorted(r[5] for r in rows)
    starts = sorted(rows, key=lambda r: r[1])
    ready = [max(r[0], ends[i - C]) if i >= C else r[0] for i, r in enumerate(starts)]
    dispatch = mean(r[1] - at for r, at in zip(starts, ready, strict=True))
    sup_start = mean(r[2] - r[1] for r in rows)
    prep = mean(r[3] - r[2] for r in rows)
    post = mean(r[5] - r[4] for r in rows)
    overhead = (C * wall - sum(cmd)) / n
    return {
        "n": n,
        "wall": wall,
        "sum_cmd": sum(cmd),
        "sum_hist": sum(hist_run),
        "cmd_median": statistics.median(cmd),
        "ideal": sum(cmd) / C,
        "ratio": wall / (sum(cmd) / C),
        "ratio_hist": wall / (sum(hist_run) / C),
        "overhead_ms": overhead * 1000,
        "dispatch_ms": dispatch * 1000,
        "sup_ms": sup_start * 1000,
        "prep_ms": prep * 1000,
        "post_ms": post * 1000,
        "rest_ms": (overhead - dispatch - sup_start - prep - post) * 1000,
        "peak": peak,
        "rss": rss,
    }


# -- Ray Tune peer --------------------------------------------------------------------------


def _ray_trainable(config: dict[str, Any], env: dict[str, str]) -> dict[str, float]:
    command = TRIAL.format(x=repr(config["x"]), y=repr(config["y"]))
    t0 = time.time()
    subprocess.run(["bash", "-c", command], check=True, env=env)
    return {"cmd_s": time.time() - t0}


def ray_run(n: int, reuse_actors: bool | None) -> dict[str, Any] | str:
    try:
        import ray
        from ray import tune
    except ImportError:
        return "ray not installed (pip install -e '.[ray]')"
    tmp = tempfile.mkdtemp(prefix="ray-bench-sweep-")
    env = dict(os.environ, PATH=os.path.dirname(sys.executable) + os.pathsep + os.environ["PATH"])
    os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")
    try:
        t0 = time.time()
        for attempt in range(3):  # the raylet may miss Ray's 30 s start-up bound on a busy machine
            try:
                ray.init(num_cpus=C, include_dashboard=False, _temp_dir=tmp, log_to_driver=False)
                break
            except Exception:
                ray.shutdown()
                if attempt == 2:
                    raise
        init_s = time.time() - t0
        tuner = tune.Tuner(
            tune.with_resources(tune.with_parameters(_ray_trainable, env=env), {"cpu": 1}),
            param_space={"x": tune.uniform(0.0, 1.0), "y": tune.uniform(0.0, 1.0)},
            tune_config=tune.TuneConfig(
                num_samples=n, max_concurrent_trials=C, reuse_actors=reuse_actors
            ),
            run_config=tune.RunConfig(storage_path=os.path.join(tmp, "results"), verbose=0),
        )
        t1 = time.time()
        results = tuner.fit()
        wall = time.time() - t1
        cmd = [r.metrics["cmd_s"] for r in results if r.metrics and "cmd_s" in r.metrics]
        errors = sum(1 for r in results if r.error is not None)
    finally:
        ray.shutdown()
        shutil.rmtree(tmp, ignore_errors=True)
    assert len(cmd) == n and errors == 0, (len(cmd), errors)
    return {
        "n": n,
        "init": init_s,
        "wall": wall,
        "sum_cmd": sum(cmd),
        "cmd_median": statistics.median(cmd),
        "ideal": sum(cmd) / C,
        "ratio": wall / (sum(cmd) / C),
        "overhead_ms": (C * wall - sum(cmd)) / n * 1000,
    }


# -- scale ---------------------------------------------------------------------------------


def scale_run(args: argparse.Namespace) -> dict[str, Any]:
    n, slots = args.scale_trials, args.scale_slots
    home = Path(tempfile.mkdtemp(prefix="amlite-bench-scale-"))
    try:
        with BenchServer(home, {"AMLITE_LOCAL_SLOTS": str(slots)}) as srv:
            time.sleep(1.0)
            t0 = time.time()
            wall = run_sweep(srv, "big", "true", n, slots)
            print(f"  scale sweep of {n} done in {wall:.1f}s", flush=True)
            # trial completion times from the run directories (no n history requests)
            runs = run_dirs(home)
            import json

            done = sorted(
                parse(json.loads((runs / f"big_{i}" / "result.json").read_text())["finishedAt"])
                for i in range(n)
            )
            tenth = max(1, n // 10)
            rates = []
            prev = t0
            for k in range(10):
                end = done[min(n, (k + 1) * tenth) - 1]
                rates.append(tenth / (end - prev))
                prev = end
            # pages: walk the listing once, remembering each page's URL
            with srv.client() as c:
                urls: list[str] = []
                url: str | None = f"{WS}/jobs?{API}&parentJobName=big&$top=100"
                walk: list[float] = []
                seen = 0
                while url:
                    urls.append(url)
                    p0 = time.perf_counter()
                    page = c.get(url).json()
                    walk.append((time.perf_counter() - p0) * 1000)
                    seen += len(page["value"])
                    url = page["nextLink"]
                assert seen == n, seen
                last = len(urls) - 1
                depths = sorted({0, min(1, last), last // 4, last // 2, 3 * last // 4, last})
                pages = {}
                for d in depths:
                    times = []
                    for _ in range(7):
                        p0 = time.perf_counter()
                        resp = c.get(urls[d])
                        times.append((time.perf_counter() - p0) * 1000)
                        assert resp.status_code == 200
                    pages[d] = statistics.median(times)
                # the full listing without $top (server's default page size)
                p0 = time.perf_counter()
                full = trial_names(srv, "big")
                full_s = time.perf_counter() - p0
                assert len(full) == n
            rss = srv.rss_mb()
    finally:
        shutil.rmtree(home, ignore_errors=True)
    return {
        "n": n,
        "slots": slots,
        "wall": wall,
        "rate": n / wall,
        "rates": rates,
        "pages": pages,
        "npages": len(urls),
        "walk_median": statistics.median(walk),
        "walk_max": max(walk),
        "walk_total": sum(walk) / 1000,
        "full_s": full_s,
        "rss": rss,
    }


# -- profile ------------------------------------------------------------------------------


def profile_run(n: int, command: str, use_cprofile: bool = True) -> None:
    """Run an n-trial sweep on an in-process server with cProfile around the scheduler
    thread's ``tick`` (where the controller and dispatch run); print where the time goes."""
    import cProfile
    import io
    import pstats

    from amlite.api.server import EmbeddedServer
    from amlite.config import Settings
    from amlite.scheduler.loop import Scheduler

    prof = cProfile.Profile()
    ticks: list[float] = []
    cpu: list[float] = []
    original = Scheduler.tick

    def tick(self: Scheduler, *args: Any, **kwargs: Any) -> None:
        t0, c0 = time.perf_counter(), time.thread_time()
        if use_cprofile:
            prof.enable()
        try:
            original(self, *args, **kwargs)
        finally:
            if use_cprofile:
                prof.disable()
            ticks.append(time.perf_counter() - t0)
            cpu.append(time.thread_time() - c0)

    Scheduler.tick = tick  # type: ignore[method-assign]
    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    sql: dict[str, int] = {}

    def count(conn, cursor, statement, *_a) -> None:  # type: ignore[no-untyped-def]
        if threading.current_thread().name == "amlite-scheduler":
            verb = (
                " ".join(statement.split()[:3])
                if statement.startswith("UPDATE")
                else (statement.split()[0])
            )
            sql[verb] = sql.get(verb, 0) + 1

    def commit(conn) -> None:  # type: ignore[no-untyped-def]
        if threading.current_thread().name == "amlite-scheduler":
            sql["(commit)"] = sql.get("(commit)", 0) + 1

    from amlite.store._sql.compiled import CompiledSelect

    compiled_rows = CompiledSelect.rows

    def compiled(self: CompiledSelect, params: Any) -> Any:  # one statement, no transaction
        if threading.current_thread().name == "amlite-scheduler":
            sql["SELECT (compiled)"] = sql.get("SELECT (compiled)", 0) + 1
        return compiled_rows(self, params)

    CompiledSelect.rows = compiled  # type: ignore[method-assign]
    event.listen(Engine, "before_cursor_execute", count)
    event.listen(Engine, "commit", commit)
    home = Path(tempfile.mkdtemp(prefix="amlite-prof-sweep-"))
    os.environ["AMLITE_LOCAL_SLOTS"] = str(C)
    try:
        with EmbeddedServer(Settings.from_env(home)) as srv:
            import httpx

            with httpx.Client(
                base_url=srv.url, headers={"Authorization": f"Bearer {srv.token}"}, timeout=60
            ) as c:
                t0 = time.time()
                body = sweep_body(command, n, C)
                assert c.put(f"{WS}/jobs/prof?{API}", json=body).status_code == 201
                while c.get(f"{WS}/jobs/prof?{API}").json()["properties"]["status"] != "Completed":
                    time.sleep(0.5)
                wall = time.time() - t0
    finally:
        Scheduler.tick = original  # type: ignore[method-assign]
        CompiledSelect.rows = compiled_rows  # type: ignore[method-assign]
        shutil.rmtree(home, ignore_errors=True)
    total = sum(ticks)
    print(
        f"{n} trials of {command!r}: wall {wall:.1f} s; {len(ticks)} scheduler ticks, "
        f"{total:.2f} s in tick = {total / n * 1000:.1f} ms per trial; "
        f"tick median {statistics.median(ticks) * 1000:.1f} ms, max {max(ticks) * 1000:.1f} ms; "
        f"scheduler thread CPU in tick {sum(cpu) / n * 1000:.2f} ms per trial"
    )
    print(
        "SQL from the scheduler thread per trial:",
        {k: round(v / n, 1) for k, v in sorted(sql.items(), key=lambda kv: -kv[1])},
        "total",
        round(sum(v for k, v in sql.items() if k != "(commit)") / n, 1),
    )
    for key in ("cumulative", "tottime") if use_cprofile else ():
        out = io.StringIO()
        pstats.Stats(prof, stream=out).sort_stats(key).print_stats(35)
        print(out.getvalue())


# -- report --------------------------------------------------------------------------------


def report(args: argparse.Namespace, aml: dict | None, ray_res: Any, scale: dict | None) -> str:
    lines = [
        f"## {datetime.now().strftime('%Y-%m-%d %H:%M')} ({os.cpu_count()} cores"
        f"{', quick' if args.quick else ''})",
        "",
    ]
    if aml is not None:
        lines += [
            f"Overhead: Random sweep, {aml['n']} trials of `{TRIAL.format(x='…', y='…')}`, "
            f"maxConcurrentTrials {C}, AMLITE_LOCAL_SLOTS={C}. Trial time = the command's own "
            "runtime (supervisor log for amlite, `subprocess.run` for Ray Tune); Ray Tune with "
            "`reuse_actors=True` (its fastest setting here); ideal = "
            f"sum / {C}; overhead per trial = ({C}·wall - sum) / N.",
            "",
            "| measure | amlite | Ray Tune | target |",
            "|---|---|---|---|",
        ]
        r = ray_res if isinstance(ray_res, dict) else None

        def rv(key: str, fmt: str) -> str:
            return fmt.format(r[key]) if r else "-"

        lines += [
            f"| wall (PUT → Completed / `Tuner.fit()`) | {aml['wall']:.1f} s | "
            f"{rv('wall', '{:.1f} s')} | |",
            f"| sum of trial command times (median per trial) | {aml['sum_cmd']:.1f} s "
            f"({aml['cmd_median'] * 1000:.0f} ms) | "
            + (f"{r['sum_cmd']:.1f} s ({r['cmd_median'] * 1000:.0f} ms)" if r else "-")
            + " | |",
            f"| ideal = sum / {C} | {aml['ideal']:.1f} s | {rv('ideal', '{:.1f} s')} | |",
            f"| **wall / ideal** | **{aml['ratio']:.2f}** | {rv('ratio', '{:.2f}')} | ≤ 1.1 |",
            f"| **overhead per trial** | **{aml['overhead_ms']:.1f} ms** | "
            f"{rv('overhead_ms', '{:.1f} ms')} | ≤ 5 ms |",
            f"| wall / ideal with history times (Running → Completed) | {aml['ratio_hist']:.2f} "
            f"(sum {aml['sum_hist']:.1f} s) | | |",
            f"| peak concurrent trials | {aml['peak']} | | {C} |",
        ]
        if r:
            lines.append(f"| Ray start-up (`ray.init`, not in wall) | | {r['init']:.1f} s | |")
            if "default" in r:
                d = r["default"]
                lines.append(
                    f"| Ray Tune with its default `reuse_actors` (a new actor per trial): "
                    f"wall, wall / ideal, overhead per trial | | {d['wall']:.1f} s, "
                    f"{d['ratio']:.2f}, {d['overhead_ms']:.0f} ms | |"
                )
        elif ray_res:
            lines.append(f"| Ray Tune | | not measured: {ray_res} | |")
        lines += [
            "",
            "amlite's overhead per trial, broken down (means over trials, ms):",
            "",
            "| ready → Running (dispatch) | Running → supervisor up | supervisor → command "
            "(prepare) | command end → Completed | rest (trial end → next trial ready) |",
            "|---|---|---|---|---|",
            f"| {aml['dispatch_ms']:.1f} | {aml['sup_ms']:.1f} | {aml['prep_ms']:.1f} | "
            f"{aml['post_ms']:.1f} | {aml['rest_ms']:.1f} |",
            "",
        ]
    if scale is not None:
        s = scale
        lines += [
            f"Scale: Random sweep of {s['n']} `true` trials, maxConcurrentTrials "
            f"{s['slots']}, AMLITE_LOCAL_SLOTS={s['slots']}.",
            "",
            "| measure | amlite | target |",
            "|---|---|---|",
            f"| completes | {s['wall']:.1f} s, {s['rate']:.1f} trials/s | completes |",
            "| trials/s per tenth of the sweep | "
            + " / ".join(f"{x:.1f}" for x in s["rates"])
            + " | flat |",
            f"| server RSS after the sweep and listings | {s['rss']:.0f} MB | |",
            f"| full walk, `$top=100` ({s['npages']} pages) | median {s['walk_median']:.1f} ms, "
            f"max {s['walk_max']:.1f} ms, total {s['walk_total']:.2f} s | |",
            f"| full walk, default page size | {s['full_s']:.2f} s | |",
            "",
            "| page (`$top=100`, via nextLink) | "
            + " | ".join(f"#{d + 1}" for d in s["pages"])
            + " |",
            "|---|" + "---|" * len(s["pages"]),
            "| median of 7 fetches, ms | "
            + " | ".join(f"{v:.1f}" for v in s["pages"].values())
            + " |",
            "",
        ]
    return "\n".join(lines) + "\n"


def main() -> None:
    global C
    parser = argparse.ArgumentParser()
    parser.add_argument("--trials", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=2, help="of the overhead run")
    parser.add_argument("--scale-trials", type=int, default=10_000)
    parser.add_argument("--scale-slots", type=int, default=2)
    parser.add_argument("--quick", action="store_true", help="100 trials, 1,000 for scale")
    parser.add_argument("--skip-overhead", action="store_true")
    parser.add_argument("--skip-ray", action="store_true")
    parser.add_argument("--skip-scale", action="store_true")
    parser.add_argument(
        "--ray-default",
        action="store_true",
        help="also run Ray Tune with its default reuse_actors (about 1.8 s per trial)",
    )
    parser.add_argument("--no-write", action="store_true", help="print, do not append")
    parser.add_argument(
        "--profile",
        type=int,
        metavar="N",
        help="only profile the scheduler thread over an N-trial sweep (in-process server)",
    )
    parser.add_argument(
        "--no-cprofile", action="store_true", help="with --profile: time ticks and count SQL only"
    )
    args = parser.parse_args()
    C = args.concurrency
    if args.profile:
        profile_run(args.profile, AML_TRIAL, not args.no_cprofile)
        return
    if args.quick:
        args.trials, args.scale_trials = 100, 1000
    aml = ray_res = scale = None
    if not args.skip_overhead:
        aml = overhead_run(args)
        print(f"  amlite: {aml}", flush=True)
        if not args.skip_ray:
            ray_res = ray_run(args.trials, True)
            print(f"  ray (reuse_actors): {ray_res}", flush=True)
            if args.ray_default:
                default = ray_run(args.trials, None)
                print(f"  ray (default): {default}", flush=True)
                if isinstance(ray_res, dict) and isinstance(default, dict):
                    ray_res["default"] = default
    if not args.skip_scale:
        scale = scale_run(args)
        print(f"  scale: {scale}", flush=True)
    text = report(args, aml, ray_res, scale)
    print(text)
    if not args.no_write:
        RESULTS.parent.mkdir(parents=True, exist_ok=True)
        with RESULTS.open("a") as f:
            f.write(text)


if __name__ == "__main__":
    main()
