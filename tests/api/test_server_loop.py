"""The server's event loop is uvloop (a dependency where it builds), for the bare stack's
config too; asyncio's own loop only where uvloop is not installed."""

from __future__ import annotations

import importlib.util

import pytest

from amlite.api import server as server_mod


def test_served_on_uvloop() -> None:
    import uvloop  # a dependency on Linux (pyproject.toml)

    factory = server_mod._config(object(), "error").get_loop_factory()
    assert factory is not None
    loop = factory()
    try:
        assert isinstance(loop, uvloop.Loop)
    finally:
        loop.close()


def test_asyncio_where_uvloop_is_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "uvloop" else real(name, *a)
    )
    assert server_mod._config(object(), "error").loop == "asyncio"
