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
    user_home = tmp_path / "userhome"  # the server user's home, with a credential in it
    user_home.mkdir()
    (user_home / ".pgpass").write_text("db:5432:amlite:amlite:pgpass-secret\n")
    srv = LiveServer(tmp_path / "home", slots=2)
    srv.env = {"AMLITE_JOB_SANDBOX": "bwrap", "HOME": str(user_home)}
    srv.start()
    yield srv
    srv.stop()
