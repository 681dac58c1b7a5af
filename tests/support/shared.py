"""Where the spec and the corpus are: vendored in ``tests/vendor`` (see its README).

``AMLITE_SHARED_DIR`` points the tests at another copy of the same layout (``spec/``,
``corpus/``, ``seed/``), for instance the project's read-only ``shared/`` folder.
"""

from __future__ import annotations

import os
from pathlib import Path

VENDOR = Path(__file__).resolve().parents[1] / "vendor"
SHARED = Path(os.environ.get("AMLITE_SHARED_DIR") or VENDOR)
SPEC_DIR = SHARED / "spec" / "2021-03-01-preview"
CORPUS = SHARED / "corpus"
SEED_PAGE = SHARED / "seed" / "reference-page.txt"

if not SPEC_DIR.is_dir():
    raise RuntimeError(f"the spec is missing at {SPEC_DIR}; check AMLITE_SHARED_DIR")
