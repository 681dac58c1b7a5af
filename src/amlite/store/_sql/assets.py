"""Assets (codes, data, environments, datastores, computes) and API tokens of ``SqlStore``."""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from typing import Any

from sqlalchemy import Engine, and_, bindparam, delete, exists, select, update
from sqlalchemy.exc import IntegrityError

from amlite.errors import Conflict, NotFound
from amlite.store._base import AssetRecord, TokenRecord
from amlite.store._sql.engine import read_tx, write_tx
from amlite.store._sql.records import asset_record
from amlite.store._sql.tables import NO_VERSION, assets, jobs, tokens, utcnow

_WRITES = itertools.count(1)
"""A fresh value for ``asset_writes`` at each asset write (``next`` of a count is atomic,
where ``+= 1`` from two threads may count two writes as one)."""


# A job's token is added at each job start (the scheduler's): its statements are built once
# (building one and its cache key cost more than SQLite runs it)
_JOB_SEQ = select(jobs.c.seq).where(
    jobs.c.workspace_key == bindparam("b_key"), jobs.c.name == bindparam("b_name")
)
_TOKEN_SCOPE = select(tokens.c.workspace_key, tokens.c.job_name).where(
    tokens.c.token_hash == bindparam("b_hash")
)
_INSERT_TOKEN = tokens.insert()


class AssetsAndTokens:
    """The asset and token half of the store; ``SqlStore`` mixes it in."""

    _engine: Engine
    asset_writes: int

    # -- assets ---------------------------------------------------------------------------
    def put_asset(
        self,
        workspace_key: str,
        kind: str,
        name: str,
        version: str | None,
        body: Mapping[str, Any],
    ) -> tuple[AssetRecord, bool]:
        stored_version = NO_VERSION if version is None else version
        where = _asset_where(workspace_key, kind, name, stored_version)
        # Two writers may race to create the same asset (PostgreSQL lets both see it missing):
        # the loser's INSERT fails on the unique constraint and it retries as an update.
        for _attempt in range(3):
            now = utcnow()
            try:
                with write_tx(self._engine) as conn:
                    found = conn.execute(
                        update(assets).where(where).values(body=dict(body), modified_at=now)
                    ).rowcount
                    if not found:
                        conn.execute(
                            assets.insert().values(
                                workspace_key=workspace_key,
                                kind=kind,
                                name=name,
                                version=stored_version,
                                body=dict(body),
                                created_at=now,
                                modified_at=now,
                            )
                        )
                    row = conn.execute(select(assets).where(where)).one()
                self.asset_writes = next(_WRITES)  # committed: cached lookups read again
                return asset_record(row), not found
            except IntegrityError:
                continue
        raise Conflict(f"{kind}/{name} is being written concurrently; try again")

    def get_asset(
        self, workspace_key: str, kind: str, name: str, version: str | None = None
    ) -> AssetRecord | None:
        stored_version = NO_VERSION if version is None else version
        with read_tx(self._engine) as conn:
            row = conn.execute(
                select(assets).where(_asset_where(workspace_key, kind, name, stored_version))
            ).first()
        return asset_record(row) if row is not None else None

    def list_assets(
        self,
        workspace_key: str,
        kind: str,
        *,
        name: str | None = None,
        versions: bool = False,
        after_seq: int | None = None,
        limit: int = 100,
    ) -> list[AssetRecord]:
        query = select(assets).where(assets.c.workspace_key == workspace_key, assets.c.kind == kind)
        if versions:
            if name is None:
                raise ValueError("listing versions needs the container name")
            query = query.where(assets.c.version != NO_VERSION)
        else:
            query = query.where(assets.c.version == NO_VERSION)
        if name is not None:
            query = query.where(assets.c.name == name)
        if after_seq is not None:
            query = query.where(assets.c.seq > after_seq)
        query = query.order_by(assets.c.seq.asc()).limit(limit)
        with read_tx(self._engine) as conn:
            return [asset_record(row) for row in conn.execute(query)]

    def latest_version(self, workspace_key: str, kind: str, name: str) -> AssetRecord | None:
        query = (
            select(assets)
            .where(
                assets.c.workspace_key == workspace_key,
                assets.c.kind == kind,
                assets.c.name == name,
                assets.c.version != NO_VERSION,
            )
            .order_by(assets.c.seq.desc())
            .limit(1)
        )
        with read_tx(self._engine) as conn:
            row = conn.execute(query).first()
        return asset_record(row) if row is not None else None

    def delete_asset(
        self, workspace_key: str, kind: str, name: str, version: str | None = None
    ) -> bool:
        where = and_(
            assets.c.workspace_key == workspace_key,
            assets.c.kind == kind,
            assets.c.name == name,
        )
        if version is not None:  # one version; else the container and all its versions
            where = and_(where, assets.c.version == version)
        with write_tx(self._engine) as conn:
            deleted = conn.execute(delete(assets).where(where)).rowcount > 0
        self.asset_writes = next(_WRITES)  # committed: cached lookups (AssetCache) read again
        return deleted

    # -- tokens ---------------------------------------------------------------------------
    def add_token(
        self, token_hash: str, *, workspace_key: str | None = None, job_name: str | None = None
    ) -> None:
        if job_name is not None and workspace_key is None:
            raise ValueError("a job token needs the job's workspace")
        with write_tx(self._engine) as conn:
            job_seq = None
            if job_name is not None:
                job_seq = conn.execute(
                    _JOB_SEQ, {"b_key": workspace_key, "b_name": job_name}
                ).scalar()
                if job_seq is None:
                    raise NotFound(f"job {job_name!r} not found", target=job_name)
            existing = conn.execute(_TOKEN_SCOPE, {"b_hash": token_hash}).first()
            if existing is not None:
                if tuple(existing) != (workspace_key, job_name):
                    raise Conflict("this token is already registered with another scope")
                return
            conn.execute(
                _INSERT_TOKEN,
                {
                    "token_hash": token_hash,
                    "workspace_key": workspace_key,
                    "job_name": job_name,
                    "job_seq": job_seq,
                    "created_at": utcnow(),
                },
            )

    def find_token(self, token_hash: str) -> TokenRecord | None:
        with read_tx(self._engine) as conn:
            row = conn.execute(select(tokens).where(tokens.c.token_hash == token_hash)).first()
        if row is None:
            return None
        return TokenRecord(
            token_hash=row.token_hash,
            workspace_key=row.workspace_key,
            job_name=row.job_name,
            created_at=row.created_at,
        )

    def has_admin_token(self) -> bool:
        with read_tx(self._engine) as conn:
            return bool(conn.execute(select(exists().where(tokens.c.job_name.is_(None)))).scalar())


def _asset_where(workspace_key: str, kind: str, name: str, stored_version: str) -> Any:
    return and_(
        assets.c.workspace_key == workspace_key,
        assets.c.kind == kind,
        assets.c.name == name,
        assets.c.version == stored_version,
    )
