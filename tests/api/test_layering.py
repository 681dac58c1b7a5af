"""The API reads and writes the database only through services.

import-linter (``.importlinter``) keeps ``amlite.api`` from importing the store; this test
catches what imports cannot show: a route calling a method of the store handle the runtime
carries (``rt.store.list_jobs(...)``) instead of handing the handle to a service.
"""

from __future__ import annotations

import ast
from pathlib import Path

import amlite.api

API = Path(amlite.api.__file__).parent
COMPOSITION_ROOT = {"app.py", "server.py"}
"""They open, wire and close the store: the only API modules that may call it."""
PROBES = {"routes/health.py": ["23: rt.store.probe_writable"]}
"""``/health`` hands the store's write probe to the availability cache: it asks whether the
database is there, it reads nothing."""


def store_calls(tree: ast.AST) -> list[str]:
    """``<anything>.store.<method>`` used in ``tree``, as ``line: text``."""
    found = []
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Attribute)
            and node.value.attr == "store"
        ):
            found.append(f"{node.lineno}: {ast.unparse(node)}")
    return found


def test_a_store_method_call_is_found() -> None:
    assert store_calls(ast.parse("rt.store.list_jobs(ws.key)")) == ["1: rt.store.list_jobs"]
    assert store_calls(ast.parse("backend_for(rt.store, ws.key)")) == []


def test_no_api_module_outside_the_composition_root_calls_the_store() -> None:
    calls = {
        str(path.relative_to(API)): found
        for path in sorted(API.rglob("*.py"))
        if path.name not in COMPOSITION_ROOT
        and (found := store_calls(ast.parse(path.read_text(encoding="utf-8"))))
    }
    assert calls == PROBES
