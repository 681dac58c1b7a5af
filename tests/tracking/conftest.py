"""Fixtures of the tracking tests: a store and a live server on each backend."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from amlite.store import Store, open_store
from support.server import LiveServer

sys.path.insert(0, str(Path(__file__).parent))  # makes tracking_helpers importable


@pytest.fixture
def store(database_url: str) -> Iterator[Store]:
    opened = open_store(database_url)
    try:
        yield opened
    finally:
        opened.close()


@pytest.fixture
def server(tmp_path: Path, database_url: str) -> Iterator[LiveServer]:
    """A live server on each store backend (SQLite file, PostgreSQL database)."""
    url = None if database_url.startswith("sqlite") else database_url
    srv = LiveServer(tmp_path / "home", database_url=url).start()
    yield srv
    srv.stop()


@pytest.fixture
def sqlite_server(tmp_path: Path) -> Iterator[LiveServer]:
    """A live server on the embedded SQLite store (end-to-end jobs)."""
    srv = LiveServer(tmp_path / "home").start()
    yield srv
    srv.stop()
