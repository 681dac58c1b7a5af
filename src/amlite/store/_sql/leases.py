"""The servers sharing the database and the jobs they own, for ``SqlStore``.

Lease times are seconds since the epoch on the database's clock, never a server's: servers
on several machines compare expiries against one clock.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Collection, Mapping
from typing import Any

from sqlalchemy import Connection, Engine, and_, delete, exists, func, select, text, update
from sqlalchemy.sql.elements import ColumnElement

from amlite.domain.status import JobStatus
from amlite.store._base import Fence, ServerRecord
from amlite.store._sql.engine import read_tx, write_tx
from amlite.store._sql.tables import jobs, servers

_UNIX_EPOCH_JULIAN_DAY = 2440587.5
WAKE_CHANNEL = "amlite_wake"
"""The PostgreSQL channel on which servers wake each other (payload: the sender's id)."""


def _db_epoch(conn: Connection) -> Any:
    """The database's clock, in seconds since the epoch, as a SQL expression."""
    if conn.dialect.name == "postgresql":
        return func.extract("epoch", func.clock_timestamp())
    return (func.julianday("now") - _UNIX_EPOCH_JULIAN_DAY) * 86400.0


class ServerLeases:
    """The lease half of the store; ``SqlStore`` mixes it in."""

    _engine: Engine

    @property
    def multi_server(self) -> bool:
        return self._engine.dialect.name != "sqlite"

    @property
    def database_file(self) -> str | None:
        if self._engine.dialect.name != "sqlite":
            return None
        database = self._engine.url.database or ""
        if database in ("", ":memory:") or database.startswith("file::memory:"):
            return None
        return database

    def renew_server(
        self, server_id: str, host: str, pid: int, pid_start: int | None, ttl: float
    ) -> None:
        with write_tx(self._engine) as conn:
            expires = _db_epoch(conn) + ttl
            changed = conn.execute(
                update(servers).where(servers.c.id == server_id).values(expires=expires)
            ).rowcount
            if not changed:
                conn.execute(
                    servers.insert().values(
                        id=server_id, host=host, pid=pid, pid_start=pid_start, expires=expires
                    )
                )

    def remove_servers(self, server_ids: Collection[str]) -> None:
        if not server_ids:
            return
        with write_tx(self._engine) as conn:
            conn.execute(delete(servers).where(servers.c.id.in_(sorted(server_ids))))

    def list_servers(self) -> list[ServerRecord]:
        with read_tx(self._engine) as conn:
            now = _db_epoch(conn)
            rows = conn.execute(
                select(
                    servers.c.id,
                    servers.c.host,
                    servers.c.pid,
                    servers.c.pid_start,
                    (servers.c.expires - now).label("left"),
                ).order_by(servers.c.id)
            )
            return [
                ServerRecord(r.id, r.host, int(r.pid), r.pid_start, float(r.left)) for r in rows
            ]

    def claim_job(
        self,
        workspace_key: str,
        name: str,
        server_id: str | None,
        *,
        previous: str | None,
        status: JobStatus,
    ) -> int | None:
        with write_tx(self._engine) as conn:
            was = jobs.c.owner.is_(None) if previous is None else jobs.c.owner == previous
            where = (
                jobs.c.workspace_key == workspace_key,
                jobs.c.name == name,
                jobs.c.status == status.value,
                was,
            )
            changed = conn.execute(
                update(jobs)
                .where(*where)
                .values(owner=server_id, owner_epoch=jobs.c.owner_epoch + 1)
            ).rowcount
            if not changed:
                return None
            epoch = conn.execute(
                select(jobs.c.owner_epoch).where(
                    jobs.c.workspace_key == workspace_key, jobs.c.name == name
                )
            ).scalar_one()
        return int(epoch)

    def set_owned_runtime(
        self, workspace_key: str, name: str, values: Mapping[str, Any], *, owner: str
    ) -> bool:
        with write_tx(self._engine) as conn:
            row = conn.execute(
                select(jobs.c.seq, jobs.c.runtime)
                .where(
                    jobs.c.workspace_key == workspace_key,
                    jobs.c.name == name,
                    jobs.c.owner == owner,
                )
                .with_for_update()
            ).first()
            if row is None:
                return False
            merged = {**(row.runtime or {}), **values}
            conn.execute(update(jobs).where(jobs.c.seq == row.seq).values(runtime=merged))
        return True

    def fence_holds(self, fence: Fence) -> bool:
        with read_tx(self._engine) as conn:
            return bool(conn.execute(select(fence_condition(conn, fence))).scalar())

    def notify_servers(self, sender: str) -> None:
        if self._engine.dialect.name != "postgresql":
            return
        with write_tx(self._engine) as conn:
            conn.execute(text("SELECT pg_notify(:channel, :sender)"),
                         {"channel": WAKE_CHANNEL, "sender": sender})  # fmt: skip

    def listen_servers(self, me: str, on_notify: Callable[[], None], stop: threading.Event) -> None:
        if self._engine.dialect.name != "postgresql":
            stop.wait()
            return
        raw = self._engine.raw_connection()
        try:
            pg: Any = raw.driver_connection
            pg.autocommit = True
            pg.execute(f"LISTEN {WAKE_CHANNEL}")
            while not stop.is_set():
                woken = False
                for note in pg.notifies(timeout=0.5):
                    woken = woken or note.payload != me
                if woken:
                    on_notify()
        finally:
            raw.invalidate()  # a connection in LISTEN mode goes back to no pool


def fence_condition(conn: Connection, fence: Fence, *, row: Any = None) -> ColumnElement[bool]:
    """``fence`` as a SQL condition, for the ``WHERE`` of the write it guards: the fenced
    job still has the owner and epoch of the fence, and that owner's lease has not expired
    on the database's clock. A server that stalled past its lease fails the second part
    until it renews; one whose job or sweep was taken over meanwhile fails the first for
    good.

    ``row``: the table the write updates, when it updates the fenced job's own row (then
    the owner and epoch are conditions on that row, re-checked by PostgreSQL after waiting
    for a concurrent claim's row lock, which a subquery would not be)."""
    leased = exists().where(servers.c.id == fence.owner, servers.c.expires > _db_epoch(conn))
    if row is not None:
        return and_(row.c.owner == fence.owner, row.c.owner_epoch == fence.epoch, leased)
    held = jobs.alias("fence_job")
    owned = exists().where(
        held.c.workspace_key == fence.workspace_key,
        held.c.name == fence.name,
        held.c.owner == fence.owner,
        held.c.owner_epoch == fence.epoch,
    )
    return and_(owned, leased)
