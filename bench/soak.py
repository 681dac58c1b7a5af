"""Soak: load, MLflow writers, server kills and hostile bodies against a real server.

Not a test: it drives live servers (loopback only) and writes what it saw, failures
included, to ``bench/results/soak.md``. Every phase is bounded in time and count and runs on
its own fresh ``AMLITE_HOME`` (SQLite unless ``--database-url``):

1. ``clients``: ``--clients`` concurrent clients (httpx async) each looping PUT (a ``true``
   job, new name) → GET → LIST for ``--load-seconds``; counts errors (non-2xx, transport
   errors), p50/p99 per operation; then pages through the whole list: every job whose PUT
   answered 2xx must be there exactly once, and nothing else.
2. ``writers``: ``--writers`` MLflow ``runs/log-batch`` writers (admin token, one running job
   each) for ``--writer-seconds``; then every job's history is read back: stored points must
   equal the points of the batches answered 200.
3. ``kills``: a Grid sweep (``--trials`` trials, each appending its index to a ledger) and
   a submitter (jobs appending their own name to a ledger, ``>>`` = O_APPEND) run while the
   server is SIGKILLed ``--kills`` times and restarted on the same home and port. Then, once
   everything ended: every accepted job ran exactly once, a PUT without an answer at most
   once, every trial index exactly once. The ledgers are a ``ReadWriteMount`` output on the
   default datastore (``soak/``), where a sandboxed job can write (its ``/tmp`` is its own).
4. ``hostile``: the bodies of issue 9 item 6 (deep JSON, huge integers, overflowing
   durations, superscript digits, NUL bytes, oversize bodies, ...) each sent a few times;
   counts 5xx and dropped connections, samples the server's RSS.

Run: ``.venv/bin/python bench/soak.py`` (``--quick`` shortens every phase;
``--phases clients,hostile`` picks phases).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
from support.postgres import PostgresServer  # noqa: E402
from support.server import API, TERMINAL, WS, LiveServer  # noqa: E402

RESULTS = Path(__file__).parent / "results" / "soak.md"
MLFLOW = "/mlflow/api/2.0/mlflow"


def job_url(name: str) -> str:
    return f"{WS}/jobs/{name}?{API}"


def command(cmd: str, **props: Any) -> dict[str, Any]:
    return {"properties": {"jobType": "Command", "command": cmd, "compute": {}, **props}}


LEDGER = {"ledger": {"mode": "ReadWriteMount", "pathOnDatastore": "soak"}}
"""Where the kills phase's jobs write their ledger lines: a datastore folder mounted into the
job (a sandboxed job sees a private /tmp, so a ledger in the host's /tmp would be lost)."""
LEDGER_DIR = "${{outputs.ledger}}"


def read_ledger(c: httpx.Client, file: str) -> Counter[str]:
    """The lines of a ledger file on the default datastore, counted (empty if none ran)."""
    resp = c.get(f"{WS}/datastores/workspaceblobstore/files/soak/{file}?{API}")
    if resp.status_code == 404:
        return Counter()
    resp.raise_for_status()
    return Counter(line.strip() for line in resp.text.splitlines() if line.strip())


def rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def all_jobs(c: httpx.Client, extra: str = "") -> list[str]:
    names: list[str] = []
    url: str | None = f"{WS}/jobs?{API}&$top=100{extra}"
    while url:
        page = c.get(url)
        page.raise_for_status()
        body = page.json()
        names += [j["name"] for j in body["value"]]
        url = body.get("nextLink")
    return names


def wait_all_terminal(c: httpx.Client, names: list[str], timeout: float) -> dict[str, str]:
    """Status of each job once all are terminal (or the timeout passed); 'gone' if missing."""
    deadline = time.monotonic() + timeout
    status: dict[str, str] = {}
    pending = list(names)
    while pending and time.monotonic() < deadline:
        left = []
        for name in pending:
            resp = c.get(job_url(name))
            st = "gone" if resp.status_code == 404 else resp.json()["properties"]["status"]
            status[name] = st
            if st not in TERMINAL and st != "gone":
                left.append(name)
        pending = left
        if pending:
            time.sleep(1)
    return status


class Server(LiveServer):
    """A LiveServer that can report its RSS."""

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid


def server(work: Path, phase: str, args: argparse.Namespace, slots: int) -> Server:
    """A server on a fresh home (and, with ``--postgres``, a fresh database) for one phase."""
    pg: PostgresServer | None = args.pg
    db = pg.create_database("amlite_soak") if pg is not None else None
    return Server(work / phase, database_url=db, slots=slots)


# -- 1. concurrent clients ------------------------------------------------------------------
def phase_clients(work: Path, args: argparse.Namespace) -> dict[str, Any]:
    srv = server(work, "clients", args, slots=1).start()
    lat: dict[str, list[float]] = {"PUT": [], "GET": [], "LIST": []}
    errors: Counter[str] = Counter()
    accepted: list[str] = []
    uncertain: list[str] = []
    run = datetime.now(UTC).strftime("%H%M%S")

    async def request(http: httpx.AsyncClient, op: str, name: str) -> httpx.Response:
        if op == "PUT":
            return await http.put(job_url(name), json=command("true"))
        if op == "GET":
            return await http.get(job_url(name))
        return await http.get(f"{WS}/jobs?{API}&$top=20")

    async def client(i: int, http: httpx.AsyncClient, stop: float) -> None:
        n = 0
        while time.monotonic() < stop:
            name = f"soak-{run}-{i}-{n}"
            n += 1
            for op in ("PUT", "GET", "LIST"):
                t0 = time.perf_counter()
                try:
                    resp = await request(http, op, name)
                except httpx.HTTPError as exc:
                    errors[f"{op} {type(exc).__name__}"] += 1
                    if op == "PUT":
                        uncertain.append(name)
                        break
                    continue
                lat[op].append(time.perf_counter() - t0)
                if resp.status_code >= 300:
                    errors[f"{op} {resp.status_code}"] += 1
                    if op == "PUT":
                        break
                elif op == "PUT":
                    accepted.append(name)

    async def main() -> None:
        limits = httpx.Limits(max_connections=args.clients, max_keepalive_connections=args.clients)
        headers = {"Authorization": f"Bearer {srv.token}"}
        async with httpx.AsyncClient(
            base_url=srv.url, headers=headers, timeout=120, limits=limits
        ) as http:
            stop = time.monotonic() + args.load_seconds
            await asyncio.gather(*(client(i, http, stop) for i in range(args.clients)))

    rss0 = rss_mb(srv.pid)
    started = time.monotonic()
    asyncio.run(main())
    elapsed = time.monotonic() - started
    rss1 = rss_mb(srv.pid)
    try:
        with srv.client() as c:
            c.timeout = httpx.Timeout(300)
            listed = Counter(all_jobs(c))
    finally:
        srv.stop()
    lost = [n for n in accepted if listed[n] == 0]
    dup = [n for n, k in listed.items() if k > 1]
    known = set(accepted) | set(uncertain)
    unknown = [n for n in listed if n not in known]
    return {
        "clients": args.clients,
        "seconds": round(elapsed, 1),
        "ops": {op: len(v) for op, v in lat.items()},
        "ops_per_s": round(sum(len(v) for v in lat.values()) / elapsed, 1),
        "p50_ms": {op: round(statistics.median(v) * 1000) if v else None for op, v in lat.items()},
        "p99_ms": {op: round(pct(v, 0.99) * 1000) if v else None for op, v in lat.items()},
        "errors": dict(errors),
        "accepted": len(accepted),
        "unanswered_puts": len(uncertain),
        "lost": len(lost),
        "duplicated": len(dup),
        "unexpected": len(unknown),
        "rss_mb": [round(rss0), round(rss1)],
        "ok": not errors and not lost and not dup and not unknown,
    }


# -- 2. MLflow writers ------------------------------------------------------------------------
def phase_writers(work: Path, args: argparse.Namespace) -> dict[str, Any]:
    srv = server(work, "writers", args, slots=args.writers).start()
    names = [f"writer-{i}" for i in range(args.writers)]
    sent: Counter[str] = Counter()
    errors: Counter[str] = Counter()
    lat: list[float] = []
    lock = threading.Lock()
    try:
        with srv.client() as c:
            for name in names:
                assert c.put(job_url(name), json=command("sleep 3600")).status_code == 201
        stop = time.monotonic() + args.writer_seconds

        def writer(name: str) -> None:
            step = 0
            with httpx.Client(
                base_url=srv.url, headers={"Authorization": f"Bearer {srv.token}"}, timeout=120
            ) as http:
                while time.monotonic() < stop:
                    now = int(time.time() * 1000)
                    points = [
                        {"key": "loss", "value": 1.0 / (step + k + 1), "timestamp": now,
                         "step": step + k}
                        for k in range(args.batch)
                    ]  # fmt: skip
                    t0 = time.perf_counter()
                    try:
                        resp = http.post(
                            f"{MLFLOW}/runs/log-batch", json={"run_id": name, "metrics": points}
                        )
                    except httpx.HTTPError as exc:
                        with lock:
                            errors[type(exc).__name__] += 1
                        continue
                    with lock:
                        lat.append(time.perf_counter() - t0)
                        if resp.status_code == 200:
                            sent[name] += len(points)
                        else:
                            errors[str(resp.status_code)] += 1
                    step += args.batch

        threads = [threading.Thread(target=writer, args=(n,)) for n in names]
        started = time.monotonic()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        elapsed = time.monotonic() - started
        stored: dict[str, int] = {}
        with srv.client() as c:
            c.timeout = httpx.Timeout(300)
            for name in names:
                resp = c.get(
                    f"{MLFLOW}/metrics/get-history", params={"run_id": name, "metric_key": "loss"}
                )
                stored[name] = len(resp.json().get("metrics", [])) if resp.is_success else -1
                c.post(f"{WS}/jobs/{name}/cancel?{API}")
            wait_all_terminal(c, names, 60)
    finally:
        srv.stop()
    mismatched = {n: (sent[n], stored[n]) for n in names if sent[n] != stored[n]}
    total = sum(sent.values())
    return {
        "writers": args.writers,
        "seconds": round(elapsed, 1),
        "points_accepted": total,
        "points_stored": sum(max(0, v) for v in stored.values()),
        "points_per_s": round(total / elapsed),
        "batch_p50_ms": round(statistics.median(lat) * 1000) if lat else None,
        "batch_p99_ms": round(pct(lat, 0.99) * 1000) if lat else None,
        "errors": dict(errors),
        "mismatched_runs": mismatched,
        "ok": not errors and not mismatched and total > 0,
    }


# -- 3. SIGKILLs -------------------------------------------------------------------------------
def phase_kills(work: Path, args: argparse.Namespace) -> dict[str, Any]:
    srv = server(work, "kills", args, slots=2).start()
    accepted: list[str] = []
    unanswered: list[str] = []
    refused: Counter[str] = Counter()
    stop = threading.Event()
    sweep = {
        "properties": {
            "jobType": "Sweep",
            "algorithm": "Grid",
            "compute": {},
            "objective": {"primaryMetric": "accuracy", "goal": "Maximize"},
            "searchSpace": {"i": ["choice", [list(range(args.trials))]]},
            "maxTotalTrials": args.trials,
            "maxConcurrentTrials": 2,
            "trial": {
                "command": f"echo ${{{{search_space.i}}}} >> {LEDGER_DIR}/trials.txt; sleep 0.3",
                "outputDataBindings": LEDGER,
            },
        }
    }
    with srv.client() as c:
        resp = c.put(job_url("kill-sweep"), json=sweep)
        assert resp.status_code == 201, resp.text

    def submitter() -> None:
        n = 0
        while not stop.is_set():
            name = f"kill-job-{n}"
            n += 1
            body = command(f"echo {name} >> {LEDGER_DIR}/jobs.txt", outputDataBindings=LEDGER)
            try:
                with httpx.Client(
                    base_url=srv.url,
                    headers={"Authorization": f"Bearer {srv.token}"},
                    timeout=10,
                ) as http:
                    resp = http.put(job_url(name), json=body)
            except httpx.HTTPError:
                unanswered.append(name)
                time.sleep(0.05)
                continue
            if resp.status_code in (200, 201):
                accepted.append(name)
            else:
                refused[str(resp.status_code)] += 1
            time.sleep(0.02)

    thread = threading.Thread(target=submitter)
    thread.start()
    restarts: list[float] = []
    try:
        for _ in range(args.kills):
            time.sleep(args.kill_every)
            srv.kill()
            t0 = time.monotonic()
            srv.start()
            restarts.append(time.monotonic() - t0)
        stop.set()
        thread.join()
        with srv.client() as c:
            names = [n for n in all_jobs(c) if n.startswith("kill-job-")]
            status = wait_all_terminal(c, [*names, "kill-sweep"], args.settle_seconds)
            trial_names = all_jobs(c, "&parentJobName=kill-sweep")
            ran, indexes = read_ledger(c, "jobs.txt"), read_ledger(c, "trials.txt")
    finally:
        stop.set()
        srv.stop()
    never = [n for n in accepted if ran[n] == 0]
    twice = [n for n, k in ran.items() if k > 1]
    unanswered_twice = [n for n in unanswered if ran[n] > 1]
    missing_idx = [i for i in range(args.trials) if indexes[str(i)] == 0]
    dup_idx = [i for i, k in indexes.items() if k > 1]
    unfinished = {n: s for n, s in status.items() if s not in TERMINAL}
    not_completed = Counter(s for n, s in status.items() if s != "Completed")
    return {
        "kills": args.kills,
        "restart_s_median": round(statistics.median(restarts), 2) if restarts else None,
        "jobs_accepted": len(accepted),
        "puts_unanswered": len(unanswered),
        "puts_refused": dict(refused),
        "accepted_never_ran": len(never),
        "ran_twice": len(twice),
        "unanswered_ran_twice": len(unanswered_twice),
        "not_completed": dict(not_completed),
        "unfinished": len(unfinished),
        "sweep_status": status.get("kill-sweep"),
        "trials": len(trial_names),
        "trial_indexes_missing": missing_idx,
        "trial_indexes_twice": dup_idx,
        "ok": not never and not twice and not missing_idx and not dup_idx and not unfinished,
    }


# -- 4. hostile bodies -------------------------------------------------------------------------
def _deep(levels: int) -> bytes:
    return b'{"properties":' + b"[" * levels + b"]" * levels + b"}"


def _stream(mib: int) -> Iterator[bytes]:
    chunk = b'{"run_id":"x","metrics":[' + b" " * (1 << 20)
    yield chunk
    for _ in range(mib - 1):
        yield b" " * (1 << 20)


def hostile_cases(big: int) -> list[tuple[str, str, str, Any, bool]]:
    """(label, method, path, body (bytes/dict/None/iterator factory), authenticated)."""
    huge = "9" * 5000
    cases: list[tuple[str, str, str, Any, bool]] = [
        ("deep JSON 10k levels, PUT job", "PUT", job_url("h-deep"), _deep(10_000), True),
        ("deep JSON 10k levels, log-batch (no token)", "POST", f"{MLFLOW}/runs/log-batch",
         _deep(10_000), False),
        ("timeout P1000000000D", "PUT", job_url("h-t1"),
         command("true", timeout="P1000000000D"), True),
        ("timeout PT99999999999999H", "PUT", job_url("h-t2"),
         command("true", timeout="PT99999999999999H"), True),
        ("$top=² (superscript)", "GET", f"{WS}/jobs?{API}&$top=²", None, True),
        ("count=² on codes", "GET", f"{WS}/codes?{API}&count=²", None, True),
        ("$top with 5000 digits", "GET", f"{WS}/jobs?{API}&$top={huge}", None, True),
        ("count with 5000 digits", "GET", f"{WS}/codes?{API}&count={huge}", None, True),
        ("offset=² on a file", "GET",
         f"{WS}/datastores/workspaceblobstore/files/x.txt?{API}&offset=²", None, True),
        ("offset with 5000 digits", "GET",
         f"{WS}/datastores/workspaceblobstore/files/x.txt?{API}&offset={huge}", None, True),
        ("points=² trialsummary", "GET", f"{WS}/jobs/h-ok/trialsummary?{API}&points=²", None,
         True),
        ("points with 5000 digits", "GET",
         f"{WS}/jobs/h-ok/trialsummary?{API}&points={huge}", None, True),
        ("priority with 5000 digits in JSON", "PUT", job_url("h-prio"),
         b'{"properties":{"jobType":"Command","command":"true","compute":{},"priority":'
         + huge.encode() + b"}}", True),
        ("NUL in command", "PUT", job_url("h-nul1"), command("echo a\u0000b"), True),
        ("NUL in env var", "PUT", job_url("h-nul2"),
         command("true", environmentVariables={"A\u0000": "b\u0000c"}), True),
        ("NUL in name", "PUT", job_url("h-nul%003"), command("true"), True),
        ("NUL in tags", "PUT", job_url("h-nul4"), command("true", tags={"k": "v\u0000"}), True),
        ("binding name ../../x", "PUT", job_url("h-bind"),
         command("true", outputDataBindings={"../../../../tmp/x": {"mode": "ReadWriteMount"}}),
         True),
        ("not JSON", "PUT", job_url("h-notjson"), b"{not json", True),
        ("JSON array body", "PUT", job_url("h-array"), b"[1,2,3]", True),
        ("20,000 tags of 100 characters (2 MB)", "PUT", job_url("h-tags"),
         command("true", tags={f"k{i}": "v" * 100 for i in range(20_000)}), True),
        (f"oversize {big} MiB log-batch (no token, streamed)", "POST",
         f"{MLFLOW}/runs/log-batch", lambda: _stream(big), False),
        (f"oversize {big} MiB job PUT (streamed)", "PUT", job_url("h-big"),
         lambda: _stream(big), True),
    ]  # fmt: skip
    return cases


def phase_hostile(work: Path, args: argparse.Namespace) -> dict[str, Any]:
    srv = server(work, "hostile", args, slots=2).start()
    results: list[dict[str, Any]] = []
    rss = [rss_mb(srv.pid)]
    try:
        with srv.client() as c:
            c.put(job_url("h-ok"), json=command("true"))
            c.put(f"{WS}/datastores/workspaceblobstore/files/x.txt?{API}", content=b"hello")
            for label, method, path, body, auth in hostile_cases(args.oversize_mib):
                codes: Counter[str] = Counter()
                for _ in range(args.hostile_repeats):
                    headers = {} if auth else {"Authorization": ""}
                    kwargs: dict[str, Any] = {"headers": headers}
                    if isinstance(body, dict):
                        kwargs["json"] = body
                    elif isinstance(body, bytes):
                        kwargs["content"] = body
                        headers["Content-Type"] = "application/json"
                    elif callable(body):
                        kwargs["content"] = body()
                        headers["Content-Type"] = "application/json"
                    try:
                        resp = c.request(method, path, **kwargs)
                        codes[str(resp.status_code)] += 1
                    except httpx.HTTPError as exc:
                        codes[type(exc).__name__] += 1
                rss.append(rss_mb(srv.pid))
                health = _health(srv.url)
                results.append(
                    {
                        "case": label,
                        "codes": dict(codes),
                        "rss_mb": round(rss[-1]),
                        "health": health,
                    }
                )
    finally:
        srv.stop()
    five = sum(k for r in results for code, k in r["codes"].items() if code.startswith("5"))
    drops = sum(k for r in results for code, k in r["codes"].items() if not code[:1].isdigit())
    return {
        "cases": results,
        "requests": sum(sum(r["codes"].values()) for r in results),
        "5xx": five,
        "dropped": drops,
        "rss_mb_start": round(rss[0]),
        "rss_mb_max": round(max(rss)),
        "rss_mb_end": round(rss[-1]),
        "ok": five == 0 and drops == 0,
    }


def _health(url: str) -> int | str:
    try:
        return httpx.get(f"{url}/health", timeout=10).status_code
    except httpx.HTTPError as exc:
        return type(exc).__name__


# -- report -------------------------------------------------------------------------------------
def report(results: dict[str, dict[str, Any]], args: argparse.Namespace, load: str) -> str:
    lines = [
        f"\n## Soak run {datetime.now(UTC).strftime('%Y-%m-%d %H:%M UTC')}\n",
        f"Store: {'PostgreSQL' if args.postgres else 'SQLite'}; "
        f"machine: {os.cpu_count()} cores, load average at start {load}; "
        f"options: `{' '.join(sys.argv[1:]) or '(defaults)'}`.\n",
        "| phase | verdict | figures |",
        "|---|---|---|",
    ]
    for phase, res in results.items():
        figures = {k: v for k, v in res.items() if k not in ("ok", "cases")}
        verdict = "ok" if res.get("ok") else "**FAILED**"
        lines.append(f"| {phase} | {verdict} | `{json.dumps(figures)}` |")
    hostile = results.get("hostile")
    if hostile:
        lines += ["", "Hostile bodies (status codes over the repeats; RSS after the case):", ""]
        lines += ["| case | answers | RSS MB | /health after |", "|---|---|---|---|"]
        for case in hostile["cases"]:
            codes = ", ".join(f"{k} x{v}" for k, v in sorted(case["codes"].items()))
            lines.append(f"| {case['case']} | {codes} | {case['rss_mb']} | {case['health']} |")
    return "\n".join(lines) + "\n"


PHASES: dict[str, Callable[[Path, argparse.Namespace], dict[str, Any]]] = {
    "clients": phase_clients,
    "writers": phase_writers,
    "kills": phase_kills,
    "hostile": phase_hostile,
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--phases", default=",".join(PHASES))
    parser.add_argument("--clients", type=int, default=200)
    parser.add_argument("--load-seconds", type=float, default=60)
    parser.add_argument("--writers", type=int, default=20)
    parser.add_argument("--writer-seconds", type=float, default=60)
    parser.add_argument("--batch", type=int, default=100, help="points per log-batch call")
    parser.add_argument("--kills", type=int, default=10)
    parser.add_argument("--kill-every", type=float, default=3.0, help="seconds between kills")
    parser.add_argument("--trials", type=int, default=40)
    parser.add_argument("--settle-seconds", type=float, default=300)
    parser.add_argument("--hostile-repeats", type=int, default=3)
    parser.add_argument("--oversize-mib", type=int, default=64)
    parser.add_argument(
        "--postgres", action="store_true", help="a throwaway PostgreSQL (default SQLite)"
    )
    parser.add_argument("--quick", action="store_true", help="short phases (smoke run)")
    parser.add_argument("--no-write", action="store_true", help="print, do not append")
    args = parser.parse_args()
    if args.quick:
        args.load_seconds = args.writer_seconds = 10
        args.kills, args.trials, args.hostile_repeats, args.oversize_mib = 3, 12, 1, 16
    load = " ".join(Path("/proc/loadavg").read_text().split()[:3])
    results: dict[str, dict[str, Any]] = {}
    args.pg = PostgresServer().start() if args.postgres else None
    with tempfile.TemporaryDirectory(prefix="amlite-soak-") as tmp:
        for phase in args.phases.split(","):
            print(f"[soak] {phase} ...", flush=True)
            t0 = time.monotonic()
            try:
                results[phase] = PHASES[phase](Path(tmp), args)
            except Exception as exc:  # a phase that breaks is a finding, not a crash
                results[phase] = {"ok": False, "error": f"{type(exc).__name__}: {exc}"[:500]}
            results[phase]["phase_s"] = round(time.monotonic() - t0, 1)
            print(f"[soak] {phase}: {json.dumps(results[phase])[:2000]}", flush=True)
    if args.pg is not None:
        args.pg.stop()
    text = report(results, args, load)
    print(text)
    if not args.no_write:
        RESULTS.parent.mkdir(parents=True, exist_ok=True)
        if not RESULTS.exists():
            RESULTS.write_text(
                "# Soak (bench/soak.py)\n\nLoad, MLflow writers, server kills and hostile "
                "bodies against a live server; see the script's docstring for each phase.\n"
            )
        with RESULTS.open("a") as f:
            f.write(text)


if __name__ == "__main__":
    main()
