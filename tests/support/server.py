"""A real amlite server in a subprocess on a loopback port, for API and end-to-end tests."""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import tarfile
import time
from pathlib import Path
from typing import Any

import httpx

API = "api-version=2021-03-01-preview"
WS = (
    "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg1"
    "/providers/Microsoft.MachineLearningServices/workspaces/ws1"
)
TERMINAL = {"Completed", "Failed", "Canceled"}

_LAUNCH = (
    "import sys; from amlite.config import Settings; from amlite.api.server import run_server; "
    "run_server(Settings.from_env(), '127.0.0.1', int(sys.argv[1]))"
)


class LiveServer:
    """Start, kill and restart an ``amlite server`` process on a given home directory."""

    def __init__(
        self,
        home: Path,
        database_url: str | None = None,
        slots: int | None = None,
        env: dict[str, str] | None = None,
    ) -> None:
        self.home = home
        self.extra_env = dict(env or {})
        self.database_url = database_url
        self.slots = slots
        self.proc: subprocess.Popen[bytes] | None = None
        self.url = ""
        self.token = ""
        self.env: dict[str, str] = {}
        """Extra variables of the server's environment."""

    def start(self) -> LiveServer:
        env = dict(os.environ, AMLITE_HOME=str(self.home), **self.extra_env)
        env.pop("AMLITE_URL", None)
        if self.database_url:
            env["AMLITE_DATABASE_URL"] = self.database_url
        if self.slots:
            env["AMLITE_LOCAL_SLOTS"] = str(self.slots)
        env.update(self.env)
        self.home.mkdir(parents=True, exist_ok=True)
        info = self.home / "server.json"
        info.unlink(missing_ok=True)
        log = (self.home / "server.log").open("ab")
        # a restart keeps the port, as a real server's would: running jobs talk to it
        port = self.url.rsplit(":", 1)[1] if self.url else "0"
        self.proc = subprocess.Popen(
            [sys.executable, "-c", _LAUNCH, port], env=env, stdout=log, stderr=log
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"server exited: {(self.home / 'server.log').read_text()[-3000:]}"
                )
            if info.exists():
                try:
                    data = json.loads(info.read_text())
                except ValueError:
                    data = {}
                if data.get("pid") == self.proc.pid:
                    self.url = data["url"]
                    break
            time.sleep(0.05)
        else:
            raise RuntimeError("server did not start in time")
        self.token = (self.home / "token").read_text().strip()
        while httpx.get(f"{self.url}/health").status_code not in (200, 503):  # 503: no database
            time.sleep(0.05)
        return self

    def job_dir(self, name: str) -> Path:
        """The working directory of job ``name`` (the current directory of its command): the
        place a test and a sandboxed job both see (the job's ``/tmp`` is its own)."""
        deadline = time.monotonic() + 30  # its supervisor makes it as the job starts
        while not (found := list(self.home.glob(f"runs/*/*/*/{name}/wd"))):
            assert time.monotonic() < deadline, f"job {name} has no working directory"
            time.sleep(0.05)
        assert len(found) == 1, found
        return found[0]

    def client(self, token: str | None = None) -> httpx.Client:
        headers = {"Authorization": f"Bearer {token or self.token}"}
        return httpx.Client(base_url=self.url, headers=headers, timeout=30)

    def kill(self) -> None:
        """SIGKILL: no chance to clean up, as in a crash."""
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.kill()


def job_url(name: str) -> str:
    return f"{WS}/jobs/{name}?{API}"


def command_body(command: str, **props: Any) -> dict[str, Any]:
    return {"properties": {"jobType": "Command", "command": command, "compute": {}, **props}}


def wait_terminal(client: httpx.Client, name: str, timeout: float = 60) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        resp = client.get(job_url(name))
        resp.raise_for_status()
        body: dict[str, Any] = resp.json()
        if body["properties"]["status"] in TERMINAL:
            return body
        if time.monotonic() > deadline:
            raise AssertionError(
                f"job {name} still {body['properties']['status']} after {timeout}s"
            )
        time.sleep(0.05)


def wait_status(client: httpx.Client, name: str, status: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while client.get(job_url(name)).json()["properties"]["status"] != status:
        if time.monotonic() > deadline:
            raise AssertionError(f"job {name} never reached {status}")
        time.sleep(0.05)


def history(client: httpx.Client, name: str) -> dict[str, Any]:
    resp = client.get(f"{WS}/jobs/{name}/history?{API}")
    resp.raise_for_status()
    data: dict[str, Any] = resp.json()
    return data


def read_artifact(client: httpx.Client, name: str, path: str) -> str:
    resp = client.get(
        f"{WS}/datastores/workspaceblobstore/files/ExperimentRun/dcid.{name}/{path}?{API}"
    )
    resp.raise_for_status()
    return resp.text


def upload_code(c: httpx.Client, name: str, files: dict[str, str]) -> str:
    """Register ``files`` as code asset ``name`` version 1; returns its id."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for path, text in files.items():
            data = text.encode()
            info = tarfile.TarInfo(path)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    resp = c.post(
        f"{WS}/datastores/workspaceblobstore/upload?{API}&path=LocalUpload/{name}",
        content=buf.getvalue(),
    )
    assert resp.status_code == 200, resp.text
    code_id = f"{WS}/codes/{name}/versions/1"
    resp = c.put(
        f"{code_id}?{API}",
        json={
            "properties": {
                "datastoreId": f"{WS}/datastores/workspaceblobstore",
                "path": f"LocalUpload/{name}",
            }
        },
    )
    assert resp.status_code in (200, 201), resp.text
    return code_id
