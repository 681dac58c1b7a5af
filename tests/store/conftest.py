"""Fixtures of the store tests: an open store on each backend."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from amlite.store import Store, open_store

sys.path.insert(0, str(Path(__file__).parent))  # makes store_helpers importable


@pytest.fixture
def store(database_url: str) -> Iterator[Store]:
    opened = open_store(database_url)
    try:
        yield opened
    finally:
        opened.close()
