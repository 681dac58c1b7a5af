"""How the Ray executor starts a job, against a fake of the dashboard's Jobs API (no
cluster): what the submission carries (the server's supervisor settings), and that a job
is submitted once however many servers start it (the fence just before the submission,
the run directory's start lock, a submission id derived from the job, which Ray refuses
twice)."""

from __future__ import annotations

import fcntl
from pathlib import Path
from typing import Any

import pytest

from amlite.domain.resources import Resources
from amlite.executors._base import AlreadyStarted, FileStep, NodeSlot, RunPlan
from amlite.executors.ray import node as ray_node
from amlite.executors.ray.cluster import RayJob, RayUnavailable
from amlite.executors.ray.executor import RayExecutor

WS_ID = (
    "/subscriptions/s1/resourceGroups/rg1/providers/Microsoft.MachineLearningServices/"
    "workspaces/ws1"
)
START_ID = "s1/rg1/ws1/jobs/j1/7/2026-12-06T00:00:00.123456+00:00"


class FakeRay:
    """Ray Jobs as the executor uses it. Like Ray's job manager it refuses a second job
    under a submission id it has (the dashboard answers 500 with a traceback)."""

    address = "http://ray.invalid:8265"

    def __init__(self) -> None:
        self.jobs: dict[str, dict[str, Any]] = {}
        self.submits: list[str] = []
        self.packages: set[str] = set()
        self.output: dict[str, str] = {}
        """What each job's entrypoint printed (a node without the shared filesystem)."""

    def submit(
        self,
        submission_id: str,
        entrypoint: str,
        *,
        node_id: str,
        resources: Resources | None,
        runtime_env: dict[str, Any] | None = None,
    ) -> None:
        self.submits.append(submission_id)
        if submission_id in self.jobs:
            raise RayUnavailable(
                f"POST /api/jobs/ answered 500: ValueError: Job with submission_id "
                f"{submission_id} already exists.",
                status=500,
            )
        self.jobs[submission_id] = {"runtime_env": runtime_env or {}, "node": node_id}

    def job(self, submission_id: str) -> RayJob | None:
        return RayJob("RUNNING", "") if submission_id in self.jobs else None

    def logs(self, submission_id: str) -> str:
        return self.output.get(submission_id, "")

    def ensure_package(self, uri: str, data: bytes) -> bool:
        new = uri not in self.packages
        self.packages.add(uri)
        return new


def make_plan(home: Path, start_id: str = START_ID) -> RunPlan:
    run = home / "runs" / "s1" / "rg1" / "ws1" / "j1"
    stores = home / "datastores" / "s1" / "rg1" / "ws1"
    art = stores / "workspaceblobstore" / "ExperimentRun" / "dcid.j1"
    code = stores / "workspaceblobstore" / "LocalUpload" / "code1"
    code.mkdir(parents=True)
    (code / "train.py").write_text("print('hi')\n")
    return RunPlan(
        job_id=f"{WS_ID}/jobs/j1",
        run_dir=str(run),
        working_dir=str(run / "wd"),
        artifacts_dir=str(art),
        command="python train.py",
        env={"AMLITE_URL": "http://127.0.0.1:1", "AZUREML_RUN_TOKEN": "amlj_x"},
        prepare=[FileStep("copy", str(code), str(run / "wd"))],
        nodes=[NodeSlot("n0", "10.0.0.2", 1, 0)],
        start_id=start_id,
    )


def executor(cluster: FakeRay) -> RayExecutor:
    return RayExecutor(cluster)  # type: ignore[arg-type]


