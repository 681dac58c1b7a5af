"""Studio benchmark (issue: amlite studio): first render of the job page and the sweep page of
a 1,000-trial sweep, measured in a real browser (Debian Chromium, headless, via Playwright).

Set-up: a real server (``AMLITE_LOCAL_SLOTS=2``) runs a Random sweep of ``--trials`` trials
(default 1,000) at maxConcurrentTrials 2; each trial is a ``python -c`` that POSTs one MLflow
``runs/log-batch`` of ``--points`` values of ``acc`` (urllib, the job's tracking URI and token:
cheaper than importing mlflow).

Measure: for each page, ``--loads`` full loads (a fresh document each: ``about:blank`` then the
page URL, signed in through sessionStorage); the time is the page's readiness signal,
``#view[data-ready=true]`` with ``data-ready-at`` = ``performance.now()`` when the page's JS has
drawn its tables and charts (ms since navigation start: HTML, Chart.js, API calls, drawing).
Pages: the sweep page (trials table, best so far, parallel coordinates, overlaid curves), a
trial's job page (history, log, metric chart, outputs), and the jobs list. Also the server time,
CPU and answer size of the sweep page's data calls alone, ``GET jobs/{sweep}/trialsummary`` as the
page asks it first and on a page flip (median of the same number of calls, and the first call
after start-up apart).

Or, with ``--seed``, the sweep (Completed, ``--trials`` Completed trials of ``--points`` values
each) and ``--list-jobs`` Completed top-level jobs are written straight into the store before the
server starts (``bench/_seed.py``: the rows a real run writes, through the ``Store`` API; about
10 ms a trial instead of the ~90 ms a real trial costs), for the 10,000-job and 10,000-trial
pages: ``--seed --trials 10000 --list-jobs 10000``. Also times the jobs list's data call
(``GET jobs?$top=100``, the first page of top-level jobs).

Run: ``.venv/bin/python bench/bench_studio.py`` (``--trials 200`` for a quick run). Needs
``chromium`` (``apt-get install chromium``) and ``playwright`` (the ``[dev]`` extra). Results
are appended to ``bench/results/studio.md``; ``--screenshot PATH`` saves the sweep page.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
from _seed import open_home_store, seed_jobs, seed_sweep
from _server import API, WS, BenchServer

from amlite.domain.arm_id import WorkspaceRef

RESULTS = Path(__file__).parent / "results" / "studio.md"
CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
LOG_BATCH = (
    "import json, os, urllib.request as u; x = {x}; y = {y}; "
    "m = [dict(key='acc', value=x * (1 - y) + i * 0.01, step=i) for i in range({points})]; "
    "u.urlopen(u.Request(os.environ['MLFLOW_TRACKING_URI'] + '/api/2.0/mlflow/runs/log-batch', "
    "data=json.dumps(dict(run_id=os.environ['MLFLOW_RUN_ID'], metrics=m)).encode(), "
    "headers=dict(Authorization='Bearer ' + os.environ['MLFLOW_TRACKING_TOKEN'])))"
)


def sweep_body(trials: int, points: int) -> dict[str, Any]:
    command = (
        'python -c "'
        + LOG_BATCH.format(x="{search_space.x}", y="{search_space.y}", points=points)
        + '"'
    )
    return {
        "properties": {
            "jobType": "Sweep",
            "algorithm": "Random",
            "compute": {},
            "objective": {"primaryMetric": "acc", "goal": "Maximize"},
            "searchSpace": {"x": ["uniform", [0.0, 1.0]], "y": ["uniform", [0.0, 1.0]]},
            "maxTotalTrials": trials,
            "maxConcurrentTrials": 2,
            "trial": {"command": command},
        }
    }


def make_sweep(c: httpx.Client, name: str, trials: int, points: int) -> float:
    started = time.monotonic()
    resp = c.put(f"{WS}/jobs/{name}?{API}", json=sweep_body(trials, points))
    resp.raise_for_status()
    while True:
        status = c.get(f"{WS}/jobs/{name}?{API}").json()["properties"]["status"]
        if status in ("Completed", "Failed", "Canceled"):
            if status != "Completed":
                raise SystemExit(f"sweep ended {status}")
            return time.monotonic() - started
        time.sleep(1)


def open_page(browser: Any, token: str) -> Any:
    """A fresh browser context signed in (through sessionStorage) to the bench workspace."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    sub, rg, ws = BENCH_WS.subscription, BENCH_WS.resource_group, BENCH_WS.workspace
    context.add_init_script(
        f"sessionStorage.setItem('amlite.studio.token', {json.dumps(token)});"
        f"localStorage.setItem('amlite.studio.workspace', "
        f"{json.dumps(json.dumps({'sub': sub, 'rg': rg, 'ws': ws}))});"
    )
    return context.new_page()


