"""The Ray executor: each job is a Ray Job on the cluster a Ray compute names.

The same supervisor as the local executor runs the plan, on the node amlite chose
(``RunPlan.nodes``): a one-node job's entrypoint *is* the supervisor, holding the node's
resources (``instanceType``) for as long as it runs; a multi-node job's entrypoint is
``ray_gang.py``, which gang-schedules a placement group and runs a supervisor per node.

Everything else is as on the local executor: the run directory (plan, events, result,
``cancel_reason``) is shared with the cluster's nodes at the same path, logs and outputs
land in the job's artifacts, metrics go to the server's MLflow endpoint. A cancel leaves
``cancel_reason``, which the supervisor looks for while it runs; if the job still runs
``STOP_AFTER_SECONDS`` later it is stopped through Ray Jobs. Jobs are found again after
a server restart by their submission id, recorded in the run directory before submitting.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import secrets
import shlex
import sys
import threading
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

from amlite.domain.resources import Resources
from amlite.executors._base import Executor, RunPlan, RunReport
from amlite.executors.ray_cluster import ALIVE, RayCluster, RayUnavailable
from amlite.executors.run_files import (
    RUN_DIR,
    prepare_run_dir,
    read_events,
    read_json_file,
    read_result,
    request_cancel,
    run_dir_of,
)
from amlite.executors.supervisor import ENTRY_POINT as SUPERVISOR
from amlite.executors.supervisor import contract

HERE = Path(__file__).parent
GANG_DRIVER = str(HERE / "ray_gang.py")
WATCH_SECONDS = 0.1
"""How often the result files of running jobs are looked for."""
STOP_AFTER_SECONDS = 20.0
"""How long a cancelled job may take to stop by itself before Ray Jobs stops it."""


SUBMISSION_FILE = "ray_submission_id"
"""In the run directory: the Ray Job's submission id, written before it is submitted."""


def submission_id(run_dir: Path) -> tuple[str, bool]:
    """The run's Ray submission id, and whether it is new: the one recorded in the run
    directory (a server that died while starting the job), else a new one, recorded before
    it is used. A job that is deleted and created again under the same name gets a new one
    (deletion removes the run directory), so it is never mistaken for the old one's Ray Job."""
    recorded = recorded_submission_id(run_dir)
    if recorded is not None:
        return recorded, False
    digest = hashlib.sha256(str(run_dir.resolve()).encode()).hexdigest()[:12]
    sid = f"amlite-{digest}-{secrets.token_hex(4)}"
    tmp = run_dir / f".{SUBMISSION_FILE}.tmp"
    tmp.write_text(sid, encoding="utf-8")
    os.replace(tmp, run_dir / SUBMISSION_FILE)
    return sid, True


def recorded_submission_id(run_dir: Path) -> str | None:
    try:
        return (run_dir / SUBMISSION_FILE).read_text(encoding="utf-8").strip() or None
    except OSError:
        return None


