"""Multi-process plans through the real LocalExecutor and supervisor: every rank runs with its
own environment and log; one failing rank, a cancel or the timeout stops them all."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from amlite_runhelp import make_plan, wait_done, wait_until

from amlite.domain.specs import Compute, Mpi, Workload
from amlite.executors._base import ProcessSpec, RunPlan
from amlite.executors._local import LocalExecutor
from amlite.executors.launchers import launch
from amlite.executors.supervisor.procs import pid_alive

REQUIRE = os.environ.get("AMLITE_REQUIRE_DISTRIBUTED") == "1"


def need_mpirun() -> None:
    if shutil.which("mpirun") is None:
        if REQUIRE:
            pytest.fail("mpirun (Open MPI) is not installed and AMLITE_REQUIRE_DISTRIBUTED=1")
        pytest.skip("mpirun (Open MPI) is not installed")


def ranks(n: int, **env: str) -> list[ProcessSpec]:
    return [
        ProcessSpec(
            name=f"rank {r}", log=f"user_logs/std_log_process_{r}.txt", env={"RANK": str(r), **env}
        )
        for r in range(n)
    ]


def rank_log(plan: RunPlan, rank: int) -> str:
    path = Path(plan.artifacts_dir) / "user_logs" / f"std_log_process_{rank}.txt"
    return path.read_text() if path.exists() else ""


def pids_of(plan: RunPlan, n: int) -> list[int]:
    folder = Path(plan.working_dir) / "pids"
    wait_until(lambda: len([p for p in folder.glob("*") if p.read_text().strip()]) == n)
    return [int(p.read_text()) for p in sorted(folder.glob("*"))]


# each rank records its pid, then waits; rank 2 ignores SIGTERM
WAITER = (
    'mkdir -p pids; [ "$RANK" = 2 ] && trap "" TERM; echo $$ > pids/$RANK.tmp; '
    "mv pids/$RANK.tmp pids/$RANK; while true; do sleep 0.1; done"
)


def test_all_ranks_run_with_their_env_and_their_own_logs(tmp_path: Path) -> None:
    ex = LocalExecutor()
    plan = make_plan(
        tmp_path, 'echo "rank=$RANK shared=$SHARED"', env={"SHARED": "yes"}, processes=ranks(3)
    )
    rep = wait_done(ex, ex.start(plan))
    assert rep.result is not None and rep.result.outcome == "Completed", rep.result
    assert rep.result.exit_code == 0
    for r in range(3):
        assert rank_log(plan, r) == f"rank={r} shared=yes\n"
    assert not (Path(plan.artifacts_dir) / "user_logs" / "std_log.txt").exists()


def test_one_failing_rank_fails_the_job_and_stops_the_others(tmp_path: Path) -> None:
    ex = LocalExecutor()
    cmd = f'if [ "$RANK" = 1 ]; then while [ ! -f go ]; do sleep 0.02; done; exit 3; fi; {WAITER}'
    plan = make_plan(tmp_path, cmd, processes=ranks(3))
    rt = ex.start(plan)
    others = pids_of(plan, 2)
    (Path(plan.working_dir) / "go").write_text("")
    rep = wait_done(ex, rt)
    assert rep.result is not None
    assert rep.result.outcome == "Failed"
    assert rep.result.exit_code == 3
    assert rep.result.reason == "rank 1 exited with code 3; the other processes were stopped"
    for pid in others:  # rank 2 ignored SIGTERM: it was killed after the grace period
        assert not pid_alive(pid, None)


def test_cancel_stops_every_rank(tmp_path: Path) -> None:
    ex = LocalExecutor()
    plan = make_plan(tmp_path, WAITER, processes=ranks(3))
    rt = ex.start(plan)
    pids = pids_of(plan, 3)
    ex.cancel(rt, "user asked")
    rep = wait_done(ex, rt)
    assert rep.result is not None
    assert rep.result.outcome == "Canceled" and rep.result.reason == "user asked"
    for pid in pids:
        assert not pid_alive(pid, None)


def test_timeout_stops_every_rank(tmp_path: Path) -> None:
    ex = LocalExecutor()
    plan = make_plan(tmp_path, WAITER, processes=ranks(3), timeout_seconds=1.0)
    rt = ex.start(plan)
    pids = pids_of(plan, 3)
    rep = wait_done(ex, rt)
    assert rep.result is not None
    assert rep.result.outcome == "Canceled" and rep.result.reason == "timeout after 1 s"
    for pid in pids:
        assert not pid_alive(pid, None)


def test_a_process_that_cannot_start_stops_those_started(tmp_path: Path) -> None:
    ex = LocalExecutor()
    missing = ProcessSpec(name="rank 3", log="user_logs/x.txt", argv=["/nonexistent/launcher"])
    plan = make_plan(tmp_path, WAITER, processes=[*ranks(2), missing])
    rep = wait_done(ex, ex.start(plan))
    assert rep.result is not None and rep.result.outcome == "Failed"
    assert rep.result.reason.startswith("cannot start rank 3:")
    assert "/nonexistent/launcher" in rep.result.reason


def mpi_plan(tmp_path: Path, command: str, per_instance: int, **kw: object) -> RunPlan:
    base = make_plan(tmp_path, command)
    work = Workload(Compute(), Mpi(process_count_per_instance=per_instance))
    launched = launch(work, command, base.artifacts_dir, os.environ["PATH"])
    assert launched.fail_reason is None
    return make_plan(tmp_path, command, processes=launched.processes, **kw)


def test_mpi_ranks_get_open_mpi_variables_and_their_own_logs(tmp_path: Path) -> None:
    need_mpirun()
    ex = LocalExecutor()
    cmd = (
        'echo "rank=$OMPI_COMM_WORLD_RANK size=$OMPI_COMM_WORLD_SIZE '
        "local=$OMPI_COMM_WORLD_LOCAL_RANK/$OMPI_COMM_WORLD_LOCAL_SIZE "
        'master=$AZ_BATCH_MASTER_NODE"'
    )
    plan = mpi_plan(tmp_path, cmd, 3)
    rep = wait_done(ex, ex.start(plan), timeout=20)
    assert rep.result is not None and rep.result.outcome == "Completed", rep.result
    for r in range(3):
        line = rank_log(plan, r)
        assert f"rank={r} size=3 local={r}/3 master=127.0.0.1:" in line


def test_a_failing_mpi_rank_fails_the_job(tmp_path: Path) -> None:
    need_mpirun()
    ex = LocalExecutor()
    cmd = (
        f'if [ "$OMPI_COMM_WORLD_RANK" = 1 ]; then exit 5; fi; RANK=$OMPI_COMM_WORLD_RANK; {WAITER}'
    )
    plan = mpi_plan(tmp_path, cmd, 2)
    rep = wait_done(ex, ex.start(plan), timeout=20)
    assert rep.result is not None and rep.result.outcome == "Failed"
    assert rep.result.exit_code == 5
    assert rep.result.reason == "mpirun exited with code 5"
    mpirun_log = (Path(plan.artifacts_dir) / "user_logs" / "mpirun.txt").read_text()
    assert "non-zero" in mpirun_log


def test_cancel_stops_mpi_ranks_in_their_own_process_groups(tmp_path: Path) -> None:
    need_mpirun()
    ex = LocalExecutor()
    plan = mpi_plan(tmp_path, f"RANK=$OMPI_COMM_WORLD_RANK; {WAITER}", 3)
    rt = ex.start(plan)
    pids = pids_of(plan, 3)
    assert len({os.getpgid(p) for p in pids}) == 3  # mpirun gives each rank its own group
    ex.cancel(rt, "stop")
    rep = wait_done(ex, rt, timeout=20)
    assert rep.result is not None and rep.result.outcome == "Canceled"
    for pid in pids:
        wait_until(lambda pid=pid: not pid_alive(pid, None), timeout=5)