def load_once(page: Any, url: str, page_hash: str, kind: str) -> tuple[float, float]:
    """One full load (a fresh document): ms from navigation start to the readiness signal,
    and ms of it after the last API answer had arrived (the page's own work)."""
    page.goto("about:blank")
    page.goto(f"{url}/{page_hash}")
    page.wait_for_selector(f"#view[data-ready=true][data-page={kind}]", timeout=120_000)
    ready = float(page.get_attribute("#view", "data-ready-at") or "nan")
    data_end = page.evaluate(
        "Math.max(0, ...performance.getEntriesByType('resource')"
        ".filter(e => e.name.includes('/subscriptions/') && e.responseEnd <= "
        f"{ready}).map(e => e.responseEnd))"
    )
    return ready, ready - float(data_end)


# what the sweep page asks first (src/amlite/ui/static/js/sweep.js), and on a page flip; an
# older server ignores the paging parameters and answers every trial
SWEEP_QUERY = "curves=40&points=200&sample=2000&$top=50&$orderby=value%20desc"
PAGE_QUERY = "curves=0&sample=0&$top=50&$skip=5000&$orderby=value%20desc"

BENCH_WS = WorkspaceRef("00000000-0000-0000-0000-000000000000", "bench", "bench")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--trials", type=int, default=1000)
    parser.add_argument("--points", type=int, default=20)
    parser.add_argument("--loads", type=int, default=7)
    parser.add_argument("--screenshot", type=Path)
    parser.add_argument(
        "--list-jobs",
        type=int,
        default=0,
        help="also this many top-level jobs before the pages are loaded (the jobs list then has "
        "that many rows to page through): submitted, waiting Queued behind two running ones, or "
        "with --seed written Completed into the store",
    )
    parser.add_argument(
        "--seed",
        action="store_true",
        help="write the sweep, its trials and the --list-jobs jobs straight into the store "
        "(bench/_seed.py) instead of running them",
    )
    parser.add_argument(
        "--seed-home",
        type=Path,
        help="with --seed: keep the written store in this folder and reuse it when it is there "
        "(each server runs on a copy)",
    )
    parser.add_argument(
        "--baseline",
        metavar="SRC",
        help="with --seed: also serve the same store with the amlite package in SRC (another "
        "commit's src/, e.g. from `git archive`), its loads alternating with this tree's",
    )
    args = parser.parse_args()
    if (args.baseline or args.seed_home) and not args.seed:
        parser.error("--baseline and --seed-home need --seed")
    variants: dict[str, str | None] = {"this tree": None}
    if args.baseline:
        variants["baseline"] = str(Path(args.baseline).resolve())
    with (
        tempfile.TemporaryDirectory(prefix="bench-studio-") as tmp,
        contextlib.ExitStack() as stack,
    ):
        setup_s = 0.0
        homes = {name: Path(tmp) / f"home-{i}" for i, name in enumerate(variants)}
        if args.seed:
            seeded = args.seed_home or Path(tmp) / "seeded"
            if not (seeded / "amlite.db").exists():
                setup_s = seed(seeded, args)
            for home in homes.values():
                shutil.copytree(seeded, home)
        servers = {
            name: stack.enter_context(
                BenchServer(homes[name], {"AMLITE_LOCAL_SLOTS": "2", **_path(src)})
            )
            for name, src in variants.items()
        }
        srv = servers["this tree"]
        headers = {"Authorization": f"Bearer {srv.token}"}
        if not args.seed:
            with httpx.Client(base_url=srv.url, headers=headers, timeout=120) as c:
                print(f"running a {args.trials}-trial sweep ...", flush=True)
                setup_s = make_sweep(c, "studio", args.trials, args.points)
                print(f"  done in {setup_s:.1f} s", flush=True)
                if args.list_jobs:
                    print(f"submitting {args.list_jobs} jobs ...", flush=True)
                    fill_jobs(c, args.list_jobs)
        api_ms = api_calls(servers, args.loads)
        results = browse(servers, args)
        if args.list_jobs and not args.seed:
            with httpx.Client(base_url=srv.url, headers=headers, timeout=120) as c:
                running = c.get(f"{WS}/jobs?{API}&status=Running").json()["value"]
                for job in running:  # they sleep: stop them (the queued ones go with the home)
                    c.post(f"{WS}/jobs/{job['name']}/cancel?{API}")
    write(args, setup_s, api_ms, results)


