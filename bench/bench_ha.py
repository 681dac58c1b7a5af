"""Several amlite servers on one PostgreSQL (docs/high-availability.md): throughput of three
servers against one, and the issue's failover run at full size.

Every scenario gets a fresh database on one throwaway PostgreSQL cluster and a fresh home
shared by its servers (one machine), and every server runs ``--slots`` jobs at once:

1. ``drain``: ``--jobs`` (1,000) trivial ``true`` jobs PUT round-robin to the servers; jobs/s
   from the first PUT to the last job terminal (read from the database). One server and
   three servers alternate, ``--rounds`` times each; medians and the ratio.
2. ``sweeps``: ``--sweeps`` Grid sweeps of ``--trials`` ``true`` trials each
   (maxConcurrentTrials 4) submitted round-robin; wall time per trial from the first PUT to
   the last sweep Completed. One server, then three, ``--rounds`` times; medians, ratio.
3. ``failover``: three servers; ``--ha-jobs`` (500) jobs and 3 sweeps (``--ha-trials``
   trials each) submitted round-robin; one server SIGKILLed once jobs run, another
   restarted; every job must have run exactly once and every trial index once (ledgers the
   jobs write into a ``ReadWriteMount`` output on the default datastore).

Writes ``bench/results/ha.md``. Run: ``.venv/bin/python bench/bench_ha.py`` (``--quick``
shrinks every size).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import create_engine, text

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
from support.postgres import PostgresServer  # noqa: E402
from support.server import API, WS, LiveServer, job_url  # noqa: E402

RESULTS = Path(__file__).parent / "results" / "ha.md"
TERMINAL = ("Completed", "Failed", "Canceled")
LEDGER = {"ledger": {"mode": "ReadWriteMount", "pathOnDatastore": "ha"}}
DS = f"{WS}/datastores/workspaceblobstore"


def loadavg() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "?"


def command(cmd: str, **props: Any) -> dict[str, Any]:
    return {"properties": {"jobType": "Command", "command": cmd, "compute": {}, **props}}


def sweep(trials: int, cmd: str, **trial: Any) -> dict[str, Any]:
    return {
        "properties": {
            "jobType": "Sweep",
            "algorithm": "Grid",
            "compute": {},
            "objective": {"primaryMetric": "acc", "goal": "Maximize"},
            "searchSpace": {"i": ["choice", [list(range(trials))]]},
            "maxConcurrentTrials": 4,
            "trial": {"command": cmd, **trial},
        }
    }


class Cluster:
    """``n`` servers on one fresh database and one fresh home."""

    def __init__(self, pg: PostgresServer, work: Path, n: int, slots: int, lease: str) -> None:
        self.url = pg.create_database("amlite_ha")
        home = Path(tempfile.mkdtemp(prefix="home-", dir=work))
        env = {"AMLITE_LEASE_SECONDS": lease}
        self.servers = [LiveServer(home, self.url, slots=slots, env=env) for _ in range(n)]
        self.engine = create_engine(self.url)

    def __enter__(self) -> Cluster:
        for server in self.servers:
            server.start()
        return self

    def __exit__(self, *_: object) -> None:
        for server in self.servers:
            server.stop()
        self.engine.dispose()

    def submit(self, bodies: list[tuple[str, dict[str, Any]]]) -> None:
        """PUT each body round-robin to the servers, a few at a time."""
        clients = [s.client() for s in self.servers]

        def put(item: tuple[int, tuple[str, dict[str, Any]]]) -> None:
            i, (name, body) = item
            for attempt in range(3 * len(clients)):  # a server down: the next one (failover)
                try:
                    resp = clients[(i + attempt) % len(clients)].put(job_url(name), json=body)
                except httpx.HTTPError:
                    time.sleep(0.2)
                    continue
                if resp.status_code in (200, 201):
                    return
                raise RuntimeError(f"PUT {name}: {resp.status_code} {resp.text[:200]}")
            raise RuntimeError(f"PUT {name}: no server answered")

        try:
            with ThreadPoolExecutor(2 * len(clients)) as pool:
                list(pool.map(put, enumerate(bodies)))
        finally:
            for c in clients:
                c.close()

    def count(self, where: str) -> int:
        with self.engine.connect() as conn:
            return int(conn.execute(text(f"SELECT count(*) FROM jobs WHERE {where}")).scalar())

    def wait(self, where: str, total: int, timeout: float) -> float:
        deadline = time.monotonic() + timeout
        while self.count(where) < total:
            if time.monotonic() > deadline:
                raise RuntimeError(f"timed out: {self.count(where)}/{total} for {where}")
            time.sleep(0.1)
        return time.monotonic()


def terminal(extra: str) -> str:
    statuses = ", ".join(f"'{s}'" for s in TERMINAL)
    return f"status IN ({statuses}) AND {extra}"


def drain(pg: PostgresServer, work: Path, n: int, args: argparse.Namespace) -> dict[str, Any]:
    with Cluster(pg, work, n, args.slots, "15") as cluster:
        bodies = [(f"drain-{i}", command("true")) for i in range(args.jobs)]
        t0 = time.monotonic()
        cluster.submit(bodies)
        submitted = time.monotonic() - t0
        end = cluster.wait(terminal("job_type = 'Command'"), args.jobs, args.timeout)
        failed = cluster.count("status <> 'Completed'")
    wall = end - t0
    return {"jobs_per_s": args.jobs / wall, "wall_s": wall, "submit_s": submitted, "bad": failed}


def sweeps(pg: PostgresServer, work: Path, n: int, args: argparse.Namespace) -> dict[str, Any]:
    with Cluster(pg, work, n, args.slots, "15") as cluster:
        bodies = [(f"sw-{i}", sweep(args.trials, "true")) for i in range(args.sweeps)]
        t0 = time.monotonic()
        cluster.submit(bodies)
        end = cluster.wait(terminal("job_type = 'Sweep'"), args.sweeps, args.timeout)
        bad = cluster.count("status <> 'Completed'")
        trials = cluster.count("parent_name IS NOT NULL")
    wall = end - t0
    return {"s_per_trial": wall / (args.sweeps * args.trials), "wall_s": wall, "bad": bad,
            "trials": trials}  # fmt: skip


def ledger(server: LiveServer, file: str) -> Counter[str]:
    with server.client() as c:
        resp = c.get(f"{DS}/files/ha/{file}?{API}")
    if resp.status_code == 404:
        return Counter()
    resp.raise_for_status()
    return Counter(line.strip() for line in resp.text.splitlines() if line.strip())


def failover(pg: PostgresServer, work: Path, args: argparse.Namespace) -> dict[str, Any]:
    jobs = [f"ha-{i}" for i in range(args.ha_jobs)]
    names = [f"ha-sweep-{i}" for i in range(3)]
    trial_cmd = "echo {s} ${{{{search_space.i}}}} >> ${{{{outputs.ledger}}}}/trials.txt"
    bodies = [
        (s, sweep(args.ha_trials, trial_cmd.format(s=s), outputDataBindings=LEDGER)) for s in names
    ]
    bodies += [
        (j, command(f"echo {j} >> ${{{{outputs.ledger}}}}/jobs.txt; sleep 0.2",
                    outputDataBindings=LEDGER))
        for j in jobs
    ]  # fmt: skip
    with Cluster(pg, work, 3, args.slots, "5") as cluster:
        doomed, restarted, survivor = cluster.servers
        t0 = time.monotonic()
        submitter = threading.Thread(target=cluster.submit, args=(bodies,))
        submitter.start()
        cluster.wait("status = 'Running'", 1, args.timeout)  # kill in the middle
        time.sleep(1)
        doomed.kill()
        killed_at = time.monotonic() - t0
        restarted.stop()
        restarted.start()
        submitter.join()
        end = cluster.wait(terminal("parent_name IS NULL"), len(jobs) + len(names), args.timeout)
        with cluster.engine.connect() as conn:
            rows = conn.execute(text("SELECT status FROM jobs WHERE status <> 'Completed'"))
            not_completed = Counter(str(r[0]) for r in rows)
        ran, trials = ledger(survivor, "jobs.txt"), ledger(survivor, "trials.txt")
    expected = {f"{s} {i}" for s in names for i in range(args.ha_trials)}
    return {
        "jobs": len(jobs),
        "trials": len(expected),
        "killed_at_s": killed_at,
        "wall_s": end - t0,
        "not_completed": dict(not_completed),
        "never_ran": sum(1 for j in jobs if ran[j] == 0),
        "ran_twice": sum(1 for j in jobs if ran[j] > 1),
        "trial_missing": len(expected - set(trials)),
        "trial_twice": sum(1 for k in expected if trials[k] > 1),
        "ok": not not_completed
        and all(ran[j] == 1 for j in jobs)
        and all(trials[k] == 1 for k in expected)
        and set(trials) == expected,
    }


def rounds(fn: Callable[[int], dict[str, Any]], count: int) -> dict[int, list[dict[str, Any]]]:
    """``fn(1)`` and ``fn(3)`` alternately, ``count`` times each."""
    out: dict[int, list[dict[str, Any]]] = {1: [], 3: []}
    for r in range(count):
        for n in (1, 3) if r % 2 == 0 else (3, 1):
            out[n].append(fn(n))
            print(f"  {n} server(s): {out[n][-1]}", flush=True)
    return out


def med(runs: list[dict[str, Any]], key: str) -> float:
    return statistics.median(r[key] for r in runs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--jobs", type=int, default=1000)
    parser.add_argument("--sweeps", type=int, default=3)
    parser.add_argument("--trials", type=int, default=60)
    parser.add_argument("--ha-jobs", type=int, default=500)
    parser.add_argument("--ha-trials", type=int, default=20)
    parser.add_argument("--slots", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--timeout", type=float, default=1200)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--skip", default="", help="comma-separated: drain,sweeps,failover")
    args = parser.parse_args()
    if args.quick:
        args.jobs, args.trials, args.ha_jobs, args.ha_trials, args.rounds = 60, 8, 30, 4, 1
    skip = set(filter(None, args.skip.split(",")))
    load0 = loadavg()
    lines = [
        f"## {datetime.now(UTC):%Y-%m-%d %H:%M} UTC — bench_ha.py",
        "",
        f"{os.cpu_count()} CPUs, load average before {load0}. The machine was shared with other "
        "work while this ran: compare the ratios (same run, alternating order), not the "
        f"absolute figures. Each server runs {args.slots} jobs at once (`AMLITE_LOCAL_SLOTS`); "
        "all servers of a run share one home and one PostgreSQL database.",
        "",
    ]
    with tempfile.TemporaryDirectory(prefix="amlite-ha-") as tmp, PostgresServer() as pg:
        work = Path(tmp)
        if "drain" not in skip:
            print(f"drain: {args.jobs} true jobs", flush=True)
            d = rounds(lambda n: drain(pg, work, n, args), args.rounds)
            one, three = med(d[1], "jobs_per_s"), med(d[3], "jobs_per_s")
            lines += [
                f"### Drain: {args.jobs} trivial jobs (median of {args.rounds})",
                "",
                "| servers | jobs/s drained | wall s | PUTs s | not Completed |",
                "|---|---|---|---|---|",
                *(
                    f"| {n} | {med(d[n], 'jobs_per_s'):.1f} | {med(d[n], 'wall_s'):.1f} | "
                    f"{med(d[n], 'submit_s'):.1f} | {sum(r['bad'] for r in d[n])} |"
                    for n in (1, 3)
                ),
                "",
                f"Three servers / one: **{three / one:.2f}x** jobs/s.",
                "",
            ]
        if "sweeps" not in skip:
            print(f"sweeps: {args.sweeps} x {args.trials} true trials", flush=True)
            s = rounds(lambda n: sweeps(pg, work, n, args), args.rounds)
            one, three = med(s[1], "s_per_trial"), med(s[3], "s_per_trial")
            lines += [
                f"### Sweeps: {args.sweeps} Grid sweeps x {args.trials} `true` trials, "
                f"maxConcurrentTrials 4 (median of {args.rounds})",
                "",
                "| servers | wall s per trial | wall s | trials | not Completed |",
                "|---|---|---|---|---|",
                *(
                    f"| {n} | {med(s[n], 's_per_trial') * 1000:.0f} ms | "
                    f"{med(s[n], 'wall_s'):.1f} | {s[n][0]['trials']} | "
                    f"{sum(r['bad'] for r in s[n])} |"
                    for n in (1, 3)
                ),
                "",
                f"Three servers / one: **{three / one:.2f}x** time per trial.",
                "",
            ]
        if "failover" not in skip:
            print(f"failover: {args.ha_jobs} jobs + 3 sweeps, kill one, restart one", flush=True)
            f = failover(pg, work, args)
            print(f"  {f}", flush=True)
            lines += [
                f"### Failover: {f['jobs']} jobs and 3 sweeps ({f['trials']} trials) on three "
                "servers, round-robin; one SIGKILLed, another restarted",
                "",
                f"Killed at {f['killed_at_s']:.1f} s; everything ended at {f['wall_s']:.1f} s. "
                f"Not Completed: {f['not_completed'] or 'none'}; jobs that never ran: "
                f"{f['never_ran']}, ran twice: {f['ran_twice']}; trial indexes missing: "
                f"{f['trial_missing']}, run twice: {f['trial_twice']}. "
                f"**{'OK' if f['ok'] else 'FAILED'}**.",
                "",
            ]
    lines.insert(4, f"Load average after: {loadavg()}.")
    lines.insert(5, "")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    previous = RESULTS.read_text() if RESULTS.exists() else "# Several servers on one database\n\n"
    RESULTS.write_text(previous + "\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
