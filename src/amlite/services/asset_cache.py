"""The scheduler's cache of asset records (computes, datastores, codes...).

Starting a job reads its compute (which backend runs it) and its datastores (local disk or
Azure Blob): two reads per job that almost never change between jobs, which were an eighth
of the scheduler's time per sweep trial (bench/results/sweep.md). ``AssetCache`` answers
them from memory:

- an asset written or deleted through this process's store (every API request of this
  server) empties the cache before the next lookup (``Store.asset_writes``), so this server
  never starts a job on an asset it has already changed;
- the scheduler empties it at each full tick (an API request to this server, and once a
  second), so a change made through another server sharing the database is seen within a
  second, as if the job had been started that much earlier.
"""

from __future__ import annotations

from typing import Protocol

from amlite.store import AssetRecord, Store


class AssetReader(Protocol):
    """What reads one asset: a ``Store`` or an ``AssetCache``."""

    def get_asset(
        self, workspace_key: str, kind: str, name: str, version: str | None = None
    ) -> AssetRecord | None: ...


class AssetCache:
    def __init__(self, store: Store) -> None:
        self._store = store
        self._records: dict[tuple[str, str, str, str | None], AssetRecord | None] = {}
        self._writes = store.asset_writes

    def get_asset(
        self, workspace_key: str, kind: str, name: str, version: str | None = None
    ) -> AssetRecord | None:
        writes = self._store.asset_writes
        if writes != self._writes:
            self._records.clear()
            self._writes = writes
        key = (workspace_key, kind, name, version)
        try:
            return self._records[key]
        except KeyError:
            record = self._records[key] = self._store.get_asset(workspace_key, kind, name, version)
            return record

    def clear(self) -> None:
        self._records.clear()
