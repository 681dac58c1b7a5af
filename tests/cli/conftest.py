from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from amlite.cli import common, follow

from .fake_api import FakeApi


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[FakeApi]:
    """The CLI talks to an in-memory fake API; polling does not sleep."""
    api = FakeApi()
    monkeypatch.setenv("AMLITE_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("AMLITE_URL", "http://fake.test")
    monkeypatch.setenv("AMLITE_TOKEN", api.token)
    for var in ("AMLITE_WORKSPACE", "AMLITE_RESOURCE_GROUP", "AMLITE_SUBSCRIPTION"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setattr(common, "transport", api.transport)
    monkeypatch.setattr(follow.time, "sleep", lambda _s: None)
    yield api


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A small job folder: code in src/, a local input file, an inline conda env."""
    root = tmp_path / "project"
    (root / "src").mkdir(parents=True)
    (root / "src" / "main.py").write_text("print('hi')\n")
    (root / "data.csv").write_text("a,b\n1,2\n")
    (root / "env.yml").write_text("dependencies:\n  - pip:\n    - numpy\n")
    (root / "job.yml").write_text(
        "$schema: https://azuremlschemas.azureedge.net/latest/commandJob.schema.json\n"
        "code: src\n"
        "command: python main.py --data ${{inputs.table}} --n ${{inputs.n}} "
        "--out ${{outputs.result}}\n"
        "inputs:\n"
        "  table:\n    type: uri_file\n    path: data.csv\n    mode: download\n"
        "  n: 3\n"
        "outputs:\n  result:\n"
        "environment:\n  image: python:3.11\n  conda_file: env.yml\n"
        "experiment_name: demo\n"
        "display_name: my run\n"
        "tags:\n  team: ml\n"
    )
    return root
