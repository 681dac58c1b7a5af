"""Data bindings: where an input or output appears for the job and which file steps make it so.

Input modes: ``Download`` copies before the start; ``ReadOnlyMount`` / ``Mount`` /
``EvalMount`` (and no mode: Azure's default is a read-only mount) mount the datastore path
read-only, ``ReadWriteMount`` writable; ``Direct`` passes the URI; ``EvalDownload`` acts as
``Download``. An http(s) URL cannot be mounted, so it is downloaded. Output modes:
``ReadWriteMount`` (default) mounts the datastore directory writable; ``Upload`` writes locally
and copies to the datastore when the job ends. A mount is a bind mount in the job's sandbox and
a symlink without one (then nothing makes it read-only: docs/security.md).
"""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote, urlparse

from amlite.domain.file_steps import FileStep, StepOp

_AZUREML_URI = re.compile(
    r"^azureml://(?:subscriptions/[^/]+/resource[gG]roups/[^/]+/(?:providers/"
    r"Microsoft\.MachineLearningServices/)?workspaces/[^/]+/)?"
    r"datastores/(?P<ds>[^/]+)/paths/?(?P<path>.*)$",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Location:
    """Where data is: a local file or directory, or an http(s) URL."""

    uri: str
    """The URI the user gave (what a ``Direct`` binding passes)."""
    local: Path | None = None
    url: str | None = None


@dataclass
class Binding:
    path: str
    """What the job sees: ``AZURE_ML_INPUT_x`` / ``AZURE_ML_OUTPUT_x`` and the placeholder value."""
    prepare: list[FileStep] = field(default_factory=list)
    finalize: list[FileStep] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def split_azureml_uri(uri: str) -> tuple[str, str] | None:
    """``azureml://datastores/DS/paths/P`` (short or workspace-qualified) -> ``(DS, P)``."""
    m = _AZUREML_URI.match(uri.strip())
    if not m:
        return None
    return m.group("ds"), m.group("path")


def is_http(value: str) -> bool:
    return value.lower().startswith(("http://", "https://"))


def local_path_of(value: str) -> Path | None:
    """A local absolute path or ``file://`` URI as a path; None for anything else."""
    if value.lower().startswith("file://"):
        return Path(unquote(urlparse(value).path))
    if value.startswith("/"):
        return Path(value)
    return None


def input_mode(mode: str | None) -> str:
    """``download``, ``mount`` (read-only), ``rw_mount`` or ``direct`` for a wire input mode."""
    m = (mode or "mount").lower()
    if m in ("download", "evaldownload"):
        return "download"
    if m in ("mount", "readonlymount", "evalmount"):
        return "mount"
    if m == "readwritemount":
        return "rw_mount"
    if m == "direct":
        return "direct"
    raise ValueError(f"unknown input mode {mode!r}")


def output_mode(mode: str | None) -> str:
    """``mount`` or ``upload`` for a wire output mode."""
    m = (mode or "readwritemount").lower()
    if m in ("readwritemount", "mount"):
        return "mount"
    if m == "upload":
        return "upload"
    raise ValueError(f"unknown output mode {mode!r}")


def _child(directory: Path, name: str) -> Path:
    """``directory / name`` for a single file name; anything that could climb is refused."""
    if name in ("", ".", "..") or "/" in name or "\\" in name or "\0" in name:
        raise ValueError(f"not a plain file name: {name!r}")
    return directory / name


def _url_file_name(url: str) -> str:
    name = posixpath.basename(unquote(urlparse(url).path.rstrip("/")))
    return name if name not in ("", ".", "..") else "data"


def bind_input(name: str, location: Location, mode: str | None, mount_point: Path) -> Binding:
    """Steps that make ``location`` appear at ``mount_point`` (a directory) for ``mode``.

    A single file appears inside ``mount_point`` under its own name.
    """
    kind = input_mode(mode)
    if kind == "direct":
        return Binding(path=location.uri)
    if location.url is not None:
        dst = _child(mount_point, _url_file_name(location.url))
        notes = (
            [f"input {name}: an http(s) URL cannot be mounted; downloading it"]
            if (kind in ("mount", "rw_mount"))
            else []
        )
        return Binding(
            path=str(dst),
            prepare=[
                FileStep("mkdir", "", str(mount_point)),
                FileStep("download", location.url, str(dst)),
            ],
            notes=notes,
        )
    if location.local is None:
        raise ValueError(f"input {name}: nothing to bind")
    src = location.local
    op: StepOp = "copy" if kind == "download" else "mount_ro" if kind == "mount" else "mount"
    if src.is_dir():
        return Binding(path=str(mount_point), prepare=[FileStep(op, str(src), str(mount_point))])
    dst = _child(mount_point, src.name)
    return Binding(
        path=str(dst),
        prepare=[FileStep("mkdir", "", str(mount_point)), FileStep(op, str(src), str(dst))],
    )


def bind_output(name: str, target: Path, mode: str | None, mount_point: Path) -> Binding:
    """Steps that make ``mount_point`` write to the datastore directory ``target``."""
    kind = output_mode(mode)
    if kind == "mount":
        return Binding(
            path=str(mount_point),
            prepare=[
                FileStep("mkdir", "", str(target)),
                FileStep("mount", str(target), str(mount_point)),
            ],
        )
    return Binding(
        path=str(mount_point),
        prepare=[FileStep("mkdir", "", str(mount_point))],
        finalize=[
            FileStep("mkdir", "", str(target)),
            FileStep("copy_into", str(mount_point), str(target)),
        ],
    )
