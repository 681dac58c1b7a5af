"""The server's home holds secrets (the admin token, the database with datastore keys, the
job plans with their tokens): only the server's user may read it (docs/security.md)."""

from __future__ import annotations

import contextlib
import os

from amlite.config import Settings

HOME_MODE = 0o700
SECRET_MODE = 0o600
SECRET_FILES = ("token", "amlite.db", "amlite.db-wal", "amlite.db-shm", "server.json")
"""Files directly in the home, made owner-only when present."""


def secure_home(settings: Settings) -> None:
    """Create the home 0700 and tighten an existing one: the home itself, its secret files and
    every run's ``plan.json`` (made by servers that wrote them 0644)."""
    home = settings.home
    home.mkdir(parents=True, exist_ok=True, mode=HOME_MODE)
    os.chmod(home, HOME_MODE)
    secrets = [home / name for name in SECRET_FILES]
    if settings.runs_dir.is_dir():
        # runs/{sub}/{rg}/{ws}/{job}/plan.json, and a cluster node's plan one level down
        secrets += settings.runs_dir.glob("*/*/*/*/plan.json")
        secrets += settings.runs_dir.glob("*/*/*/*/*/plan.json")
    for path in secrets:
        with contextlib.suppress(FileNotFoundError):
            if not path.is_symlink() and path.stat().st_mode & 0o077:
                os.chmod(path, SECRET_MODE)
