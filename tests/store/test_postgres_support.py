"""The throwaway-PostgreSQL helper reports a missing installation clearly."""

from __future__ import annotations

import pytest

from support import postgres


def test_missing_binaries_are_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(postgres.glob, "glob", lambda _pattern: [])
    monkeypatch.setattr(postgres.shutil, "which", lambda _name: None)
    with pytest.raises(postgres.PostgresUnavailable, match=r"\.ci/postgres\.sh"):
        postgres.find_bindir()


def test_zombie_or_missing_pid_is_not_alive() -> None:
    assert postgres.pid_alive(2**22 + 12345) is False
