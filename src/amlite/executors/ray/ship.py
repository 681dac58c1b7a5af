"""What a job on a Ray cluster is shipped with, so that its nodes need no shared filesystem.

- ``amlite_node``: ``ray/node.py``, ``ray/gang.py`` and the ``supervisor`` package (stdlib
  only), at their paths below ``amlite.executors``, a ``runtime_env`` ``py_modules``
  package, the same for every job of this amlite;
- ``amlite_code``: the job's code snapshot when it is on a local datastore (a code on Azure
  Blob is downloaded by the node itself), a ``py_modules`` package per snapshot;
- the job's descriptor (``node.DESCRIPTOR``: plan, run directory, submission id, the
  server's address, the job's token and where its datastores are), the Ray job's
  ``working_dir``.

Packages are zip files with fixed timestamps, named by their content's hash
(``gcs://_ray_pkg_<sha1>.zip``, as Ray names its own), uploaded to the cluster through the
dashboard only when it does not have them yet.

``grants``: what a node may read and write through the server's file API with the job's
token (the datastore paths of the job's inputs, outputs and artifacts), kept in the run
directory (``GRANTS_FILE``) and checked by ``api/routes/files.py``.
"""

from __future__ import annotations

import functools
import hashlib
import io
import json
import os
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from amlite.executors._base import RunPlan
from amlite.executors.ray import node
from amlite.executors.supervisor.jobenv import supervisor_settings

EXECUTORS = Path(__file__).parents[1]
NODE_PACKAGE = "amlite_node"
NODE_FILES = ("ray/__init__.py", "ray/node.py", "ray/gang.py", "supervisor")
"""Shipped in ``NODE_PACKAGE`` at their paths below ``executors/`` (the supervisor is a
stdlib-only folder)."""
NODE_MODULE = f"{NODE_PACKAGE}.ray.node"
"""The entrypoint on a node (``python -m``)."""
GRANTS_FILE = "node_grants.json"
ARTIFACTS_DEPTH = 2
"""Folders in a job's artifacts path on its datastore (``ExperimentRun/dcid.NAME``,
``amlite.data.paths.artifacts_path``, a layer above: a test keeps the two in step)."""
ZIP_TIME = (1980, 1, 1, 0, 0, 0)


def _zip(entries: list[tuple[str, bytes]]) -> bytes:
    """A zip of ``(name, data)`` whose bytes depend only on the entries."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in sorted(entries):
            info = zipfile.ZipInfo(name, ZIP_TIME)
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, data)
    return buffer.getvalue()


def package_uri(data: bytes) -> str:
    return f"gcs://_ray_pkg_{hashlib.sha1(data).hexdigest()}.zip"


@functools.cache
def node_package() -> tuple[str, bytes]:
    """(URI, zip) of ``amlite_node``."""
    entries = [(f"{NODE_PACKAGE}/__init__.py", b"")]
    for name in NODE_FILES:
        path = EXECUTORS / name
        for item in sorted(path.rglob("*.py")) if path.is_dir() else [path]:
            rel = item.relative_to(EXECUTORS).as_posix()
            entries.append((f"{NODE_PACKAGE}/{rel}", item.read_bytes()))
    data = _zip(entries)
    return package_uri(data), data


def _tree(root: Path) -> list[tuple[str, bytes]]:
    if root.is_file():
        return [(f"{node.CODE_MODULE}/{root.name}", root.read_bytes())]
    entries = []
    for dirpath, dirs, names in os.walk(root):
        dirs.sort()
        for name in sorted(names):
            full = Path(dirpath) / name
            if full.is_file() and not full.is_symlink():
                rel = full.relative_to(root).as_posix()
                entries.append((f"{node.CODE_MODULE}/{rel}", full.read_bytes()))
    return entries


@functools.lru_cache(maxsize=32)
def _code_package(path: str, stamp: tuple[int, int]) -> tuple[str, bytes]:
    data = _zip(_tree(Path(path)))
    return package_uri(data), data


def code_package(path: Path) -> tuple[str, bytes]:
    """(URI, zip) of a code snapshot (cached: snapshots do not change once uploaded)."""
    st = path.stat()
    return _code_package(str(path), (st.st_mtime_ns, st.st_ino))


def code_source(plan: RunPlan) -> tuple[str, bool] | None:
    """(path, is a single file) of the plan's code snapshot when it is copied from the
    server's disk (``services.preparation``'s code steps come first)."""
    steps = plan.prepare
    wd = plan.working_dir
    if steps and steps[0].op == "copy" and steps[0].dst == wd:
        return steps[0].src, False
    if len(steps) > 1 and steps[0].op == "mkdir" and steps[0].dst == wd:
        second = steps[1]
        if second.op == "copy" and os.path.dirname(second.dst) == wd:
            return second.src, True
    return None


def descriptor(plan: RunPlan, sid: str) -> dict[str, Any]:
    """What a node needs to run ``plan`` with or without the server's filesystem."""
    workspace, _, job = plan.job_id.rpartition("/jobs/")
    artifacts = Path(plan.artifacts_dir)  # the default datastore's folder / artifacts path
    store_root = artifacts.parents[ARTIFACTS_DEPTH - 1]
    code = code_source(plan)
    return {
        "sid": sid,
        "job": job,
        "workspace": workspace,
        "server_url": plan.env.get("AMLITE_URL") or "",
        "token": plan.env.get("AZUREML_RUN_TOKEN") or "",
        "run_dir": plan.run_dir,
        "artifacts_dir": plan.artifacts_dir,
        "datastores": str(store_root.parent),
        "artifacts_store": store_root.name,
        "artifacts_path": artifacts.relative_to(store_root).as_posix(),
        "code": code[0] if code else None,
        "code_is_file": bool(code and code[1]),
        "plan": plan.to_json(),
    }


