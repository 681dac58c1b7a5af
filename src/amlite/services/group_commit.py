"""Group commit of submissions: the PUTs of a burst stored together, in one transaction.

A PUT of a new job used to be one write transaction of its own, on a worker thread of its
own: under a burst, tens of threads queued for the store's single writer (SQLite has one),
each taking its turn through the GIL, and the last of them waited for all the others. Here
the event loop hands each validated job to ``GroupCommit.create``, and one writer per loop
stores the jobs waiting, all in one transaction; the jobs that arrive while it writes wait
and go into the next batch together. No timer: a batch is what the loop validated since the
last one (a lone PUT is written at once). On SQLite the batch is written on the event loop
itself when no other thread of the server is writing (a few hundred microseconds, no thread
hop: under load each hop waited milliseconds for the GIL or the CPU); else, and always on
PostgreSQL, on a worker thread.

Durability is unchanged: a caller is answered only once the transaction holding its job is
committed (``Store.create_jobs`` returns after the commit), so nothing answered 201 is
missing after a crash of the server. When a batch fails as a whole (any error but a name
already taken), every job of it is written again on its own (``Store.create_job``), so a
bad job fails alone and its batch-mates are answered as if they had come alone.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from anyio.to_thread import run_sync as run_in_threadpool

from amlite.domain.status import JobStatus
from amlite.errors import Conflict
from amlite.store import JobRecord, NewJob, Store

MAX_BATCH = 256
"""Jobs per transaction at most (a burst larger than this commits in several)."""

Outcome = JobRecord | Exception | None
"""Of one job: its record; None when its name was taken; the error that refused it."""


@dataclass
class _Queue:
    """The jobs waiting for the next batch, on one event loop."""

    waiting: list[tuple[NewJob, asyncio.Future[JobRecord | None]]] = field(default_factory=list)
    writing: bool = False
    writer: asyncio.Task[None] | None = None


class GroupCommit:
    def __init__(
        self,
        store: Store,
        then: Sequence[JobStatus],
        on_committed: Callable[[list[JobRecord]], None] | None = None,
    ) -> None:
        self._store = store
        self._then = tuple(then)
        self.on_committed = on_committed
        """Called once per batch that stored a job, with the jobs it stored (to wake the
        scheduler), on the event loop once the batch's callers have been answered."""
        self._queues: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Queue] = (
            weakref.WeakKeyDictionary()
        )

    async def create(self, job: NewJob) -> JobRecord | None:
        """Store ``job`` (moved along ``then``) with the jobs submitted meanwhile; its record
        once committed, or None when a job of that name exists. Raises what refused it."""
        loop = asyncio.get_running_loop()
        queue = self._queues.get(loop)
        if queue is None:
            queue = self._queues.setdefault(loop, _Queue())
        done: asyncio.Future[JobRecord | None] = loop.create_future()
        queue.waiting.append((job, done))
        if not queue.writing:
            queue.writing = True
            queue.writer = loop.create_task(self._drain(queue))
        return await done

    async def _drain(self, queue: _Queue) -> None:
        """Write batches until nobody waits (the one writer of this loop)."""
        try:
            while queue.waiting:
                batch = queue.waiting[:MAX_BATCH]
                del queue.waiting[:MAX_BATCH]
                try:
                    outcomes = await self._write_batch([job for job, _ in batch])
                except BaseException as exc:  # cancelled with the loop: answer, do not hang
                    for _, done in batch:
                        if not done.done():
                            done.set_exception(exc if isinstance(exc, Exception) else Cancelled())
                    raise
                stored: list[JobRecord] = []
                for (_, done), outcome in zip(batch, outcomes, strict=True):
                    if isinstance(outcome, JobRecord):
                        stored.append(outcome)
                    if done.done():  # the client went away: its job stays stored
                        continue
                    if isinstance(outcome, Exception):
                        done.set_exception(outcome)
                    else:
                        done.set_result(outcome)
                if stored and self.on_committed is not None:
                    # after the callers' answers: each caller's task, resumed before this
                    # callback, writes its response in that step, before the scheduler
                    # thread wakes to take the GIL for its round
                    asyncio.get_running_loop().call_soon(self.on_committed, stored)
        finally:
            queue.writing = False
            queue.writer = None  # (the task refers to the loop, the weak key of ``queue``)
            for _, done in queue.waiting:  # only when the loop is going away
                if not done.done():
                    done.set_exception(Cancelled())
            queue.waiting.clear()

    async def _write_batch(self, jobs: list[NewJob]) -> list[Outcome]:
        """On the loop itself when the store's writer is free (SQLite: no thread hop at
        all), else on a worker thread."""
        try:
            now = self._store.create_jobs(jobs, then=self._then, wait=False)
        except Exception:  # the batch rolled back: each job on its own
            return await run_in_threadpool(self._each_alone, jobs)
        if now is not None:
            return list(now)
        return await run_in_threadpool(self.write, jobs)

    def write(self, jobs: Sequence[NewJob]) -> list[Outcome]:
        """One transaction for ``jobs``; if it fails, one each (on a worker thread)."""
        try:
            written = self._store.create_jobs(jobs, then=self._then)
        except Exception:  # the batch rolled back: each job on its own
            return self._each_alone(jobs)
        assert written is not None  # waiting, it writes
        return list(written)

    def _each_alone(self, jobs: Sequence[NewJob]) -> list[Outcome]:
        return [self._alone(job) for job in jobs]

    def _alone(self, job: NewJob) -> Outcome:
        try:
            return self._store.create_job(job, then=self._then)
        except Conflict:
            return None
        except Exception as exc:  # this job's own answer
            return exc


class Cancelled(Exception):
    """The server stopped before the job's batch was written."""
