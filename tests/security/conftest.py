from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from support.sandbox import bwrap_or_skip
from support.server import LiveServer


@pytest.fixture
def server(tmp_path: Path) -> Iterator[LiveServer]:
    """A live server whose jobs run in the bwrap sandbox (required, not merely preferred)."""
    bwrap_or_skip()
    srv = LiveServer(tmp_path / "home", slots=2)
    srv.env = {"AMLITE_JOB_SANDBOX": "bwrap"}
    srv.start()
    yield srv
    srv.stop()
