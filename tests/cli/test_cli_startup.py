"""The CLI's start-up rule (see ``amlite.cli``): a command imports only what it uses. Each case
runs the real ``amlite`` in a subprocess (against a small stdlib HTTP server standing in for
amlite's API) and lists the modules it loaded; no timing here (bench/bench_feel.py times it)."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

JOB = {
    "id": "/subscriptions/s/resourceGroups/g/providers/Microsoft.MachineLearningServices"
    "/workspaces/w/jobs/hello",
    "name": "hello",
    "properties": {"jobType": "Command", "status": "Completed", "command": "echo hi"},
}

SERVER_SIDE = ("sqlalchemy", "alembic", "fastapi", "starlette", "uvicorn", "optuna")
"""Third-party packages only the server uses."""
SERVER_AMLITE = ("amlite.api", "amlite.store", "amlite.scheduler", "amlite.services")
"""amlite's server packages."""
ANY_COMMAND = (*SERVER_SIDE, *SERVER_AMLITE, "yaml", "amlite.schemas", "amlite.deployments")
"""Never loaded by a command that reads no YAML document (the job schemas are pydantic)."""
OTHER_GROUPS = ("amlite.cli.deployments", "amlite.cli.assets", "amlite.cli.infra")
"""The command groups a ``job`` command does not build (amlite.cli.main.LazyGroups)."""


class _Api(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        path = self.path.split("?")[0]
        body = {"value": [JOB]} if path.endswith("/jobs") else {} if "history" in path else JOB
        data = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def api_url() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Api)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def loaded_by(args: list[str], url: str, tmp_path: Path) -> tuple[set[str], str]:
    """Run ``amlite ARGS``; the modules it had loaded when it exited, and its stdout."""
    dump = tmp_path / "modules.json"
    code = (
        "import atexit, json, sys\n"
        "def dump():\n"
        f"    with open({str(dump)!r}, 'w') as f:\n"
        "        json.dump([m for m, v in sys.modules.items() if v is not None], f)\n"
        "atexit.register(dump)\n"
        "from amlite.cli.main import app\n"
        f"sys.argv = ['amlite', *{args!r}]\n"
        "app()\n"
    )
    env = {
        "PATH": "/usr/bin:/bin",
        "HOME": str(tmp_path),
        "AMLITE_HOME": str(tmp_path / "home"),
        "AMLITE_URL": url,
        "COLUMNS": "100",
    }
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    return set(json.loads(dump.read_text())), done.stdout


def _under(modules: set[str], packages: tuple[str, ...]) -> list[str]:
    return sorted(m for m in modules if any(m == p or m.startswith(p + ".") for p in packages))


@pytest.mark.parametrize("args", [["--help"], ["job", "show", "--help"]])
def test_help_loads_no_http_client_and_no_server(
    args: list[str], api_url: str, tmp_path: Path
) -> None:
    modules, out = loaded_by(args, api_url, tmp_path)
    assert "Usage" in out
    assert _under(modules, (*ANY_COMMAND, "httpx")) == []


def test_job_show_loads_the_client_and_the_table_only(api_url: str, tmp_path: Path) -> None:
    modules, out = loaded_by(["job", "show", "hello"], api_url, tmp_path)
    assert "Completed" in out and "echo hi" in out
    assert "httpx" in modules and "rich.table" in modules
    # httpx's own command line (click, pygments, rich.syntax) is not the CLI's business
    assert _under(modules, (*ANY_COMMAND, *OTHER_GROUPS, "pygments", "click", "rich.syntax")) == []


def test_job_list_draws_its_plain_columns_without_rich_console(
    api_url: str, tmp_path: Path
) -> None:
    modules, out = loaded_by(["job", "list"], api_url, tmp_path)
    assert out.splitlines()[2].startswith("hello  Command  Completed")
    assert (
        _under(modules, (*ANY_COMMAND, *OTHER_GROUPS, "pygments", "rich.console", "rich.table"))
        == []
    )
