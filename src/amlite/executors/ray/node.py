"""A job on a Ray node, with or without amlite's home: ``python -m amlite_node.ray.node``.

Shipped to the cluster through Ray itself: ``RayExecutor`` puts this file, ``gang.py`` and
the supervisor package in a package ``amlite_node`` (``ray/`` and ``supervisor/`` in it, as
below ``amlite.executors``; a ``runtime_env`` ``py_modules`` entry, uploaded once per
content hash), the job's code in ``amlite_code`` (another, per code
snapshot) and the job's descriptor ``amlite_job.json`` (its plan, run directory, submission
id, the server's address and the job's token) in the Ray job's ``working_dir``. Stdlib only,
like the supervisor: it imports no amlite module but the supervisor's run-directory contract
(``supervisor/contract.py``, shipped beside it).

On each node it decides how the job reaches its files:

- **shared filesystem** (the fast path): the node sees the job's run directory, which holds
  ``ray_submission_id`` with this job's id. The supervisor runs on the run directory as on
  the server's own machine.
- **no shared filesystem**: the job works below ``AMLITE_NODE_ROOT`` (default
  ``$TMPDIR/amlite-node-UID``) on the node, at ``runs/SUBMISSION_ID`` (the same path on
  every node). Inputs on the workspace's local datastores are fetched through the server's
  file API with the job's token (mounts become downloads; Azure Blob steps go to the
  storage account directly, as they do on the server); the code comes from ``amlite_code``;
  an environment is built on the node, cached in ``envs/`` by its content hash. While the
  supervisor runs, new and changed files of the job's artifacts (logs, ``./outputs``) and of
  its writable outputs are pushed to the datastores every ``SYNC_SECONDS``, and the job's
  status is read (a cancel reaches the node that way); everything is pushed once more when
  the node's supervisor ends, before its result is given.

The process whose output is the Ray job's log (node 0's, or the gang driver's) prints the
job's status events and result as ``AMLITE_EVENT {json}`` / ``AMLITE_RESULT {json}`` lines,
which the server follows through Ray Jobs.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from typing import Any
from urllib.parse import quote

from ..supervisor import contract  # here and in the shipped ``amlite_node``

MARKER = "ray_submission_id"
"""In the run directory (written by the server): seeing it with this job's id means the
node shares the server's filesystem."""
DESCRIPTOR = "amlite_job.json"
"""In the Ray job's working directory: what ``RayExecutor`` ships for the job."""
CODE_MODULE = "amlite_code"
SYNC_SECONDS = float(os.environ.get("AMLITE_NODE_SYNC_SECONDS") or 1.0)
API_VERSION = "2021-03-01-preview"
EVENT_TAG = "AMLITE_EVENT "
RESULT_TAG = "AMLITE_RESULT "
MODE_TAG = "AMLITE_MODE "
CANCELLING = ("CancelRequested", "Canceled")
READ_CHUNK = 8 * 1024 * 1024
SUPERVISOR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "supervisor")
"""The supervisor package beside ``ray/``, run by path (``python DIR`` runs its __main__)."""


def inside(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip(os.sep) + os.sep)


def node_root() -> str:
    default = os.path.join(tempfile.gettempdir(), f"amlite-node-{os.getuid()}")
    return os.environ.get("AMLITE_NODE_ROOT") or default


def local_run_dir(desc: dict[str, Any]) -> str:
    return os.path.join(node_root(), "runs", desc["sid"])


def sees_run_dir(desc: dict[str, Any]) -> bool:
    """Whether this node shares the server's filesystem (for this job; never if the
    server said ``shared_fs: off``)."""
    if desc.get("shared_fs") == "off":
        return False
    try:
        with open(os.path.join(desc["run_dir"], MARKER), encoding="utf-8") as f:
            return f.read().strip() == desc["sid"]
    except OSError:
        return False


def remap(value: Any, mapping: list[tuple[str, str]]) -> Any:
    """``value`` with every server path prefix of ``mapping`` replaced by the node's."""
    if isinstance(value, str):
        for old, new in mapping:
            if old in value:
                value = value.replace(old, new)
        return value
    if isinstance(value, list):
        return [remap(v, mapping) for v in value]
    if isinstance(value, dict):
        return {k: remap(v, mapping) for k, v in value.items()}
    return value


def path_mapping(desc: dict[str, Any], node: int = 0) -> list[tuple[str, str]]:
    """Server path -> node path: the run directory to the node's, the artifacts to a
    folder of the node's (one per node of the job: nodes may share a machine)."""
    root = local_run_dir(desc)
    art = os.path.join(root, "artifacts")
    mapping = [(desc["artifacts_dir"], art), (desc["run_dir"], root)]
    if node:  # also for a plan the gang driver already made the node's
        mapping.append((art, f"{art}-node{node}"))
    return mapping


