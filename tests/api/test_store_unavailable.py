"""A read-only or unreachable database: 503 with Retry-After (ARM and MLflow shapes),
``/health`` says so, the scheduler logs one line per change of state, and everything
recovers without a restart."""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from amlite.store.availability import PROBE_EVERY_SECONDS
from support.postgres import PostgresServer, PostgresUnavailable
from support.server import LiveServer, command_body, job_url, wait_terminal

MLFLOW = "/mlflow/api/2.0/mlflow"


def _immutable(paths: list[Path], on: bool) -> None:
    for path in paths:
        if path.exists():
            subprocess.run(["chattr", "+i" if on else "-i", str(path)], check=True)


def _can_make_immutable(folder: Path) -> bool:
    probe = folder / "chattr-probe"
    probe.write_text("x")
    try:
        ok = (
            shutil.which("chattr") is not None
            and subprocess.run(["chattr", "+i", str(probe)], capture_output=True).returncode == 0
        )
        if ok:
            subprocess.run(["chattr", "-i", str(probe)], check=True)
        return ok
    finally:
        probe.unlink()


def _wait(predicate: object, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        time.sleep(0.2)


def _assert_unavailable(srv: LiveServer) -> None:
    with srv.client() as c:
        resp = c.put(job_url("while-down"), json=command_body("echo hi"))
        assert resp.status_code == 503, resp.text
        assert int(resp.headers["retry-after"]) > 0
        error = resp.json()["error"]
        assert error["code"] == "ServiceUnavailable" and error["target"] == "database"
        resp = c.post(f"{MLFLOW}/runs/set-tag", json={"run_id": "x", "key": "k", "value": "v"})
        assert resp.status_code in (503, 404), resp.text  # 404: the run lookup may still read
        # /health probes at most every PROBE_EVERY_SECONDS (cached between): it says so soon
        _wait(lambda: c.get("/health").status_code == 503, timeout=PROBE_EVERY_SECONDS + 10)
        health = c.get("/health")
        assert health.status_code == 503, health.text
        assert health.json()["status"] == "unavailable"
        assert "retry-after" in health.headers


def _scheduler_lines(srv: LiveServer) -> list[str]:
    text = (srv.home / "server.log").read_text(errors="replace")
    return [line for line in text.splitlines() if "scheduler tick failed" in line]


def test_sqlite_read_only_at_start_answers_503_then_recovers(tmp_path: Path) -> None:
    if not _can_make_immutable(tmp_path):
        pytest.skip("this filesystem does not support chattr +i (needed to make SQLite read-only)")
    srv = LiveServer(tmp_path / "home").start()
    with srv.client() as c:
        assert c.put(job_url("before"), json=command_body("echo before")).status_code == 201
        wait_terminal(c, "before")
    srv.stop()
    db = srv.home / "amlite.db"
    files = [db, Path(f"{db}-wal"), Path(f"{db}-shm")]
    _immutable(files, True)
    try:
        srv.start()
        _assert_unavailable(srv)
        with srv.client() as c:  # reads still work
            assert c.get(job_url("before")).status_code == 200
        time.sleep(4)  # the scheduler ticks once a second: it must back off, quietly
        assert len(_scheduler_lines(srv)) == 0
        log = (srv.home / "server.log").read_text(errors="replace")
        assert log.count("database unavailable, scheduling paused") <= 1
        assert "Traceback" not in log
    finally:
        _immutable(files, False)
    try:  # recovered without a restart
        with srv.client() as c:
            _wait(lambda: c.get("/health").status_code == 200)
            assert c.put(job_url("after"), json=command_body("echo after")).status_code == 201
            assert wait_terminal(c, "after", timeout=90)["properties"]["status"] == "Completed"
    finally:
        srv.stop()


@pytest.fixture
def own_postgres() -> Iterator[PostgresServer]:
    try:
        import psycopg  # noqa: F401

        server = PostgresServer().start()
    except (PostgresUnavailable, ImportError) as exc:
        pytest.skip(f"PostgreSQL unavailable: {exc}")
    try:
        yield server
    finally:
        server.stop()


def test_postgres_stopped_answers_503_then_recovers_when_restarted(
    tmp_path: Path, own_postgres: PostgresServer
) -> None:
    srv = LiveServer(tmp_path / "home", database_url=own_postgres.create_database()).start()
    try:
        with srv.client() as c:
            assert c.put(job_url("before"), json=command_body("echo before")).status_code == 201
            wait_terminal(c, "before")
        own_postgres.pause()
        _assert_unavailable(srv)
        with srv.client() as c:
            resp = c.get(job_url("before"))
            assert resp.status_code == 503 and resp.json()["error"]["code"] == "ServiceUnavailable"
        time.sleep(4)
        log = (srv.home / "server.log").read_text(errors="replace")
        assert len(_scheduler_lines(srv)) == 0
        assert log.count("database unavailable, scheduling paused") == 1
        own_postgres.resume()
        with srv.client() as c:
            _wait(lambda: c.get("/health").status_code == 200)
            assert c.put(job_url("after"), json=command_body("echo after")).status_code == 201
            assert wait_terminal(c, "after", timeout=90)["properties"]["status"] == "Completed"
        log = (srv.home / "server.log").read_text(errors="replace")
        assert log.count("database available again, scheduling resumed") == 1
    finally:
        srv.stop()


def test_health_is_ok_on_a_healthy_server(tmp_path: Path) -> None:
    srv = LiveServer(tmp_path / "home").start()
    try:
        body = httpx.get(f"{srv.url}/health").json()
        assert body["status"] == "ok" and body["database"] == "ok"
    finally:
        srv.stop()
