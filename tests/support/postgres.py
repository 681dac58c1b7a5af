"""A throwaway PostgreSQL cluster for tests: initdb + pg_ctl, loopback only, fsync off
(``durable=True``, for benchmarks: PostgreSQL's own defaults, every commit synced).

Run as root, the cluster belongs to the ``postgres`` user (initdb refuses to run as root);
run as anyone else, it belongs to that user. It listens on 127.0.0.1 on a free port and on a
Unix socket in its own directory, and is stopped by the PID in ``postmaster.pid``.
"""

from __future__ import annotations

import glob
import itertools
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

from amlite.executors.supervisor.procs import pid_alive


class PostgresUnavailable(RuntimeError):
    """This machine cannot run a throwaway PostgreSQL (with the reason)."""


def find_bindir() -> Path:
    """The directory holding ``initdb`` and ``pg_ctl`` (newest installed version)."""
    candidates = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/initdb"),
        key=lambda p: (
            int(Path(p).parent.parent.name) if Path(p).parent.parent.name.isdigit() else 0
        ),
        reverse=True,
    )
    on_path = shutil.which("initdb")
    if on_path:
        candidates.append(str(Path(on_path).resolve()))
    for initdb in candidates:
        bindir = Path(initdb).parent
        if (bindir / "pg_ctl").exists():
            return bindir
    raise PostgresUnavailable("PostgreSQL binaries (initdb, pg_ctl) not found; run .ci/postgres.sh")


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class PostgresServer:
    """One running cluster. Use ``start()`` / ``stop()`` or a ``with`` block."""

    def __init__(self, durable: bool = False) -> None:
        self.bindir = find_bindir()
        self.durable = durable
        self.port = 0
        self.pid: int | None = None
        self.root = Path(tempfile.mkdtemp(prefix="amlite-pg-"))
        self._names = itertools.count(1)
        self._run_as: list[str] = []
        if os.geteuid() == 0:
            try:
                owner = pwd.getpwnam("postgres")
            except KeyError as exc:
                raise PostgresUnavailable(
                    "running as root and there is no 'postgres' user"
                ) from exc
            runuser = shutil.which("runuser") or shutil.which("su")
            if runuser is None:
                raise PostgresUnavailable("running as root and neither runuser nor su exists")
            os.chown(self.root, owner.pw_uid, owner.pw_gid)
            os.chmod(self.root, 0o700)
            self._run_as = [runuser, "-u", "postgres", "--"] if runuser.endswith("runuser") else []
            if not self._run_as:
                raise PostgresUnavailable("running as root needs runuser to become 'postgres'")

    @property
    def data_dir(self) -> Path:
        return self.root / "data"

    def _run(self, *args: str, timeout: float = 60) -> None:
        proc = subprocess.run(
            [*self._run_as, *args], capture_output=True, text=True, timeout=timeout, check=False
        )
        if proc.returncode != 0:
            log = self.root / "server.log"
            tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
            raise PostgresUnavailable(
                f"{Path(args[0]).name} failed ({proc.returncode}): {proc.stderr.strip()}\n{tail}"
            )

    def start(self) -> PostgresServer:
        self._run(
            str(self.bindir / "initdb"),
            "-D", str(self.data_dir), "-U", "postgres", "-A", "trust", "-E", "UTF8",
            "--no-sync", "--no-instructions",
        )  # fmt: skip
        last: PostgresUnavailable | None = None
        for _attempt in range(3):  # the free port may be taken between probing and binding
            self.port = _free_port()
            try:
                self._launch()
            except PostgresUnavailable as exc:
                last = exc
                continue
            return self
        assert last is not None
        raise last

    def _launch(self) -> None:
        options = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 "
        if not self.durable:
            options += "-c fsync=off -c synchronous_commit=off -c full_page_writes=off "
        options += "-c max_connections=300"
        self._run(
            str(self.bindir / "pg_ctl"), "-D", str(self.data_dir),
            "-l", str(self.root / "server.log"), "-w", "-t", "30", "-o", options, "start",
        )  # fmt: skip
        pid_file = (self.data_dir / "postmaster.pid").read_text().split("\n")
        self.pid = int(pid_file[0])

    def pause(self) -> None:
        """Stop the postmaster (fast shutdown, by its PID) and keep the cluster's files."""
        if self.pid is not None:
            os.kill(self.pid, signal.SIGINT)
            deadline = time.monotonic() + 15
            while time.monotonic() < deadline and pid_alive(self.pid):
                time.sleep(0.02)
            if pid_alive(self.pid):
                os.kill(self.pid, signal.SIGKILL)
            self.pid = None

    def resume(self) -> None:
        """Start the paused cluster again, on the same port."""
        self._launch()

    def stop(self) -> None:
        """Fast shutdown of the postmaster by its PID, then remove the cluster's files."""
        if self.pid is not None:
            try:
                os.kill(self.pid, signal.SIGINT)
                deadline = time.monotonic() + 15
                while time.monotonic() < deadline and pid_alive(self.pid):
                    time.sleep(0.02)
                if pid_alive(self.pid):
                    os.kill(self.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.pid = None
        shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> PostgresServer:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def create_database(self, prefix: str = "amlite_test") -> str:
        """A new empty database; returns its SQLAlchemy URL."""
        import psycopg

        name = f"{prefix}_{os.getpid()}_{next(self._names)}"
        with psycopg.connect(
            host="127.0.0.1", port=self.port, user="postgres", dbname="postgres", autocommit=True
        ) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)
