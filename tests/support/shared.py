"""Where the read-only shared material (spec, corpus) is: beside the checkout, as in CI."""

from __future__ import annotations

import os
from pathlib import Path

SHARED = Path(os.environ.get("AMLITE_SHARED_DIR") or Path(__file__).resolve().parents[3] / "shared")
SPEC_DIR = SHARED / "spec" / "2021-03-01-preview"
CORPUS = SHARED / "corpus"

if not SPEC_DIR.is_dir():
    raise RuntimeError(f"the shared spec is missing at {SPEC_DIR}; set AMLITE_SHARED_DIR")
