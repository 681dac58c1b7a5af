"""A real two-node Ray cluster on this machine, for the Ray backend's tests and benchmarks.

Head and worker are separate ``ray start`` runs with their own temp dirs, both with
``RAY_AUTH_MODE=disabled`` (the same on every node and driver). Ray binds the machine's own
address; the dashboard (the address a Ray compute names) listens on loopback. Each
``ray start`` runs in a new session, and ``stop()`` ends exactly the processes of those
sessions and their descendants (job entrypoints start sessions of their own), by pid.

``hide_from_worker``: the worker node runs in its own mount namespace (``unshare -m``) where
those directories are empty tmpfs, except ``keep_for_worker`` (bound back in): a node that
shares no filesystem with the server (and then the cluster's files live in /var/tmp, the
head's hidden from the worker as well).
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

from amlite.executors.supervisor.procs import pid_alive

RAY_ENV = {
    "RAY_AUTH_MODE": "disabled",
    "RAY_USAGE_STATS_ENABLED": "0",
    # a loaded machine: a raylet waits this long for its node's agents (Python) to start
    "RAY_agent_register_timeout_ms": "120000",
}
GIB = 1024**3
KEEP_LOGS_ENV = "AMLITE_RAY_TEST_LOGS"
"""A folder: each test cluster's temp dirs (Ray's logs, Ray jobs' driver logs) are copied
there when it stops."""


def ray_available() -> bool:
    return shutil.which("ray", path=str(Path(sys.executable).parent)) is not None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _proc_table() -> dict[int, tuple[int, int]]:
    """pid -> (ppid, session id)."""
    table: dict[int, tuple[int, int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            raw = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        fields = raw[raw.rfind(")") + 2 :].split()
        table[int(entry)] = (int(fields[1]), int(fields[3]))
    return table


class RayTestCluster:
    def __init__(
        self,
        cpus_per_node: int = 2,
        memory_gib: int = 4,
        hide_from_worker: tuple[str, ...] = (),
        keep_for_worker: tuple[str, ...] = (),
    ) -> None:
        self.cpus = cpus_per_node
        self.memory = memory_gib * GIB
        where = "/var/tmp" if hide_from_worker else None
        self.root = Path(tempfile.mkdtemp(prefix="amr", dir=where))  # short: Ray's socket paths
        self.hide = [*hide_from_worker, str(self.root / "head")] if hide_from_worker else []
        self.keep = list(keep_for_worker)
        self.sessions: list[int] = []
        self.dashboard = ""
        self.gcs = ""
        self.node_ip = ""

    @property
    def env(self) -> dict[str, str]:
        return {**os.environ, **RAY_ENV}

    def _isolated(self) -> list[str]:
        """The command prefix that starts the worker in its own mount namespace."""
        stage = self.root / "stage"
        lines = ["set -e"]
        for i, keep in enumerate(self.keep):  # reachable while the hidden trees are covered
            (stage / str(i)).mkdir(parents=True, exist_ok=True)
            lines.append(f"mount --bind {shlex.quote(keep)} {stage / str(i)}")
        # a tree inside another hidden one is hidden with it (and its mount point would no
        # longer exist: a checkout under /tmp when /tmp is hidden)
        outer = [
            h for h in self.hide if not any(h != o and Path(h).is_relative_to(o) for o in self.hide)
        ]
        for hide in outer:
            Path(hide).mkdir(parents=True, exist_ok=True)
            lines.append(f"mount -t tmpfs -o size=256m amlite-hidden {shlex.quote(hide)}")
        for i, keep in enumerate(self.keep):
            lines.append(f"mkdir -p {shlex.quote(keep)}")
            lines.append(f"mount --bind {stage / str(i)} {shlex.quote(keep)}")
            lines.append(f"umount {stage / str(i)}")
        lines.append('exec "$@"')
        return ["unshare", "-m", "--propagation", "private", "sh", "-c", "\n".join(lines), "sh"]

    def _first_id(self) -> dict[str, str]:
        """A node id below the head's: amlite places a job's node 0 (and a multi-node job's
        driver) on the lowest id of equally free nodes, so the blind worker gets them."""
        head = min(str(n["node_id"]) for n in self._nodes())
        while True:
            nid = "00" + secrets.token_hex(27)
            if nid < head:
                return {"RAY_OVERRIDE_NODE_ID_FOR_TESTING": nid}

    def _ray_start(self, *args: str, isolated: bool = False, env: dict[str, str]) -> None:
        ray = str(Path(sys.executable).parent / "ray")
        log = (self.root / "ray_start.log").open("ab")
        proc = subprocess.Popen(
            [
                *(self._isolated() if isolated else []),
                ray,
                "start",
                *args,
                f"--num-cpus={self.cpus}",
                f"--memory={self.memory}",
                "--object-store-memory=100000000",
                "--disable-usage-stats",
            ],
            env={**self.env, **env},
            stdout=log,
            stderr=log,
            start_new_session=True,
        )
        self.sessions.append(proc.pid)
        if proc.wait(120) != 0:
            raise RuntimeError((self.root / "ray_start.log").read_text()[-3000:])

    def _nodes(self) -> list[dict[str, object]]:
        with urllib.request.urlopen(f"{self.dashboard}/api/v0/nodes?detail=1", timeout=5) as r:
            data = json.loads(r.read())
        rows = data["data"]["result"]["result"]
        return [row for row in rows if row.get("state") == "ALIVE"]

    def start(self) -> RayTestCluster:
        try:
            return self._start()
        except BaseException:
            self.stop()
            raise

    def _start(self) -> RayTestCluster:
        ports: list[int] = []

        def head(attempt: int) -> list[str]:
            ports.append(_free_port())
            dash = _free_port()
            self.dashboard = f"http://127.0.0.1:{dash}"
            return [
                "--head",
                f"--port={ports[-1]}",
                "--dashboard-host=127.0.0.1",
                f"--dashboard-port={dash}",
                "--include-dashboard=true",
                f"--temp-dir={self.root / 'head'}",
                f"--ray-client-server-port={_free_port()}",
                f"--dashboard-agent-listen-port={_free_port()}",
            ]

        self.node_ip = str(self._start_node(head, 1)[0]["node_ip"])
        self.gcs = f"{self.node_ip}:{ports[-1]}"

        def worker(attempt: int) -> list[str]:
            return [
                f"--address={self.gcs}",
                f"--temp-dir={self.root / f'worker{attempt}'}",
                f"--dashboard-agent-listen-port={_free_port()}",
            ]

        self._start_node(worker, 2, isolated=bool(self.hide))
        self._wait_jobs_api()
        return self

    def _start_node(
        self, args: Callable[[int], list[str]], count: int, isolated: bool = False
    ) -> list[dict[str, object]]:
        """``ray start`` a node until the cluster has ``count`` nodes. On a loaded machine
        ``ray start`` can give up after Ray's fixed 30 s wait for its raylet to register while
        the node still comes up (its processes outlive it): that is waited for first."""
        for attempt in (1, 2):
            env = self._first_id() if isolated else {}
            with contextlib.suppress(RuntimeError):  # waited for below
                self._ray_start(*args(attempt), isolated=isolated, env=env)
            try:
                return self._wait_nodes(count)
            except RuntimeError:
                if attempt == 2:
                    raise RuntimeError((self.root / "ray_start.log").read_text()[-3000:]) from None
                stop_sessions(self.sessions[-1:])
        raise AssertionError("unreachable")

    def _wait_jobs_api(self) -> None:
        """Until Ray Jobs takes and finishes a job (the head's job agent starts late)."""
        deadline = time.monotonic() + 90
        body = json.dumps({"entrypoint": "true", "submission_id": "amlite-probe"}).encode()
        while True:
            request = urllib.request.Request(
                f"{self.dashboard}/api/jobs/",
                data=body,
                method="POST",
                headers={"Content-Type": "application/json"},
            )
            try:
                urllib.request.urlopen(request, timeout=30).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.5)
        while True:
            with urllib.request.urlopen(f"{self.dashboard}/api/jobs/amlite-probe", timeout=10) as r:
                status = json.loads(r.read())["status"]
            if status not in ("PENDING", "RUNNING"):
                return
            if time.monotonic() > deadline:
                raise RuntimeError("Ray Jobs never ran the probe job")
            time.sleep(0.2)

    def _wait_nodes(self, count: int) -> list[dict[str, object]]:
        deadline = time.monotonic() + 60
        while True:
            with contextlib.suppress(OSError, ValueError, KeyError):
                nodes = self._nodes()
                if len(nodes) >= count:
                    return nodes
            if time.monotonic() > deadline:
                raise RuntimeError(f"the Ray cluster did not reach {count} nodes")
            time.sleep(0.25)

    def jobs(self) -> list[dict[str, Any]]:
        """Every Ray job the cluster knows (Ray Jobs' list)."""
        with urllib.request.urlopen(f"{self.dashboard}/api/jobs/", timeout=10) as r:
            return list(json.loads(r.read()))

    def stop_jobs(self) -> None:
        """Stop every Ray job still running (through Ray Jobs)."""
        for job in self.jobs():
            if job.get("status") in ("PENDING", "RUNNING") and job.get("submission_id"):
                request = urllib.request.Request(
                    f"{self.dashboard}/api/jobs/{job['submission_id']}/stop", method="POST"
                )
                with contextlib.suppress(OSError):
                    urllib.request.urlopen(request, timeout=10).close()

    def worker_id(self) -> str:
        """The worker node's id (the one that is not the head)."""
        rows = self._nodes()
        return next(str(n["node_id"]) for n in rows if not n.get("is_head_node"))

    def node_ids(self) -> list[str]:
        return sorted(str(n["node_id"]) for n in self._nodes())

    def stop(self) -> None:
        stop_sessions(self.sessions)
        keep = os.environ.get(KEEP_LOGS_ENV)
        if keep:  # the nodes' temp dirs (the worker's is outside what it hides)
            shutil.copytree(
                self.root,
                Path(keep) / self.root.name,
                symlinks=True,
                ignore=shutil.ignore_patterns("sockets", "runtime_resources", "stage"),
                dirs_exist_ok=True,
            )
        shutil.rmtree(self.root, ignore_errors=True)


def stop_sessions(sessions: list[int]) -> None:
    """End the processes of these sessions (``ray start`` runs started with
    ``start_new_session``) and their descendants, by pid: nothing else on the machine."""
    table = _proc_table()
    ours = {pid for pid, (_, sid) in table.items() if sid in sessions}
    grew = True
    while grew:  # descendants that started sessions of their own
        more = {pid for pid, (ppid, _) in table.items() if ppid in ours} - ours
        grew = bool(more)
        ours |= more
    ours.discard(os.getpid())
    for sig in (signal.SIGTERM, signal.SIGKILL):
        for pid in ours:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, sig)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and any(pid_alive(p) for p in ours):
            time.sleep(0.1)
