"""Opening stores: migrations, reopening, SQLite settings, several threads and processes."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import text
from store_helpers import WS, new_job

from amlite.domain.status import JobStatus
from amlite.store import Store, open_store
from amlite.store._sql import migrate
from amlite.store._sql.store import SqlStore
from amlite.store._sql.tables import metadata


def test_head_constant_matches_the_scripts() -> None:
    assert migrate.script_head() == migrate.HEAD


def test_migrated_schema_matches_the_tables(store: Store) -> None:
    assert isinstance(store, SqlStore)
    with store.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": False})
        diff = compare_metadata(context, metadata)
    assert diff == []


def test_reopen_keeps_data_and_skips_migrations(database_url: str) -> None:
    first = open_store(database_url)
    first.create_job(new_job("j1"))
    first.transition(WS.key, "j1", JobStatus.STARTING)
    first.put_asset(WS.key, "codes", "c", "1", {"x": 1})
    first.close()

    started = time.perf_counter()
    second = open_store(database_url)
    elapsed = time.perf_counter() - started
    try:
        assert isinstance(second, SqlStore)
        assert migrate.ensure_schema(second.engine) is False  # nothing left to migrate
        job = second.get_job(WS.key, "j1")
        assert job is not None and job.status is JobStatus.STARTING
        assert second.get_asset(WS.key, "codes", "c", "1") is not None
        assert len(second.status_history(WS.key, "j1")) == 2
    finally:
        second.close()
    assert elapsed < 1.0, f"reopening an up-to-date store took {elapsed:.3f}s"


def test_sqlite_settings_and_parent_directory(tmp_path: Path) -> None:
    db = tmp_path / "deep" / "er" / "amlite.db"
    store = open_store(f"sqlite:///{db}")
    try:
        assert db.exists()
        assert isinstance(store, SqlStore)
        with store.engine.connect() as conn:
            assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
            assert conn.execute(text("PRAGMA synchronous")).scalar() == 1  # NORMAL
            assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1
            assert conn.execute(text("PRAGMA busy_timeout")).scalar() >= 1000
    finally:
        store.close()


def test_in_memory_sqlite_works() -> None:
    store = open_store("sqlite://")
    try:
        store.create_job(new_job("j1"))
        assert store.get_job(WS.key, "j1") is not None
    finally:
        store.close()


def test_threads_opening_a_fresh_database_at_once(database_url: str) -> None:
    errors: list[BaseException] = []
    stores: list[Store] = []
    barrier = threading.Barrier(4)

    def opener() -> None:
        barrier.wait()
        try:
            stores.append(open_store(database_url))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=opener) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    try:
        assert errors == []
        stores[0].create_job(new_job("j1"))
        assert all(s.get_job(WS.key, "j1") is not None for s in stores)
    finally:
        for s in stores:
            s.close()


_CHILD = textwrap.dedent(
    """
    import sys, time
    from amlite.domain.arm_id import WorkspaceRef
    from amlite.domain.status import JobStatus
    from amlite.errors import InvalidTransition
    from amlite.store import NewJob, open_store

    url, start_at, index = sys.argv[1], float(sys.argv[2]), int(sys.argv[3])
    ws = WorkspaceRef("00000000-sub", "My-RG", "My-Workspace")
    while time.time() < start_at:
        time.sleep(0.001)
    store = open_store(url)  # all children at once, on a database nobody migrated yet
    store.create_job(NewJob(ws, f"own{index}", "Command", {}))
    while store.get_job(ws.key, "race9") is None:  # the parent creates the race jobs
        time.sleep(0.01)
    wins = 0
    for r in range(10):
        try:
            store.transition(ws.key, f"race{r}", JobStatus.STARTING)
            wins += 1
        except InvalidTransition:
            pass
    store.close()
    print(wins)
    """
)


def test_processes_share_a_fresh_database(database_url: str) -> None:
    """Processes open the same never-migrated database at once, write, then race."""
    start_at = time.time() + 2.0
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _CHILD, database_url, str(start_at), str(i)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in range(3)
    ]
    outputs: list[tuple[str, str]] = []
    try:
        time.sleep(max(0.0, start_at - time.time()) + 0.05)
        store = open_store(database_url)
        try:
            for r in range(10):
                store.create_job(new_job(f"race{r}"))
            outputs = [p.communicate(timeout=60) for p in procs]
            for proc, (_out, err) in zip(procs, outputs, strict=True):
                assert proc.returncode == 0, err
            assert sum(int(out.strip()) for out, _ in outputs) == 10  # one winner per job
            for r in range(10):
                history = store.status_history(WS.key, f"race{r}")
                assert [e.status for e in history] == [JobStatus.NOT_STARTED, JobStatus.STARTING]
            assert {j.name for j in store.list_jobs(WS.key)} >= {"own0", "own1", "own2"}
        finally:
            store.close()
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
