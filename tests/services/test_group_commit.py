"""The group commit of submissions (``services/group_commit.py``): batches, order, a bad job
among good ones, names taken inside a batch, and nothing answered before it is committed."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event

from amlite.domain.arm_id import WorkspaceRef
from amlite.domain.status import ACCEPT_PATH, JobStatus
from amlite.errors import ValidationFailed
from amlite.services.group_commit import GroupCommit
from amlite.store import JobRecord, NewJob, Store
from amlite.store._sql.engine import _WRITERS
from amlite.store._sql.store import SqlStore

WS = WorkspaceRef("sub", "rg", "ws")


def job(name: str) -> NewJob:
    return NewJob(workspace=WS, name=name, job_type="Command", spec={"command": "true"})


class Recording:
    """The store, recording the batches written; the first batch can be held."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self.batches: list[list[str]] = []
        self.hold = threading.Event()
        self.hold.set()
        self.writing = threading.Event()

    def create_jobs(self, jobs: Sequence[NewJob], **kwargs: Any) -> list[JobRecord | None] | None:
        if not kwargs.get("wait", True):
            return None  # as if another thread were writing: on a worker thread
        self._write([j.name for j in jobs])
        return self._store.create_jobs(jobs, **kwargs)

    def create_job(self, one: NewJob, **kwargs: Any) -> JobRecord:
        self._write([one.name])
        return self._store.create_job(one, **kwargs)

    def _write(self, names: list[str]) -> None:
        self.batches.append(names)
        self.writing.set()
        self.hold.wait(30)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)


@pytest.fixture
def db(tmp_path: Path) -> Iterator[tuple[SqlStore, Path]]:
    path = tmp_path / "amlite.db"
    store = SqlStore.open(f"sqlite:///{path}")
    try:
        yield store, path
    finally:
        store.close()


def committed_names(path: Path) -> set[str]:
    """The jobs another connection sees: what is committed."""
    with sqlite3.connect(path) as other:
        return {row[0] for row in other.execute("SELECT name FROM jobs")}


def test_a_burst_is_written_in_batches_in_submission_order(db: tuple[SqlStore, Path]) -> None:
    store, path = db
    recording = Recording(store)
    wakes: list[int] = []
    group = GroupCommit(
        recording,  # type: ignore[arg-type]
        ACCEPT_PATH,
        on_committed=lambda stored: wakes.append(len(stored)),
    )

    async def burst() -> list[JobRecord | None]:
        recording.hold.clear()  # the first batch (the first job) waits...
        first = asyncio.ensure_future(group.create(job("j00")))
        await asyncio.to_thread(recording.writing.wait, 30)
        rest = [asyncio.ensure_future(group.create(job(f"j{i:02d}"))) for i in range(1, 20)]
        await asyncio.sleep(0)
        recording.hold.set()  # ...while the other 19 arrive: they go together
        return list(await asyncio.gather(first, *rest))

    records = asyncio.run(burst())
    assert recording.batches == [["j00"], [f"j{i:02d}" for i in range(1, 20)]]
    assert [r.name for r in records if r] == [f"j{i:02d}" for i in range(20)]
    seqs = [r.seq for r in records if r]
    assert seqs == sorted(seqs)
    assert all(r is not None and r.status is JobStatus.QUEUED for r in records)
    assert wakes == [1, 19]  # the scheduler is woken once per batch, with its jobs
    assert committed_names(path) == {f"j{i:02d}" for i in range(20)}


def test_names_taken_before_or_inside_a_batch_answer_none(db: tuple[SqlStore, Path]) -> None:
    store, _ = db
    store.create_job(job("old"))
    group = GroupCommit(store, ACCEPT_PATH)

    async def burst() -> list[JobRecord | None]:
        names = ["a", "old", "a", "b"]
        return list(await asyncio.gather(*(group.create(job(n)) for n in names)))

    records = asyncio.run(burst())
    assert [r.name if r else None for r in records] == ["a", None, None, "b"]


class FailsOn:
    """The store, refusing any write that contains the job named ``bad``."""

    def __init__(self, store: Store, bad: str) -> None:
        self._store = store
        self.bad = bad

    def create_jobs(self, jobs: Sequence[NewJob], **kwargs: Any) -> list[JobRecord | None] | None:
        if any(j.name == self.bad for j in jobs):
            raise ValidationFailed.one("name", "refused")
        return self._store.create_jobs(jobs, **kwargs)

    def create_job(self, one: NewJob, **kwargs: Any) -> JobRecord:
        if one.name == self.bad:
            raise ValidationFailed.one("name", "refused")
        return self._store.create_job(one, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)


