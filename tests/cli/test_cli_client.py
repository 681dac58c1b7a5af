"""The REST client: paging, errors, server discovery, datastore files."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from amlite.client import (
    NO_SERVER,
    AmliteClient,
    ApiError,
    ServerNotFound,
    default_workspace,
)
from amlite.config import Settings

from .fake_api import FakeApi


def make(api: FakeApi) -> AmliteClient:
    return AmliteClient("http://fake.test", api.token, default_workspace(), transport=api.transport)


def test_list_follows_next_link_across_pages() -> None:
    api = FakeApi(page_size=2)
    client = make(api)
    for i in range(5):
        client.put_job(f"j{i}", {"properties": {"jobType": "Command", "command": "x"}})
    assert [j["name"] for j in client.list_jobs()] == ["j0", "j1", "j2", "j3", "j4"]
    assert len([r for r in api.requests if r == ("GET", api.requests[-1][1])]) >= 3


def test_api_error_carries_the_arm_envelope() -> None:
    client = make(FakeApi())
    with pytest.raises(ApiError) as info:
        client.put_job("bad", {"properties": {"jobType": "Command", "command": ""}})
    err = info.value
    assert err.status == 400 and err.code == "ValidationError"
    assert err.details[0]["target"] == "properties.command"
    with pytest.raises(ApiError) as info:
        client.get_job("nope")
    assert info.value.status == 404 and info.value.code == "ResourceNotFound"


def test_wrong_token_is_401() -> None:
    api = FakeApi()
    client = AmliteClient("http://fake.test", "wrong", default_workspace(), transport=api.transport)
    with pytest.raises(ApiError) as info:
        client.get_job("x")
    assert info.value.status == 401


def test_workspace_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AMLITE_WORKSPACE", "ws2")
    monkeypatch.delenv("AMLITE_RESOURCE_GROUP", raising=False)
    monkeypatch.delenv("AMLITE_SUBSCRIPTION", raising=False)
    ws = default_workspace()
    assert (ws.subscription, ws.resource_group, ws.workspace) == (
        "00000000-0000-0000-0000-000000000000",
        "amlite",
        "ws2",
    )
    assert default_workspace(workspace="ws3").workspace == "ws3"


def test_from_settings_finds_the_server_or_says_how_to_start_one(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("AMLITE_URL", raising=False)
    monkeypatch.delenv("AMLITE_TOKEN", raising=False)
    settings = Settings(home=tmp_path)
    with pytest.raises(ServerNotFound, match="start one with `amlite server`"):
        AmliteClient.from_settings(settings)
    assert "amlite run" in NO_SERVER
    (tmp_path / "server.json").write_text(json.dumps({"url": "http://h:1", "pid": os.getpid()}))
    (tmp_path / "token").write_text("tok\n")
    client = AmliteClient.from_settings(settings)
    assert client.url == "http://h:1" and client.token == "tok"
    (tmp_path / "server.json").write_text(json.dumps({"url": "http://h:1", "pid": 2**22 + 7}))
    with pytest.raises(ServerNotFound):
        AmliteClient.from_settings(settings)
    monkeypatch.setenv("AMLITE_URL", "http://other:2")
    assert AmliteClient.from_settings(settings).url == "http://other:2"


def test_upload_dir_get_file_with_offset_and_list(tmp_path: Path) -> None:
    api = FakeApi()
    client = make(api)
    (tmp_path / "d" / "sub").mkdir(parents=True)
    (tmp_path / "d" / "a.txt").write_text("hello")
    (tmp_path / "d" / "sub" / "b.txt").write_text("world")
    client.upload_dir("workspaceblobstore", tmp_path / "d", "up/d")
    assert client.get_file("workspaceblobstore", "up/d/a.txt") == b"hello"
    assert client.get_file("workspaceblobstore", "up/d/sub/b.txt", offset=2) == b"rld"
    listed = sorted(f["path"] for f in client.list_files("workspaceblobstore", "up/d"))
    assert listed == ["a.txt", "sub/b.txt"]
    client.put_file("workspaceblobstore", "x/y.bin", b"\x00\x01")
    assert client.get_file("workspaceblobstore", "x/y.bin") == b"\x00\x01"


def test_unreachable_server_is_a_clear_error() -> None:
    client = AmliteClient("http://127.0.0.1:9", "t", default_workspace(), timeout=2)
    with pytest.raises(ServerNotFound, match="cannot reach"):
        client.get_job("x")
