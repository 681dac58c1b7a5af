"""bubblewrap for the job-sandbox tests: they skip without ``bwrap`` unless
``AMLITE_REQUIRE_SANDBOX=1`` (set by ``scripts/test.sh``), which turns that into a failure."""

from __future__ import annotations

import os
import shutil

import pytest

REQUIRE = os.environ.get("AMLITE_REQUIRE_SANDBOX") == "1"


def bwrap_or_skip() -> str:
    """The path of ``bwrap``; skips (or fails when required) without it."""
    program = shutil.which("bwrap")
    if program is None:
        if REQUIRE:
            pytest.fail(
                "bwrap is not installed and AMLITE_REQUIRE_SANDBOX=1 (apt-get install bubblewrap)"
            )
        pytest.skip("bwrap (bubblewrap) is not installed")
    return program
