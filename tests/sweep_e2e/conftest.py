from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from support.server import LiveServer


@pytest.fixture
def server(tmp_path: Path) -> Iterator[LiveServer]:
    srv = LiveServer(tmp_path / "home", slots=2).start()
    yield srv
    srv.stop()
