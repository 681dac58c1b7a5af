"""What every datastore backend offers: the file endpoints and the job plan use only this."""

from __future__ import annotations

import posixpath
from abc import ABC, abstractmethod
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from amlite.data._errors import PathEscapeError


@dataclass(frozen=True)
class FileInfo:
    path: str
    """Relative to the listed prefix (a listed single file: its own name)."""
    size: int


def blob_name(relative: str) -> str:
    """A datastore-relative path as a normalized ``a/b/c`` name ('' for the root).

    Refused (``PathEscapeError``): NUL bytes, absolute paths, ``..`` above the root.
    """
    if "\0" in relative:
        raise PathEscapeError("path contains a NUL byte")
    rel = relative.replace("\\", "/")
    if rel.startswith("/") or (len(rel) > 1 and rel[1] == ":"):
        raise PathEscapeError(f"absolute path not allowed: {relative!r}")
    norm = posixpath.normpath(rel) if rel else "."
    if norm == ".." or norm.startswith("../"):
        raise PathEscapeError(f"path escapes its root: {relative!r}")
    return "" if norm == "." else norm


def local_files(root: Path) -> Iterable[tuple[Path, str]]:
    """Regular files below ``root`` (symlinks are not followed) with their ``a/b`` names."""
    if root.is_file() and not root.is_symlink():
        yield root, root.name
        return
    for path in sorted(root.rglob("*")):
        if path.is_file() and not path.is_symlink():
            yield path, path.relative_to(root).as_posix()


class DatastoreBackend(ABC):
    """The files of one datastore. Paths are datastore-relative (``a/b/c``)."""

    kind: str

    @abstractmethod
    def list_files(self, prefix: str) -> list[FileInfo]:
        """Every file below ``prefix`` (a file itself: one entry, its name), sorted by path."""

    @abstractmethod
    def read(self, path: str, offset: int, length: int) -> tuple[bytes, int] | None:
        """(up to ``length`` bytes from ``offset``, whole size); None if there is no such file."""

    @abstractmethod
    def write(self, path: str, source: BinaryIO) -> None:
        """Store ``source`` (read to its end) as the file ``path``, replacing it."""

    @abstractmethod
    def extract_archive(self, archive: BinaryIO, prefix: str, max_bytes: int) -> int:
        """Extract a ``.tar.gz`` below ``prefix``, all of it or nothing; the count of files."""

    @abstractmethod
    def delete_prefix(self, prefix: str) -> None:
        """Remove every file below ``prefix`` (nothing there is not an error)."""
