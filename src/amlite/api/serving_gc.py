"""The one process-wide garbage-collector setting of ``amlite server``: ``settle_heap``.

Why (issue 10, the PUT tail): CPython's cyclic collector stops every thread while it runs,
and a full (generation 2) collection walks every container object the process holds. After
start-up that is about 125,000 objects (modules, functions, classes, SQLAlchemy tables,
pydantic validators, FastAPI routes), none of which ever becomes garbage. Under a burst of
PUTs at concurrency 128, two to five full collections came in 5 s, each stopping the server
60-150 ms (up to 380 ms on a loaded machine), and every in-flight PUT waited through it;
the young collections (thresholds 700/10) ran 60-115 times a second and cost about 5 % of
the server's CPU.

What: once start-up is done (the store, services, scheduler and app built, just before
serving), ``gc.freeze()`` moves every object alive then into the permanent generation, which
the collector never walks again; and the young generation's threshold is raised from 700 to
``GEN0_THRESHOLD`` allocations, so young collections come tens of times less often (each
walks only the objects allocated since the last one that are still alive).

Measured (``bench/bench_api.py`` PUT cells, 2 cores; ``bench/results/api.md``, helper
put-tail): freezing after start-up shrinks a full collection from 60-150 ms to 2-10 ms (it
walks 10,000-20,000 objects instead of 140,000); with the raised threshold the server makes
one young collection and no full one in a 5 s cell at concurrency 128 instead of 290-580
young and 2-5 full ones, and uses 8 % less CPU per PUT there (median of 6 runs against
main, loaded machine). ``gc.freeze()`` alone, called too early (before the app and its
imports were complete), had left most start-up objects in generation 2 and did not help.

The cost: an object alive at start-up that later becomes part of a garbage cycle is never
collected (freed by reference counting, as almost all are, it still is); start-up's objects
live as long as the server anyway. And cyclic garbage made while serving waits longer for
its collection: code that needs a cycle's resources released at once collects itself (the
stale SQLite connections in ``store/_sql/engine.py``'s ``write_tx``).

Only ``amlite server`` does this (``api/server.py``, ``run_server``): a server embedded in
another program (``amlite run``, tests) leaves that program's collector alone.
"""

from __future__ import annotations

import gc

GEN0_THRESHOLD = 20_000
"""Net container allocations between young collections (CPython's default: 700)."""


def settle_heap() -> None:
    """Collect once, freeze what survives (start-up's objects), raise the young threshold.

    Call once, after start-up and before serving."""
    gc.collect()
    gc.freeze()
    _, gen1, gen2 = gc.get_threshold()
    gc.set_threshold(GEN0_THRESHOLD, gen1, gen2)