# -- the server's file API, with the job's token ------------------------------------------


def lower_keys(items: Any) -> dict[str, str]:
    return {str(k).lower(): str(v) for k, v in items}


class Api:
    """The workspace's datastores and the job itself, through the server's REST API."""

    def __init__(self, desc: dict[str, Any]) -> None:
        self.base = desc["server_url"].rstrip("/") + desc["workspace"]
        self.token = desc["token"]
        self.job = desc["job"]

    def call(
        self, method: str, path: str, query: str = "", body: Any = None, size: int | None = None
    ) -> tuple[int, bytes, dict[str, str]]:
        """One request, retried on connection errors and 5xx; (status, body, headers with
        lower-case names)."""
        import urllib.error
        import urllib.request

        url = f"{self.base}{path}?api-version={API_VERSION}" + (f"&{query}" if query else "")
        headers = {"Authorization": f"Bearer {self.token}"}
        if size is not None:
            headers["Content-Length"] = str(size)
            headers["Content-Type"] = "application/octet-stream"
        last: Exception | None = None
        for attempt in range(4):
            if hasattr(body, "seek"):
                body.seek(0)
            request = urllib.request.Request(url, data=body, method=method, headers=headers)
            try:
                with urllib.request.urlopen(request, timeout=120) as resp:
                    return resp.status, resp.read(), lower_keys(resp.headers.items())
            except urllib.error.HTTPError as exc:
                if exc.code < 500:
                    return exc.code, exc.read(), lower_keys(exc.headers.items())
                last = OSError(f"{method} {path}: HTTP {exc.code}")
            except OSError as exc:
                last = OSError(f"{method} {path}: {getattr(exc, 'reason', exc)}")
            time.sleep(0.5 * (attempt + 1))
        raise last or OSError(f"{method} {path} failed")

    def _store(self, datastore: str) -> str:
        return f"/datastores/{quote(datastore, safe='')}"

    def listing(self, datastore: str, rel: str) -> list[tuple[str, int]]:
        status, body, _ = self.call("GET", self._store(datastore) + "/list", f"path={quote(rel)}")
        if status != 200:
            raise OSError(f"listing {datastore}/{rel}: HTTP {status}: {body[:200]!r}")
        return [(str(i["path"]), int(i["size"])) for i in json.loads(body)["value"]]

    def read_file(self, datastore: str, rel: str, dst: str) -> bool:
        """The file ``rel`` to ``dst``; False if there is none."""
        path = f"{self._store(datastore)}/files/{quote(rel)}"
        os.makedirs(os.path.dirname(dst) or ".", exist_ok=True)
        tmp = f"{dst}.part"
        offset = 0
        with open(tmp, "wb") as out:
            while True:
                status, body, headers = self.call("GET", path, f"offset={offset}")
                if status == 404:
                    os.unlink(tmp)
                    return False
                if status != 200:
                    raise OSError(f"reading {datastore}/{rel}: HTTP {status}: {body[:200]!r}")
                out.write(body)
                offset += len(body)
                total = int(headers.get("x-amlite-file-size") or offset)
                if offset >= total or not body:
                    break
        os.replace(tmp, dst)
        return True

    def fetch(self, datastore: str, rel: str, dst: str, missing_ok: bool = False) -> int:
        """A file (to file ``dst``) or a folder (into directory ``dst``); the file count."""
        rel = rel.strip("/")
        items = self.listing(datastore, rel)
        name = rel.rsplit("/", 1)[-1]
        if len(items) == 1 and items[0][0] == name and self.read_file(datastore, rel, dst):
            return 1
        if not items:
            if missing_ok:
                os.makedirs(dst, exist_ok=True)
                return 0
            raise FileNotFoundError(f"nothing at {rel!r} on datastore {datastore}")
        real = os.path.realpath(dst)
        for item, _ in items:
            target = os.path.realpath(os.path.join(dst, *item.split("/")))
            if not inside(target, real):
                raise ValueError(f"{item!r} would land outside {dst}")
            if not self.read_file(datastore, f"{rel}/{item}" if rel else item, target):
                raise FileNotFoundError(f"{datastore}/{rel}/{item} vanished while reading it")
        return len(items)

    def put(self, datastore: str, rel: str, src: str) -> None:
        with open(src, "rb") as f:
            size = os.fstat(f.fileno()).st_size
            path = f"{self._store(datastore)}/files/{quote(rel)}"
            status, body, _ = self.call("PUT", path, body=f, size=size)
        if status not in (200, 201):
            raise OSError(f"uploading {datastore}/{rel}: HTTP {status}: {body[:200]!r}")

    def status(self) -> str | None:
        """The job's status on the server; None if it cannot be read now."""
        try:
            code, body, _ = self.call("GET", f"/jobs/{quote(self.job, safe='')}")
            if code != 200:
                return None
            return str(json.loads(body)["properties"]["status"])
        except (OSError, ValueError, KeyError, TypeError):
            return None


