"""Shared fixtures: a throwaway PostgreSQL server and a fresh database URL per test.

``database_url`` is parametrized over ``sqlite`` and ``postgresql``. Without PostgreSQL
binaries (or psycopg) the ``postgresql`` cases are skipped with the reason, unless
``AMLITE_REQUIRE_POSTGRES=1`` (set by CI), which turns that into a failure.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))  # makes tests/support importable as `support`

from support.azurite import Azurite, AzuriteUnavailable
from support.postgres import PostgresServer, PostgresUnavailable


def _postgres_required() -> bool:
    return os.environ.get("AMLITE_REQUIRE_POSTGRES", "") == "1"


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """A PostgreSQL cluster for the whole session, stopped by PID at the end."""
    try:
        import psycopg  # noqa: F401

        server = PostgresServer().start()
    except (PostgresUnavailable, ImportError) as exc:
        if _postgres_required():
            pytest.fail(f"PostgreSQL is required (AMLITE_REQUIRE_POSTGRES=1): {exc}")
        pytest.skip(f"PostgreSQL unavailable: {exc}")
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def azurite() -> Iterator[Azurite]:
    """An Azurite blob emulator for the whole session, stopped by PID at the end; skipped
    without it (or without the ``[azure]`` extra) unless ``AMLITE_REQUIRE_AZURITE=1``."""
    try:
        import azure.storage.blob  # noqa: F401

        emulator = Azurite().start()
    except (AzuriteUnavailable, ImportError) as exc:
        if os.environ.get("AMLITE_REQUIRE_AZURITE", "") == "1":
            pytest.fail(f"Azurite is required (AMLITE_REQUIRE_AZURITE=1): {exc}")
        pytest.skip(f"Azurite unavailable: {exc}")
    try:
        yield emulator
    finally:
        emulator.cleanup()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A SQLAlchemy URL of a fresh, empty database on each backend."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'amlite.db'}"
    server: PostgresServer = request.getfixturevalue("postgres_server")
    return server.create_database()
