"""The job supervisor: a standalone, stdlib-only script that runs one ``RunPlan``.

Started as ``python -S -E supervisor.py [--notify] RUN_DIR`` in its own session, so it starts
fast and keeps running when the server stops. It must not import amlite. With ``--notify``
its standard output is a pipe the server reads: the supervisor closes it as soon as
``result.json`` is in place, before syncing that file to disk and exiting, so the server
notices the end without waiting for either. Files in ``RUN_DIR``:

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

A plan with a ``sandbox`` of mode ``bwrap`` runs every process of the command, and the
environment build, under bubblewrap (``sandbox_argv``): the server's home (and its user's) is
an empty tmpfs except the job's working directory, inputs, outputs and mounts (bind mounts,
read-only for read-only inputs) and its venv (read-only); ``/tmp`` is the run's own ``tmp``;
the job sees only its own processes and IPC objects and holds no capabilities. Whatever the
mode, the job's environment holds none of the server's settings (``job_environ``), and what
the job left in its output folders is copied out only if it is not a link (``run_step``).
See docs/security.md.
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

SERVER_ONLY_PREFIXES = ("AMLITE_",)
"""The server's settings (home, database URL with its password, tokens) never reach a job;
the plan's ``env`` carries what the job may know (its own token, ``AMLITE_URL``)."""
SERVER_ONLY_NAMES = frozenset({"PGPASSWORD", "PGPASSFILE"})
"""libpq's password variables, which a PostgreSQL store may be configured with."""


def job_environ(environ: dict[str, str] | os._Environ[str]) -> dict[str, str]:
    """``environ`` without the server's settings and secrets: what a job's processes (and
    the supervisor itself) inherit."""
    return {
        k: v
        for k, v in environ.items()
        if not k.startswith(SERVER_ONLY_PREFIXES) and k not in SERVER_ONLY_NAMES
    }


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


def write_json_atomic(path: str, data: dict[str, Any], *, sync: bool = True) -> None:
    tmp = f"{path}.tmp.{os.getpid()}"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(data, f)
        f.flush()
        if sync:
            os.fsync(f.fileno())
    os.replace(tmp, path)


def sync_file(path: str) -> None:
    """Flush a file and its directory entry to disk."""
    for target, flags in ((path, os.O_RDONLY), (os.path.dirname(path) or ".", os.O_RDONLY)):
        with contextlib.suppress(OSError):
            fd = os.open(target, flags)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)


def take_notify_fd() -> int:
    """Keep the server's pipe (standard output) on a private descriptor that no child
    inherits, and point standard output at /dev/null."""
    fd = os.dup(1)  # non-inheritable (PEP 446)
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    os.close(devnull)
    return fd


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


_IN_RUN_OPS = ("copy", "link", "download", "mount", "mount_ro", "blob_download")
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


def _mount_point(src: str, dst: str) -> None:
    """An empty directory (or file) at ``dst`` for a bind mount of ``src``."""
    if not os.path.exists(src):
        raise FileNotFoundError(f"{src} does not exist")
    if os.path.lexists(dst) and (os.path.islink(dst) or os.path.isdir(src) != os.path.isdir(dst)):
        _remove(dst)
    os.makedirs(os.path.dirname(dst) or ".", exist_ok=True)
    if os.path.isdir(src):
        os.makedirs(dst, exist_ok=True)
    elif not os.path.exists(dst):
        open(dst, "ab").close()


def _job_made_link(src: str, confine: str) -> bool:
    """Whether ``src``, a path the job controls, is or goes through a symlink, or leads out of
    ``confine`` (its run directory): copying it from outside the sandbox would copy what the
    link points to (the server's home) into the job's artifacts."""
    real = os.path.realpath(src)
    root = os.path.realpath(confine)
    inside = real == root or real.startswith(root.rstrip(os.sep) + os.sep)
    return os.path.islink(src) or not inside or real != os.path.abspath(src)


def run_step(
    step: dict[str, str], run_dir: str, sandboxed: bool = False, confine: str | None = None
) -> None:
    """Perform one file step; in a sandbox a mount only makes its mount point (the bind
    mount itself is in ``sandbox_argv``). ``confine``: the run directory, for the steps
    after the command, whose sources the job controls (a ``copy_into`` source that is a
    link is not copied)."""
    check_step(step, run_dir)
    op, src, dst = step["op"], step["src"], step["dst"]
    job_made = op == "copy_into" and confine is not None and os.path.lexists(src)
    if job_made and _job_made_link(src, confine or ""):
        raise ValueError(f"{src} is a symbolic link or leads through one: not copied")
    if op in ("mount", "mount_ro") and sandboxed:
        _mount_point(src, dst)
        return
    if op in ("mount", "mount_ro"):
        op = "link"
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
    log.write("$ " + " ".join(argv[argv.index("--") + 1 :] if "--" in argv else argv))
    with open(log_path, "ab") as out:
        proc = subprocess.Popen(
            argv,
            env=job_environ(os.environ),
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
        shown = argv[argv.index("--") + 1 :] if "--" in argv else argv
        raise RuntimeError(f"{shown[0]} {shown[1]} exited with code {code} (see {log_path})")


# -- the sandbox -------------------------------------------------------------------------


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
    exes = [sys.executable] + ([plan["environment"]["python"]] if plan.get("environment") else [])
    prefixes = {sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix}
    for exe in exes:
        real = os.path.realpath(shutil.which(exe) or exe)
        prefixes.add(os.path.dirname(os.path.dirname(real)))
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


# -- environments ------------------------------------------------------------------------


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
                f.write(now_iso() + "\n")
            log.write("environment: ready")
        except BaseException:
            shutil.rmtree(venv, ignore_errors=True)
            raise
        finally:
            fcntl.flock(lock.fileno(), fcntl.LOCK_UN)
    return venv


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
    box = sandbox_argv(plan) if sandboxed(plan) else []
    for spec in specs:
        log_path = os.path.join(plan["artifacts_dir"], spec["log"])
        os.makedirs(os.path.dirname(log_path), exist_ok=True)
        argv = [*box, *(spec.get("argv") or ["bash", "-c", plan["command"]])]
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
        boxed = sandboxed(plan)
        # what file steps are confined to: the job's run directory (a node of a multi-node
        # Ray job has its own run_dir below it, and its working directory beside that)
        job_run_dir = plan.get("job_run_dir") or run_dir
        log.write("sandbox: " + ("bwrap" if boxed else "none (the job runs unconfined)"))
        try:
            if boxed:
                os.makedirs(os.path.join(run_dir, "home"), exist_ok=True)
            for step in plan.get("prepare") or []:
                check_cancel()
                run_step(step, job_run_dir, boxed)
            venv = None
            if plan.get("environment"):
                check_cancel()
                venv = build_environment(plan, system_logs, log)
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
        shutil.rmtree(os.path.join(run_dir, "tmp"), ignore_errors=True)
        for step in plan.get("finalize") or []:
            try:
                run_step(step, job_run_dir, boxed, confine=job_run_dir)
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
    args = argv[1:]
    notify = bool(args) and args[0] == "--notify"
    if notify:
        args = args[1:]
    if len(args) != 1:
        sys.stderr.write("usage: supervisor.py [--notify] RUN_DIR | --wait\n")
        return 2
    notify_fd = take_notify_fd() if notify else None
    given = wait_for_run_dir() if args[0] == "--wait" else args[0]
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
    result_path = os.path.join(run_dir, "result.json")
    write_json_atomic(result_path, res, sync=notify_fd is None)
    if notify_fd is not None:
        os.close(notify_fd)  # the server reads the result now
        sync_file(result_path)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
