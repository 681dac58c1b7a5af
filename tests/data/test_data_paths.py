"""Layout helpers and safe_join."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from amlite.config import Settings
from amlite.data.paths import (
    PathEscapeError,
    artifacts_path,
    datastore_root,
    datastore_uri,
    run_dir,
    safe_join,
    workspace_parts,
)


def test_layout(tmp_path: Path) -> None:
    s = Settings(home=tmp_path)
    key = "Sub/RG/Ws".lower()
    assert workspace_parts(key) == ("sub", "rg", "ws")
    assert datastore_root(s, key, "workspaceblobstore") == (
        tmp_path / "datastores" / "sub" / "rg" / "ws" / "workspaceblobstore"
    )
    assert run_dir(s, key, "job1") == tmp_path / "runs" / "sub" / "rg" / "ws" / "job1"
    assert artifacts_path("job1") == "ExperimentRun/dcid.job1"
    assert datastore_uri("ds", "/a/b") == "azureml://datastores/ds/paths/a/b"
    with pytest.raises(ValueError):
        workspace_parts("a/b")
    with pytest.raises(ValueError):
        workspace_parts("a/../b")
    with pytest.raises(PathEscapeError):
        run_dir(s, key, "..")


def test_safe_join_accepts_inside_paths(tmp_path: Path) -> None:
    assert safe_join(tmp_path, "a/b.txt") == tmp_path / "a" / "b.txt"
    assert safe_join(tmp_path, "a/../c") == tmp_path / "c"
    assert safe_join(tmp_path, "") == tmp_path
    assert safe_join(tmp_path, "./") == tmp_path
    (tmp_path / "d").mkdir()
    os.symlink(tmp_path / "d", tmp_path / "inner")
    assert safe_join(tmp_path, "inner/x") == tmp_path / "inner" / "x"


@pytest.mark.parametrize("bad", ["/etc/passwd", "..", "../x", "a/../../x", "C:/x", "a\0b"])
def test_safe_join_refuses_escapes(tmp_path: Path, bad: str) -> None:
    with pytest.raises(PathEscapeError):
        safe_join(tmp_path / "root", bad)


def test_safe_join_refuses_symlink_out(tmp_path: Path) -> None:
    root = tmp_path / "root"
    root.mkdir()
    (tmp_path / "outside").mkdir()
    os.symlink(tmp_path / "outside", root / "link")
    with pytest.raises(PathEscapeError):
        safe_join(root, "link/secret")
    with pytest.raises(PathEscapeError):
        safe_join(root, "link")
