"""The job sandbox: the ``bwrap`` command line a sandboxed plan's processes (and its
environment build) run under (docs/security.md)."""

from __future__ import annotations

import functools
import os
import shutil
import sys
from typing import Any

BWRAP_ISOLATION = (
    *("--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc"),
    *("--unshare-pid", "--unshare-ipc", "--cap-drop", "ALL"),
)
"""The host read-only, a fresh ``/dev`` and ``/proc``, the job's own pid and IPC namespaces,
no capabilities: the base of every sandbox (the server probes ``bwrap`` with it)."""


def sandboxed(plan: dict[str, Any]) -> bool:
    return ((plan.get("sandbox") or {}).get("mode") or "none") == "bwrap"


def _depth(path: str) -> int:
    return len([p for p in os.path.normpath(path).split(os.sep) if p])


def _python_prefixes(plan: dict[str, Any]) -> set[str]:
    """The installation directories of this Python (and of its venv, if any) and of the
    interpreter an environment is built from."""
    prefixes = set(own_python_prefixes())
    if plan.get("environment"):
        prefixes |= _prefixes_of(plan["environment"]["python"])
    return prefixes


@functools.cache
def own_python_prefixes() -> frozenset[str]:
    """This Python's installation directories (and its venv's): the same for every job a
    supervisor runs, so a spare finds them while it waits for its job (``main``)."""
    return frozenset(
        _prefixes_of(
            sys.executable, {sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix}
        )
    )


def _prefixes_of(exe: str, also: set[str] | None = None) -> set[str]:
    """The installation directories of interpreter ``exe`` (followed through links, and as
    named), with ``also``, those that are directories other than ``/``."""
    real = os.path.realpath(shutil.which(exe) or exe)
    prefixes = {*(also or ()), os.path.dirname(os.path.dirname(real))}
    prefixes.add(os.path.dirname(os.path.dirname(os.path.abspath(exe))))
    return {p for p in prefixes if p and os.path.isdir(p) and p != os.sep}


def sandbox_argv(plan: dict[str, Any], writable: list[str] | None = None) -> list[str]:
    """The ``bwrap`` command line (without the command) of ``plan``'s sandbox: the host's
    filesystem read-only; the hidden directories empty except what the job owns, bound back
    in; a fresh ``/dev`` and ``/proc`` (its own pid namespace); the run's ``tmp`` as ``/tmp``;
    no capabilities. ``writable``: what an environment build writes (its venv) instead of the
    job's own directories."""
    box = plan["sandbox"]
    run_dir = plan["run_dir"]
    tmp = os.path.join(run_dir, "tmp")
    os.makedirs(tmp, exist_ok=True)
    mounts: list[tuple[str, str, str]] = [("--tmpfs", "", h) for h in box.get("hide") or []]
    mounts.append(("--bind", tmp, "/tmp"))
    if writable is not None:
        mounts += [("--bind", w, w) for w in writable]
        chdir = "/"
    else:
        chdir = plan["working_dir"]
        own = [plan["working_dir"]]
        own += [os.path.join(run_dir, sub) for sub in ("inputs", "outputs", "home")]
        # the per-rank logs a launcher inside the sandbox writes itself (``mpirun`` ranks)
        own.append(os.path.join(plan["artifacts_dir"], "user_logs"))
        mounts += [("--bind", d, d) for d in own if os.path.isdir(d)]
        env = plan.get("environment")
        if env:
            mounts.append(("--ro-bind", env["dir"], env["dir"]))
        for step in plan.get("prepare") or []:
            if step["op"] in ("mount", "mount_ro"):
                flag = "--bind" if step["op"] == "mount" else "--ro-bind"
                mounts.append((flag, step["src"], step["dst"]))
    # what the sandbox covers (the hidden directories, and /tmp, which is the run's own)
    hidden = [h.rstrip(os.sep) + os.sep for h in [*(box.get("hide") or []), "/tmp"]]
    for prefix in _python_prefixes(plan):  # the interpreters the job runs with stay visible
        below = prefix.rstrip(os.sep) + os.sep
        if any(below.startswith(h) and below != h for h in hidden):
            mounts.append(("--ro-bind", prefix, prefix))
    argv = [box.get("program") or "bwrap", *BWRAP_ISOLATION]
    for flag, src, dst in sorted(mounts, key=lambda m: _depth(m[2])):  # parents first
        argv += [flag, dst] if flag == "--tmpfs" else [flag, src, dst]
    return [*argv, "--chdir", chdir, "--"]
