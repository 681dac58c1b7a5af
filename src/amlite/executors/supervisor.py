"""The job supervisor: a standalone, stdlib-only script that runs one ``RunPlan``.

Started as ``python -S -E supervisor.py RUN_DIR`` in its own session, so it starts fast and
keeps running when the server stops. It must not import amlite. Files in ``RUN_DIR``:

- reads ``plan.json`` (``RunPlan.to_json()``) and, on cancel, ``cancel_reason``;
- writes ``supervisor.pid``, appends ``{"status", "at"}`` lines to ``events.jsonl`` and
  finally writes ``result.json`` atomically: ``{exitCode, outcome, reason, finishedAt}``.

Order of work: ``Running`` event, ``prepare`` steps, environment build, ``bash -c COMMAND`` in
its own process group (stdout and stderr to ``ARTIFACTS/user_logs/std_log.txt``), timeout /
cancel handling (SIGTERM to the group, SIGKILL after a grace period), ``Finalizing`` event,
``finalize`` steps, result. System events go to ``ARTIFACTS/system_logs/supervisor.log``.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from typing import Any

KILL_GRACE_SECONDS = float(os.environ.get("AMLITE_KILL_GRACE_SECONDS") or 3.0)
"""How long a process group gets between SIGTERM and SIGKILL."""

_SECRET_PREFIX = "AMLITE_"
"""Server variables holding a token never reach the job (the plan carries the job's own)."""


def now_iso() -> str:
    return datetime.now(UTC).isoformat()


class Canceled(Exception):
    """Raised between steps once a cancel was requested."""


class State:
    """What the SIGTERM handler needs to reach."""

    cancel_requested = False
    child: subprocess.Popen[bytes] | None = None


class SystemLog:
    def __init__(self, path: str) -> None:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        self._file = open(path, "a", buffering=1, encoding="utf-8")  # noqa: SIM115

    def write(self, message: str) -> None:
        self._file.write(f"{now_iso()} {message}\n")

    def close(self) -> None:
        self._file.close()


# -- files -------------------------------------------------------------------------------


def write_json_atomic(path: str, data: dict[str, Any]) -> None:
    tmp = f"{path}.tmp.{os.getpid()}"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(data, f)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def append_event(run_dir: str, status: str) -> None:
    line = json.dumps({"status": status, "at": now_iso()}) + "\n"
    with open(os.path.join(run_dir, "events.jsonl"), "a", encoding="utf-8") as f:
        f.write(line)


def _remove(path: str) -> None:
    if os.path.islink(path) or os.path.isfile(path):
        os.unlink(path)
    elif os.path.isdir(path):
        shutil.rmtree(path)


def _download(url: str, dst: str) -> None:
    import urllib.request  # imported only when needed: it is slow to import

    if not url.lower().startswith(("http://", "https://")):
        raise ValueError(f"cannot download {url!r}: only http(s) URLs are supported")
    os.makedirs(os.path.dirname(dst) or ".", exist_ok=True)
    tmp = f"{dst}.part"
    with urllib.request.urlopen(url, timeout=60) as resp, open(tmp, "wb") as out:
        shutil.copyfileobj(resp, out, 1024 * 1024)
    os.replace(tmp, dst)


def run_step(step: dict[str, str]) -> None:
    op, src, dst = step["op"], step["src"], step["dst"]
    if op == "mkdir":
        os.makedirs(dst, exist_ok=True)
    elif op == "copy":
        if not os.path.exists(src):
            raise FileNotFoundError(f"{src} does not exist")
        _remove(dst)
        os.makedirs(os.path.dirname(dst) or ".", exist_ok=True)
        if os.path.isdir(src):
            shutil.copytree(src, dst, symlinks=True)
        else:
            shutil.copy2(src, dst)
    elif op == "copy_into":
        if not os.path.exists(src):
            return
        os.makedirs(dst, exist_ok=True)
        if os.path.isdir(src):
            shutil.copytree(src, dst, symlinks=True, dirs_exist_ok=True)
        else:
            shutil.copy2(src, os.path.join(dst, os.path.basename(src)))
    elif op == "link":
        os.makedirs(os.path.dirname(dst) or ".", exist_ok=True)
        if os.path.lexists(dst):
            _remove(dst)
        os.symlink(src, dst)
    elif op == "download":
        _download(src, dst)
    else:
        raise ValueError(f"unknown file operation {op!r}")


# -- processes ---------------------------------------------------------------------------


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _signal_group(pgid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


def terminate_group(proc: subprocess.Popen[bytes], grace: float) -> None:
    """SIGTERM the process group of ``proc``; SIGKILL whatever is left after ``grace``."""
    pgid = proc.pid
    _signal_group(pgid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        if proc.poll() is not None and not _group_alive(pgid):
            return
        time.sleep(0.02)
    _signal_group(pgid, signal.SIGKILL)
    proc.wait()
    end = time.monotonic() + 2.0
    while _group_alive(pgid) and time.monotonic() < end:
        time.sleep(0.01)


def reap_leftovers(proc: subprocess.Popen[bytes]) -> None:
    """Background processes the command left in its group end with it."""
    if _group_alive(proc.pid):
        terminate_group(proc, min(KILL_GRACE_SECONDS, 1.0))


def on_sigterm(signum: int, frame: object) -> None:
    State.cancel_requested = True
    child = State.child
    if child is not None and child.returncode is None:
        _signal_group(child.pid, signal.SIGTERM)


def check_cancel() -> None:
    if State.cancel_requested:
        raise Canceled()


def run_logged(argv: list[str], log_path: str, log: SystemLog) -> None:
    """Run a build command in its own group, output appended to ``log_path``; cancellable."""
    log.write("$ " + " ".join(argv))
    with open(log_path, "ab") as out:
        proc = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        State.child = proc
        try:
            code = proc.wait()
        finally:
            State.child = None
    if State.cancel_requested:
        terminate_group(proc, KILL_GRACE_SECONDS)
        raise Canceled()
    if code != 0:
        raise RuntimeError(f"{argv[0]} {argv[1]} exited with code {code} (see {log_path})")


# -- environments ------------------------------------------------------------------------


def build_environment(env: dict[str, Any], system_logs: str, log: SystemLog) -> str:
    """Make (or reuse) the cached venv; return its directory."""
    import fcntl

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
            reqs = list(env.get("requirements") or [])
            log.write(f"environment: building {venv} with {env['python']}")
            argv = [env["python"], "-m", "venv"]
            if not reqs:
                argv.append("--without-pip")
            run_logged([*argv, venv], build_log, log)
            if reqs:
                pip = os.path.join(venv, "bin", "pip")
                run_logged(
                    [pip, "install", "--disable-pip-version-check", "--no-input", *reqs],
                    build_log,
                    log,
                )
            with open(ready, "w") as f:
                f.write(now_iso() + "\n")
            log.write("environment: ready")
        except BaseException:
            shutil.rmtree(venv, ignore_errors=True)
            raise
        finally:
            fcntl.flock(lock.fileno(), fcntl.LOCK_UN)
    return venv


def command_env(plan: dict[str, Any], venv: str | None) -> dict[str, str]:
    env = {
        k: v for k, v in os.environ.items() if not (k.startswith(_SECRET_PREFIX) and "TOKEN" in k)
    }
    env.setdefault("PYTHONUNBUFFERED", "1")
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


# -- the run -----------------------------------------------------------------------------


def run_command(
    plan: dict[str, Any], env: dict[str, str], log: SystemLog
) -> tuple[int, str | None]:
    """Run the command; return (exit code, cancel reason or None)."""
    std_log = os.path.join(plan["artifacts_dir"], "user_logs", "std_log.txt")
    timeout = plan.get("timeout_seconds")
    log.write(f"command: {plan['command']}")
    with open(std_log, "ab", buffering=0) as out:
        proc = subprocess.Popen(
            ["bash", "-c", plan["command"]],
            cwd=plan["working_dir"],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        State.child = proc
        if State.cancel_requested:  # a SIGTERM that arrived while we were starting it
            _signal_group(proc.pid, signal.SIGTERM)
        log.write(f"command started, pid {proc.pid}")
        timed_out = False
        try:
            proc.wait(timeout=float(timeout) if timeout else None)
        except subprocess.TimeoutExpired:
            timed_out = True
            log.write(f"timeout after {timeout:g} s: stopping the process group")
        if timed_out or State.cancel_requested:
            terminate_group(proc, KILL_GRACE_SECONDS)
        else:
            reap_leftovers(proc)
        State.child = None
    code = proc.returncode
    log.write(f"command ended with code {code}")
    if timed_out:
        return code, f"timeout after {timeout:g} s"
    if State.cancel_requested:
        return code, None
    return code, ""


def cancel_reason(run_dir: str) -> str:
    try:
        with open(os.path.join(run_dir, "cancel_reason"), encoding="utf-8") as f:
            text = f.read().strip()
    except OSError:
        text = ""
    return text or "canceled"


def supervise(run_dir: str) -> dict[str, Any]:
    with open(os.path.join(run_dir, "plan.json"), encoding="utf-8") as f:
        plan: dict[str, Any] = json.load(f)
    artifacts = plan["artifacts_dir"]
    system_logs = os.path.join(artifacts, "system_logs")
    os.makedirs(os.path.join(artifacts, "user_logs"), exist_ok=True)
    log = SystemLog(os.path.join(system_logs, "supervisor.log"))
    log.write(f"supervisor {os.getpid()} for {plan.get('job_id')}")

    def result(code: int | None, outcome: str, reason: str | None) -> dict[str, Any]:
        log.write(f"outcome {outcome}" + (f": {reason}" if reason else ""))
        return {"exitCode": code, "outcome": outcome, "reason": reason, "finishedAt": now_iso()}

    try:
        if plan.get("fail_reason"):
            return result(None, "Failed", plan["fail_reason"])
        append_event(run_dir, "Running")
        code: int | None = None
        try:
            for step in plan.get("prepare") or []:
                check_cancel()
                run_step(step)
            venv = None
            if plan.get("environment"):
                check_cancel()
                venv = build_environment(plan["environment"], system_logs, log)
            check_cancel()
            code, why = run_command(plan, command_env(plan, venv), log)
        except Canceled:
            why = None
        except Exception as exc:
            log.write(f"preparation failed: {exc!r}")
            return result(None, "Failed", f"preparation failed: {exc}")
        if why is None:
            outcome, reason = "Canceled", cancel_reason(run_dir)
        elif why:
            outcome, reason = "Canceled", why
        elif code == 0:
            outcome, reason = "Completed", None
        elif code is not None and code < 0:
            outcome, reason = "Failed", f"command killed by signal {-code}"
        else:
            outcome, reason = "Failed", f"command exited with code {code}"
        append_event(run_dir, "Finalizing")
        for step in plan.get("finalize") or []:
            try:
                run_step(step)
            except Exception as exc:
                log.write(f"finalize step {step} failed: {exc!r}")
                if outcome == "Completed":
                    outcome, reason = "Failed", f"finalizing failed: {exc}"
        return result(code, outcome, reason)
    finally:
        log.close()


def _own_start_time() -> str:
    """Field 22 of /proc/self/stat, so a reader can tell this process from a later one
    that reuses its pid."""
    try:
        with open("/proc/self/stat", "rb") as f:
            raw = f.read().decode("utf-8", "replace")
        return raw[raw.rfind(")") + 2 :].split()[19]
    except (OSError, IndexError):
        return "-"


def wait_for_run_dir() -> str | None:
    """A spare supervisor, started ahead of time with ``--wait``, is told its run directory
    on stdin; EOF (the server stopped or no longer needs it) means exit."""
    line = sys.stdin.readline().strip()
    if not line:
        return None
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.close(devnull)
    err = os.open(
        os.path.join(line, "supervisor.stderr"), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644
    )
    os.dup2(err, 2)
    os.close(err)
    return line


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        sys.stderr.write("usage: supervisor.py RUN_DIR | --wait\n")
        return 2
    given = wait_for_run_dir() if argv[1] == "--wait" else argv[1]
    if given is None:
        return 0
    run_dir = os.path.abspath(given)
    signal.signal(signal.SIGTERM, on_sigterm)
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    with open(os.path.join(run_dir, "supervisor.pid"), "w") as f:
        f.write(f"{os.getpid()} {_own_start_time()}\n")
    try:
        res = supervise(run_dir)
    except BaseException as exc:  # the result must always be written
        res = {
            "exitCode": None,
            "outcome": "Failed",
            "reason": f"supervisor error: {exc!r}",
            "finishedAt": now_iso(),
        }
    write_json_atomic(os.path.join(run_dir, "result.json"), res)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
