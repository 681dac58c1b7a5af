"""Jobs rendered to their wire JSON once per version, so a listing joins bytes.

A page of 100 jobs spent most of its CPU decoding each row's spec and building and
serialising its ARM envelope again, although most jobs on a page have not changed since the
last listing. A job's envelope depends only on its row, and every write to a job row sets
``modified_at``; so the rendered bytes are kept per job ``seq`` with the ``(modified_at,
status)`` they were rendered from, and a listing reads just those three columns, renders
only the jobs whose version moved, and joins the rest. The key comes from the database, so
several servers sharing one database each keep a correct cache.

Bounded by bytes (least recently used out first); a job too large to be worth keeping is
rendered every time.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Collection
from datetime import datetime

from pydantic_core import to_json

from amlite.domain.arm_id import WorkspaceRef
from amlite.domain.status import JobStatus
from amlite.services.envelopes import job_resource
from amlite.store import JobRecord, JobVersion

DEFAULT_BUDGET_BYTES = 64 * 1024 * 1024
_Version = tuple[datetime, JobStatus]


class RenderedJobs:
    def __init__(self, public_url: str, budget_bytes: int = DEFAULT_BUDGET_BYTES) -> None:
        self._public_url = public_url
        self._budget = budget_bytes
        self._largest = budget_bytes // 256
        self._entries: OrderedDict[int, tuple[_Version, bytes]] = OrderedDict()
        self._size = 0
        self._lock = threading.Lock()

    def render(self, record: JobRecord, ws: WorkspaceRef) -> bytes:
        """The job's ``JobBaseResource`` as JSON bytes (kept for the next listing)."""
        data = to_json(job_resource(record, ws, self._public_url))
        self._keep(record.seq, (record.modified_at, record.status), data)
        return data

    def page(
        self,
        versions: list[JobVersion],
        ws: WorkspaceRef,
        fetch: Callable[[Collection[int]], list[JobRecord]],
    ) -> list[bytes]:
        """The rendered jobs of a listing, in its order; ``fetch`` reads the full rows of
        those not rendered at their current version. A job deleted in between is left out."""
        found: dict[int, bytes] = {}
        with self._lock:
            for v in versions:
                entry = self._entries.get(v.seq)
                if entry is not None and entry[0] == (v.modified_at, v.status):
                    self._entries.move_to_end(v.seq)
                    found[v.seq] = entry[1]
        missing = [v.seq for v in versions if v.seq not in found]
        for record in fetch(missing) if missing else ():
            found[record.seq] = self.render(record, ws)
        return [found[v.seq] for v in versions if v.seq in found]

    def _keep(self, seq: int, version: _Version, data: bytes) -> None:
        if len(data) > self._largest:
            return
        with self._lock:
            old = self._entries.pop(seq, None)
            if old is not None:
                self._size -= len(old[1])
            self._entries[seq] = (version, data)
            self._size += len(data)
            while self._size > self._budget:
                _, (_, dropped) = self._entries.popitem(last=False)
                self._size -= len(dropped)
