"""The job sandbox through the real LocalExecutor and supervisor: what a job sees in
``bwrap`` mode, what it never inherits in any mode, and how the mode is chosen."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from amlite_runhelp import make_plan, std_log, wait_done, wait_until

from amlite.config import Settings
from amlite.executors._base import FileStep, RunPlan, SandboxSpec
from amlite.executors._local import LocalExecutor
from amlite.executors.sandbox import SandboxUnavailable, hidden_dirs, job_sandbox
from amlite.executors.supervisor.contract import RunResult
from amlite.executors.supervisor.jobenv import job_environ
from amlite.services.environments import resolve_environment
from support.sandbox import bwrap_or_skip


def _home(tmp_path: Path) -> Path:
    home = tmp_path / "home"
    home.mkdir()
    (home / "token").write_text("amla_admin_secret\n")
    return home


def _boxed(home: Path) -> SandboxSpec:
    return SandboxSpec("bwrap", program=bwrap_or_skip(), hide=[str(home)])


def _run(plan: RunPlan, sandbox: SandboxSpec | None, timeout: float = 30) -> RunResult:
    ex = LocalExecutor(spare=False, sandbox=sandbox)
    rep = wait_done(ex, ex.start(plan), timeout=timeout)
    assert rep.result is not None
    return rep.result


def test_job_environ_drops_server_settings() -> None:
    env = {
        "AMLITE_HOME": "/srv/amlite",
        "AMLITE_DATABASE_URL": "postgresql://amlite:hunter2@db/amlite",
        "AMLITE_TOKEN": "amla_x",
        "PGPASSWORD": "hunter2",
        "PATH": "/usr/bin",
        "LANG": "C.UTF-8",
    }
    assert job_environ(env) == {"PATH": "/usr/bin", "LANG": "C.UTF-8"}


def test_no_server_setting_reaches_an_unsandboxed_job(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AMLITE_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("AMLITE_DATABASE_URL", "postgresql://amlite:hunter2@db/amlite")
    # the supervisor's own environment too: a same-user job can read it in /proc
    command = "env > env.txt; tr '\\0' '\\n' < /proc/$PPID/environ > parent.txt"
    plan = make_plan(tmp_path, command, env={"MINE": "1"})
    assert _run(plan, None).outcome == "Completed"
    seen = (Path(plan.working_dir) / "env.txt").read_text()
    assert "hunter2" not in seen and "AMLITE_HOME" not in seen and "MINE=1" in seen
    parent = (Path(plan.working_dir) / "parent.txt").read_text()
    assert "PATH=" in parent and "hunter2" not in parent and "AMLITE_HOME" not in parent


def test_a_sandboxed_job_sees_its_run_but_not_the_home(tmp_path: Path) -> None:
    home = _home(tmp_path)
    other = home / "runs" / "other"
    other.mkdir(parents=True)
    (other / "plan.json").write_text('{"token": "amlj_other"}')
    plan = make_plan(
        home / "runs" / "mine",
        "cat $H/token; cat $H/runs/other/plan.json; ls -a $H > listing.txt;"
        " echo in-wd > out.txt && touch /tmp/scratch && ls /proc | grep -c '^[0-9]' > pids.txt"
        " && echo HOME=$HOME && touch ~/.cachefile && echo ok",
        env={"H": str(home)},
    )
    result = _run(plan, _boxed(home))
    log = std_log(plan)
    assert result.outcome == "Completed", (result, log)
    assert "amla_admin_secret" not in log and "amlj_other" not in log
    assert "No such file" in log and "ok" in log
    wd = Path(plan.working_dir)
    assert (wd / "out.txt").read_text() == "in-wd\n"
    assert (wd / "listing.txt").read_text().split() == [".", "..", "runs"]
    assert int((wd / "pids.txt").read_text()) <= 5  # its own processes only
    assert not Path("/tmp/scratch").exists()
    assert not (Path(plan.run_dir) / "tmp").exists()  # the private /tmp is gone with the job
    assert f"HOME={plan.run_dir}/home" in log


def test_mounts_are_bind_mounts_read_only_when_asked(tmp_path: Path) -> None:
    home = _home(tmp_path)
    data = home / "datastores" / "ds" / "data"
    data.mkdir(parents=True)
    (data / "in.txt").write_text("input")
    target = home / "datastores" / "ds" / "out"
    run = home / "runs" / "mine"
    ro, rw = run / "run" / "inputs" / "ro", run / "run" / "outputs" / "out"  # make_plan's run dir
    steps = [
        FileStep("mount_ro", str(data), str(ro)),
        FileStep("mkdir", "", str(target)),
        FileStep("mount", str(target), str(rw)),
    ]
    command = (
        f"cat {ro}/in.txt && (echo x > {ro}/new.txt || echo refused)"
        f" && echo result > {rw}/r.txt && echo done"
    )
    plan = make_plan(run, command, prepare=steps)
    result = _run(plan, _boxed(home))
    log = std_log(plan)
    assert result.outcome == "Completed", (result, log)
    assert "input" in log and "refused" in log and "done" in log
    assert not (data / "new.txt").exists()
    assert (target / "r.txt").read_text() == "result\n"
    assert not ro.is_symlink() and not rw.is_symlink()


def test_without_a_sandbox_mounts_stay_symlinks(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    (data / "in.txt").write_text("input")
    mount = tmp_path / "run" / "inputs" / "ro"
    plan = make_plan(
        tmp_path, f"cat {mount}/in.txt", prepare=[FileStep("mount_ro", str(data), str(mount))]
    )
    assert _run(plan, None).outcome == "Completed"
    assert mount.is_symlink() and "input" in std_log(plan)


def test_a_sandboxed_cancel_is_graceful(tmp_path: Path) -> None:
    home = _home(tmp_path)
    plan = make_plan(
        home / "runs" / "mine",
        "trap 'sleep 0.3; echo cleaned > cleaned.txt; exit 7' TERM; touch started; sleep 60 & wait",
    )
    ex = LocalExecutor(spare=False, sandbox=_boxed(home))
    runtime = ex.start(plan)
    wd = Path(plan.working_dir)
    wait_until(lambda: (wd / "started").exists(), timeout=20)
    ex.cancel(runtime, "stop please")
    rep = wait_done(ex, runtime, timeout=20)
    assert rep.result is not None and rep.result.outcome == "Canceled"
    assert (wd / "cleaned.txt").read_text() == "cleaned\n"


def test_a_sandboxed_environment_builds_and_runs_read_only(tmp_path: Path) -> None:
    home = _home(tmp_path)
    settings = Settings(home=home)
    build, reason = resolve_environment(settings, {"condaFile": "dependencies:\n  - pip\n"})
    assert reason is None and build is not None
    cmd = (
        "python -c \"import sys; print('PREFIX=' + sys.prefix)\";"
        ' touch "$VIRTUAL_ENV/x" || echo venv-read-only'
    )
    plan = make_plan(home / "runs" / "mine", cmd, environment=build)
    result = _run(plan, _boxed(home), timeout=60)
    log = std_log(plan)
    assert result.outcome == "Completed", (result, log)
    assert f"PREFIX={build.dir}" in log and "venv-read-only" in log
    assert (Path(build.dir) / ".ready").exists()


def test_the_mode_is_chosen_from_the_settings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / "home"
    assert job_sandbox(Settings(home=home, job_sandbox="none")).mode == "none"
    with pytest.raises(SandboxUnavailable, match="AMLITE_JOB_SANDBOX"):
        job_sandbox(Settings(home=home, job_sandbox="docker"))
    program = bwrap_or_skip()
    spec = job_sandbox(Settings(home=home))
    assert spec == SandboxSpec("bwrap", program=program, hide=hidden_dirs(Settings(home=home)))
    assert str(home) in spec.hide and str(Path.home()) in spec.hide
    monkeypatch.setenv("PATH", str(tmp_path))  # no bwrap there
    assert job_sandbox(Settings(home=home)).mode == "none"
    with pytest.raises(SandboxUnavailable, match="not on PATH"):
        job_sandbox(Settings(home=home, job_sandbox="bwrap"))
    assert os.environ["PATH"] == str(tmp_path)


def test_outputs_replaced_by_links_to_the_home_copy_nothing(tmp_path: Path) -> None:
    """The supervisor copies ``./outputs`` and ``./logs`` outside the sandbox after the job:
    a job that made them links into the hidden home must not get the home copied out."""
    home = _home(tmp_path)
    run = home / "runs" / "mine"
    artifacts = run / "artifacts"  # make_plan's layout
    wd = run / "run" / "wd"
    finalize = [
        FileStep("copy_into", str(wd / "outputs"), str(artifacts / "outputs")),
        FileStep("copy_into", str(wd / "logs"), str(artifacts / "logs")),
        FileStep("copy_into", str(wd / "up"), str(artifacts / "up")),
    ]
    command = (
        "ln -s $H outputs && ln -s $H/token logs && mkdir -p real && ln -s $H real/inner"
        " && ln -s real/inner up"
    )
    plan = make_plan(run, command, env={"H": str(home)}, finalize=finalize)
    result = _run(plan, _boxed(home))
    assert result.outcome == "Failed", (result, std_log(plan))  # its outputs are lost
    assert "symbolic link" in str(result.reason)
    copied = [p for p in artifacts.rglob("*") if p.is_file() and not p.is_symlink()]
    assert not any("amla_admin_secret" in p.read_text(errors="replace") for p in copied)
    assert not (artifacts / "outputs" / "token").exists()
    syslog = (artifacts / "system_logs" / "supervisor.log").read_text()
    assert "not copied" in syslog


def test_an_interpreter_under_tmp_stays_visible(tmp_path: Path) -> None:
    """/tmp in the sandbox is the run's own: an interpreter (a checkout's .venv) that lives
    under the host's /tmp is bound back in, read-only, after /tmp is replaced."""
    from amlite.executors.supervisor.bwrap import sandbox_argv

    assert str(tmp_path).startswith("/tmp/")
    venv = tmp_path / "checkout" / ".venv"
    (venv / "bin").mkdir(parents=True)
    (venv / "bin" / "python").write_text("")
    run = tmp_path / "run"
    (run / "wd").mkdir(parents=True)
    plan = {
        "sandbox": {"program": "bwrap", "hide": [str(tmp_path / "home")]},
        "run_dir": str(run),
        "working_dir": str(run / "wd"),
        "artifacts_dir": str(tmp_path / "artifacts"),
        "environment": {"dir": str(tmp_path / "env"), "python": str(venv / "bin" / "python")},
    }
    argv = sandbox_argv(plan)
    pairs = [(argv[i], argv[i + 2]) for i in range(len(argv) - 2) if argv[i].startswith("--")]
    assert ("--ro-bind", str(venv)) in pairs
    assert pairs.index(("--bind", "/tmp")) < pairs.index(("--ro-bind", str(venv)))
