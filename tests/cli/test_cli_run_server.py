"""``amlite run`` exit codes and Ctrl-C, and ``amlite server``, with the server faked."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from amlite.cli import run as run_mod
from amlite.cli.main import app
from amlite.client import AmliteClient

from .fake_api import FakeApi

server_mod = pytest.importorskip("amlite.api.server")
runner = CliRunner()


class FakeEmbedded:
    def __init__(self, settings: Any) -> None:
        self.url = "http://fake.test"
        self.token = "secret"

    def __enter__(self) -> FakeEmbedded:
        return self

    def __exit__(self, *exc: object) -> None:
        return None


@pytest.fixture
def embedded(fake: FakeApi, monkeypatch: pytest.MonkeyPatch) -> FakeApi:
    monkeypatch.delenv("AMLITE_URL")
    monkeypatch.delenv("AMLITE_TOKEN")
    monkeypatch.setattr(server_mod, "EmbeddedServer", FakeEmbedded)
    return fake


def test_run_exit_codes(embedded: FakeApi, tmp_path: Path) -> None:
    (tmp_path / "ok.yml").write_text("command: echo ok\n")
    result = runner.invoke(app, ["run", str(tmp_path / "ok.yml"), "-n", "r1"])
    assert result.exit_code == 0 and "r1: Completed" in result.stdout
    (tmp_path / "bad.yml").write_text("command: fail\n")
    assert runner.invoke(app, ["run", str(tmp_path / "bad.yml")]).exit_code == 1


def test_run_ctrl_c_cancels_the_job(
    embedded: FakeApi, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def interrupted(client: AmliteClient, name: str, *a: Any, **k: Any) -> str:
        raise KeyboardInterrupt

    monkeypatch.setattr(run_mod, "follow_job", interrupted)
    (tmp_path / "j.yml").write_text("command: sleep 100\n")
    result = runner.invoke(app, ["run", str(tmp_path / "j.yml"), "-n", "stopme"])
    assert result.exit_code == 130
    assert embedded.jobs["stopme"]["properties"]["status"] == "Canceled"
    assert "cancelling stopme" in result.stderr


def test_run_rejected_by_the_server_exits_2(embedded: FakeApi, tmp_path: Path) -> None:
    (tmp_path / "b.json").write_text('{"properties": {"jobType": "Command", "command": ""}}')
    result = runner.invoke(app, ["run", str(tmp_path / "b.json")])
    assert result.exit_code == 2 and "properties.command: field required" in result.stderr


def test_server_command_calls_run_server(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: dict[str, Any] = {}

    def fake_run(settings: Any, host: str, port: int) -> None:
        seen.update(host=host, port=port, home=settings.home)

    monkeypatch.setattr(server_mod, "run_server", fake_run)
    result = runner.invoke(app, ["server", "--port", "9999"])
    assert result.exit_code == 0
    assert seen["host"] == "127.0.0.1" and seen["port"] == 9999
