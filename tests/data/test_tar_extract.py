"""extract_tar_safely: all or nothing, inside dest only."""

from __future__ import annotations

import io
import os
import tarfile
from pathlib import Path

import pytest

from amlite.data.paths import PathEscapeError, TooLargeError, extract_tar_safely


def _tar(members: list[tuple[str, str, bytes | str]]) -> io.BytesIO:
    """members: (kind, name, data) with kind file | dir | sym | hard | fifo."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for kind, name, data in members:
            info = tarfile.TarInfo(name)
            if kind == "file":
                assert isinstance(data, bytes)
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
                continue
            if kind == "dir":
                info.type = tarfile.DIRTYPE
            elif kind == "sym":
                info.type, info.linkname = tarfile.SYMTYPE, str(data)
            elif kind == "hard":
                info.type, info.linkname = tarfile.LNKTYPE, str(data)
            elif kind == "fifo":
                info.type = tarfile.FIFOTYPE
            tar.addfile(info)
    buf.seek(0)
    return buf


def _tree(path: Path) -> list[str]:
    return sorted(str(p.relative_to(path)) for p in path.rglob("*"))


def test_extracts_and_merges(tmp_path: Path) -> None:
    dest = tmp_path / "ds" / "upload"
    dest.mkdir(parents=True)
    (dest / "keep.txt").write_text("old")
    (dest / "a.txt").write_text("old")
    archive = _tar(
        [
            ("dir", "sub", b""),
            ("file", "a.txt", b"new"),
            ("file", "sub/b.bin", b"\x00\x01"),
            ("sym", "sub/link", "../a.txt"),
            ("hard", "sub/hard", "a.txt"),
        ]
    )
    assert extract_tar_safely(archive, dest, max_bytes=1000) == 3
    assert (dest / "a.txt").read_text() == "new"
    assert (dest / "keep.txt").read_text() == "old"
    assert (dest / "sub" / "b.bin").read_bytes() == b"\x00\x01"
    assert (dest / "sub" / "link").read_text() == "new"
    assert (dest / "sub" / "hard").read_text() == "new"
    assert _tree(tmp_path / "ds") == sorted(
        [
            "upload",
            "upload/a.txt",
            "upload/keep.txt",
            "upload/sub",
            "upload/sub/b.bin",
            "upload/sub/link",
            "upload/sub/hard",
        ]
    )


def test_creates_missing_dest(tmp_path: Path) -> None:
    dest = tmp_path / "ds" / "x" / "y"
    (tmp_path / "ds").mkdir()
    assert extract_tar_safely(_tar([("file", "f", b"1")]), dest, max_bytes=10) == 1
    assert (dest / "f").read_text() == "1"
    assert _tree(tmp_path / "ds") == ["x", "x/y", "x/y/f"]


@pytest.mark.parametrize(
    "bad",
    [
        [("file", "/etc/evil", b"x")],
        [("file", "../evil", b"x")],
        [("file", "a/../../evil", b"x")],
        [("sym", "link", "/etc")],
        [("sym", "link", "../../outside")],
        [("dir", "d", b""), ("sym", "d/up", ".."), ("sym", "esc", "d/up/..")],
        [("hard", "h", "/etc/passwd")],
        [("hard", "h", "../x")],
        [("fifo", "pipe", b"")],
    ],
)
def test_refuses_escapes_and_writes_nothing(tmp_path: Path, bad: list) -> None:  # type: ignore[type-arg]
    dest = tmp_path / "ds" / "upload"
    (tmp_path / "ds").mkdir()
    archive = _tar([("file", "fine.txt", b"ok"), *bad])
    with pytest.raises(PathEscapeError):
        extract_tar_safely(archive, dest, max_bytes=1000)
    assert _tree(tmp_path) == ["ds"]


def test_refuses_writing_through_existing_link_out(tmp_path: Path) -> None:
    dest = tmp_path / "ds"
    dest.mkdir()
    (tmp_path / "outside").mkdir()
    os.symlink(tmp_path / "outside", dest / "link")
    with pytest.raises(PathEscapeError):
        extract_tar_safely(_tar([("file", "link/evil", b"x")]), dest, max_bytes=100)
    assert list((tmp_path / "outside").iterdir()) == []


def test_too_large(tmp_path: Path) -> None:
    dest = tmp_path / "ds"
    archive = _tar([("file", "a", b"x" * 60), ("file", "b", b"y" * 60)])
    with pytest.raises(TooLargeError):
        extract_tar_safely(archive, dest, max_bytes=100)
    assert list(tmp_path.iterdir()) == []


def test_not_a_tar(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        extract_tar_safely(io.BytesIO(b"not a tar at all" * 100), tmp_path / "d", max_bytes=10)
    assert list(tmp_path.iterdir()) == []


def _many(count: int) -> io.BytesIO:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for i in range(count):
            tar.addfile(tarfile.TarInfo(f"f{i}"), io.BytesIO(b""))
    buf.seek(0)
    return buf


def test_too_many_members_is_refused_before_extracting_them_all(tmp_path: Path) -> None:
    dest = tmp_path / "ds"
    with pytest.raises(TooLargeError, match="more than 50 members"):
        extract_tar_safely(_many(51), dest, max_bytes=1000, max_members=50)
    assert list(tmp_path.iterdir()) == []
    assert extract_tar_safely(_many(50), dest, max_bytes=1000, max_members=50) == 50


def test_member_cap_has_a_default() -> None:
    from amlite.data.archives import MAX_MEMBERS

    assert 1000 <= MAX_MEMBERS <= 100_000


@pytest.mark.parametrize("kind", [tarfile.CHRTYPE, tarfile.BLKTYPE])
def test_device_members_are_refused(tmp_path: Path, kind: bytes) -> None:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        info = tarfile.TarInfo("dev")
        info.type, info.devmajor, info.devminor = kind, 1, 3
        tar.addfile(info)
    buf.seek(0)
    with pytest.raises(PathEscapeError, match="device"):
        extract_tar_safely(buf, tmp_path / "ds", max_bytes=100)
    assert list(tmp_path.iterdir()) == []


def test_a_seekable_archive_is_refused_from_its_headers_before_anything_is_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    written: list[str] = []
    real_extract = tarfile.TarFile.extract

    def spy(self: tarfile.TarFile, member: tarfile.TarInfo, *args: object, **kw: object) -> None:
        written.append(member.name)
        real_extract(self, member, *args, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(tarfile.TarFile, "extract", spy)
    with pytest.raises(TooLargeError):
        extract_tar_safely(_many(51), tmp_path / "ds", max_bytes=1000, max_members=50)
    with pytest.raises(PathEscapeError):
        extract_tar_safely(
            _tar([("file", "ok", b"1"), ("file", "../x", b"2")]), tmp_path / "d2", max_bytes=100
        )
    assert written == []
    assert extract_tar_safely(_many(3), tmp_path / "ds", max_bytes=1000, max_members=50) == 3
    assert written == ["f0", "f1", "f2"]
