"""The Ray executor: each job is a Ray Job on the cluster a Ray compute names.

The same supervisor as the local executor runs the plan, on the node amlite chose
(``RunPlan.nodes``): a one-node job's entrypoint *is* the supervisor, holding the node's
resources (``instanceType``) for as long as it runs; a multi-node job's entrypoint is
``gang``, which gang-schedules a placement group and runs a supervisor per node.

The supervisor, the job's code and its descriptor are shipped through Ray (``ship``:
``runtime_env`` packages) and the entrypoint is ``node``, which looks whether the node
shares the server's filesystem. If it does (the fast path) everything is as on the local
executor: the run directory (plan, events, result, ``cancel_reason``) is shared with the
cluster's nodes at the same path, logs and outputs land in the job's artifacts. If not,
the nodes fetch inputs and push logs and outputs through the server's file API, see the
job's cancel through its status, and print its events and result, which ``report`` (and
the watcher) read from the Ray job's logs into the run directory. Metrics go to the
server's MLflow endpoint either way. A cancel leaves ``cancel_reason``; if the job still
runs ``STOP_AFTER_SECONDS`` later it is stopped through Ray Jobs. Jobs are found again
after a server restart by their submission id, recorded in the run directory before
submitting.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import secrets
import shlex
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

from amlite.domain.resources import Resources
from amlite.executors._base import Executor, RunPlan, RunReport, check_guard
from amlite.executors.ray import node, ship
from amlite.executors.ray.cluster import ALIVE, RayCluster, RayUnavailable
from amlite.executors.run_files import (
    RUN_DIR,
    lock_run_dir,
    prepare_run_dir,
    read_events,
    read_json_file,
    read_result,
    request_cancel,
    run_dir_of,
)
from amlite.executors.supervisor import contract

WATCH_SECONDS = 0.1
PULL_SECONDS = 0.5
"""How often the watcher reads the Ray job logs of a job whose nodes share no filesystem."""
"""How often the result files of running jobs are looked for."""
STOP_AFTER_SECONDS = 20.0
"""How long a cancelled job may take to stop by itself before Ray Jobs stops it."""


SHARED_FS_ENV = "AMLITE_RAY_SHARED_FS"
"""``auto`` (default): each node uses the run directory when it sees it; ``off``: nodes
never do (they fetch and push through the server's API even where they could see it)."""

SUBMISSION_FILE = node.MARKER
"""In the run directory: the Ray Job's submission id, written before it is submitted."""


def submission_id(plan: RunPlan) -> str:
    """The Ray submission id of ``plan``'s job: derived from ``plan.start_id``, so every
    server that starts the job names its Ray job alike and Ray refuses a second one (a
    server that stalled while another took the job over); a job deleted and created again
    under the same name gets another one. A plan without a ``start_id`` (not built for a
    stored job) gets the one recorded in its run directory, else a new one."""
    if plan.start_id:
        return f"amlite-{hashlib.sha256(plan.start_id.encode()).hexdigest()[:24]}"
    recorded = recorded_submission_id(Path(plan.run_dir))
    if recorded is not None:
        return recorded
    digest = hashlib.sha256(str(Path(plan.run_dir).resolve()).encode()).hexdigest()[:12]
    return f"amlite-{digest}-{secrets.token_hex(4)}"


def record_submission_id(run_dir: Path, sid: str) -> None:
    """Write ``SUBMISSION_FILE`` (before the job is submitted: a server that stops in
    between finds the job by it, and a node that sees it shares the run directory)."""
    tmp = run_dir / f".{SUBMISSION_FILE}.tmp"
    tmp.write_text(sid, encoding="utf-8")
    os.replace(tmp, run_dir / SUBMISSION_FILE)


def recorded_submission_id(run_dir: Path) -> str | None:
    try:
        return (run_dir / SUBMISSION_FILE).read_text(encoding="utf-8").strip() or None
    except OSError:
        return None


def apply_node_log(run_dir: Path, text: str) -> str | None:
    """Write the events and the result a node printed (``node``) into the run
    directory; the mode it reported (``shared`` or ``remote``), if it did yet."""
    mode, events, result = None, [], None
    for line in text.splitlines():
        if line.startswith(node.MODE_TAG):
            mode = line[len(node.MODE_TAG) :].strip()
        elif line.startswith((node.EVENT_TAG, node.RESULT_TAG)):
            try:
                item = json.loads(line.split(" ", 1)[1])
            except ValueError:
                continue
            if isinstance(item, dict) and line.startswith(node.EVENT_TAG):
                events.append(item)
            elif isinstance(item, dict):
                result = item
    if events and len(events) > len(read_events(run_dir)):
        tmp = run_dir / f".{contract.EVENTS}.tmp"
        tmp.write_text("".join(json.dumps(e) + "\n" for e in events), encoding="utf-8")
        os.replace(tmp, run_dir / contract.EVENTS)
    if result is not None and read_result(run_dir) is None:
        contract.write_json_atomic(str(run_dir / contract.RESULT), result)
    return mode


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
        self._pulling = threading.Lock()
        """One reader of Ray job logs at a time (the watcher and ``report``)."""
        self._modes: dict[str, str] = {}
        """Submission id -> ``shared`` / ``remote``, as the job's first node reported."""
        off = os.environ.get(SHARED_FS_ENV, "").strip().lower() == "off"
        self.shared_fs = "off" if off else "auto"

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

    def _pull(self, run_dir: Path) -> None:
        """Read the events and result of a job whose nodes do not share the run directory
        from its Ray job's logs (nothing once the node said it shares it)."""
        sid = recorded_submission_id(run_dir)
        if sid is None or self._modes.get(sid) == "shared":
            return
        with self._pulling, contextlib.suppress(RayUnavailable, OSError):
            mode = apply_node_log(run_dir, self.cluster.logs(sid))
            if mode is not None:
                self._modes[sid] = mode

    def _watch_loop(self) -> None:
        pulled = 0.0
        while not self._stop.wait(WATCH_SECONDS):
            if time.monotonic() - pulled >= PULL_SECONDS:
                pulled = time.monotonic()
                with self._lock:
                    watched = list(self._watched)
                for run_dir in watched:
                    if not (run_dir / contract.RESULT).exists():
                        self._pull(run_dir)
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

    def start(self, plan: RunPlan, guard: Callable[[], bool] | None = None) -> dict[str, Any]:
        """Submit the plan's Ray job, under the run directory's start lock, ``guard`` asked
        just before the submission. A job Ray already has under the plan's submission id
        (this server's before it stopped, or another server's, which won) is adopted while
        ``guard`` holds, never submitted again."""
        if not plan.nodes:
            raise ValueError("a plan for a Ray compute names its nodes")
        sid = submission_id(plan)
        lock = lock_run_dir(plan.run_dir)  # another start on this machine: AlreadyStarted
        try:
            submitted = recorded_submission_id(Path(plan.run_dir)) == sid
            if submitted and self.cluster.job(sid) is not None:
                check_guard(guard)
                run_dir = self._adopt(plan, sid)
            else:
                run_dir = self._submit(plan, sid, guard)
        finally:
            os.close(lock)
        self._watch(run_dir)
        return self._runtime([asdict(n) for n in plan.nodes], run_dir, sid)

    def _submit(self, plan: RunPlan, sid: str, guard: Callable[[], bool] | None) -> Path:
        run_dir = prepare_run_dir(plan)
        record_submission_id(run_dir, sid)
        first = plan.nodes[0]
        # the interpreter on the node: the compute's (or the server's) where it exists there
        python = shlex.quote(self.python)
        entrypoint = f'P={python}; [ -x "$P" ] || P=python3; exec "$P" -m {ship.NODE_MODULE}'
        # the placement group of a multi-node job holds its nodes; its driver holds nothing
        held = Resources(first.cpus, first.memory, first.gpus) if len(plan.nodes) == 1 else None
        env = self._ship(plan, run_dir, sid)
        check_guard(guard)  # the fence, just before the step that cannot be undone
        try:
            self.cluster.submit(sid, entrypoint, node_id=first.id, resources=held, runtime_env=env)
        except RayUnavailable:
            try:
                known = self.cluster.job(sid) is not None
            except RayUnavailable:
                known = False
            if not known:
                raise
            # Ray refused a second job under that id: another server submitted it first
            # (a server on another machine, or one that stalled before its submission)
            check_guard(guard)
            return self._adopt(plan, sid)
        return run_dir

    def _adopt(self, plan: RunPlan, sid: str) -> Path:
        """The run directory of a job Ray already runs (submitted by another server, maybe
        on another machine): given the submission id and the plan if it lacks them, never
        prepared again (the job may work in it)."""
        run_dir = Path(plan.run_dir)
        if recorded_submission_id(run_dir) != sid:
            record_submission_id(run_dir, sid)
        if not (run_dir / contract.PLAN).exists():
            contract.write_plan(str(run_dir), plan.to_json())
        return run_dir

    def _ship(self, plan: RunPlan, run_dir: Path, sid: str) -> dict[str, Any]:
        """Upload what the job's nodes need (``ship``); the job's ``runtime_env``."""
        desc = {**ship.descriptor(plan, sid), "shared_fs": self.shared_fs}
        ship.write_grants(run_dir, desc)
        packages = [ship.node_package()]
        if desc["code"] and Path(desc["code"]).exists():
            packages.append(ship.code_package(Path(desc["code"])))
        work = ship.working_dir_package(desc)  # new for every job
        for uri, data in [*packages, work]:  # uploaded only if the cluster does not have it
            self.cluster.ensure_package(uri, data)
        return ship.runtime_env(work[0], [uri for uri, _ in packages], os.environ)

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
        sid = str(runtime.get("submissionId") or "")
        if sid and recorded_submission_id(run_dir) is None:
            # taken over from a server on another machine: this one has no run directory
            # of the job; it follows the Ray job's log into one of its own
            with contextlib.suppress(OSError):
                run_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
                record_submission_id(run_dir, sid)
        result = read_result(run_dir)
        if result is None:
            self._pull(run_dir)
            result = read_result(run_dir)
        if result is not None:
            return RunReport(events=read_events(run_dir), result=result, alive=False)
        try:
            job = self.cluster.job(sid)
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
