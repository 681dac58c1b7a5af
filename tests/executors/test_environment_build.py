"""Cached virtualenvs built by the supervisor from a condaFile (no network needed)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from amlite_runhelp import make_plan, std_log, wait_done

from amlite.config import Settings
from amlite.executors._local import LocalExecutor
from amlite.services.environments import resolve_environment

CONDA = """
name: project
channels: [conda-forge]
dependencies:
  - python=3.8
  - pip
  - cudatoolkit=11.3
"""


def test_job_runs_in_a_cached_venv(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path / "home")
    build, reason = resolve_environment(settings, {"condaFile": CONDA})
    assert reason is None and build is not None
    assert build.requirements == []
    assert Path(build.dir).parent == settings.envs_dir
    ex = LocalExecutor()
    cmd = 'python -c "import sys; print(\'PREFIX=\' + sys.prefix)"; echo "VENV=$VIRTUAL_ENV"'
    plan = make_plan(tmp_path / "a", cmd, environment=build)
    rep = wait_done(ex, ex.start(plan), timeout=30)
    assert rep.result is not None and rep.result.outcome == "Completed", rep.result
    log = std_log(plan)
    assert f"PREFIX={build.dir}" in log and f"VENV={build.dir}" in log
    assert (Path(build.dir) / ".ready").exists()
    syslog = (Path(plan.artifacts_dir) / "system_logs" / "supervisor.log").read_text()
    assert "python 3.8 requested" in syslog and "cudatoolkit" in syslog
    assert "building" in syslog

    # a second job reuses the ready venv
    plan2 = make_plan(tmp_path / "b", cmd, environment=build)
    rep2 = wait_done(ex, ex.start(plan2), timeout=30)
    assert rep2.result is not None and rep2.result.outcome == "Completed"
    syslog2 = (Path(plan2.artifacts_dir) / "system_logs" / "supervisor.log").read_text()
    assert "reusing" in syslog2 and f"PREFIX={build.dir}" in std_log(plan2)


def test_failed_build_fails_the_job_and_leaves_no_venv(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path / "home")
    conda = "dependencies:\n  - pip:\n    - " + str(tmp_path / "no-such-package-dir") + "\n"
    build, _ = resolve_environment(settings, {"condaFile": conda})
    assert build is not None
    ex = LocalExecutor()
    plan = make_plan(tmp_path / "a", "touch ran", environment=build)
    rep = wait_done(ex, ex.start(plan), timeout=60)
    assert rep.result is not None and rep.result.outcome == "Failed"
    assert "preparation failed" in rep.result.reason
    assert not Path(build.dir).exists()
    assert not (Path(plan.working_dir) / "ran").exists()
    build_log = Path(plan.artifacts_dir) / "system_logs" / "environment_build.txt"
    assert build_log.exists() and build_log.read_text()
    # the plan round-trips through JSON unchanged
    assert dataclasses.asdict(build) == plan.to_json()["environment"]
