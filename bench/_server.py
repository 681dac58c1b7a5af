"""Start and stop a real amlite server for benchmarks (a subprocess on a loopback port)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

API = "api-version=2021-03-01-preview"
WS = (
    "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/bench"
    "/providers/Microsoft.MachineLearningServices/workspaces/bench"
)
TERMINAL = {"Completed", "Failed", "Canceled"}
_LAUNCH = (
    "from amlite.config import Settings; from amlite.api.server import run_server; "
    "run_server(Settings.from_env(), '127.0.0.1', 0)"
)


class BenchServer:
    def __init__(self, home: Path, extra_env: dict[str, str] | None = None) -> None:
        self.home = home
        self.extra_env = extra_env or {}
        self.proc: subprocess.Popen[bytes] | None = None
        self.url = ""
        self.token = ""

    def __enter__(self) -> BenchServer:
        self.home.mkdir(parents=True, exist_ok=True)
        env = dict(os.environ, AMLITE_HOME=str(self.home), **self.extra_env)
        log = (self.home / "server.log").open("ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-c", _LAUNCH], env=env, stdout=log, stderr=log
        )
        info = self.home / "server.json"
        deadline = time.monotonic() + 300  # a loaded machine may take a minute to start it
        while time.monotonic() < deadline:
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
            self.__exit__()  # do not leave it running
            raise RuntimeError("server did not start")
        self.token = (self.home / "token").read_text().strip()
        while httpx.get(f"{self.url}/health").status_code != 200:
            time.sleep(0.05)
        return self

    def __exit__(self, *_: object) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(30)

    def client(self) -> httpx.Client:
        return httpx.Client(
            base_url=self.url, headers={"Authorization": f"Bearer {self.token}"}, timeout=60
        )

    def rss_mb(self) -> float:
        assert self.proc is not None
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        return float("nan")
