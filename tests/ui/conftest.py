"""Studio tests in a real browser: Debian's Chromium driven by Playwright, against a real
server with real jobs. Without Chromium (or Playwright) the tests are skipped, unless
``AMLITE_REQUIRE_BROWSER=1`` (set by scripts/test.sh), which turns that into a failure."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from support.server import LiveServer

CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def chromium_path() -> str | None:
    for candidate in (os.environ.get("AMLITE_CHROMIUM"), "/usr/bin/chromium"):
        if candidate and Path(candidate).is_file():
            return candidate
    return shutil.which("chromium")


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """One headless Chromium for the session (closed at the end)."""
    required = os.environ.get("AMLITE_REQUIRE_BROWSER", "") == "1"
    executable = chromium_path()
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as exc:
        if required:
            pytest.fail(f"Playwright is required (AMLITE_REQUIRE_BROWSER=1): {exc}")
        pytest.skip(f"Playwright unavailable: {exc}")
    if executable is None:
        if required:
            pytest.fail("Chromium is required (AMLITE_REQUIRE_BROWSER=1): apt-get install chromium")
        pytest.skip("Chromium unavailable (apt-get install chromium)")
    with sync_playwright() as pw:
        instance = pw.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        try:
            yield instance
        finally:
            instance.close()


@pytest.fixture(scope="module")
def studio_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """One server per test module: the jobs a module creates are shared by its tests."""
    srv = LiveServer(tmp_path_factory.mktemp("studio") / "home", slots=4).start()
    yield srv
    srv.stop()
