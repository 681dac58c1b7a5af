"""A node without the server's filesystem (``ray.node.run_remote``), against a fake of the
server's file and job API: inputs are fetched, the code comes from the shipped package,
logs and outputs are pushed while the job runs and when it ends, a cancel arrives through
the job's status, and a node that sees the run directory works there instead."""

from __future__ import annotations

import json
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlparse

import pytest

from amlite.executors.ray import node as ray_node

WS = "/subscriptions/s/resourceGroups/r/providers/Microsoft.MachineLearningServices/workspaces/w"
TOKEN = "amlj_test"


class FakeServer:
    """The few routes a node calls, over a dict of (datastore, path) -> bytes."""

    def __init__(self) -> None:  # noqa: C901  (the fake's routes are nested handlers)
        self.files: dict[tuple[str, str], bytes] = {}
        self.puts: list[tuple[float, str]] = []
        self.status = "Running"
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _send(
                self, code: int, body: bytes = b"", headers: dict[str, str] | None = None
            ) -> None:
                self.send_response(code)
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def _route(self) -> tuple[str, str, str, dict[str, list[str]]] | None:
                if self.headers.get("Authorization") != f"Bearer {TOKEN}":
                    self._send(403)
                    return None
                url = urlparse(self.path)
                rest = unquote(url.path)[len(WS) :]
                parts = rest.strip("/").split("/", 3)
                kind = parts[0]
                store = parts[1] if len(parts) > 1 else ""
                what = "/".join(parts[2:])
                return kind, store, what, parse_qs(url.query)

            def do_GET(self) -> None:
                route = self._route()
                if route is None:
                    return
                kind, store, what, query = route
                if kind == "jobs":
                    body = {"properties": {"status": fake.status}}
                    return self._send(200, json.dumps(body).encode())
                if what == "list":
                    prefix = query.get("path", [""])[0].strip("/")
                    items = []
                    for (ds, path), data in sorted(fake.files.items()):
                        if ds == store and path == prefix:
                            items.append({"path": path.rsplit("/", 1)[-1], "size": len(data)})
                        elif ds == store and path.startswith(prefix + "/"):
                            items.append({"path": path[len(prefix) + 1 :], "size": len(data)})
                    return self._send(200, json.dumps({"value": items}).encode())
                path = what.removeprefix("files/")
                found = fake.files.get((store, path))
                if found is None:
                    return self._send(404)
                offset = int(query.get("offset", ["0"])[0])
                chunk = found[offset : offset + 5]  # small pages: the reader must follow them
                self._send(200, chunk, {"x-amlite-file-size": str(len(found))})

            def do_PUT(self) -> None:
                route = self._route()
                if route is None:
                    return
                _, store, what, _ = route
                body = self.rfile.read(int(self.headers["Content-Length"]))
                path = what.removeprefix("files/")
                fake.files[(store, path)] = body
                fake.puts.append((time.monotonic(), path))
                self._send(201)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()


@pytest.fixture
def fake() -> Iterator[FakeServer]:
    server = FakeServer()
    yield server
    server.httpd.shutdown()
    server.httpd.server_close()


def job(tmp_path: Path, url: str, command: str) -> dict[str, Any]:
    """A descriptor as ``ray_ship.descriptor`` makes it, for a server home that this
    "node" cannot see (the paths do not exist here)."""
    home = "/srv/amlite-home-not-here"
    stores = f"{home}/datastores/s/r/w"
    run = f"{home}/runs/s/r/w/j1"
    art = f"{stores}/workspaceblobstore/ExperimentRun/dcid.j1"
    plan = {
        "job_id": f"{WS}/jobs/j1",
        "run_dir": run,
        "working_dir": f"{run}/wd",
        "artifacts_dir": art,
        "command": command,
        "env": {"INPUT": f"{run}/inputs/data", "OUTPUT": f"{run}/outputs/model"},
        "timeout_seconds": None,
        "prepare": [
            {"op": "copy", "src": f"{stores}/workspaceblobstore/code/c1", "dst": f"{run}/wd"},
            {
                "op": "copy",
                "src": f"{stores}/workspaceblobstore/sets/d1",
                "dst": f"{run}/inputs/data",
            },
            {"op": "mkdir", "src": "", "dst": f"{stores}/workspaceblobstore/azureml/j1/model"},
            {"op": "mount", "src": f"{stores}/workspaceblobstore/azureml/j1/model",
             "dst": f"{run}/outputs/model"},
        ],
        "finalize": [
            {"op": "copy_into", "src": f"{run}/wd/outputs", "dst": f"{art}/outputs"},
        ],
        "environment": None,
        "fail_reason": None,
        "processes": [],
        "nodes": [{"id": "n0", "address": "10.0.0.2", "cpus": 1, "memory": 0, "gpus": 0}],
        "sandbox": None,
    }  # fmt: skip
    return {
        "sid": "sid-test",
        "job": "j1",
        "workspace": WS,
        "server_url": url,
        "token": TOKEN,
        "run_dir": run,
        "artifacts_dir": art,
        "datastores": stores,
        "artifacts_store": "workspaceblobstore",
        "artifacts_path": "ExperimentRun/dcid.j1",
        "code": f"{stores}/workspaceblobstore/code/c1",
        "code_is_file": False,
        "plan": plan,
    }


