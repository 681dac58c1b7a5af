"""After SQLite refused a write (a read-only file), the next write closes every connection
the process still had open, even one that only a reference cycle (an error's traceback)
still holds: ``amlite server`` raises the collector's threshold and freezes its start-up
heap (``api/serving_gc.py``), so no collector pass may come for a long time, and SQLite
keeps new connections read-only while an old one has the file open."""

from __future__ import annotations

import gc
import os
from pathlib import Path

from amlite.store._sql import engine as engine_mod


def _open_fds(path: Path) -> int:
    """This process's file descriptors on ``path``."""
    count = 0
    for fd in os.listdir("/proc/self/fd"):
        try:
            if os.readlink(f"/proc/self/fd/{fd}") == str(path):
                count += 1
        except OSError:
            pass
    return count


def test_the_next_write_closes_connections_held_by_a_cycle(tmp_path: Path) -> None:
    db = tmp_path / "amlite.db"
    engine = engine_mod.make_engine(f"sqlite:///{db}")
    gc.disable()
    try:
        conn = engine.connect()
        conn.exec_driver_sql("SELECT 1")
        held: list[object] = [conn]
        held.append(held)  # reachable only through itself, as from an error's traceback
        del conn, held
        assert _open_fds(db) == 1
        engine_mod._STALE.add(engine)  # what a "readonly database" error marks
        with engine_mod.write_tx(engine) as fresh:
            fresh.exec_driver_sql("CREATE TABLE t (x INTEGER)")
            assert _open_fds(db) == 1  # the write's own connection only
    finally:
        gc.enable()
        engine.dispose()