def test_a_ray_job_carries_the_servers_supervisor_settings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What a local supervisor is given (``AMLITE_OUTPUT_SYNC_SECONDS``,
    ``AMLITE_KILL_GRACE_SECONDS``) reaches the supervisors on the nodes as well; no other
    server setting does."""
    monkeypatch.setenv("AMLITE_OUTPUT_SYNC_SECONDS", "2")
    monkeypatch.setenv("AMLITE_KILL_GRACE_SECONDS", "0.5")
    monkeypatch.setenv("AMLITE_DATABASE_URL", "postgresql://u:secret@db/amlite")
    cluster = FakeRay()
    runtime = executor(cluster).start(make_plan(tmp_path))
    env = cluster.jobs[runtime["submissionId"]]["runtime_env"]
    settings = {"AMLITE_OUTPUT_SYNC_SECONDS": "2", "AMLITE_KILL_GRACE_SECONDS": "0.5"}
    assert env["env_vars"] == settings
    assert len(env["py_modules"]) == 2 and env["working_dir"].startswith("gcs://")


def test_two_servers_starting_one_job_submit_it_once(tmp_path: Path) -> None:
    """Servers on two machines (a home each) start the same job: both name its Ray job
    alike, Ray refuses the second submission, and the second server adopts the first's."""
    cluster = FakeRay()
    first = executor(cluster).start(make_plan(tmp_path / "a"))
    second = executor(cluster).start(make_plan(tmp_path / "b"))
    assert len(cluster.jobs) == 1
    assert second["submissionId"] == first["submissionId"]
    assert (Path(second["runDir"]) / "ray_submission_id").read_text() == first["submissionId"]
    # the same job deleted and created again (another start id) is another Ray job
    third = executor(cluster).start(make_plan(tmp_path / "c", START_ID.replace("/7/", "/8/")))
    assert third["submissionId"] != first["submissionId"] and len(cluster.jobs) == 2


def test_a_server_that_no_longer_holds_the_job_submits_nothing(tmp_path: Path) -> None:
    cluster = FakeRay()
    asked: list[int] = []

    def guard() -> bool:
        asked.append(len(cluster.submits))
        return False  # another server took the job over while this one was shipping it

    with pytest.raises(AlreadyStarted, match="no longer holds"):
        executor(cluster).start(make_plan(tmp_path), guard)
    assert asked == [0] and cluster.jobs == {}
    # the job another server already runs is not adopted either
    runtime = executor(cluster).start(make_plan(tmp_path / "b"), lambda: True)
    with pytest.raises(AlreadyStarted):
        executor(cluster).start(make_plan(tmp_path / "c"), guard)
    assert list(cluster.jobs) == [runtime["submissionId"]]


def test_a_ray_start_takes_the_run_directory_lock_and_never_prepares_a_running_job(
    tmp_path: Path,
) -> None:
    """Servers sharing a home: a start in progress holds ``start.lock``; a job already
    submitted from that run directory is adopted without touching its files."""
    cluster = FakeRay()
    plan = make_plan(tmp_path)
    Path(plan.run_dir).mkdir(parents=True)
    with open(Path(plan.run_dir) / "start.lock", "a") as held:
        fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)  # another server's start
        with pytest.raises(AlreadyStarted, match="another server is starting"):
            executor(cluster).start(plan)
    assert cluster.submits == [] and not (Path(plan.run_dir) / "plan.json").exists()
    first = executor(cluster).start(plan)
    Path(plan.working_dir).mkdir()  # the job runs there (the node shares the home)
    (Path(plan.working_dir) / "mine.txt").write_text("the running job's")
    (Path(plan.run_dir) / "events.jsonl").write_text('{"status": "Running", "at": "t"}\n')
    again = executor(cluster).start(plan)
    assert again["submissionId"] == first["submissionId"] and cluster.submits == [
        first["submissionId"]
    ]
    assert (Path(plan.working_dir) / "mine.txt").exists()
    assert (Path(plan.run_dir) / "events.jsonl").read_text().strip()


def test_a_server_on_another_machine_follows_a_ray_job_it_took_over(tmp_path: Path) -> None:
    """The job's runtime names a run directory on the dead server's machine, which this
    one does not have: it reads the events and the result from the Ray job's log."""
    cluster = FakeRay()
    runtime = executor(cluster).start(make_plan(tmp_path / "a"))
    sid = runtime["submissionId"]
    taken = {**runtime, "runDir": str(tmp_path / "b" / "runs" / "j1")}  # not on this machine
    cluster.output[sid] = ray_node.MODE_TAG + "remote\n"
    cluster.output[sid] += ray_node.EVENT_TAG + '{"status": "Running", "at": "t1"}\n'
    report = executor(cluster).report(taken)
    assert report.alive and report.result is None
    assert [e["status"] for e in report.events] == ["Running"]
    cluster.output[sid] += ray_node.RESULT_TAG + '{"exitCode": 0, "outcome": "Completed"}\n'
    report = executor(cluster).report(taken)
    assert report.result is not None and report.result.outcome == "Completed"