class Pusher:
    """Pushes new and changed files of local folders to datastore folders."""

    def __init__(self, api: Api, targets: list[tuple[str, str, str, str]]) -> None:
        self.api = api
        self.targets = targets
        """(local folder or file, datastore, path on it, prefix for ``system_logs/``)."""
        self.seen: dict[str, tuple[int, int]] = {}
        self.errors = 0

    def files(self) -> list[tuple[str, str, str]]:
        found = []
        for local, datastore, prefix, node_label in self.targets:
            if os.path.isfile(local) and not os.path.islink(local):
                found.append((local, datastore, f"{prefix}/{os.path.basename(local)}"))
            for dirpath, dirs, names in os.walk(local):
                dirs.sort()
                for name in sorted(names):
                    full = os.path.join(dirpath, name)
                    if name.endswith((".part", ".tmp")) or not os.path.isfile(full):
                        continue
                    if os.path.islink(full):
                        continue
                    rel = os.path.relpath(full, local).replace(os.sep, "/")
                    if node_label and rel.startswith("system_logs/"):
                        rel = f"system_logs/{node_label}/{rel[len('system_logs/') :]}"
                    found.append((full, datastore, f"{prefix.strip('/')}/{rel}".lstrip("/")))
        return found

    def push(self, final: bool = False) -> int:
        """Push what changed; errors are counted (and raised when ``final``)."""
        count = 0
        for full, datastore, rel in self.files():
            try:
                st = os.stat(full)
            except OSError:
                continue
            key = (st.st_size, st.st_mtime_ns)
            if self.seen.get(full) == key:
                continue
            try:
                self.api.put(datastore, rel, full)
            except OSError:
                self.errors += 1
                if final:
                    raise
                continue
            self.seen[full] = key
            count += 1
        return count


# -- a plan for a node without the server's filesystem -------------------------------------


def localize(
    plan: dict[str, Any], desc: dict[str, Any], node: int = 0
) -> tuple[dict[str, Any], list[dict[str, Any]], list[tuple[str, str, str]]]:
    """The plan with the server's paths made the node's, the fetches to do before the
    supervisor starts, and the (local path, datastore, path) pushes of writable outputs.

    A ``copy``/``mount``/``mount_ro``/``link`` from a workspace datastore becomes a fetch
    (a writable ``mount`` is pushed back as well); the code snapshot comes from the shipped
    ``amlite_code``; ``mkdir`` and ``copy_into`` steps on a datastore become pushes."""
    stores, artifacts = desc["datastores"], desc["artifacts_dir"]

    def on_store(path: str) -> tuple[str, str] | None:
        if not inside(path, stores) or inside(path, artifacts) or path == stores:
            return None
        parts = os.path.relpath(path, stores).split(os.sep)
        return parts[0], "/".join(parts[1:])

    fetches: list[dict[str, Any]] = []
    pushes: list[tuple[str, str, str]] = []
    prepare = []
    for step in plan.get("prepare") or []:
        op, src, dst = step["op"], step["src"], step["dst"]
        where = on_store(src) if op in ("copy", "mount", "mount_ro", "link") else None
        if op in ("copy", "link") and desc.get("code") and src == desc["code"]:
            fetches.append({"code": True, "dst": dst})
        elif where is not None:
            fetches.append({"datastore": where[0], "path": where[1], "dst": dst,
                            "missing_ok": op == "mount"})  # fmt: skip
            if op == "mount":
                pushes.append((dst, *where))
        elif op == "mkdir" and on_store(dst) is not None:
            continue  # an output's folder on the datastore: made by the pushes
        else:
            prepare.append(step)
    finalize = []
    for step in plan.get("finalize") or []:
        where = on_store(step["dst"])
        if where is not None and step["op"] == "copy_into":
            pushes.append((step["src"], *where))
        elif where is not None and step["op"] == "mkdir":
            continue
        else:
            finalize.append(step)
    mapping = path_mapping(desc, node)
    local = remap({**plan, "prepare": prepare, "finalize": finalize}, mapping)
    env = local.get("environment")
    if env:
        python = env["python"] if os.path.exists(env["python"]) else sys.executable
        venv = os.path.join(node_root(), "envs", os.path.basename(env["dir"].rstrip("/")))
        local["environment"] = {**env, "dir": venv, "python": python}
    fetches = [{**f, "dst": remap(f["dst"], mapping)} for f in fetches]
    pushes = [(remap(p, mapping), ds, rel) for p, ds, rel in pushes]
    return local, fetches, pushes


