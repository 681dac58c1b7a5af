"""Create → cancel → delete races: no interleaving may leave a job's process running.

A hundred and fifty ``sleep`` jobs (``AMLITE_RACE_JOBS``) are cancelled and deleted against a
live server (SQLite and PostgreSQL) at mixed moments: at once, a few milliseconds after the
PUT, and once Running.
Every job's processes carry a marker in their environment unique to this test run, so
afterwards a scan of ``/proc`` finds any process that outlived its job, whatever the
interleaving. Each job must end Canceled (or be gone), and no marked process may be left.
"""

from __future__ import annotations

import contextlib
import os
import random
import signal
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from support.server import API, TERMINAL, WS, LiveServer, command_body, job_url

JOBS = int(os.environ.get("AMLITE_RACE_JOBS", "150"))
"""Jobs per backend: 25 per interleaving by default (CI's time budget); AMLITE_RACE_JOBS=3000
runs the same test as a soak."""
WORKERS = 12
MARK = "AMLITE_RACE_TEST_MARK"
STOP_SECONDS = 60
"""How long a cancelled job's processes get to go away (the supervisor's grace period is
far shorter); a process still there after it is a stray."""


@pytest.fixture
def race_server(tmp_path: Path, database_url: str) -> Iterator[LiveServer]:
    url = None if database_url.startswith("sqlite") else database_url
    srv = LiveServer(tmp_path / "home", database_url=url, slots=8).start()
    yield srv
    srv.stop()


def marked_processes(prefix: str) -> dict[int, str]:
    """PID → marker value of every live process whose environment carries ``prefix``."""
    found: dict[int, str] = {}
    needle = f"{MARK}={prefix}".encode()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            environ = (entry / "environ").read_bytes()
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if state == "Z":  # a zombie waiting for its parent: it runs nothing
            continue
        for item in environ.split(b"\0"):
            if item.startswith(needle):
                found[int(entry.name)] = item.split(b"=", 1)[1].decode()
    return found


def status_of(c: httpx.Client, name: str) -> str | None:
    resp = c.get(job_url(name))
    if resp.status_code == 404:
        return None
    resp.raise_for_status()
    status: str = resp.json()["properties"]["status"]
    return status


def wait_running(c: httpx.Client, name: str) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if status_of(c, name) in ("Running", *TERMINAL):
            return
        time.sleep(0.02)
    raise AssertionError(f"{name} never started")


def delete_and_wait(c: httpx.Client, name: str) -> None:
    resp = c.delete(job_url(name))
    assert resp.status_code in (200, 202, 204), resp.text
    if resp.status_code != 202:
        return
    location = resp.headers["Location"]
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        poll = c.get(location)
        if poll.status_code in (200, 204):
            return
        assert poll.status_code == 202, poll.text
        time.sleep(0.05)
    raise AssertionError(f"deletion of {name} never finished (status {status_of(c, name)})")


def exercise(c: httpx.Client, run: str, i: int) -> tuple[str, bool]:
    """One job's life; returns its name and whether it was deleted.

    Modes: 0 cancel + delete at once; 1 the same a few ms after the PUT (while the scheduler
    is likely starting it); 2 the same once Running; 3 delete a few ms after the PUT, no
    cancel first; 4 and 5 cancel only, a few ms after the PUT or once Running.
    """
    name = f"race-{i}"
    mode = i % 6
    body = command_body("sleep 600", environmentVariables={MARK: f"{run}:{name}"})
    resp = c.put(job_url(name), json=body)
    assert resp.status_code == 201, resp.text
    if mode in (1, 3, 4):
        time.sleep(random.uniform(0, 0.03))
    elif mode in (2, 5):
        wait_running(c, name)
    if mode != 3:
        resp = c.post(f"{WS}/jobs/{name}/cancel?{API}")
        assert resp.status_code == 200, resp.text
    if mode >= 4:  # cancelled only: it must end Canceled with its processes stopped
        return name, False
    delete_and_wait(c, name)
    return name, True


@pytest.mark.timeout(900)  # hundreds of jobs on a shared, loaded machine
def test_create_cancel_delete_leaves_no_process_behind(race_server: LiveServer) -> None:
    run = uuid.uuid4().hex
    try:
        with race_server.client() as c, ThreadPoolExecutor(WORKERS) as pool:
            c.timeout = httpx.Timeout(60)
            outcomes = list(pool.map(lambda i: exercise(c, run, i), range(JOBS)))
            wrong: dict[str, str | None] = {}
            for name, deleted in outcomes:
                deadline = time.monotonic() + STOP_SECONDS
                status = status_of(c, name)
                while status not in TERMINAL and status is not None:
                    if time.monotonic() > deadline:
                        break
                    time.sleep(0.05)
                    status = status_of(c, name)
                if deleted and status is not None:
                    wrong[name] = f"still there after its deletion: {status}"
                elif not deleted and status != "Canceled":
                    wrong[name] = f"ended {status}, not Canceled"
        deadline = time.monotonic() + STOP_SECONDS
        strays = marked_processes(run)
        while strays and time.monotonic() < deadline:
            time.sleep(0.5)
            strays = marked_processes(run)
        assert not wrong, wrong
        assert not strays, (
            f"{len(strays)} processes outlived their cancelled or deleted job: "
            f"{sorted(set(strays.values()))}"
        )
    finally:
        for pid in marked_processes(run):  # only this test's own job processes
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
