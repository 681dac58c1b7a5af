"""A throwaway Azurite (Microsoft's storage emulator, blob service only) for tests.

Found at ``.ci/node/node_modules/.bin/azurite-blob`` (``scripts/test.sh`` installs it there)
or on PATH; it listens on a free loopback port, keeps its data in a temp directory, runs with
``--skipApiVersionCheck`` (the SDK sends a newer x-ms-version than Azurite knows) and is
stopped by its PID.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
ACCOUNT = "devstoreaccount1"
KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
"""Azurite's well-known development account key (public, documented by Microsoft)."""


class AzuriteUnavailable(RuntimeError):
    """This machine cannot run Azurite (with the reason)."""


def find_azurite() -> str:
    local = REPO / ".ci" / "node" / "node_modules" / ".bin" / "azurite-blob"
    if local.exists():
        return str(local)
    on_path = shutil.which("azurite-blob")
    if on_path:
        return on_path
    raise AzuriteUnavailable("azurite-blob not found: run scripts/test.sh or scripts/azurite.sh")


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Azurite:
    """One running emulator. ``endpoint`` is what a datastore's ``endpoint`` field takes."""

    def __init__(self) -> None:
        self.binary = find_azurite()
        self.root = Path(tempfile.mkdtemp(prefix="amlite-azurite-"))
        self.port = 0
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def endpoint(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def connection_string(self) -> str:
        return (
            f"DefaultEndpointsProtocol=http;AccountName={ACCOUNT};AccountKey={KEY};"
            f"BlobEndpoint=http://{self.endpoint}/{ACCOUNT};"
        )

    def start(self) -> Azurite:
        for _attempt in range(3):  # the free port may be taken between probing and binding
            self.port = _free_port()
            log = (self.root / "azurite.log").open("ab")
            self.proc = subprocess.Popen(
                [
                    self.binary, "--blobHost", "127.0.0.1", "--blobPort", str(self.port),
                    "--location", str(self.root / "data"), "--skipApiVersionCheck", "--loose",
                    "--silent",
                ],
                stdout=log, stderr=log, start_new_session=True,
            )  # fmt: skip
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline and self.proc.poll() is None:
                try:
                    with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                        return self
                except OSError:
                    time.sleep(0.1)
            self.stop()
        tail = (self.root / "azurite.log").read_text(errors="replace")[-2000:]
        raise AzuriteUnavailable(f"azurite did not start: {tail}")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(10)
        self.proc = None

    def cleanup(self) -> None:
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)