def _path(src: str | None) -> dict[str, str]:
    return {"PYTHONPATH": src} if src else {}


def seed(home: Path, args: argparse.Namespace) -> float:
    """Write the sweep and the jobs into the store in ``home``; the seconds it took."""
    print(f"writing a {args.trials}-trial sweep and {args.list_jobs} jobs ...", flush=True)
    started = time.monotonic()
    store = open_home_store(home)
    try:
        body = sweep_body(args.trials, args.points)
        seed_sweep(store, BENCH_WS, "studio", body, args.trials, args.points)
        seed_jobs(store, BENCH_WS, args.list_jobs)
    finally:
        store.close()
    took = time.monotonic() - started
    print(f"  done in {took:.1f} s", flush=True)
    return took


def api_calls(servers: dict[str, BenchServer], loads: int) -> dict[str, dict[str, list[float]]]:
    """The pages' data calls, ``loads`` times each (after one dropped), the servers in turn."""
    api_ms: dict[str, dict[str, list[float]]] = {name: {} for name in servers}
    calls = {
        "trialsummary": f"{WS}/jobs/studio/trialsummary?{API}&{SWEEP_QUERY}",
        "trialsummary page": f"{WS}/jobs/studio/trialsummary?{API}&{PAGE_QUERY}",
        "jobs": f"{WS}/jobs?{API}&$top=100",
    }
    with contextlib.ExitStack() as stack:
        clients = {name: stack.enter_context(srv.client()) for name, srv in servers.items()}
        for name, server in servers.items():  # warm-up (as the first page load is): the
            for call, path in calls.items():  # first call's figures are kept apart as "cold"
                wall, cpu, _ = timed_call(clients[name], server, path)
                api_ms[name][f"{call} cold"] = [wall, cpu]
        for _ in range(loads):
            for name, server in servers.items():
                for call, path in calls.items():
                    wall, cpu, size = timed_call(clients[name], server, path)
                    api_ms[name].setdefault(call, []).append(wall)
                    api_ms[name].setdefault(f"{call} cpu", []).append(cpu)
                    api_ms[name].setdefault(f"{call} bytes", []).append(size)
    return api_ms


def timed_call(c: httpx.Client, server: BenchServer, path: str) -> tuple[float, float, float]:
    """One GET of ``path``: milliseconds of wall time (server + transfer) and of the server
    process's CPU (user + system, 10 ms ticks; what a loaded machine does not inflate), and
    the answer's size in bytes."""
    cpu0 = server_cpu_ms(server)
    t0 = time.perf_counter()
    resp = c.get(path)
    resp.raise_for_status()
    wall = (time.perf_counter() - t0) * 1000
    return wall, server_cpu_ms(server) - cpu0, float(len(resp.content))


