"""The job supervisor: a self-contained, stdlib-only package that runs one ``RunPlan``.

Started by path, as ``python -S -E .../executors/supervisor [--notify] RUN_DIR`` (the folder:
``ENTRY_POINT``; ``--wait`` for a spare that reads its run directory, then ``go``, from
stdin) in its own
session, so it starts fast and keeps running when the server stops. It imports no amlite
module, only its own modules, relatively, so the folder runs wherever it is copied (a Ray
node without amlite) under any package name; the server imports the same modules as
``amlite.executors.supervisor.*``. With ``--notify``
its standard output is a pipe the server reads: the supervisor closes it as soon as
``result.json`` is in place, before syncing that file to disk and exiting, so the server
notices the end without waiting for either. The files in ``RUN_DIR``
are the contract with the server (``contract``): it reads ``plan.json`` and, on cancel,
``cancel_reason``. A cancel arrives as SIGTERM or as the ``cancel_reason`` file appearing
(looked for every ``CANCEL_POLL_SECONDS``), which is how a cluster backend cancels without a
signal. It writes ``supervisor.pid``, appends events to ``events.jsonl`` and finally writes
``result.json`` atomically.

Modules: ``contract`` (the run directory's files), ``main`` (the run), ``steps`` and
``blobs`` (file steps), ``sync`` (blob outputs uploaded while the job runs), ``forkserver``
(one process, its imports done, that forks supervisors for the local executor),
``environments`` (the cached venv), ``command`` (the processes), ``control`` (cancel,
signals, waits, the system log), ``procs`` (process liveness and groups), ``bwrap`` (the
sandbox), ``jobenv`` (what the job inherits).

Order of work: ``Running`` event, ``prepare`` steps, environment build, ``bash -c COMMAND`` in
its own process group (stdout and stderr to ``ARTIFACTS/user_logs/std_log.txt``), timeout /
cancel handling (SIGTERM to the group, SIGKILL after a grace period; meanwhile blob outputs
uploaded every ``AMLITE_OUTPUT_SYNC_SECONDS``), ``Finalizing`` event,
``finalize`` steps, result; then, the server told, the run's ``tmp`` is removed (renamed
aside before the result: ``main.set_aside``). System events go to
``ARTIFACTS/system_logs/supervisor.log``.

A distributed plan lists its ``processes`` (name, log, extra env, argv): they all start, each
in its own process group; the first one to fail fails the job and the others are stopped, as
they all are on cancel or timeout. Stopping a group also stops the groups of its descendants
(``mpirun`` puts each rank in a group of its own).

A plan with a ``sandbox`` of mode ``bwrap`` runs every process of the command, and the
environment build, under bubblewrap (``bwrap.sandbox_argv``): the server's home (and its user's) is
an empty tmpfs except the job's working directory, inputs, outputs and mounts (bind mounts,
read-only for read-only inputs) and its venv (read-only); ``/tmp`` is the run's own ``tmp``;
the job sees only its own processes and IPC objects and holds no capabilities. Whatever the
mode, the job's environment holds none of the server's settings (``jobenv.job_environ``), and what
the job left in its output folders is copied out only if it is not a link (``steps.run_step``).
See docs/security.md.
"""

from __future__ import annotations

import os

ENTRY_POINT = os.path.dirname(os.path.abspath(__file__))
"""What to run: ``python -S -E ENTRY_POINT [--notify] RUN_DIR`` (the folder, see
``__main__``)."""
