from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from support.server import LiveServer


@pytest.fixture
def server(tmp_path: Path, database_url: str) -> Iterator[LiveServer]:
    """A live server on each store backend (SQLite file, PostgreSQL database)."""
    url = None if database_url.startswith("sqlite") else database_url
    srv = LiveServer(tmp_path / "home", database_url=url).start()
    yield srv
    srv.stop()