def code_dir() -> str | None:
    """The job's code as shipped (``amlite_code`` in a ``py_modules`` folder)."""
    for entry in sys.path:
        candidate = os.path.join(entry or ".", CODE_MODULE)
        if os.path.isdir(candidate):
            return candidate
    return None


def stage(fetches: list[dict[str, Any]], api: Api, desc: dict[str, Any]) -> None:
    for item in fetches:
        dst = item["dst"]
        if item.get("code"):
            shipped = code_dir()
            if shipped is None:
                raise FileNotFoundError("the job's code did not reach the node")
            if os.path.lexists(dst) and os.path.isdir(dst) and not os.path.islink(dst):
                shutil.rmtree(dst)
            os.makedirs(os.path.dirname(dst), exist_ok=True)
            if desc.get("code_is_file"):
                shutil.copy2(os.path.join(shipped, os.path.basename(desc["code"])), dst)
            else:
                shutil.copytree(shipped, dst, symlinks=True)
            continue
        api.fetch(item["datastore"], item["path"], dst, item.get("missing_ok", False))


class Relay:
    """Prints a run directory's new status events (for the server, through Ray Jobs)."""

    def __init__(self, run_dir: str, enabled: bool) -> None:
        self.run_dir = run_dir
        self.enabled = enabled
        self.printed: set[str] = set()

    def event(self, status: str, at: str | None = None) -> None:
        if self.enabled and status not in self.printed:
            self.printed.add(status)
            line = json.dumps({"status": status, "at": at or contract.now_iso()})
            sys.stdout.write(EVENT_TAG + line + "\n")
            sys.stdout.flush()

    def follow(self) -> None:
        for item in contract.read_events(self.run_dir):
            if item.get("status"):
                self.event(str(item["status"]), str(item.get("at") or ""))


def print_result(result: dict[str, Any]) -> None:
    sys.stdout.write(RESULT_TAG + json.dumps(result) + "\n")
    sys.stdout.flush()


def failed(reason: str) -> dict[str, Any]:
    return contract.RunResult.failed(reason).to_json()


class Syncer:
    """While a node works: push its files, follow its events, pass a cancel on."""

    def __init__(self, api: Api, pusher: Pusher, run_dir: str, relay: Relay) -> None:
        self.api, self.pusher, self.run_dir, self.relay = api, pusher, run_dir, relay
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.loop, name="amlite-node-sync", daemon=True)

    def cancel(self, reason: str) -> None:
        if not contract.cancel_requested(self.run_dir):
            contract.request_cancel(self.run_dir, reason)

    def once(self) -> None:
        self.relay.follow()
        with contextlib.suppress(Exception):
            self.pusher.push()
        if self.api.status() in CANCELLING:
            self.cancel("canceled by user")

    def loop(self) -> None:
        while not self.stop.wait(SYNC_SECONDS):
            self.once()


def run_local_supervisor(run_dir: str) -> subprocess.Popen[bytes]:
    with open(os.path.join(run_dir, contract.STDERR), "ab") as err:
        return subprocess.Popen(
            [sys.executable, "-S", "-E", SUPERVISOR, run_dir],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=err,
            start_new_session=True,  # a stop of the Ray job must not kill it mid-upload
        )


def clean_run_dir(run_dir: str) -> None:
    os.makedirs(run_dir, exist_ok=True)
    contract.clear_stale(run_dir)


