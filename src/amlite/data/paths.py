"""The on-disk layout of amlite (see docs/decisions.md) and safe path handling.

- datastores: ``$AMLITE_HOME/datastores/{sub}/{rg}/{ws}/{datastore}/``
- runs:       ``$AMLITE_HOME/runs/{sub}/{rg}/{ws}/{job}/``
- artifacts of job J: ``ExperimentRun/dcid.J/`` on ``workspaceblobstore``
"""

from __future__ import annotations

import os
import posixpath
from pathlib import Path

from amlite.config import Settings
from amlite.data._errors import PathEscapeError, TooLargeError
from amlite.data.archives import extract_tar_safely
from amlite.domain import names

__all__ = [
    "DEFAULT_DATASTORE",
    "PathEscapeError",
    "TooLargeError",
    "artifacts_path",
    "datastore_root",
    "datastore_uri",
    "extract_tar_safely",
    "run_dir",
    "safe_join",
    "workspace_parts",
]

DEFAULT_DATASTORE = names.DEFAULT_DATASTORE


def workspace_parts(workspace_key: str) -> tuple[str, str, str]:
    """``"sub/rg/ws"`` -> ``("sub", "rg", "ws")``, lowercased, each a safe directory name."""
    parts = workspace_key.lower().split("/")
    if len(parts) != 3 or any(p in ("", ".", "..") or "\\" in p for p in parts):
        raise ValueError(f"not a workspace key: {workspace_key!r}")
    return parts[0], parts[1], parts[2]


def _name(value: str, what: str) -> str:
    if value in ("", ".", "..") or "/" in value or "\\" in value or "\0" in value:
        raise PathEscapeError(f"invalid {what} name {value!r}")
    return value


def datastore_root(settings: Settings, workspace_key: str, datastore: str) -> Path:
    sub, rg, ws = workspace_parts(workspace_key)
    return settings.datastores_dir / sub / rg / ws / _name(datastore, "datastore")


def run_dir(settings: Settings, workspace_key: str, job_name: str) -> Path:
    sub, rg, ws = workspace_parts(workspace_key)
    return settings.runs_dir / sub / rg / ws / _name(job_name, "job")


def artifacts_path(job_name: str) -> str:
    """Where a job's artifacts live on ``workspaceblobstore``."""
    return f"ExperimentRun/dcid.{job_name}"


def _inside(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip(os.sep) + os.sep)


def safe_join(root: Path, relative: str) -> Path:
    """``root / relative``, refusing anything that would end up outside ``root``.

    Refused: absolute paths, ``..`` that climbs above ``root``, NUL bytes, and existing
    symlinks on the way that resolve outside ``root``. ``""`` and ``"."`` give ``root``.
    """
    if "\0" in relative:
        raise PathEscapeError("path contains a NUL byte")
    rel = relative.replace("\\", "/")
    if rel.startswith("/") or (len(rel) > 1 and rel[1] == ":"):
        raise PathEscapeError(f"absolute path not allowed: {relative!r}")
    norm = posixpath.normpath(rel) if rel else "."
    if norm == ".." or norm.startswith("../"):
        raise PathEscapeError(f"path escapes its root: {relative!r}")
    candidate = root if norm == "." else root.joinpath(*norm.split("/"))
    real_root = os.path.realpath(root)
    if not _inside(os.path.realpath(candidate), real_root):
        raise PathEscapeError(f"path leads outside its root through a link: {relative!r}")
    return candidate


def datastore_uri(datastore: str, path: str) -> str:
    """The ``azureml://`` URI of a path on a datastore."""
    return f"azureml://datastores/{datastore}/paths/{path.lstrip('/')}"
