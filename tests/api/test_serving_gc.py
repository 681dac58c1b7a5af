"""``amlite server`` freezes its start-up heap and raises the young GC threshold, once, after
start-up and before serving; an embedded server leaves its host's collector alone."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn

from amlite.api import server as server_mod
from amlite.api import serving_gc
from amlite.config import Settings


@pytest.fixture
def gc_restored() -> Iterator[None]:
    """Put this test process's collector back as it was (unfrozen, thresholds)."""
    thresholds = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*thresholds)


def test_settle_heap_freezes_what_is_alive_and_raises_gen0(gc_restored: None) -> None:
    gc.set_threshold(700, 10, 10)
    alive_before = [object()]  # a container alive at start-up
    assert gc.get_freeze_count() == 0
    serving_gc.settle_heap()
    assert gc.get_freeze_count() > 0
    assert all(alive_before is not o for o in gc.get_objects())  # frozen: not walked
    assert gc.get_threshold() == (serving_gc.GEN0_THRESHOLD, 10, 10)


def test_run_server_settles_the_heap_after_start_up_before_serving(
    gc_restored: None, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("AMLITE_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("AMLITE_DATABASE_URL", raising=False)
    seen: dict[str, Any] = {}
    built = server_mod.Server.app

    def app_then_check(self: server_mod.Server) -> Any:
        seen["frozen when the app was built"] = gc.get_freeze_count()
        app = built(self)
        seen["app"] = app
        return app

    def serve(self: uvicorn.Server, sockets: Any = None) -> None:
        seen["frozen when serving"] = gc.get_freeze_count()
        seen["threshold when serving"] = gc.get_threshold()
        seen["app served"] = self.config.app
        seen["app frozen"] = all(seen["app"] is not o for o in gc.get_objects())
        for sock in sockets or ():
            sock.close()

    monkeypatch.setattr(server_mod.Server, "app", app_then_check)
    monkeypatch.setattr(uvicorn.Server, "run", serve)
    gc.unfreeze()
    server_mod.run_server(Settings.from_env(), "127.0.0.1", 0)
    assert seen["frozen when the app was built"] == 0
    assert seen["frozen when serving"] > 0
    assert seen["threshold when serving"][0] == serving_gc.GEN0_THRESHOLD
    assert seen["app served"] is seen["app"] and seen["app frozen"]


def test_an_embedded_server_leaves_the_collector_alone(
    gc_restored: None, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("AMLITE_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("AMLITE_DATABASE_URL", raising=False)
    gc.unfreeze()
    thresholds = gc.get_threshold()
    with server_mod.EmbeddedServer(Settings.from_env()):
        assert gc.get_freeze_count() == 0
        assert gc.get_threshold() == thresholds
