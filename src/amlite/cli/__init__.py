"""The ``amlite`` command line, shaped like ``az ml``: one module per command group.

Start-up rule: every ``amlite`` call imports the whole command tree (typer needs it to parse the
arguments), so a CLI module imports at its top only typer, the standard library and amlite's
light helpers (``amlite.domain``, ``amlite.config``, ``amlite.errors``, ``amlite.client``'s
names). A heavy module is imported inside the function that uses it, marked
``# lazy: amlite.cli``:

- httpx: when a client is made (``amlite.client``), so ``--help`` never loads it;
- rich's Console, Table and Live: where a detail table, a trial table or colour is drawn
  (``output.console``/``err_console`` are made on first use); the plain lists do not need it;
- yaml and the job/asset schemas (pydantic): when a file or a ``--set`` value is read;
- the server, store and scheduler: in ``amlite server`` and ``amlite run`` only.

Annotations name such types under ``TYPE_CHECKING``. tests/cli/test_cli_startup.py fails when a
short command loads one of them; bench/bench_feel.py times the start-up.
"""

import sys

# httpx imports its own command line (click, pygments, rich.syntax: a fifth of a short command)
# when those happen to be installed, as they are here; amlite never runs it, so it is left
# out (httpx then defines a stub ``httpx.main``). A no-op if something imported it already.
sys.modules.setdefault("httpx._main", None)  # type: ignore[arg-type]
