"""The file steps a plan lists (``amlite.domain.file_steps.FileStep``): before the command
(code, inputs, mount points) and after it (outputs, logs)."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable

from .blobs import blob_download, blob_upload


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


def _mkdir(src: str, dst: str) -> None:
    os.makedirs(dst, exist_ok=True)


def _copy(src: str, dst: str) -> None:
    if not os.path.exists(src):
        raise FileNotFoundError(f"{src} does not exist")
    _remove(dst)
    os.makedirs(os.path.dirname(dst) or ".", exist_ok=True)
    if os.path.isdir(src):
        shutil.copytree(src, dst, symlinks=True)
    else:
        shutil.copy2(src, dst)


def _copy_into(src: str, dst: str) -> None:
    if not os.path.exists(src):
        return
    os.makedirs(dst, exist_ok=True)
    if os.path.isdir(src):
        shutil.copytree(src, dst, symlinks=True, dirs_exist_ok=True)
    else:
        shutil.copy2(src, os.path.join(dst, os.path.basename(src)))


def _link(src: str, dst: str) -> None:
    os.makedirs(os.path.dirname(dst) or ".", exist_ok=True)
    if os.path.lexists(dst):
        _remove(dst)
    os.symlink(src, dst)


OPERATIONS: dict[str, Callable[[str, str], object]] = {
    "mkdir": _mkdir,
    "copy": _copy,
    "copy_into": _copy_into,
    "link": _link,
    "mount": _link,  # without a sandbox a mount is a symlink
    "mount_ro": _link,
    "download": _download,
    "blob_download": blob_download,
    "blob_upload": blob_upload,
}
"""What each file operation does (``amlite.domain.file_steps.FileStep`` documents them)."""


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
    operation = OPERATIONS.get(op)
    if operation is None:
        raise ValueError(f"unknown file operation {op!r}")
    operation(src, dst)
