"""The file operations a run's supervisor performs before and after its command: plain data
that ``data`` (input and output bindings) and ``services`` (run preparation) build into a
``RunPlan`` (``amlite.executors``), and that the supervisor executes (``run_step``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

StepOp = Literal[
    "mkdir",
    "copy",
    "link",
    "mount",
    "mount_ro",
    "download",
    "copy_into",
    "blob_download",
    "blob_upload",
]


@dataclass(frozen=True)
class FileStep:
    """One file operation the supervisor performs before or after the command.

    - ``mkdir``: create ``dst`` (and parents).
    - ``copy``: copy file or directory ``src`` to ``dst`` (dst replaced).
    - ``copy_into``: copy the contents of directory ``src`` into directory ``dst`` (merge);
      a missing ``src`` is skipped.
    - ``mount`` / ``mount_ro``: make datastore path ``src`` appear at ``dst``, writable or
      read-only: a bind mount in a sandbox (``SandboxSpec``), a symlink without one.
    - ``link``: symlink ``dst`` -> ``src`` (plans of older servers: a ``mount``).
    - ``download``: fetch http(s) URL ``src`` to file ``dst``.
    - ``blob_download``: ``src`` is ``{container URL}?{SAS}#{path}``: the blob ``path`` to file
      ``dst``, or every blob below ``path/`` into directory ``dst``.
    - ``blob_upload``: every regular file below ``src`` to blobs below ``dst`` (same URL
      form); a missing ``src`` is skipped.
    """

    op: StepOp
    src: str
    dst: str
