"""A fresh SQLite store for the in-process unit tests (scheduler, sweep controller,
deployments engine), closed when the test ends."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from amlite.domain.arm_id import WorkspaceRef
from amlite.store import Store, open_store

WS = WorkspaceRef("00000000-0000-0000-0000-000000000000", "rg1", "ws1")
"""The workspace those tests use."""


def sqlite_store(folder: Path, *workspaces: WorkspaceRef) -> Iterator[Store]:
    """For a fixture's ``yield from``: a store in ``folder``, with ``workspaces`` made."""
    store = open_store(f"sqlite:///{folder / 'amlite.db'}")
    for ws in workspaces:
        store.ensure_workspace(ws)
    try:
        yield store
    finally:
        store.close()
