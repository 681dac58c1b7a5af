"""Data bindings on blob datastores: the supervisor downloads inputs before the command and
uploads outputs after it, with short-lived SAS URLs the server signs (docs/datastores.md).

No mode mounts a container: ``Mount`` / ``ReadOnlyMount`` inputs are downloaded and
``ReadWriteMount`` outputs are uploaded when the job ends (a note says so in the job's log).
"""

from __future__ import annotations

import posixpath
from datetime import timedelta
from pathlib import Path

from amlite.data.backends import AzureBlobContainer
from amlite.data.bindings import Binding, input_mode, output_mode
from amlite.domain.file_steps import FileStep

READ_SAS_VALIDITY = timedelta(hours=12)
"""Inputs are downloaded right after the plan is made; a day's margin for a slow start."""
WRITE_SAS_MARGIN = timedelta(days=1)
WRITE_SAS_WITHOUT_TIMEOUT = timedelta(days=7)


def write_validity(timeout_seconds: float | None) -> timedelta:
    """How long the outputs' SAS must stay valid: the job's timeout and a day, else a week."""
    if timeout_seconds is None:
        return WRITE_SAS_WITHOUT_TIMEOUT
    return timedelta(seconds=timeout_seconds) + WRITE_SAS_MARGIN


def bind_blob_input(
    name: str,
    container: AzureBlobContainer,
    path: str,
    *,
    is_file: bool,
    mode: str | None,
    mount_point: Path,
) -> Binding:
    """Download the blob ``path`` (into ``mount_point`` under its own name) or every blob
    below ``path/`` (into ``mount_point``)."""
    kind = input_mode(mode)
    notes = (
        [f"input {name}: blob datastores are not mounted by amlite; downloading it"]
        if kind == "mount"
        else []
    )
    url = container.signed_url(path, write=False, valid_for=READ_SAS_VALIDITY)
    dst = mount_point / posixpath.basename(path) if is_file else mount_point
    return Binding(
        path=str(dst),
        prepare=[FileStep("mkdir", "", str(mount_point)), FileStep("blob_download", url, str(dst))],
        notes=notes,
    )


def bind_blob_output(
    name: str,
    container: AzureBlobContainer,
    path: str,
    *,
    mode: str | None,
    mount_point: Path,
    timeout_seconds: float | None,
) -> Binding:
    """Write locally to ``mount_point``; upload it below ``path`` when the job ends."""
    kind = output_mode(mode)
    notes = (
        [f"output {name}: blob datastores are not mounted by amlite; uploading it at the end"]
        if kind == "mount"
        else []
    )
    url = container.signed_url(path, write=True, valid_for=write_validity(timeout_seconds))
    return Binding(
        path=str(mount_point),
        prepare=[FileStep("mkdir", "", str(mount_point))],
        finalize=[FileStep("blob_upload", str(mount_point), url)],
        notes=notes,
    )