def server_cpu_ms(server: BenchServer) -> float:
    assert server.proc is not None
    fields = Path(f"/proc/{server.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) * 1000 / os.sysconf("SC_CLK_TCK")


def browse(
    servers: dict[str, BenchServer], args: argparse.Namespace
) -> dict[str, dict[str, list[float]]]:
    """First-render times of the three pages on each server, in Chromium: per page, one load
    on each server in turn, ``--loads`` rounds (after one dropped round that warms the HTTP
    cache and the server)."""
    from playwright.sync_api import sync_playwright

    job_id = WS + "/jobs"
    pages = {
        "sweep page": (f"#/jobs{job_id}/studio", "sweep"),
        "job page (a trial)": (f"#/jobs{job_id}/studio_{args.trials // 2}", "job"),
        "jobs list": ("#/", "jobs"),
    }
    results: dict[str, dict[str, list[float]]] = {name: {} for name in servers}
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        for label, (page_hash, kind) in pages.items():
            tabs = {name: open_page(browser, srv.token) for name, srv in servers.items()}
            for round_no in range(args.loads + 1):
                for name, srv in servers.items():
                    took, own = load_once(tabs[name], srv.url, page_hash, kind)
                    if not round_no:  # the dropped first load (HTTP cache cold), kept apart
                        results[name][f"{label} cold"] = [took]
                    else:
                        results[name].setdefault(label, []).append(took)
                        results[name].setdefault(f"{label} own", []).append(own)
            for name, tab in tabs.items():
                tab.context.close()
                median = statistics.median(results[name][label])
                print(f"  {label} ({name}): median {median:.0f} ms", flush=True)
        if args.screenshot:
            srv = servers["this tree"]
            page = open_page(browser, srv.token)
            page.goto(f"{srv.url}/{pages['sweep page'][0]}")
            page.wait_for_selector("#view[data-ready=true]")
            page.screenshot(path=str(args.screenshot), full_page=True)
        browser.close()
    return results


def fill_jobs(c: httpx.Client, n: int) -> None:
    """``n`` top-level jobs that sleep: two run (the local slots), the rest stay Queued, so
    the list's size, not the machine, is what grows."""
    body = {"properties": {"jobType": "Command", "command": "sleep 3600", "compute": {}}}
    for i in range(n):
        c.put(f"{WS}/jobs/fill{i}?{API}", json=body).raise_for_status()


def write(
    args: argparse.Namespace,
    setup_s: float,
    api_ms: dict[str, dict[str, list[float]]],
    results: dict[str, dict[str, list[float]]],
) -> None:
    big = args.trials > 1000 or args.list_jobs > 1000
    target = 1500 if big else 1000
    how = (
        "written straight into the store (bench/_seed.py)"
        if args.seed
        else "run for real at AMLITE_LOCAL_SLOTS=2"
    )
    command = " ".join([".venv/bin/python", "bench/bench_studio.py", *sys.argv[1:]])
    lines = [
        f"\n## {datetime.now().strftime('%Y-%m-%d %H:%M')} · {args.trials} trials x {args.points} "
        f"metric values · {args.list_jobs + 1} top-level jobs · {platform.machine()}, "
        f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} at the end",
        "",
        f"`{command}`. Sweep {how}"
        + (f"; set-up (not measured by the target) {setup_s:.1f} s." if setup_s else "."),
        "",
        "| page | server | first render, median (ms) | min | max | after the data, median "
        "| loads | target | first load (dropped: browser cache cold) |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for label in (k for k in results["this tree"] if not k.endswith((" own", " cold"))):
        for name, pages in results.items():
            times = pages[label]
            ok = f"≤ {target} ms " + ("✓" if statistics.median(times) <= target else "✗")
            lines.append(
                f"| {label} | {name} | {statistics.median(times):.0f} | {min(times):.0f} "
                f"| {max(times):.0f} | {statistics.median(pages[f'{label} own']):.0f} "
                f"| {len(times)} | {ok} | {pages[f'{label} cold'][0]:.0f} |"
            )
    lines.append("")
    for name, calls in api_ms.items():
        for call, label in (
            ("trialsummary", f"`GET jobs/studio/trialsummary?{SWEEP_QUERY}` (the page's first)"),
            ("trialsummary page", f"`GET jobs/studio/trialsummary?{PAGE_QUERY}` (a page flip)"),
            ("jobs", "`GET jobs?$top=100`"),
        ):
            times, cpu = calls[call], calls[f"{call} cpu"]
            lines.append(
                f"- {label} ({name}): wall (server + transfer) median "
                f"{statistics.median(times):.0f} ms (min {min(times):.0f}, max {max(times):.0f}); "
                f"server CPU median {statistics.median(cpu):.0f} ms "
                f"(min {min(cpu):.0f}, max {max(cpu):.0f}); "
                f"{statistics.median(calls[f'{call} bytes']) / 1000:.0f} kB; "
                f"{len(times)} calls; the first call after start-up (cold) "
                f"{calls[f'{call} cold'][0]:.0f} ms wall, {calls[f'{call} cold'][1]:.0f} ms CPU."
            )
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    if not RESULTS.exists():
        RESULTS.write_text(
            "# Studio: first render in a real browser\n\n"
            "Written by `bench/bench_studio.py`; time from navigation start to the page's "
            "`data-ready` signal (tables and charts drawn), median of several full loads.\n"
        )
    with RESULTS.open("a") as f:
        f.write("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