def runtime_env(
    working_dir: str, py_modules: list[str], environ: Mapping[str, str]
) -> dict[str, Any]:
    """The Ray job's ``runtime_env``: its descriptor, the packages, and the server's
    settings for the supervisor side (``SUPERVISOR_SETTINGS`` in ``environ``, as the local
    executor gives them to its supervisors; a job's own processes never see them)."""
    env: dict[str, Any] = {"working_dir": working_dir, "py_modules": py_modules}
    settings = supervisor_settings(environ)
    if settings:
        env["env_vars"] = settings
    return env


def working_dir_package(desc: dict[str, Any]) -> tuple[str, bytes]:
    data = _zip([(node.DESCRIPTOR, json.dumps(desc).encode())])
    return package_uri(data), data


# -- what a node may do with the job's token -------------------------------------------------


def grants(desc: dict[str, Any]) -> dict[str, list[list[str]]]:
    """The datastore paths a node of the job reads (its inputs) and writes (its outputs and
    artifacts), from the same rules the node follows (``node.localize``)."""
    _, fetches, pushes = node.localize(desc["plan"], desc)
    read = [[f["datastore"], f["path"]] for f in fetches if not f.get("code")]
    write = [[ds, rel] for _, ds, rel in pushes]
    write.append([desc["artifacts_store"], desc["artifacts_path"]])
    return {"read": read, "write": write}


def write_grants(run_dir: Path, desc: dict[str, Any]) -> None:
    from amlite.executors.supervisor.contract import write_json_atomic

    write_json_atomic(str(run_dir / GRANTS_FILE), grants(desc))


def _norm(path: str) -> str:
    return "/".join(p for p in path.replace("\\", "/").split("/") if p and p != ".")


def granted(run_dir: Path, datastore: str, path: str, write: bool) -> bool:
    """Whether a job's token may read (or write) ``path`` on ``datastore``: a path at or
    below one the job's nodes were granted (writable paths can be read back too)."""
    try:
        data = json.loads((run_dir / GRANTS_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    wanted = _norm(path)
    if ".." in wanted.split("/"):
        return False
    kinds = ["write"] if write else ["read", "write"]
    for kind in kinds:
        for store, prefix in data.get(kind) or []:
            if store.lower() != datastore.lower():
                continue
            base = _norm(prefix)
            if not base or wanted == base or wanted.startswith(base + "/"):
                return True
    return False
