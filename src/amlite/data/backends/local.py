"""A datastore kept in a directory on the server's disk (every datastore that names no
reachable storage account; the layout is in ``amlite.data.paths``)."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import BinaryIO

from amlite.data.archives import extract_tar_safely
from amlite.data.backends._base import DatastoreBackend, FileInfo, local_files
from amlite.data.paths import safe_join


class LocalDirectory(DatastoreBackend):
    kind = "local"

    def __init__(self, root: Path) -> None:
        self.root = root

    def path(self, relative: str) -> Path:
        """The local path of ``relative``; ``PathEscapeError`` if it leaves the root."""
        return safe_join(self.root, relative) if relative else self.root

    def list_files(self, prefix: str) -> list[FileInfo]:
        base = self.path(prefix)
        if not base.exists():
            return []
        items = [FileInfo(name, f.stat().st_size) for f, name in local_files(base)]
        return sorted(items, key=lambda item: item.path)

    def read(self, path: str, offset: int, length: int) -> tuple[bytes, int] | None:
        file = self.path(path)
        if not file.is_file():
            return None
        with file.open("rb") as f:
            size = os.fstat(f.fileno()).st_size
            f.seek(min(offset, size))
            return f.read(length), size

    def write(self, path: str, source: BinaryIO) -> None:
        dest = self.path(path)
        dest.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=".upload-")
        try:
            with os.fdopen(fd, "wb") as out:
                shutil.copyfileobj(source, out, 1024 * 1024)
            os.replace(tmp, dest)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)

    def extract_archive(self, archive: BinaryIO, prefix: str, max_bytes: int) -> int:
        return extract_tar_safely(archive, self.path(prefix), max_bytes=max_bytes)

    def delete_prefix(self, prefix: str) -> None:
        target = self.path(prefix)
        if target.is_dir() and not target.is_symlink():
            shutil.rmtree(target, ignore_errors=True)
        elif target.exists() or target.is_symlink():
            target.unlink()
