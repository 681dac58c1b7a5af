"""Three amlite servers on one PostgreSQL database (docs/high-availability.md): jobs and
sweeps submitted round-robin, one server SIGKILLed in the middle and another restarted;
every job ran exactly once and every sweep completed with each trial index once.

The servers share one home (one machine): the jobs write their ledger lines into a
``ReadWriteMount`` output on the default datastore, the one place a sandboxed job can write
that outlives it. The full-size run (500 jobs, throughput of three servers against one) is
``bench/bench_ha.py``."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from support.postgres import PostgresServer
from support.server import API, TERMINAL, WS, LiveServer, job_url

JOBS = 18
SWEEPS = 3
TRIALS = 4
DS = f"{WS}/datastores/workspaceblobstore"
LEDGER = {"ledger": {"mode": "ReadWriteMount", "pathOnDatastore": "ha/ledger"}}


def job_body(name: str) -> dict[str, Any]:
    command = f"echo {name} >> ${{{{outputs.ledger}}}}/jobs.txt; sleep 2"
    return {
        "properties": {
            "jobType": "Command",
            "command": command,
            "compute": {},
            "outputDataBindings": LEDGER,
        }
    }


def sweep_body(name: str) -> dict[str, Any]:
    command = f"echo {name} ${{{{search_space.i}}}} >> ${{{{outputs.ledger}}}}/trials.txt; sleep 1"
    return {
        "properties": {
            "jobType": "Sweep",
            "algorithm": "Grid",
            "compute": {},
            "objective": {"primaryMetric": "acc", "goal": "Maximize"},
            "searchSpace": {"i": ["choice", [list(range(TRIALS))]]},
            "maxConcurrentTrials": 2,
            "trial": {"command": command, "outputDataBindings": LEDGER},
        }
    }


@pytest.fixture
def servers(postgres_server: PostgresServer, tmp_path: Path) -> Iterator[list[LiveServer]]:
    url = postgres_server.create_database("amlite_ha")
    env = {"AMLITE_LEASE_SECONDS": "3"}
    started: list[LiveServer] = []
    try:
        for _ in range(3):
            started.append(LiveServer(tmp_path / "home", url, slots=2, env=env).start())
        yield started
    finally:
        for server in started:
            server.stop()


def statuses(server: LiveServer, names: list[str]) -> dict[str, str]:
    with server.client() as c:
        return {name: c.get(job_url(name)).json()["properties"]["status"] for name in names}


def ledger(server: LiveServer, file: str) -> Counter[str]:
    with server.client() as c:
        resp = c.get(f"{DS}/files/ha/ledger/{file}?{API}")
    assert resp.status_code == 200, resp.text
    return Counter(line.strip() for line in resp.text.splitlines() if line.strip())


def test_three_servers_one_killed_one_restarted(servers: list[LiveServer]) -> None:
    jobs = [f"ha-job-{i}" for i in range(JOBS)]
    sweeps = [f"ha-sweep-{i}" for i in range(SWEEPS)]
    submissions = [*((s, sweep_body(s)) for s in sweeps), *((j, job_body(j)) for j in jobs)]
    for i, (name, body) in enumerate(submissions):
        with servers[i % 3].client() as c:
            resp = c.put(job_url(name), json=body)
            assert resp.status_code == 201, resp.text

    doomed, restarted, survivor = servers
    deadline = time.monotonic() + 120
    ran = survivor.home / "datastores" / "00000000-0000-0000-0000-000000000000" / "rg1" / "ws1"
    ran = ran / "workspaceblobstore" / "ha" / "ledger" / "jobs.txt"
    while not (ran.exists() and ran.read_text().strip()):  # kill as the first jobs run
        assert time.monotonic() < deadline, "no job started"
        time.sleep(0.05)
    doomed.kill()  # its running jobs complete only if another server takes them over
    restarted.stop()
    restarted.start()

    names = [*jobs, *sweeps]
    deadline = time.monotonic() + 180
    while True:
        now = statuses(survivor, names)
        if all(status in TERMINAL for status in now.values()) or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert now == dict.fromkeys(names, "Completed")

    assert ledger(restarted, "jobs.txt") == Counter(dict.fromkeys(jobs, 1))
    ran = ledger(survivor, "trials.txt")
    assert ran == Counter({f"{s} {i}": 1 for s in sweeps for i in range(TRIALS)})
    with survivor.client() as c:
        for sweep in sweeps:
            trials = c.get(f"{WS}/jobs?{API}&parentJobName={sweep}").json()["value"]
            assert sorted(t["name"] for t in trials) == [f"{sweep}_{i}" for i in range(TRIALS)]
            assert {t["properties"]["status"] for t in trials} == {"Completed"}
    assert httpx.get(f"{restarted.url}/health").status_code == 200  # it answers again


def test_a_second_server_on_one_sqlite_home_is_refused(tmp_path: Path) -> None:
    first = LiveServer(tmp_path / "home").start()
    try:
        with pytest.raises(RuntimeError, match="already uses the SQLite database") as refused:
            LiveServer(tmp_path / "home").start()
        assert f"pid {first.proc.pid if first.proc else ''}" in str(refused.value)
        assert httpx.get(f"{first.url}/health").status_code == 200  # the first one goes on
    finally:
        first.stop()