class RayExecutor(Executor):
    kind = "ray"

    def __init__(
        self,
        cluster: RayCluster,
        python: str | None = None,
        on_exit: Callable[[str], None] | None = None,
    ) -> None:
        self.cluster = cluster
        self.python = python or sys.executable
        """The interpreter on the cluster's nodes that runs the supervisor (and has ``ray``)."""
        self._on_exit = on_exit
        self._watched: set[Path] = set()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._watcher: threading.Thread | None = None

    def _watch(self, run_dir: Path) -> None:
        """Call ``on_exit(run_dir)`` as soon as the run's ``result.json`` appears, so the
        scheduler does not wait for its next round to see a job end."""
        if self._on_exit is None:
            return
        with self._lock:
            self._watched.add(run_dir)
            if self._watcher is None:
                self._watcher = threading.Thread(
                    target=self._watch_loop, name="amlite-ray-watch", daemon=True
                )
                self._watcher.start()

    def _watch_loop(self) -> None:
        while not self._stop.wait(WATCH_SECONDS):
            with self._lock:
                ended = {d for d in self._watched if (d / contract.RESULT).exists()}
                self._watched -= ended
            for run_dir in ended:
                with contextlib.suppress(Exception):
                    if self._on_exit is not None:
                        self._on_exit(str(run_dir))

    def close(self) -> None:
        self._stop.set()

    def _runtime(self, nodes: list[dict[str, Any]], run_dir: Path, sid: str) -> dict[str, Any]:
        return {
            "executor": self.kind,
            "address": self.cluster.address,
            "submissionId": sid,
            RUN_DIR: str(run_dir),
            "nodes": nodes,
        }

    def start(self, plan: RunPlan) -> dict[str, Any]:
        if not plan.nodes:
            raise ValueError("a plan for a Ray compute names its nodes")
        run_dir = prepare_run_dir(plan)
        sid, new = submission_id(run_dir)
        first = plan.nodes[0]
        python = shlex.quote(self.python)
        if len(plan.nodes) == 1:
            entrypoint = (
                f"exec {python} -S -E {shlex.quote(SUPERVISOR)} {shlex.quote(str(run_dir))}"
            )
            held: Resources | None = Resources(first.cpus, first.memory, first.gpus)
        else:  # the placement group holds the nodes; its driver holds nothing
            entrypoint = f"exec {python} {shlex.quote(GANG_DRIVER)} {shlex.quote(str(run_dir))}"
            held = None
        if new or self.cluster.job(sid) is None:  # a recorded id may have been submitted
            self.cluster.submit(sid, entrypoint, node_id=first.id, resources=held)
        self._watch(run_dir)
        return self._runtime([asdict(n) for n in plan.nodes], run_dir, sid)

    def cancel(self, runtime: dict[str, Any], reason: str) -> None:
        try:
            if not request_cancel(run_dir_of(runtime), reason):
                return
        except OSError:  # the run directory is gone (deleted while starting): signal anyway
            pass
        sid = str(runtime.get("submissionId") or "")
        timer = threading.Timer(STOP_AFTER_SECONDS, self._stop_if_running, args=(sid,))
        timer.daemon = True
        timer.start()

    def _stop_if_running(self, sid: str) -> None:
        with contextlib.suppress(RayUnavailable):
            job = self.cluster.job(sid)
            if job is not None and job.status in ALIVE:
                self.cluster.stop(sid)

    def recover(self, run_dir: str) -> dict[str, Any] | None:
        """The runtime of a Ray Job a stopped server submitted but did not record."""
        sid = recorded_submission_id(Path(run_dir))
        if sid is None:
            return None
        try:
            job = self.cluster.job(sid)
        except RayUnavailable:
            return None
        if job is None:  # recorded, never submitted: the job starts again under that id
            return None
        plan = read_json_file(Path(run_dir) / contract.PLAN) or {}
        return self._runtime(list(plan.get("nodes") or []), Path(run_dir), sid)

    def report(self, runtime: dict[str, Any]) -> RunReport:
        run_dir = run_dir_of(runtime)
        result = read_result(run_dir)
        if result is not None:
            return RunReport(events=read_events(run_dir), result=result, alive=False)
        try:
            job = self.cluster.job(str(runtime.get("submissionId") or ""))
        except RayUnavailable:  # the dashboard did not answer: ask again next time
            return RunReport(events=read_events(run_dir), result=None, alive=True)
        alive = job is not None and job.status in ALIVE
        if alive:
            self._watch(run_dir)  # e.g. adopted after a server restart
        note = None
        if not alive:
            result = read_result(run_dir)  # it may have finished in between
            note = (
                "the Ray cluster no longer knows the job"
                if job is None
                else f"its Ray job ended {job.status}: {job.message}"
            )
        return RunReport(events=read_events(run_dir), result=result, alive=alive, note=note)
