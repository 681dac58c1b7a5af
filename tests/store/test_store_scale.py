"""Listing stays index-driven with 10,000+ jobs: no sort of the whole table, deep pages cheap."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import event, text
from store_helpers import OTHER_WS, WS

from amlite.domain.status import JobStatus
from amlite.store import Store
from amlite.store._sql.compiled import CompiledSelect
from amlite.store._sql.store import SqlStore
from amlite.store._sql.tables import job_tags, jobs

N = 12_000


def _fill(store: SqlStore) -> None:
    store.ensure_workspace(WS)
    store.ensure_workspace(OTHER_WS)
    now = datetime(2024, 1, 1, tzinfo=UTC)
    rows: list[dict[str, Any]] = []
    for i in range(N):
        rows.append(
            {
                "workspace_key": (WS if i % 4 else OTHER_WS).key,
                "name": f"job{i:05d}",
                "job_type": "Sweep" if i % 50 == 0 else "Command",
                "status": JobStatus.QUEUED.value if i % 7 == 0 else JobStatus.COMPLETED.value,
                "priority": i % 3,
                "experiment_name": "exp",
                "parent_name": f"job{i - i % 50:05d}" if i % 50 else None,
                "compute": "local",
                "spec": {"command": "echo", "tags": {"k": "v"} if i % 10 == 0 else {}},
                "runtime": {},
                "system_properties": {},
                "status_reason": None,
                "exit_code": None,
                "created_at": now,
                "modified_at": now,
            }
        )
    with store.engine.begin() as conn:
        conn.execute(jobs.insert(), rows)
        seqs = conn.execute(text("SELECT seq, name FROM jobs")).all()
        tagged = [{"job_seq": s, "key": "k", "value": "v"} for s, n in seqs if int(n[3:]) % 10 == 0]
        conn.execute(job_tags.insert(), tagged)
        conn.execute(text("ANALYZE"))


def _captured_sql(store: SqlStore, call: Callable[[], object]) -> tuple[str, Any]:
    captured: list[tuple[str, Any]] = []

    def grab(_conn: Any, _cursor: Any, statement: str, params: Any, *_: Any) -> None:
        if "FROM jobs" in statement:
            captured.append((statement, params))

    rows = CompiledSelect.rows

    def compiled(self: CompiledSelect, params: Any) -> Any:  # the scheduler's reads
        statement, args = self.statement(params)
        captured.append((statement, tuple(args) if isinstance(args, list) else args))
        return rows(self, params)

    event.listen(store.engine, "before_cursor_execute", grab)
    CompiledSelect.rows = compiled  # type: ignore[method-assign]
    try:
        call()
    finally:
        CompiledSelect.rows = rows  # type: ignore[method-assign]
        event.remove(store.engine, "before_cursor_execute", grab)
    return captured[-1]


def _plan(store: SqlStore, call: Callable[[], object]) -> str:
    statement, params = _captured_sql(store, call)
    with store.engine.connect() as conn:
        if conn.dialect.name == "sqlite":
            rows = conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", params).all()
            return "\n".join(str(r[-1]) for r in rows)
        rows = conn.exec_driver_sql(f"EXPLAIN {statement}", params).all()
        return "\n".join(str(r[0]) for r in rows)


def _median_time(call: Callable[[], object], repeat: int = 7) -> float:
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        call()
        samples.append(time.perf_counter() - started)
    return statistics.median(samples)


@pytest.fixture
def big_store(store: Store) -> SqlStore:
    assert isinstance(store, SqlStore)
    _fill(store)
    return store


def test_list_pages_use_indexes(big_store: SqlStore) -> None:
    key = WS.key
    all_seqs = [j.seq for j in big_store.list_jobs(key, limit=N)]
    assert len(all_seqs) == N * 3 // 4
    assert all_seqs == sorted(all_seqs, reverse=True)
    deep = all_seqs[-150]
    calls: dict[str, Callable[[], object]] = {
        "plain": lambda: big_store.list_jobs(key, before_seq=deep),
        "top_level": lambda: big_store.list_jobs(key, top_level_only=True, before_seq=deep),
        "parent": lambda: big_store.list_jobs(key, parent_name="job00100"),
        "queued": lambda: big_store.queued_jobs(50),
    }
    for label, call in calls.items():
        plan = _plan(big_store, call)
        if big_store.engine.dialect.name == "sqlite":
            assert "TEMP B-TREE" not in plan, f"{label}: sorts instead of walking an index\n{plan}"
            assert "INDEX" in plan, f"{label}: no index used\n{plan}"
        else:
            assert "Index" in plan, f"{label}: no index used\n{plan}"
            assert "Seq Scan on jobs" not in plan, f"{label}: full scan\n{plan}"


def test_deep_page_costs_about_the_same_as_the_first(big_store: SqlStore) -> None:
    key = WS.key
    first_page = big_store.list_jobs(key, limit=100)
    assert len(first_page) == 100
    deep_before = [j.seq for j in big_store.list_jobs(key, limit=N)][-101]
    deep_page = big_store.list_jobs(key, before_seq=deep_before, limit=100)
    assert len(deep_page) == 100
    first = _median_time(lambda: big_store.list_jobs(key, limit=100))
    deep = _median_time(lambda: big_store.list_jobs(key, before_seq=deep_before, limit=100))
    # a page that had to skip (or sort) ~9,000 rows would cost many times the first one
    assert deep < first * 4 + 0.02, (
        f"first page {first * 1000:.1f} ms, deep page {deep * 1000:.1f} ms"
    )
    tagged = _median_time(lambda: big_store.list_jobs(key, tag="k", before_seq=deep_before))
    assert tagged < 0.5, f"a tag-filtered deep page took {tagged * 1000:.1f} ms"
