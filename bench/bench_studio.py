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
trial's job page (history, log, metric chart, outputs), and the jobs list. Also the server time of
``GET jobs/{sweep}/trialsummary`` alone (median of the same number of calls).

Run: ``.venv/bin/python bench/bench_studio.py`` (``--trials 200`` for a quick run). Needs
``chromium`` (``apt-get install chromium``) and ``playwright`` (the ``[dev]`` extra). Results
are appended to ``bench/results/studio.md``; ``--screenshot PATH`` saves the sweep page.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
from _server import API, WS, BenchServer

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


def make_sweep(c: httpx.Client, name: str, trials: int, points: int) -> float:
    command = (
        'python -c "'
        + LOG_BATCH.format(x="{search_space.x}", y="{search_space.y}", points=points)
        + '"'
    )
    body = {
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
    started = time.monotonic()
    resp = c.put(f"{WS}/jobs/{name}?{API}", json=body)
    resp.raise_for_status()
    while True:
        status = c.get(f"{WS}/jobs/{name}?{API}").json()["properties"]["status"]
        if status in ("Completed", "Failed", "Canceled"):
            if status != "Completed":
                raise SystemExit(f"sweep ended {status}")
            return time.monotonic() - started
        time.sleep(1)


def load_times(
    browser: Any, url: str, token: str, page_hash: str, kind: str, loads: int
) -> list[float]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    sub, rg, ws = "00000000-0000-0000-0000-000000000000", "bench", "bench"
    context.add_init_script(
        f"sessionStorage.setItem('amlite.studio.token', {json.dumps(token)});"
        f"localStorage.setItem('amlite.studio.workspace', "
        f"{json.dumps(json.dumps({'sub': sub, 'rg': rg, 'ws': ws}))});"
    )
    page = context.new_page()
    times = []
    for _ in range(loads + 1):  # the first load warms the HTTP cache and the server: dropped
        page.goto("about:blank")
        page.goto(f"{url}/{page_hash}")
        page.wait_for_selector(f"#view[data-ready=true][data-page={kind}]", timeout=60_000)
        times.append(float(page.get_attribute("#view", "data-ready-at") or "nan"))
    context.close()
    return times[1:]


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
        help="also submit this many top-level jobs before the pages are loaded (the jobs list "
        "then has that many rows to page through; they wait Queued behind two running ones)",
    )
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    with (
        tempfile.TemporaryDirectory(prefix="bench-studio-") as tmp,
        BenchServer(Path(tmp) / "home", {"AMLITE_LOCAL_SLOTS": "2"}) as srv,
    ):
        headers = {"Authorization": f"Bearer {srv.token}"}
        with httpx.Client(base_url=srv.url, headers=headers, timeout=120) as c:
            print(f"running a {args.trials}-trial sweep ...", flush=True)
            sweep_s = make_sweep(c, "studio", args.trials, args.points)
            print(f"  done in {sweep_s:.1f} s", flush=True)
            if args.list_jobs:
                print(f"submitting {args.list_jobs} jobs ...", flush=True)
                fill_jobs(c, args.list_jobs)
            api_ms = []
            for _ in range(args.loads):
                t0 = time.perf_counter()
                c.get(
                    f"{WS}/jobs/studio/trialsummary?{API}&curves=40&points=200"
                ).raise_for_status()
                api_ms.append((time.perf_counter() - t0) * 1000)
        job_id = WS + "/jobs"
        pages = {
            "sweep page": (f"#/jobs{job_id}/studio", "sweep"),
            "job page (a trial)": (f"#/jobs{job_id}/studio_{args.trials // 2}", "job"),
            "jobs list": ("#/", "jobs"),
        }
        results: dict[str, list[float]] = {}
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
            for label, (page_hash, kind) in pages.items():
                results[label] = load_times(
                    browser, srv.url, srv.token, page_hash, kind, args.loads
                )
                print(f"  {label}: median {statistics.median(results[label]):.0f} ms", flush=True)
            if args.screenshot:
                context = browser.new_context(viewport={"width": 1280, "height": 900})
                context.add_init_script(
                    f"sessionStorage.setItem('amlite.studio.token', {json.dumps(srv.token)});"
                )
                page = context.new_page()
                page.goto(f"{srv.url}/{pages['sweep page'][0]}")
                page.wait_for_selector("#view[data-ready=true]")
                page.screenshot(path=str(args.screenshot), full_page=True)
            browser.close()
        if args.list_jobs:
            with httpx.Client(base_url=srv.url, headers=headers, timeout=120) as c:
                running = c.get(f"{WS}/jobs?{API}&status=Running").json()["value"]
                for job in running:  # they sleep: stop them (the queued ones go with the home)
                    c.post(f"{WS}/jobs/{job['name']}/cancel?{API}")
    write(args, sweep_s, api_ms, results)


def fill_jobs(c: httpx.Client, n: int) -> None:
    """``n`` top-level jobs that sleep: two run (the local slots), the rest stay Queued, so
    the list's size, not the machine, is what grows."""
    body = {"properties": {"jobType": "Command", "command": "sleep 3600", "compute": {}}}
    for i in range(n):
        c.put(f"{WS}/jobs/fill{i}?{API}", json=body).raise_for_status()


def write(
    args: argparse.Namespace, sweep_s: float, api_ms: list[float], results: dict[str, list[float]]
) -> None:
    lines = [
        f"\n## {datetime.now().strftime('%Y-%m-%d %H:%M')} · {args.trials} trials x {args.points} "
        f"metric values · {platform.machine()}, {os.cpu_count()} CPUs",
        "",
        f"Sweep set-up (not measured by the target): {sweep_s:.1f} s at AMLITE_LOCAL_SLOTS=2."
        + (f" The jobs list holds {args.list_jobs + 1} top-level jobs." if args.list_jobs else ""),
        "",
        "| page | first render, median (ms) | min | max | loads | target |",
        "|---|---|---|---|---|---|",
    ]
    for label, times in results.items():
        ok = "≤ 1000 ms " + ("✓" if statistics.median(times) <= 1000 else "✗")
        lines.append(
            f"| {label} | {statistics.median(times):.0f} | {min(times):.0f} | {max(times):.0f} "
            f"| {len(times)} | {ok if label != 'jobs list' else '-'} |"
        )
    lines += [
        "",
        f"`GET jobs/studio/trialsummary` alone (server + transfer): median "
        f"{statistics.median(api_ms):.0f} ms over {len(api_ms)} calls.",
    ]
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
