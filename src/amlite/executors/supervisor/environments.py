"""The job's environment: a cached virtualenv, built once under a file lock."""

from __future__ import annotations

import os
import shutil
from typing import Any

from . import contract
from .bwrap import sandbox_argv, sandboxed
from .control import SystemLog, run_logged


def build_environment(plan: dict[str, Any], system_logs: str, log: SystemLog) -> str:
    """Make (or reuse) the cached venv; return its directory. The build (pip installing the
    job's requirements) runs in the job's sandbox, able to write the venv only."""
    import fcntl

    env = plan["environment"]
    venv = env["dir"]
    for note in env.get("notes") or []:
        log.write(f"environment: {note}")
    ready = os.path.join(venv, ".ready")
    if os.path.exists(ready):
        log.write(f"environment: reusing {venv}")
        return venv
    os.makedirs(os.path.dirname(venv), exist_ok=True)
    build_log = os.path.join(system_logs, "environment_build.txt")
    with open(venv + ".lock", "a") as lock:
        log.write(f"environment: waiting for the build lock of {venv}")
        fcntl.flock(lock.fileno(), fcntl.LOCK_EX)
        try:
            if os.path.exists(ready):
                log.write(f"environment: reusing {venv} (built meanwhile)")
                return venv
            if os.path.exists(venv):
                shutil.rmtree(venv)
            os.makedirs(venv)
            box = sandbox_argv(plan, writable=[venv]) if sandboxed(plan) else []
            reqs = list(env.get("requirements") or [])
            log.write(f"environment: building {venv} with {env['python']}")
            argv = [env["python"], "-m", "venv"]
            if not reqs:
                argv.append("--without-pip")
            run_logged([*box, *argv, venv], build_log, log)
            if reqs:
                pip = os.path.join(venv, "bin", "pip")
                run_logged(
                    [*box, pip, "install", "--disable-pip-version-check", "--no-input", *reqs],
                    build_log,
                    log,
                )
            with open(ready, "w") as f:
                f.write(contract.now_iso() + "\n")
            log.write("environment: ready")
        except BaseException:
            shutil.rmtree(venv, ignore_errors=True)
            raise
        finally:
            fcntl.flock(lock.fileno(), fcntl.LOCK_UN)
    return venv