@pytest.fixture
def node(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The node's root, and the job's code as Ray unpacks a ``py_modules`` package."""
    root = tmp_path / "node"
    monkeypatch.setenv("AMLITE_NODE_ROOT", str(root))
    monkeypatch.setattr(ray_node, "SYNC_SECONDS", 0.1)
    shipped = tmp_path / "pkg"
    (shipped / "amlite_code").mkdir(parents=True)
    (shipped / "amlite_code" / "train.py").write_text(
        "import os, pathlib, sys, time\n"
        "data = pathlib.Path(os.environ['INPUT'], 'a.txt').read_text()\n"
        "print('read', data, 'in', sys.prefix, flush=True)\n"
        "time.sleep(float(sys.argv[1]))\n"
        "pathlib.Path(os.environ['OUTPUT'], 'model.txt').write_text('model of ' + data)\n"
        "os.makedirs('outputs', exist_ok=True)\n"
        "pathlib.Path('outputs/metrics.json').write_text('{}')\n"
    )
    monkeypatch.setattr(sys, "path", [str(shipped), *sys.path])
    return root


def test_a_node_fetches_runs_and_pushes_without_the_servers_disk(
    fake: FakeServer, node: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fake.files[("workspaceblobstore", "sets/d1/a.txt")] = b"the input data"
    desc = job(tmp_path, fake.url, "python train.py 1.0")
    # an environment: built on the node (with the node's Python: the server's is not
    # there), cached below the node's root by the environment's hash
    desc["plan"]["environment"] = {
        "dir": "/srv/amlite-home-not-here/envs/0123abcd",
        "python": "/srv/amlite-home-not-here/python3",
        "requirements": [],
        "notes": [],
    }
    result = ray_node.run_remote(desc["plan"], desc, 0, relay_events=True)
    assert result["outcome"] == "Completed", (result, fake.files.keys())
    art = "ExperimentRun/dcid.j1"
    log = fake.files[("workspaceblobstore", f"{art}/user_logs/std_log.txt")].decode()
    assert f"read the input data in {node / 'envs' / '0123abcd'}" in log
    assert (node / "envs" / "0123abcd" / ".ready").exists()
    model = fake.files[("workspaceblobstore", "azureml/j1/model/model.txt")]
    assert model == b"model of the input data"
    assert ("workspaceblobstore", f"{art}/outputs/metrics.json") in fake.files
    assert ("workspaceblobstore", f"{art}/system_logs/supervisor.log") in fake.files
    # the log was pushed while the command still ran (it slept a second after printing)
    first_log_push = min(t for t, p in fake.puts if p.endswith("std_log.txt"))
    model_push = min(t for t, p in fake.puts if p.endswith("model.txt"))
    assert first_log_push < model_push - 0.3
    # the job worked below the node's root, never at the server's paths
    assert (node / "runs" / "sid-test" / "wd" / "train.py").exists()
    assert not Path(desc["run_dir"]).exists()
    out = capsys.readouterr().out
    statuses = [json.loads(x.split(" ", 1)[1])["status"] for x in out.splitlines()
                if x.startswith(ray_node.EVENT_TAG)]  # fmt: skip
    assert statuses == ["Running", "Finalizing"]


def test_a_missing_input_fails_the_node_naming_it(
    fake: FakeServer, node: Path, tmp_path: Path
) -> None:
    desc = job(tmp_path, fake.url, "true")
    result = ray_node.run_remote(desc["plan"], desc, 0, relay_events=False)
    assert result["outcome"] == "Failed"
    assert "sets/d1" in result["reason"] and "fetching the inputs" in result["reason"]


def test_a_cancel_reaches_the_node_through_the_jobs_status(
    fake: FakeServer, node: Path, tmp_path: Path
) -> None:
    fake.files[("workspaceblobstore", "sets/d1/a.txt")] = b"x"
    desc = job(tmp_path, fake.url, "python train.py 60")
    timer = threading.Timer(1.5, lambda: setattr(fake, "status", "CancelRequested"))
    timer.start()
    started = time.monotonic()
    result = ray_node.run_remote(desc["plan"], desc, 0, relay_events=False)
    assert result["outcome"] == "Canceled", result
    assert time.monotonic() - started < 20
    # what the job printed before the cancel still reached the server
    art = "ExperimentRun/dcid.j1"
    assert b"read x" in fake.files[("workspaceblobstore", f"{art}/user_logs/std_log.txt")]


def test_a_node_that_sees_the_run_directory_works_there(tmp_path: Path) -> None:
    run = tmp_path / "run"
    run.mkdir()
    desc = {"run_dir": str(run), "sid": "sid-1"}
    assert not ray_node.sees_run_dir(desc)
    (run / ray_node.MARKER).write_text("sid-other")
    assert not ray_node.sees_run_dir(desc)  # another job's (or an old) run directory
    (run / ray_node.MARKER).write_text("sid-1")
    assert ray_node.sees_run_dir(desc)
