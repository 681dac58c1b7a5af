"""What a job's processes inherit: the environment without the server's settings, plus the
plan's variables and its venv."""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from typing import Any

from .bwrap import sandboxed

SERVER_ONLY_PREFIXES = ("AMLITE_",)
"""The server's settings (home, database URL with its password, tokens) never reach a job;
the plan's ``env`` carries what the job may know (its own token, ``AMLITE_URL``)."""


SERVER_ONLY_NAMES = frozenset({"PGPASSWORD", "PGPASSFILE"})
"""libpq's password variables, which a PostgreSQL store may be configured with."""

SUPERVISOR_SETTINGS = (
    "AMLITE_KILL_GRACE_SECONDS",  # control: SIGTERM, then SIGKILL after this long
    "AMLITE_OUTPUT_SYNC_SECONDS",  # sync: outputs uploaded while the job runs
    "AMLITE_NODE_SYNC_SECONDS",  # ray/node.py: a node's pushes through the file API
)
"""The server's settings that the supervisor side reads: given to every supervisor the
server starts, wherever it runs (the local executor's environment, a Ray job's
``runtime_env``), and to none of the job's processes (``job_environ``)."""


def supervisor_settings(environ: Mapping[str, str]) -> dict[str, str]:
    """The ``SUPERVISOR_SETTINGS`` set in ``environ`` (the server's)."""
    return {name: environ[name] for name in SUPERVISOR_SETTINGS if name in environ}


def job_environ(environ: dict[str, str] | os._Environ[str]) -> dict[str, str]:
    """``environ`` without the server's settings and secrets: what a job's processes (and
    the supervisor itself) inherit."""
    return {
        k: v
        for k, v in environ.items()
        if not k.startswith(SERVER_ONLY_PREFIXES) and k not in SERVER_ONLY_NAMES
    }


def command_env(plan: dict[str, Any], venv: str | None) -> dict[str, str]:
    env = job_environ(os.environ)
    env.setdefault("PYTHONUNBUFFERED", "1")
    if sandboxed(plan):  # the host's HOME and TMPDIR are read-only or hidden in the sandbox
        env["HOME"] = os.path.join(plan["run_dir"], "home")
        env.pop("TMPDIR", None)
    if venv:
        bin_dir = os.path.join(venv, "bin")
        env["VIRTUAL_ENV"] = venv
        env.pop("PYTHONHOME", None)
    else:
        bin_dir = os.path.dirname(sys.executable)
    env.update(plan.get("env") or {})
    path = env.get("PATH") or os.defpath
    env["PATH"] = bin_dir + os.pathsep + path
    return env
