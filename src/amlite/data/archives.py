"""Safe extraction of uploaded ``.tar.gz`` archives into a datastore directory.

The archive is extracted into a temporary directory next to ``dest`` and checked as a whole;
only then is its content moved into ``dest``. A bad archive leaves ``dest`` untouched.

Limits: the members' sizes add up to at most ``max_bytes``, and an archive holds at most
``max_members`` members (``MAX_MEMBERS`` by default: files, directories and links alike),
because extracting many empty files costs time and inodes even when the bytes are few.
Refused members: absolute paths, ``..``, devices and fifos, links pointing outside.
"""

from __future__ import annotations

import os
import shutil
import tarfile
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from amlite.data._errors import PathEscapeError, TooLargeError

MAX_MEMBERS = 10_000
"""The most members an uploaded archive may hold (a code snapshot or a data folder)."""


def _inside(path: str, root: str) -> bool:
    return path == root or path.startswith(root + os.sep)


def _check_member(member: tarfile.TarInfo) -> None:
    name = member.name.replace("\\", "/")
    if name.startswith("/") or (len(name) > 1 and name[1] == ":"):
        raise PathEscapeError(f"archive member has an absolute path: {member.name!r}")
    if ".." in name.split("/"):
        raise PathEscapeError(f"archive member climbs with '..': {member.name!r}")
    if not (member.isfile() or member.isdir() or member.issym() or member.islnk()):
        raise PathEscapeError(f"archive member is a device or fifo: {member.name!r}")
    if (member.issym() or member.islnk()) and member.linkname.startswith("/"):
        raise PathEscapeError(f"archive link points to an absolute path: {member.name!r}")


def _checked(tar: tarfile.TarFile, max_bytes: int, max_members: int) -> Iterator[tarfile.TarInfo]:
    """The members of ``tar``, each checked, within the member count and byte limits."""
    total = 0
    for count, member in enumerate(tar, start=1):
        if count > max_members:
            raise TooLargeError(f"the archive holds more than {max_members} members")
        _check_member(member)
        total += max(member.size, 0)
        if total > max_bytes:
            raise TooLargeError(f"archive content exceeds {max_bytes} bytes")
        yield member


def _check_tree(root: str) -> None:
    """Every link in the extracted tree must resolve inside it."""
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            path = os.path.join(dirpath, name)
            if os.path.islink(path) and not _inside(os.path.realpath(path), root):
                raise PathEscapeError(
                    f"archive link points outside: {os.path.relpath(path, root)!r}"
                )


def _nearest_existing(path: Path) -> Path:
    while not path.exists():
        path = path.parent
    return path


def _merge(src: str, dest: Path) -> None:
    """Move the tree ``src`` into ``dest`` (files replace files of the same name)."""
    dest.mkdir(parents=True, exist_ok=True)
    real_dest = os.path.realpath(dest)
    for dirpath, dirnames, filenames in os.walk(src):
        rel = os.path.relpath(dirpath, src)
        target_dir = dest if rel == "." else dest / rel
        if not _inside(os.path.realpath(target_dir), real_dest):
            raise PathEscapeError(f"destination {rel!r} leads outside through a link")
        for d in list(dirnames):
            s = os.path.join(dirpath, d)
            if os.path.islink(s):  # a link to a directory is moved as a link
                dirnames.remove(d)
                filenames.append(d)
            else:
                (target_dir / d).mkdir(exist_ok=True)
        for f in filenames:
            t = target_dir / f
            if t.is_dir() and not t.is_symlink():
                shutil.rmtree(t)
            os.replace(os.path.join(dirpath, f), t)


def extract_tar_safely(
    archive: BinaryIO, dest: Path, *, max_bytes: int, max_members: int = MAX_MEMBERS
) -> int:
    """Extract a tar (gzip/bz2/xz or plain) stream into ``dest``; return the files written.

    Raises ``PathEscapeError`` if any member would escape ``dest`` (absolute, ``..``, links
    pointing out, devices) and ``TooLargeError`` if the members add up to more than
    ``max_bytes`` or number more than ``max_members``; in both cases nothing is written to
    ``dest``.
    """
    if archive.seekable():  # refuse from the headers alone, before writing anything
        start = archive.tell()
        try:
            with tarfile.open(fileobj=archive, mode="r|*") as tar:
                for _ in _checked(tar, max_bytes, max_members):
                    pass  # headers only: nothing is written
        except tarfile.TarError as exc:
            raise ValueError(f"not a valid tar archive: {exc}") from exc
        archive.seek(start)
    base = _nearest_existing(dest.parent)
    tmp = tempfile.mkdtemp(prefix=f".{dest.name}.upload-", dir=base)
    real_tmp = os.path.realpath(tmp)
    files = 0
    try:
        try:
            with tarfile.open(fileobj=archive, mode="r|*") as tar:
                for member in _checked(tar, max_bytes, max_members):
                    try:
                        tar.extract(member, real_tmp, filter="data")
                    except tarfile.FilterError as exc:
                        raise PathEscapeError(str(exc)) from exc
                    if member.isfile() or member.islnk():
                        files += 1
        except tarfile.TarError as exc:
            raise ValueError(f"not a valid tar archive: {exc}") from exc
        _check_tree(real_tmp)
        _merge(real_tmp, dest)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return files
