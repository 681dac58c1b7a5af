"""Rendered jobs: a listing re-renders only the jobs whose row changed."""

from __future__ import annotations

import json
from collections.abc import Collection
from datetime import UTC, datetime, timedelta

from amlite.domain.arm_id import WorkspaceRef
from amlite.domain.status import JobStatus
from amlite.services.envelopes import job_resource
from amlite.services.rendered_jobs import RenderedJobs
from amlite.store import JobRecord, JobVersion

WS = WorkspaceRef("sub", "rg", "ws")
T0 = datetime(2026, 1, 1, tzinfo=UTC)


def job(
    seq: int, *, modified: datetime = T0, status: JobStatus = JobStatus.QUEUED, **spec: object
) -> JobRecord:
    return JobRecord(
        seq=seq,
        workspace_key=WS.key,
        name=f"job{seq}",
        job_type="Command",
        status=status,
        priority=0,
        experiment_name="Default",
        parent_name=None,
        compute="local",
        spec={"jobType": "Command", "command": "true", **spec},
        created_at=T0,
        modified_at=modified,
    )


class Rows:
    """The store's side: the current rows, and which seqs each fetch asked for."""

    def __init__(self, *records: JobRecord) -> None:
        self.rows = {r.seq: r for r in records}
        self.fetched: list[list[int]] = []

    def versions(self) -> list[JobVersion]:
        return [
            JobVersion(r.seq, r.modified_at, r.status)
            for r in sorted(self.rows.values(), key=lambda r: -r.seq)
        ]

    def fetch(self, seqs: Collection[int]) -> list[JobRecord]:
        self.fetched.append(sorted(seqs))
        return [self.rows[s] for s in seqs if s in self.rows]


def test_a_page_is_the_jobs_envelopes_in_order_and_a_second_listing_reads_no_row() -> None:
    rows = Rows(job(1), job(2), job(3))
    cache = RenderedJobs("http://x")
    first = cache.page(rows.versions(), WS, rows.fetch)
    assert [json.loads(b) for b in first] == [
        job_resource(rows.rows[s], WS, "http://x") for s in (3, 2, 1)
    ]
    assert cache.page(rows.versions(), WS, rows.fetch) == first
    assert rows.fetched == [[1, 2, 3]]


def test_a_job_whose_row_changed_is_rendered_again_and_only_it() -> None:
    rows = Rows(job(1), job(2))
    cache = RenderedJobs("http://x")
    cache.page(rows.versions(), WS, rows.fetch)
    rows.rows[2] = job(2, modified=T0 + timedelta(microseconds=1), description="new")
    rows.rows[1] = job(1, status=JobStatus.RUNNING)  # same time, new status: still a new version
    page = cache.page(rows.versions(), WS, rows.fetch)
    assert rows.fetched[-1] == [1, 2]
    assert json.loads(page[0])["properties"]["description"] == "new"
    assert json.loads(page[1])["properties"]["status"] == "Running"


def test_a_job_deleted_between_the_listing_and_the_fetch_is_left_out() -> None:
    rows = Rows(job(1), job(2))
    cache = RenderedJobs("http://x")
    versions = rows.versions()
    del rows.rows[2]
    assert [json.loads(b)["name"] for b in cache.page(versions, WS, rows.fetch)] == ["job1"]


def test_memory_is_bounded_by_bytes_and_huge_jobs_are_not_kept() -> None:
    rows = Rows(*(job(s) for s in range(1, 401)))
    cache = RenderedJobs("http://x", budget_bytes=256 * 1024)
    cache.page(rows.versions(), WS, rows.fetch)
    assert cache._size <= 256 * 1024
    assert 0 < len(cache._entries) < 400  # the oldest used went out
    big = Rows(job(999, command="x" * 2048))
    cache.page(big.versions(), WS, big.fetch)
    cache.page(big.versions(), WS, big.fetch)
    assert big.fetched == [[999], [999]]  # over budget/256: rendered each time, never kept
