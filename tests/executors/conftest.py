"""Supervisor tests use a short SIGTERM -> SIGKILL grace period."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _short_grace(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AMLITE_KILL_GRACE_SECONDS", "0.5")