def test_a_failing_job_fails_alone_and_its_batch_mates_are_stored(
    db: tuple[SqlStore, Path],
) -> None:
    store, path = db
    group = GroupCommit(FailsOn(store, "bad"), ACCEPT_PATH)  # type: ignore[arg-type]

    async def burst() -> list[JobRecord | BaseException | None]:
        names = ["g1", "bad", "g2", "g1"]
        return list(
            await asyncio.gather(*(group.create(job(n)) for n in names), return_exceptions=True)
        )

    outcomes = asyncio.run(burst())
    assert isinstance(outcomes[0], JobRecord) and outcomes[0].name == "g1"
    assert isinstance(outcomes[1], ValidationFailed)
    assert isinstance(outcomes[2], JobRecord) and outcomes[2].name == "g2"
    assert outcomes[3] is None  # g1 again: the name is taken, also when written one by one
    assert committed_names(path) == {"g1", "g2"}


def test_nothing_is_answered_as_stored_unless_committed(db: tuple[SqlStore, Path]) -> None:
    """Every job answered with its record is visible to another connection at that moment;
    when the commit itself fails, every job of the batch is answered with an error."""
    store, path = db
    group = GroupCommit(store, ACCEPT_PATH)
    seen_at_answer: dict[str, bool] = {}

    async def submit(name: str) -> JobRecord | None:
        record = await group.create(job(name))
        seen_at_answer[name] = name in committed_names(path)
        return record

    async def burst(names: list[str]) -> list[Any]:
        return list(await asyncio.gather(*(submit(n) for n in names), return_exceptions=True))

    asyncio.run(burst([f"ok{i}" for i in range(10)]))
    assert seen_at_answer == {f"ok{i}": True for i in range(10)}

    def refuse_commit(conn: Any) -> None:
        raise RuntimeError("disk gone")

    event.listen(store.engine, "commit", refuse_commit)
    try:
        outcomes = asyncio.run(burst([f"lost{i}" for i in range(10)]))
    finally:
        event.remove(store.engine, "commit", refuse_commit)
    assert all(isinstance(o, RuntimeError) for o in outcomes)
    assert committed_names(path) == {f"ok{i}" for i in range(10)}


def test_a_batch_is_written_on_the_loop_when_the_writer_is_free_else_on_a_thread(
    db: tuple[SqlStore, Path],
) -> None:
    store, path = db
    group = GroupCommit(store, ACCEPT_PATH)
    loop_thread: list[int] = []

    async def submit(name: str) -> tuple[str, int]:
        loop_thread.append(threading.get_ident())
        record = await group.create(job(name))
        assert record is not None
        return record.name, threading.get_ident()

    writers: list[int] = []
    original = store.create_jobs

    def spy(jobs: Sequence[NewJob], **kwargs: Any) -> list[JobRecord | None] | None:
        written = original(jobs, **kwargs)
        if written is not None:
            writers.append(threading.get_ident())
        return written

    store.create_jobs = spy  # type: ignore[method-assign]
    asyncio.run(submit("free"))
    assert writers == loop_thread  # written by the loop's own thread

    writers.clear()
    lock = _WRITERS[store.engine]
    held, release = threading.Event(), threading.Event()

    def scheduler_writing() -> None:
        with lock:
            held.set()
            release.wait(30)

    other = threading.Thread(target=scheduler_writing)
    other.start()
    held.wait(30)

    async def while_held() -> tuple[str, int]:
        pending = asyncio.ensure_future(submit("held"))
        await asyncio.sleep(0.05)
        assert not pending.done()  # it waits for the writer, on a worker thread, not the loop
        release.set()
        return await pending

    assert asyncio.run(while_held())[0] == "held"
    other.join()
    assert len(writers) == 1 and writers[0] not in loop_thread
    assert committed_names(path) == {"free", "held"}


def test_the_callers_are_answered_before_the_scheduler_is_woken(
    db: tuple[SqlStore, Path],
) -> None:
    store, _ = db
    events: list[str] = []
    group = GroupCommit(store, ACCEPT_PATH, on_committed=lambda stored: events.append("woken"))

    async def put(name: str) -> None:
        await group.create(job(name))
        events.append(f"answered {name}")  # (a response is written in this same step)

    async def burst() -> None:
        await asyncio.gather(put("a"), put("b"))
        await asyncio.sleep(0)  # let the wake run

    asyncio.run(burst())
    assert events == ["answered a", "answered b", "woken"]
