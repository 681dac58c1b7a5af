"""The CLI against the real server (EmbeddedServer), running real jobs."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from amlite.cli.main import app
from amlite.config import Settings

server_mod = pytest.importorskip("amlite.api.server")

runner = CliRunner()


@pytest.fixture
def live(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[object]:
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("AMLITE_HOME", str(home))
    for var in (
        "AMLITE_WORKSPACE",
        "AMLITE_RESOURCE_GROUP",
        "AMLITE_SUBSCRIPTION",
        "AMLITE_URL",
        "AMLITE_TOKEN",
    ):
        monkeypatch.delenv(var, raising=False)
    with server_mod.EmbeddedServer(Settings.from_env()) as srv:
        monkeypatch.setenv("AMLITE_URL", srv.url)
        monkeypatch.setenv("AMLITE_TOKEN", srv.token)
        yield srv


@pytest.fixture
def job_dir(tmp_path: Path) -> Path:
    root = tmp_path / "job"
    (root / "src").mkdir(parents=True)
    (root / "src" / "count.py").write_text(
        "import os, sys\n"
        "text = open(sys.argv[1]).read()\n"
        "print('words:', len(text.split()))\n"
        "os.makedirs('outputs', exist_ok=True)\n"
        "open('outputs/summary.txt', 'w').write(text.upper())\n"
        "open(os.path.join(sys.argv[3], 'n.txt'), 'w').write(sys.argv[2])\n"
    )
    (root / "words.txt").write_text("one two three\n")
    (root / "job.yml").write_text(
        "command: python count.py ${{inputs.words}} ${{inputs.n}} ${{outputs.out}}\n"
        "code: src\n"
        "inputs:\n  words: {type: uri_file, path: words.txt}\n  n: 5\n"
        "outputs:\n  out:\n"
        "experiment_name: e2e\n"
    )
    return root


def invoke(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_job_create_stream_show_list_download(live: object, job_dir: Path, tmp_path: Path) -> None:
    code, out, err = invoke(
        "job", "create", "-f", str(job_dir / "job.yml"), "-n", "count1", "--stream"
    )
    assert code == 0, out + err
    assert "words: 3" in out and "count1: Completed" in out
    code, out, _ = invoke("job", "show", "count1", "-o", "json")
    assert json.loads(out)["properties"]["status"] == "Completed"
    code, out, _ = invoke("job", "list", "-o", "json")
    assert "count1" in [j["name"] for j in json.loads(out)]
    dest = tmp_path / "dl"
    code, _, err = invoke("job", "download", "count1", "--download-path", str(dest))
    assert code == 0, err
    assert "words: 3" in (dest / "artifacts" / "user_logs" / "std_log.txt").read_text()
    assert (dest / "artifacts" / "outputs" / "summary.txt").read_text() == "ONE TWO THREE\n"
    assert (dest / "named-outputs" / "out" / "n.txt").read_text() == "5"


def test_failed_job_exits_1_and_cancel(live: object, tmp_path: Path) -> None:
    (tmp_path / "f.yml").write_text("command: echo boom; exit 3\n")
    code, out, _ = invoke("job", "create", "-f", str(tmp_path / "f.yml"), "-n", "boom", "--stream")
    assert code == 1 and "boom" in out and "Failed" in out
    (tmp_path / "s.yml").write_text("command: sleep 30\n")
    assert invoke("job", "create", "-f", str(tmp_path / "s.yml"), "-n", "sleepy")[0] == 0
    code, out, err = invoke("job", "cancel", "sleepy")
    assert code == 0, err
    code, out, _ = invoke("job", "wait", "sleepy")
    assert code == 1 and "Canceled" in out
    assert invoke("job", "delete", "sleepy")[0] == 0
    code, _, err = invoke("job", "show", "sleepy")
    assert code == 2 and "error:" in err


def test_server_rejects_bad_reference_with_exit_2(live: object, tmp_path: Path) -> None:
    (tmp_path / "j.yml").write_text("command: echo hi\ncompute: azureml:no-such-cluster\n")
    code, _, err = invoke("job", "create", "-f", str(tmp_path / "j.yml"))
    assert code == 2 and "error:" in err


def test_amlite_run_without_a_server(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, job_dir: Path
) -> None:
    monkeypatch.setenv("AMLITE_HOME", str(tmp_path / "runhome"))
    for var in ("AMLITE_URL", "AMLITE_TOKEN", "AMLITE_WORKSPACE"):
        monkeypatch.delenv(var, raising=False)
    code, out, err = invoke("run", str(job_dir / "job.yml"))
    assert code == 0, out + err
    assert "words: 3" in out and "Completed" in out
    (tmp_path / "fail.yml").write_text("command: exit 4\n")
    code, out, _ = invoke("run", str(tmp_path / "fail.yml"))
    assert code == 1
    (tmp_path / "bad.yml").write_text("command: x\nbogus: 1\n")
    code, _, err = invoke("run", str(tmp_path / "bad.yml"))
    assert code == 2 and "bogus: unknown key" in err
    assert not os.path.exists(tmp_path / "runhome" / "server.json")
