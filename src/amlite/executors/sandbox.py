"""Which sandbox confines the jobs this server runs on its own machine (docs/security.md).

``AMLITE_JOB_SANDBOX`` (``Settings.job_sandbox``) chooses:

- ``auto`` (default): ``bwrap`` when bubblewrap is on PATH and works here, else ``none``
  with a warning in the server log;
- ``bwrap``: bubblewrap, required: the server does not start without a working ``bwrap``;
- ``none``: no confinement (an explicit opt-out, warned about at every start).

The supervisor (stdlib only) turns a ``SandboxSpec`` into the ``bwrap`` command line of each
process it starts; this module only decides the mode and what the job must not see.
"""

from __future__ import annotations

import logging
import shutil
import subprocess
from pathlib import Path

from amlite.config import Settings
from amlite.executors._base import SandboxSpec
from amlite.executors.supervisor.bwrap import BWRAP_ISOLATION

log = logging.getLogger("amlite.sandbox")

MODES = ("auto", "bwrap", "none")


class SandboxUnavailable(RuntimeError):
    """``AMLITE_JOB_SANDBOX=bwrap`` but bubblewrap is missing or cannot run here."""


def _probe(program: str) -> str | None:
    """None if ``program`` can build the sandbox the supervisor uses; else what failed."""
    argv = [program, *BWRAP_ISOLATION, "true"]
    try:
        done = subprocess.run(argv, capture_output=True, timeout=30, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return str(exc)
    if done.returncode != 0:
        return done.stderr.decode("utf-8", "replace").strip() or f"exit code {done.returncode}"
    return None


def job_sandbox(settings: Settings) -> SandboxSpec:
    """The sandbox of this server's local jobs; raises ``SandboxUnavailable`` when ``bwrap``
    was required and cannot be used."""
    mode = (settings.job_sandbox or "auto").strip().lower()
    if mode not in MODES:
        raise SandboxUnavailable(
            f"AMLITE_JOB_SANDBOX={settings.job_sandbox!r}: expected one of {', '.join(MODES)}"
        )
    if mode == "none":
        log.warning(
            "AMLITE_JOB_SANDBOX=none: jobs run unconfined as the server's user and can read "
            "the admin token, the database and every other job's files (docs/security.md)"
        )
        return SandboxSpec("none")
    program = shutil.which("bwrap")
    problem = "bwrap is not on PATH (apt-get install bubblewrap)" if program is None else None
    if program is not None:
        problem = _probe(program)
    if program is None or problem is not None:
        if mode == "bwrap":
            raise SandboxUnavailable(f"AMLITE_JOB_SANDBOX=bwrap but bubblewrap fails: {problem}")
        log.warning(
            "no job sandbox (%s): jobs run unconfined as the server's user and can read the "
            "admin token, the database and every other job's files; install bubblewrap or set "
            "AMLITE_JOB_SANDBOX=none to silence this (docs/security.md)",
            problem,
        )
        return SandboxSpec("none")
    return SandboxSpec("bwrap", program=program, hide=hidden_dirs(settings))


def hidden_dirs(settings: Settings) -> list[str]:
    """The server's home and its user's home directory (``~/.pgpass``, ``~/.ssh``, cloud
    credentials): the supervisor binds back what the job owns and the Python it runs with."""
    dirs = [settings.home.resolve()]
    try:
        user_home = Path.home().resolve()
    except (RuntimeError, KeyError):
        user_home = None
    if user_home is not None and user_home != Path("/") and user_home.is_dir():
        dirs.insert(0, user_home)
    return sorted({str(d) for d in dirs})
