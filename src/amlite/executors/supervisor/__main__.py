"""Run the supervisor: ``python -S -E .../supervisor [--notify] RUN_DIR | --wait`` (the
folder, by path, where amlite need not be installed) or ``python -m
amlite.executors.supervisor`` (from an installed amlite)."""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys
from types import ModuleType

PRIVATE_NAME = "amlite_supervisor"
"""The package's name when it runs by path (unlikely to clash with anything installed)."""


def _by_path() -> ModuleType:
    """Import this folder as the package ``PRIVATE_NAME``, so its relative imports work; the
    folder itself leaves ``sys.path`` (its modules are reached through the package only)."""
    here = os.path.dirname(os.path.abspath(__file__))
    if sys.path and os.path.abspath(sys.path[0] or ".") == here:
        del sys.path[0]
    spec = importlib.util.spec_from_file_location(
        PRIVATE_NAME, os.path.join(here, "__init__.py"), submodule_search_locations=[here]
    )
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load the supervisor package from {here}")
    package = importlib.util.module_from_spec(spec)
    sys.modules[PRIVATE_NAME] = package
    spec.loader.exec_module(package)
    return importlib.import_module(f"{PRIVATE_NAME}.main")


if __name__ == "__main__":
    main = importlib.import_module(".main", __package__) if __package__ else _by_path()
    sys.exit(main.main(sys.argv))