def run_remote(
    plan: dict[str, Any], desc: dict[str, Any], node: int, relay_events: bool
) -> dict[str, Any]:
    """Run one node's plan without the server's filesystem; its result."""
    api = Api(desc)
    local, fetches, pushes = localize(plan, desc, node)
    run_dir = local["run_dir"]
    clean_run_dir(run_dir)
    relay = Relay(run_dir, relay_events)
    relay.event("Running")
    label = f"node{node}" if node else ""
    targets = [(local["artifacts_dir"], desc["artifacts_store"], desc["artifacts_path"], label)]
    logs = f"{desc['artifacts_path']}/system_logs" + (f"/{label}" if label else "")
    targets.append((os.path.join(run_dir, contract.STDERR), desc["artifacts_store"], logs, ""))
    targets += [(src, ds, rel, "") for src, ds, rel in pushes]
    pusher = Pusher(api, targets)
    try:
        stage(fetches, api, desc)
    except Exception as exc:
        return failed(f"preparation failed: fetching the inputs onto the node: {exc}")
    contract.write_plan(run_dir, local)
    syncer = Syncer(api, pusher, run_dir, relay)
    proc = run_local_supervisor(run_dir)
    syncer.thread.start()
    try:
        while proc.poll() is None:
            try:
                proc.wait(0.25)
            except subprocess.TimeoutExpired:
                pass
            except KeyboardInterrupt:  # the node's Ray task is being stopped
                syncer.cancel("the node's Ray task was stopped")
    finally:
        syncer.stop.set()
        if proc.poll() is None:
            syncer.cancel("the node's launcher was stopped")
            proc.wait()
    syncer.thread.join()
    relay.follow()
    result = contract.read_result(run_dir) or failed(
        f"the supervisor ended with code {proc.returncode} without a result"
    )
    try:
        pusher.push(final=True)
    except OSError as exc:
        if result.get("outcome") == "Completed":
            result = failed(f"uploading the node's outputs and logs failed: {exc}")
    return result


def run_shared(plan: dict[str, Any]) -> dict[str, Any]:
    """Run one node's plan on the shared run directory (what ``gang`` always did)."""
    run_dir = plan["run_dir"]
    clean_run_dir(run_dir)
    contract.write_plan(run_dir, plan)
    proc = run_local_supervisor(run_dir)
    try:
        proc.wait()
    finally:
        if proc.poll() is None:  # the task itself is being stopped: stop the node too
            contract.request_cancel(run_dir, "the node's Ray task was stopped")
            proc.wait()
    return contract.read_result(run_dir) or failed(
        f"the supervisor ended with code {proc.returncode} without a result"
    )


def run_node(plan: dict[str, Any], desc: dict[str, Any], node: int) -> dict[str, Any]:
    """One node of a multi-node job (a Ray task on that node): shared when the node sees
    the run directory the plan names, else without it."""
    if inside(plan["run_dir"], desc["run_dir"]) and sees_run_dir(desc):
        return run_shared(plan)
    return run_remote(plan, desc, node, relay_events=False)


def run_gang(desc: dict[str, Any], shared: bool) -> int:
    """The driver of a multi-node job; on a node without the server's filesystem it keeps
    its state below the node root and pushes ``ray_gang.log``."""
    from . import gang  # imports ray

    if shared:
        return gang.main(["gang", desc["run_dir"]], desc)
    api = Api(desc)
    plan = remap(desc["plan"], path_mapping(desc))
    run_dir = plan["run_dir"]
    clean_run_dir(run_dir)
    contract.write_plan(run_dir, plan)
    relay = Relay(run_dir, True)
    relay.event("Running")
    logs = os.path.join(plan["artifacts_dir"], "system_logs", "ray_gang.log")
    pusher = Pusher(
        api, [(logs, desc["artifacts_store"], desc["artifacts_path"] + "/system_logs", "")]
    )
    syncer = Syncer(api, pusher, run_dir, relay)
    syncer.thread.start()
    try:
        gang.main(["gang", run_dir], desc)
    finally:
        syncer.stop.set()
        syncer.thread.join()
    relay.follow()
    result = contract.read_result(run_dir) or failed("the driver left no result")
    with contextlib.suppress(OSError):
        pusher.push(final=True)
    print_result(result)
    return 0


def main(argv: list[str]) -> int:
    desc = contract.read_json(argv[1] if len(argv) > 1 else DESCRIPTOR)
    if desc is None:
        sys.stderr.write(f"usage: node.py [{DESCRIPTOR}]: no job descriptor\n")
        return 2
    shared = sees_run_dir(desc)
    sys.stdout.write(MODE_TAG + ("shared" if shared else "remote") + "\n")
    sys.stdout.flush()
    if len(desc["plan"].get("nodes") or []) > 1:
        return run_gang(desc, shared)
    if shared:
        os.execv(sys.executable, [sys.executable, "-S", "-E", SUPERVISOR, desc["run_dir"]])

    def on_sigterm(signum: int, frame: object) -> None:
        raise KeyboardInterrupt  # a stop through Ray Jobs: cancel, push, report

    signal.signal(signal.SIGTERM, on_sigterm)
    plan = desc["plan"]
    if plan.get("fail_reason"):
        result = failed(plan["fail_reason"])
    else:
        try:
            result = run_remote(plan, desc, 0, relay_events=True)
        except BaseException as exc:  # the result must always be given
            result = failed(f"node error: {exc!r}")
    print_result(result)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
