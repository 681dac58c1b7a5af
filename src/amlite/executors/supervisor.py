"""The job supervisor: a standalone, stdlib-only script that runs one ``RunPlan``.

Started as ``python -S -E supervisor.py RUN_DIR`` in its own session, so it starts fast and
keeps running when the server stops. It must not import amlite. Files in ``RUN_DIR``:

- reads ``plan.json`` (``RunPlan.to_json()``) and, on cancel, ``cancel_reason``. A cancel
  arrives as SIGTERM or as the ``cancel_reason`` file appearing (looked for every
  ``CANCEL_POLL_SECONDS``), which is how a cluster backend cancels without a signal;
- writes ``supervisor.pid``, appends ``{"status", "at"}`` lines to ``events.jsonl`` and
  finally writes ``result.json`` atomically: ``{exitCode, outcome, reason, finishedAt}``.

Order of work: ``Running`` event, ``prepare`` steps, environment build, ``bash -c COMMAND`` in
its own process group (stdout and stderr to ``ARTIFACTS/user_logs/std_log.txt``), timeout /
cancel handling (SIGTERM to the group, SIGKILL after a grace period), ``Finalizing`` event,
``finalize`` steps, result. System events go to ``ARTIFACTS/system_logs/supervisor.log``.

A distributed plan lists its ``processes`` (name, log, extra env, argv): they all start, each
in its own process group; the first one to fail fails the job and the others are stopped, as
they all are on cancel or timeout. Stopping a group also stops the groups of its descendants
(``mpirun`` puts each rank in a group of its own).
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import shutil
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from typing import Any

KILL_GRACE_SECONDS = float(os.environ.get("AMLITE_KILL_GRACE_SECONDS") or 3.0)
"""How long a process group gets between SIGTERM and SIGKILL."""
CANCEL_POLL_SECONDS = 0.25
"""How often waits look for the ``cancel_reason`` file."""

_SECRET_PREFIX = "AMLITE_"
"""Server variables holding a token never reach the job (the plan carries the job's own)."""


def now_iso() -> str:
    return datetime.now(UTC).isoformat()


class Canceled(Exception):
    """Raised between steps once a cancel was requested."""


class StartError(Exception):
    """A process of the command could not be started (the others were stopped)."""


class State:
    """What the SIGTERM handler needs to reach."""

    cancel_requested = False
    child: subprocess.Popen[bytes] | None = None
    """A build step's process."""
    wakeup_fd: int | None = None
    """Readable once a signal arrived (``signal.set_wakeup_fd``), so waits end at once."""
    run_dir: str | None = None
    """Where ``cancel_reason`` appears when the job is cancelled."""


def cancel_seen() -> bool:
    """Whether a cancel arrived, by signal or by the ``cancel_reason`` file."""
    run_dir = State.run_dir
    if not State.cancel_requested and run_dir is not None:
        State.cancel_requested = os.path.exists(os.path.join(run_dir, "cancel_reason"))
    return State.cancel_requested


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


# -- blob datastores (Azure Blob REST with a SAS URL; docs/datastores.md) -----------------
# A step's URL is ``{container URL}?{SAS}#{blob path}``; the fragment is never sent.

BLOB_WORKERS = 8
BLOB_SINGLE_PUT = 32 * 1024 * 1024
BLOB_BLOCK = 8 * 1024 * 1024


def _blob_parts(url: str) -> tuple[str, str, str]:
    from urllib.parse import unquote

    base, _, fragment = url.partition("#")
    container, _, query = base.partition("?")
    return container.rstrip("/"), query, unquote(fragment).strip("/")


def _blob_url(container: str, query: str, name: str, extra: str = "") -> str:
    from urllib.parse import quote

    params = "&".join(p for p in (extra, query) if p)
    return f"{container}/{quote(name)}" + (f"?{params}" if params else "")


def _blob_call(
    method: str,
    url: str,
    data: bytes | None = None,
    headers: dict[str, str] | None = None,
    sink: str | None = None,
) -> bytes:
    """One REST call, retried on 5xx/connection errors; errors never show the SAS."""
    import urllib.error
    import urllib.request

    where = url.split("?", 1)[0]
    last: Exception | None = None
    for attempt in range(4):
        req = urllib.request.Request(url, data=data, method=method, headers=headers or {})
        try:
            with urllib.request.urlopen(req, timeout=120) as resp:
                if sink is None:
                    return bytes(resp.read())
                tmp = f"{sink}.part"
                with open(tmp, "wb") as out:
                    shutil.copyfileobj(resp, out, 1024 * 1024)
                os.replace(tmp, sink)
                return b""
        except urllib.error.HTTPError as exc:
            if exc.code < 500:
                raise OSError(f"{method} {where}: HTTP {exc.code} {exc.reason}") from None
            last = OSError(f"{method} {where}: HTTP {exc.code} {exc.reason}")
        except (urllib.error.URLError, OSError) as exc:
            last = OSError(f"{method} {where}: {getattr(exc, 'reason', exc)}")
        time.sleep(0.5 * (attempt + 1))
    raise last or OSError(f"{method} {where} failed")


def _blob_list(container: str, query: str, prefix: str) -> list[tuple[str, int]]:
    import xml.etree.ElementTree as ET
    from urllib.parse import quote

    out: list[tuple[str, int]] = []
    marker = ""
    while True:
        extra = f"restype=container&comp=list&prefix={quote(prefix)}"
        if marker:
            extra += f"&marker={quote(marker)}"
        params = "&".join(p for p in (extra, query) if p)
        root = ET.fromstring(_blob_call("GET", f"{container}?{params}"))
        for blob in root.iter("Blob"):
            name = blob.findtext("Name") or ""
            size = int(blob.findtext("Properties/Content-Length") or 0)
            out.append((name, size))
        marker = root.findtext("NextMarker") or ""
        if not marker:
            return out


def _blob_download(url: str, dst: str) -> None:
    """The blob ``path`` to file ``dst``, or every blob below ``path/`` into directory ``dst``."""
    from concurrent.futures import ThreadPoolExecutor

    container, query, prefix = _blob_parts(url)
    listed = _blob_list(container, query, prefix)
    jobs: list[tuple[str, str]] = []
    if prefix and any(name == prefix for name, _ in listed):
        jobs.append((prefix, dst))
    else:
        under = f"{prefix}/" if prefix else ""
        real_dst = os.path.realpath(dst)
        for name, _size in listed:
            if not name.startswith(under) or name.endswith("/"):
                continue
            target = os.path.realpath(os.path.join(dst, *name[len(under) :].split("/")))
            if not target.startswith(real_dst + os.sep):
                raise ValueError(f"blob {name!r} would land outside {dst}")
            jobs.append((name, target))
        if not jobs:
            raise FileNotFoundError(f"nothing at {prefix!r} in {container}")
    for _name, target in jobs:
        os.makedirs(os.path.dirname(target) or ".", exist_ok=True)
    with ThreadPoolExecutor(BLOB_WORKERS) as pool:
        futures = [
            pool.submit(_blob_call, "GET", _blob_url(container, query, n), None, None, t)
            for n, t in jobs
        ]
        for done in futures:
            done.result()


def _blob_put(container: str, query: str, name: str, path: str) -> None:
    import base64
    from urllib.parse import quote

    size = os.path.getsize(path)
    if size <= BLOB_SINGLE_PUT:
        with open(path, "rb") as f:
            body = f.read()
        headers = {"x-ms-blob-type": "BlockBlob", "Content-Length": str(len(body))}
        _blob_call("PUT", _blob_url(container, query, name), body, headers)
        return
    ids: list[str] = []
    with open(path, "rb") as f:
        while True:
            chunk = f.read(BLOB_BLOCK)
            if not chunk:
                break
            block = base64.b64encode(f"{len(ids):08d}".encode()).decode()
            ids.append(block)
            extra = "comp=block&blockid=" + quote(block, safe="")
            length = {"Content-Length": str(len(chunk))}
            _blob_call("PUT", _blob_url(container, query, name, extra), chunk, length)
    latest = "".join(f"<Latest>{i}</Latest>" for i in ids)
    body = f'<?xml version="1.0" encoding="utf-8"?><BlockList>{latest}</BlockList>'.encode()
    length = {"Content-Length": str(len(body))}
    _blob_call("PUT", _blob_url(container, query, name, "comp=blocklist"), body, length)


def _blob_upload(src: str, url: str) -> None:
    """Every regular file below directory ``src`` (or file ``src``) to blobs below ``path``;
    a missing ``src`` is skipped; symlinks are not followed."""
    from concurrent.futures import ThreadPoolExecutor

    if not os.path.exists(src):
        return
    container, query, prefix = _blob_parts(url)
    files: list[tuple[str, str]] = []
    if os.path.isfile(src) and not os.path.islink(src):
        files.append((f"{prefix}/{os.path.basename(src)}".lstrip("/"), src))
    for dirpath, dirs, names in os.walk(src):
        dirs.sort()
        for fname in sorted(names):
            full = os.path.join(dirpath, fname)
            if os.path.isfile(full) and not os.path.islink(full):
                rel = os.path.relpath(full, src).replace(os.sep, "/")
                files.append((f"{prefix}/{rel}".lstrip("/"), full))
    with ThreadPoolExecutor(BLOB_WORKERS) as pool:
        for done in [pool.submit(_blob_put, container, query, n, p) for n, p in files]:
            done.result()


def step_text(step: dict[str, str]) -> str:
    """A step for a log line: a SAS (a URL's query) is never written."""
    return f"{step['op']} {step['src'].split('?', 1)[0]} -> {step['dst'].split('?', 1)[0]}"


_IN_RUN_OPS = ("copy", "link", "download", "blob_download")
"""File operations whose destination is always inside the run directory."""


def check_step(step: dict[str, str], run_dir: str) -> None:
    """Defence in depth against a plan whose paths were built from hostile names: every
    destination is an absolute path without ``..`` or NUL, and a ``copy``, ``link`` or
    ``download`` lands inside the run directory (its parent resolved through any links)."""
    dst = step["src"] if step["op"] == "blob_upload" else step["dst"]  # the other is a URL
    if "\0" in dst or "\0" in step["src"]:
        raise ValueError(f"{step['op']}: a path holds a NUL byte")
    if not os.path.isabs(dst) or ".." in dst.split(os.sep):
        raise ValueError(f"{step['op']}: destination {dst!r} is not a plain absolute path")
    if step["op"] in _IN_RUN_OPS:
        root = os.path.realpath(run_dir)
        parent = os.path.realpath(os.path.dirname(dst))
        if parent != root and not parent.startswith(root + os.sep):
            raise ValueError(f"{step['op']}: destination {dst!r} is outside the run directory")


def run_step(step: dict[str, str], run_dir: str) -> None:
    check_step(step, run_dir)
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
    elif op == "blob_download":
        _blob_download(src, dst)
    elif op == "blob_upload":
        _blob_upload(src, dst)
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


def _proc_table() -> dict[int, tuple[int, int, str]]:
    """pid -> (parent pid, process group, state) of every process, from ``/proc``."""
    table: dict[int, tuple[int, int, str]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as f:
                raw = f.read().decode("utf-8", "replace")
            fields = raw[raw.rfind(")") + 2 :].split()
            table[int(entry)] = (int(fields[1]), int(fields[2]), fields[0])
        except (OSError, IndexError, ValueError):
            continue
    return table


def tree_groups(roots: list[int]) -> set[int]:
    """The process groups of ``roots`` (each leads its own) and of all their descendants."""
    try:
        table = _proc_table()
    except OSError:
        return set(roots)
    children: dict[int, list[int]] = {}
    for pid, (ppid, _, _) in table.items():
        children.setdefault(ppid, []).append(pid)
    groups, todo = set(roots), list(roots)
    while todo:
        for child in children.get(todo.pop(), []):
            groups.add(table[child][1])
            todo.append(child)
    groups.discard(os.getpgrp())
    return groups


def _any_alive(groups: set[int]) -> bool:
    """Whether a process of ``groups`` still runs; zombies do not count (orphans may stay
    zombies for a while where the init process does not reap them)."""
    try:
        table = _proc_table()
    except OSError:
        return any(map(_group_alive, groups))
    return any(pgid in groups and state != "Z" for _, pgid, state in table.values())


def terminate_groups(procs: list[subprocess.Popen[bytes]], grace: float) -> None:
    """SIGTERM the process groups of ``procs`` and of their descendants; SIGKILL whatever is
    left after ``grace``."""
    roots = [p.pid for p in procs]
    groups = tree_groups(roots)
    for pgid in groups:
        _signal_group(pgid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        if all(p.poll() is not None for p in procs) and not _any_alive(groups):
            return
        time.sleep(0.02)
    groups |= tree_groups(roots)
    for pgid in groups:
        _signal_group(pgid, signal.SIGKILL)
    for p in procs:
        p.wait()
    end = time.monotonic() + 2.0
    while _any_alive(groups) and time.monotonic() < end:
        time.sleep(0.01)


def terminate_group(proc: subprocess.Popen[bytes], grace: float) -> None:
    """SIGTERM the process group of ``proc``; SIGKILL whatever is left after ``grace``."""
    terminate_groups([proc], grace)


def reap_leftovers(procs: list[subprocess.Popen[bytes]]) -> None:
    """Background processes the command left in its groups end with it."""
    left = [p for p in procs if _group_alive(p.pid)]
    if left:
        terminate_groups(left, min(KILL_GRACE_SECONDS, 1.0))


def on_sigterm(signum: int, frame: object) -> None:
    """A cancel. A build step is stopped here; the command's processes are stopped by
    ``run_command``, woken through the wakeup fd, which first finds their descendants."""
    State.cancel_requested = True
    child = State.child
    if child is not None and child.returncode is None:
        _signal_group(child.pid, signal.SIGTERM)


def wait_any(procs: list[subprocess.Popen[bytes]], timeout: float | None) -> None:
    """Block until one of ``procs`` ends, a signal arrives, or ``timeout`` passes."""
    fds: list[int] = []
    try:
        try:
            fds = [os.pidfd_open(p.pid) for p in procs]
        except (AttributeError, OSError):  # no pidfds (old kernel): poll
            time.sleep(0.02 if timeout is None else max(0.0, min(0.02, timeout)))
            return
        wakeup = [] if State.wakeup_fd is None else [State.wakeup_fd]
        ready, _, _ = select.select(fds + wakeup, [], [], timeout)
        if State.wakeup_fd is not None and State.wakeup_fd in ready:
            with contextlib.suppress(OSError):
                os.read(State.wakeup_fd, 512)
    finally:
        for fd in fds:
            os.close(fd)


def check_cancel() -> None:
    if cancel_seen():
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
            while True:
                try:
                    code = proc.wait(CANCEL_POLL_SECONDS)
                    break
                except subprocess.TimeoutExpired:
                    if cancel_seen():
                        terminate_group(proc, KILL_GRACE_SECONDS)
                        code = proc.wait()
                        break
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


class Outcome:
    """How the command's processes ended."""

    def __init__(self, code: int | None, why: str | None, failed: str = "command") -> None:
        self.code = code
        """The exit code: the first failing process's, else 0 (or the stopped one's)."""
        self.why = why
        """None: canceled; "": ended by itself; else why it was stopped (timeout)."""
        self.failed = failed
        """The name of the process whose code is reported."""


def process_specs(plan: dict[str, Any]) -> list[dict[str, Any]]:
    """The plan's processes; a plan without any runs one ``bash -c COMMAND``."""
    specs: list[dict[str, Any]] = plan.get("processes") or []
    return specs or [{"name": "command", "log": "user_logs/std_log.txt"}]


def start_processes(
    plan: dict[str, Any], env: dict[str, str], log: SystemLog
) -> list[subprocess.Popen[bytes]]:
    """Start every process, each in its own group, or none: when one cannot start, those
    already started are stopped and StartError says which."""
    specs = process_specs(plan)
    procs: list[subprocess.Popen[bytes]] = []
    for spec in specs:
        log_path = os.path.join(plan["artifacts_dir"], spec["log"])
        os.makedirs(os.path.dirname(log_path), exist_ok=True)
        argv = spec.get("argv") or ["bash", "-c", plan["command"]]
        try:
            with open(log_path, "ab", buffering=0) as out:
                proc = subprocess.Popen(
                    argv,
                    cwd=plan["working_dir"],
                    env={**env, **(spec.get("env") or {})},
                    stdin=subprocess.DEVNULL,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
        except OSError as exc:
            terminate_groups(procs, KILL_GRACE_SECONDS)
            raise StartError(f"cannot start {spec['name']}: {exc}") from exc
        procs.append(proc)
        label = "" if len(specs) == 1 else f" ({spec['name']}, log {spec['log']})"
        log.write(f"command started, pid {proc.pid}{label}")
    return procs


def run_command(plan: dict[str, Any], env: dict[str, str], log: SystemLog) -> Outcome:
    """Run the command's processes until they all end, one fails, a cancel or the timeout."""
    timeout = plan.get("timeout_seconds")
    names = [spec["name"] for spec in process_specs(plan)]
    log.write(f"command: {plan['command']}")
    procs = start_processes(plan, env, log)
    deadline = time.monotonic() + float(timeout) if timeout else None
    timed_out = False
    failed: int | None = None
    try:
        while not cancel_seen():
            codes = [p.poll() for p in procs]
            failed = next((i for i, c in enumerate(codes) if c not in (None, 0)), None)
            alive = [p for p, c in zip(procs, codes, strict=True) if c is None]
            if failed is not None or not alive:
                break
            left = None if deadline is None else deadline - time.monotonic()
            if left is not None and left <= 0:
                timed_out = True
                log.write(f"timeout after {timeout:g} s: stopping the process group")
                break
            wait_any(alive, CANCEL_POLL_SECONDS if left is None else min(left, CANCEL_POLL_SECONDS))
        if failed is not None and len(procs) > 1:
            log.write(f"{names[failed]} failed: stopping the other processes")
        if timed_out or State.cancel_requested or failed is not None:
            terminate_groups(procs, KILL_GRACE_SECONDS)
        else:
            reap_leftovers(procs)
    except BaseException:  # never leave a rank running
        terminate_groups(procs, KILL_GRACE_SECONDS)
        raise
    codes = [p.returncode for p in procs]
    if len(procs) == 1:
        log.write(f"command ended with code {codes[0]}")
    else:
        for name, c in zip(names, codes, strict=True):
            log.write(f"{name} ended with code {c}")
    if failed is None:
        failed = next((i for i, c in enumerate(codes) if c != 0), 0)
    code, name = codes[failed], names[failed]
    if timed_out:
        return Outcome(code, f"timeout after {timeout:g} s", name)
    if State.cancel_requested:
        return Outcome(code, None, name)
    return Outcome(code, "", name)


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
                run_step(step, run_dir)
            venv = None
            if plan.get("environment"):
                check_cancel()
                venv = build_environment(plan["environment"], system_logs, log)
            check_cancel()
            ended = run_command(plan, command_env(plan, venv), log)
            code, why, who = ended.code, ended.why, ended.failed
        except Canceled:
            why = None
        except StartError as exc:
            log.write(str(exc))
            return result(None, "Failed", str(exc))
        except Exception as exc:
            log.write(f"preparation failed: {exc!r}")
            return result(None, "Failed", f"preparation failed: {exc}")
        others = "; the other processes were stopped" if len(process_specs(plan)) > 1 else ""
        if why is None:
            outcome, reason = "Canceled", cancel_reason(run_dir)
        elif why:
            outcome, reason = "Canceled", why
        elif code == 0:
            outcome, reason = "Completed", None
        elif code is not None and code < 0:
            outcome, reason = "Failed", f"{who} killed by signal {-code}{others}"
        else:
            outcome, reason = "Failed", f"{who} exited with code {code}{others}"
        append_event(run_dir, "Finalizing")
        for step in plan.get("finalize") or []:
            try:
                run_step(step, run_dir)
            except Exception as exc:
                log.write(f"finalize step {step_text(step)} failed: {exc!r}")
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
    State.run_dir = run_dir
    signal.signal(signal.SIGTERM, on_sigterm)
    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_r, False)
    os.set_blocking(wake_w, False)
    signal.set_wakeup_fd(wake_w)
    State.wakeup_fd = wake_r
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
