"""Several schedulers on one store: each job claimed by exactly one, a sweep's controller on
one server at a time, a dead server's jobs and sweeps taken over, a cancel that reaches the
server running the job; and one server only on a SQLite database.

In-process schedulers on one SQLite file with multi-server membership forced on (the same
SQL runs on PostgreSQL: ``tests/e2e/test_high_availability.py``), and an executor that
only records (shared by the "servers" like one machine's process table)."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from amlite.config import Settings
from amlite.domain.arm_id import WorkspaceRef
from amlite.domain.status import ACCEPT_PATH, JobStatus
from amlite.errors import Fenced
from amlite.executors._base import Executor, RunPlan, RunReport, check_guard
from amlite.executors.supervisor.contract import RunResult
from amlite.scheduler.loop import Scheduler
from amlite.scheduler.membership import Membership, SecondServer
from amlite.services.preparation import RuntimeContext
from amlite.services.workspaces import Workspaces
from amlite.store import MetricPoint, NewJob, Store, open_store

WS = WorkspaceRef("00000000-0000-0000-0000-000000000000", "rg1", "ws1")
S = JobStatus
DONE = RunResult(0, "Completed")


class Machine:
    """What the servers' executors share: which runs started, ended, were told to cancel."""

    def __init__(self) -> None:
        self.starts: Counter[str] = Counter()
        self.started_by: dict[str, str] = {}
        self.ended: set[str] = set()
        self.cancels: list[tuple[str, str]] = []
        self.hosts: dict[str, str] = {}

    def end_all(self) -> None:
        self.ended.update(self.started_by)


class Recorder(Executor):
    def __init__(self, machine: Machine, server: str, host: str) -> None:
        self.machine, self.server, self.host = machine, server, host

    def start(self, plan: RunPlan, guard: Callable[[], bool] | None = None) -> dict[str, Any]:
        check_guard(guard)  # as the real executors do, just before the spawn
        name = Path(plan.run_dir).name
        self.machine.starts[name] += 1
        self.machine.started_by[name] = self.server
        return {"runDir": plan.run_dir, "pid": 0, "host": self.host}

    def cancel(self, runtime: dict[str, Any], reason: str) -> None:
        self.machine.cancels.append((self.server, Path(runtime["runDir"]).name))

    def recover(self, run_dir: str) -> dict[str, Any] | None:
        return None

    def report(self, runtime: dict[str, Any]) -> RunReport:
        ended = Path(runtime["runDir"]).name in self.machine.ended
        return RunReport(events=[], result=DONE if ended else None, alive=not ended)


def scheduler(
    tmp_path: Path, machine: Machine, server: str, host: str = "host-1", slots: int = 4
) -> Scheduler:
    store = open_store(f"sqlite:///{tmp_path / 'amlite.db'}")
    members = Membership(store, multi=True, ttl=30)
    members.host = host
    ctx = RuntimeContext(Settings(home=tmp_path / "home"), "http://x/mlflow", "http://x")
    sched = Scheduler(store, Recorder(machine, server, host), ctx, slots=slots, membership=members)
    members.join()
    return sched


def submit(store: Store, name: str, spec: dict[str, Any] | None = None) -> None:
    spec = spec or {"jobType": "Command", "command": "true", "compute": {}}
    job_type = str(spec["jobType"])
    store.create_job(NewJob(workspace=WS, name=name, job_type=job_type, spec=spec))
    store.transition(WS.key, name, ACCEPT_PATH)


def job(store: Store, name: str) -> Any:
    record = store.get_job(WS.key, name)
    assert record is not None
    return record


def die(sched: Scheduler) -> None:
    """A SIGKILL as the others see it: the lease is no longer renewed and expires."""
    members = sched.membership
    members._stop.set()
    assert members._thread is not None
    members._thread.join()
    sched._store.renew_server(members.id, members.host, members.pid, None, -1)


def steady(sched: Scheduler) -> None:
    """As if its own lease had been renewed without a break for longer than a lease."""
    sched.membership._steady_since = time.monotonic() - 10 * sched.membership.ttl


@pytest.fixture
def store(tmp_path: Path) -> Store:
    store = open_store(f"sqlite:///{tmp_path / 'amlite.db'}")
    Workspaces(store).ensure(WS)
    return store


def test_each_queued_job_is_claimed_by_exactly_one_server(store: Store, tmp_path: Path) -> None:
    machine = Machine()
    a, b = scheduler(tmp_path, machine, "a"), scheduler(tmp_path, machine, "b")
    names = [f"j{i}" for i in range(12)]
    for name in names:
        submit(store, name)
    stale = job(store, "j0")  # both servers read it unowned; only one claim may win
    assert [a.membership.holds(stale), b.membership.holds(stale)] == [True, False]
    for _ in range(10):
        a.tick()
        b.tick()
        machine.end_all()
        if all(job(store, n).status is S.COMPLETED for n in names):
            break
    assert {n: job(store, n).status for n in names} == dict.fromkeys(names, S.COMPLETED)
    assert machine.starts == Counter(dict.fromkeys(names, 1))
    assert set(machine.started_by.values()) == {"a", "b"}  # both took a share
    for name in names:
        owner = job(store, name).owner
        assert owner == {"a": a, "b": b}[machine.started_by[name]].membership.id
    a.membership.leave()
    b.membership.leave()


def test_a_dead_servers_jobs_and_sweep_are_taken_over_once(store: Store, tmp_path: Path) -> None:
    machine = Machine()
    a = scheduler(tmp_path, machine, "a")
    b = scheduler(tmp_path, machine, "b", slots=0)  # no room: only a starts jobs
    b._backends.local.pool = type(a._backends.local.pool)(0)
    submit(store, "plain")
    sweep = {
        "jobType": "Sweep",
        "algorithm": "Grid",
        "compute": {},
        "objective": {"primaryMetric": "acc", "goal": "Maximize"},
        "searchSpace": {"n": ["choice", [[1, 2, 3, 4, 5]]]},
        "maxConcurrentTrials": 2,
        "trial": {"command": "echo ${{search_space.n}}"},
    }
    submit(store, "sw", sweep)
    a.tick()
    b.tick()
    assert job(store, "sw").owner == a.membership.id  # the controller runs on a alone
    assert job(store, "plain").status is S.RUNNING
    assert {t.name for t in store.list_jobs(WS.key, parent_name="sw")} == {"sw_0", "sw_1"}

    die(a)
    b._backends.local.pool = type(a._backends.local.pool)(4)
    b.tick()  # a's lease expired, but b was not steady for a whole lease: it waits
    assert job(store, "plain").owner == a.membership.id
    assert job(store, "sw").owner == a.membership.id
    steady(b)
    for _ in range(20):
        machine.end_all()
        b.tick()
        if job(store, "sw").status.is_terminal:
            break
    assert job(store, "sw").status is S.COMPLETED
    assert job(store, "sw").owner == b.membership.id
    assert job(store, "plain").status is S.COMPLETED
    trials = store.list_jobs(WS.key, parent_name="sw")
    assert sorted(t.name for t in trials) == [f"sw_{i}" for i in range(5)]
    assert all(t.status is S.COMPLETED for t in trials)
    assert machine.starts == Counter(dict.fromkeys(["plain", *(t.name for t in trials)], 1))
    b.membership.leave()


def test_a_server_that_left_frees_its_jobs_at_once(store: Store, tmp_path: Path) -> None:
    machine = Machine()
    a, b = scheduler(tmp_path, machine, "a"), scheduler(tmp_path, machine, "b")
    submit(store, "j")
    a.tick()
    assert job(store, "j").owner == a.membership.id
    a.membership.leave()  # a stopped cleanly: no lease to wait for, b need not be steady
    machine.end_all()
    b.tick()
    assert job(store, "j").status is S.COMPLETED and job(store, "j").owner == b.membership.id
    b.membership.leave()


def test_a_local_job_on_another_machine_is_not_taken_over(store: Store, tmp_path: Path) -> None:
    machine = Machine()
    a = scheduler(tmp_path, machine, "a", host="host-a")
    b = scheduler(tmp_path, machine, "b", host="host-b")
    submit(store, "j")
    a.tick()
    die(a)
    steady(b)
    machine.end_all()
    b.tick()  # its supervisor is on host-a: b cannot follow it
    assert job(store, "j").status is S.RUNNING and job(store, "j").owner == a.membership.id
    b.membership.leave()


def test_a_local_job_whose_machine_has_no_server_says_so_then_fails_after_a_grace(
    store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    machine = Machine()
    a = scheduler(tmp_path, machine, "a", host="host-a")
    b = scheduler(tmp_path, machine, "b", host="host-b")
    submit(store, "j")
    a.tick()
    assert b.queue_reason(job(store, "j")) is None  # a is alive
    die(a)
    steady(b)
    b.tick()
    why = b.queue_reason(job(store, "j"))
    assert why is not None
    assert f"its server {a.membership.id} on host host-a has not been seen since" in why
    assert job(store, "j").status is S.RUNNING  # its process may well finish
    monkeypatch.setenv("AMLITE_UNATTENDED_JOB_SECONDS", "3600")
    b.tick()
    assert job(store, "j").status is S.RUNNING  # within the grace
    noted = job(store, "j")
    note = {**noted.runtime["unattended"], "since": "2020-01-01T00:00:00+00:00"}
    assert store.set_owned_runtime(WS.key, "j", {"unattended": note}, owner=a.membership.id)
    assert job(store, "j").runtime["runDir"] == noted.runtime["runDir"]  # merged, not replaced
    b.tick()
    failed = job(store, "j")
    assert failed.status is S.FAILED and failed.owner == b.membership.id
    assert failed.status_reason is not None
    assert "no server on host-a took the job over within 3600 seconds" in failed.status_reason
    assert machine.starts == Counter({"j": 1})
    b.membership.leave()


def test_a_server_started_on_the_jobs_machine_adopts_it_after_all(
    store: Store, tmp_path: Path
) -> None:
    machine = Machine()
    a = scheduler(tmp_path, machine, "a", host="host-a")
    b = scheduler(tmp_path, machine, "b", host="host-b")
    submit(store, "j")
    a.tick()
    die(a)
    steady(b)
    b.tick()
    assert b.queue_reason(job(store, "j")) is not None
    c = scheduler(tmp_path, machine, "c", host="host-a")  # a restarted on its machine
    steady(c)
    c.tick()
    adopted = job(store, "j")
    assert adopted.owner == c.membership.id and b.queue_reason(adopted) is None
    machine.end_all()
    c.tick()
    assert job(store, "j").status is S.COMPLETED and machine.starts == Counter({"j": 1})
    b.membership.leave()
    c.membership.leave()


def test_a_cancel_at_one_server_reaches_the_server_running_the_job(
    store: Store, tmp_path: Path
) -> None:
    machine = Machine()
    a = scheduler(tmp_path, machine, "a", host="host-a")
    b = scheduler(tmp_path, machine, "b", host="host-b", slots=1)
    a._backends.local.pool = type(a._backends.local.pool)(0)  # b runs the job
    submit(store, "j")
    a.tick()
    b.tick()
    assert machine.started_by == {"j": "b"}
    running = store.transition(WS.key, "j", S.CANCEL_REQUESTED, reason="stop it")
    a.cancel_running(running, "stop it")  # the API request reached a, on another machine
    assert machine.cancels == []  # a cannot reach b's process: it leaves it to b
    a.tick()
    b.tick()
    b.tick()
    assert machine.cancels == [("b", "j")]  # told once, by the server running it
    machine.end_all()
    b.tick()
    assert job(store, "j").status is S.CANCELED
    a.membership.leave()
    b.membership.leave()


def test_a_trial_ending_on_another_server_is_scored_by_the_sweeps_holder(
    store: Store, tmp_path: Path
) -> None:
    machine = Machine()
    a = scheduler(tmp_path, machine, "a")
    b = scheduler(tmp_path, machine, "b")
    a._backends.local.pool = type(a._backends.local.pool)(0)  # a holds the sweep, b runs trials
    a.capacity_for = lambda sweep: 2  # type: ignore[method-assign]
    sweep = {
        "jobType": "Sweep",
        "algorithm": "Grid",
        "compute": {},
        "objective": {"primaryMetric": "acc", "goal": "Maximize"},
        "searchSpace": {"n": ["choice", [[1, 2]]]},
        "trial": {"command": "echo ${{search_space.n}}"},
    }
    submit(store, "sw", sweep)
    a.tick()
    b.tick()
    assert job(store, "sw").owner == a.membership.id
    assert set(machine.started_by.values()) == {"b"}
    store.log_metrics(WS.key, "sw_1", [MetricPoint("acc", 0.9, 0, 0)])
    store.log_metrics(WS.key, "sw_0", [MetricPoint("acc", 0.5, 0, 0)])
    machine.end_all()
    b.tick()  # the trials end on b, which does not hold the sweep
    for _ in range(3):
        a.tick()
    done = job(store, "sw")
    assert done.status is S.COMPLETED
    assert done.system_properties.get("best_child_run_id") == "sw_1"
    assert job(store, "sw_0").system_properties.get("score") == "0.5"
    a.membership.leave()
    b.membership.leave()


def stall(a: Scheduler, b: Scheduler) -> None:
    """``a`` pauses (SIGSTOP, a long GC pause) past its lease, in the middle of a round:
    meanwhile ``b`` finds the lease expired and takes ``a``'s work over."""
    die(a)
    steady(b)
    b.tick()


def test_a_stalled_server_does_not_start_a_job_another_took_over(
    store: Store, tmp_path: Path
) -> None:
    machine = Machine()
    a, b = scheduler(tmp_path, machine, "a"), scheduler(tmp_path, machine, "b")
    submit(store, "j")
    claim = a.membership.holds

    def holds_then_stalls(record: Any, *, adoptable: bool = True) -> bool:
        won = claim(record, adoptable=adoptable)
        if won and record.name == "j":
            stall(a, b)  # between a's claim and its starting the process
        return won

    a.membership.holds = holds_then_stalls  # type: ignore[method-assign]
    a.tick()  # a resumes: its claim is stale
    assert machine.starts == Counter({"j": 1}) and machine.started_by["j"] == "b"
    assert job(store, "j").status is S.RUNNING and job(store, "j").owner == b.membership.id
    b.membership.leave()


class Adopter(Recorder):
    """A recorder whose runs a server of the same host finds in their run directory."""

    def recover(self, run_dir: str) -> dict[str, Any] | None:
        name = Path(run_dir).name
        ran_here = self.machine.hosts.get(name) == self.host
        return {"runDir": run_dir, "pid": 0, "host": self.host} if ran_here else None

    def start(self, plan: RunPlan, guard: Callable[[], bool] | None = None) -> dict[str, Any]:
        self.machine.hosts[Path(plan.run_dir).name] = self.host
        return super().start(plan, guard)


@pytest.mark.parametrize("same_host", [True, False])
def test_a_process_started_by_a_stalled_server_is_adopted_or_stopped(
    store: Store, tmp_path: Path, same_host: bool
) -> None:
    """``a`` stalls after starting the job's process, before recording it: ``b`` on the
    same machine adopts that process, which ``a`` then leaves alone; ``b`` elsewhere starts
    its own, and ``a`` stops its duplicate."""
    machine = Machine()
    a = scheduler(tmp_path, machine, "a", host="host-a")
    b = scheduler(tmp_path, machine, "b", host="host-a" if same_host else "host-b")
    for sched, server in ((a, "a"), (b, "b")):
        sched._backends.local.executor = Adopter(machine, server, sched.membership.host)
    submit(store, "j")
    executor = a._backends.local.executor
    real_start = executor.start

    def starts_then_stalls(plan: RunPlan, guard: Callable[[], bool] | None = None) -> Any:
        runtime = real_start(plan, guard)
        stall(a, b)  # after starting the process, before marking the job Running
        return runtime

    executor.start = starts_then_stalls  # type: ignore[method-assign]
    a.tick()
    now = job(store, "j")
    assert now.status is S.RUNNING and now.owner == b.membership.id
    if same_host:
        assert machine.starts == Counter({"j": 1}) and machine.cancels == []
    else:
        assert machine.starts == Counter({"j": 2}) and machine.cancels == [("a", "j")]
    b.membership.leave()


def test_a_stalled_server_does_not_move_a_job_another_took_over(
    store: Store, tmp_path: Path
) -> None:
    machine = Machine()
    a, b = scheduler(tmp_path, machine, "a"), scheduler(tmp_path, machine, "b")
    submit(store, "j")
    a.tick()
    assert job(store, "j").owner == a.membership.id
    executor = a._backends.local.executor

    def reports_then_stalls(runtime: dict[str, Any]) -> RunReport:
        stall(a, b)  # after reading the job, before writing what it decided
        del executor.report  # type: ignore[method-assign]
        return RunReport(events=[], result=None, alive=False)  # what it saw: gone

    executor.report = reports_then_stalls  # type: ignore[method-assign]
    a.tick()
    now = job(store, "j")
    assert now.status is S.RUNNING and now.owner == b.membership.id  # not failed by a
    machine.end_all()
    b.tick()
    assert job(store, "j").status is S.COMPLETED and machine.starts == Counter({"j": 1})
    b.membership.leave()


def test_a_stalled_server_does_not_end_a_sweep_another_took_over(
    store: Store, tmp_path: Path
) -> None:
    machine = Machine()
    a, b = scheduler(tmp_path, machine, "a"), scheduler(tmp_path, machine, "b")
    sweep = {
        "jobType": "Sweep",
        "algorithm": "Grid",
        "compute": {},
        "objective": {"primaryMetric": "acc", "goal": "Maximize"},
        "searchSpace": {"n": ["choice", [[1, 2, 3, 4]]]},
        "maxConcurrentTrials": 2,
        "trial": {"command": "echo ${{search_space.n}}"},
    }
    submit(store, "sw", sweep)
    a.tick()
    assert job(store, "sw").owner == a.membership.id
    stale = job(store, "sw")
    stall(a, b)
    assert job(store, "sw").owner == b.membership.id
    a._sweeps._end(stale, S.FAILED, "what a decided before its pause")  # refused
    assert job(store, "sw").status is S.RUNNING
    with pytest.raises(Fenced):  # nor can it add trials
        store.add_trials(
            WS.key, "sw", [], path=ACCEPT_PATH, runtime={"nextIndex": 0},
            fence=a.membership.fence(stale),
        )  # fmt: skip
    assert int(job(store, "sw").runtime["nextIndex"]) == 2
    for _ in range(10):
        machine.end_all()
        b.tick()
    trials = store.list_jobs(WS.key, parent_name="sw")
    assert job(store, "sw").status is S.COMPLETED
    assert machine.starts == Counter({t.name: 1 for t in trials}) and len(trials) == 4
    b.membership.leave()


def test_a_second_server_on_one_sqlite_database_is_refused(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'amlite.db'}"
    first, second = open_store(url), open_store(url)
    assert not first.multi_server
    one, two = Membership(first), Membership(second)
    one.join()
    with pytest.raises(SecondServer, match="already uses the SQLite database") as refused:
        two.join()
    assert "PostgreSQL" in str(refused.value)
    one.leave()  # stopped: the next server may start
    two.join()
    two.leave()
    first.close()
    second.close()


def test_one_server_on_sqlite_asks_the_store_nothing(store: Store, tmp_path: Path) -> None:
    """The single-server path: no lease, no claims, no extra query per round or per job."""
    submit(store, "j")
    calls: list[str] = []
    for method in ("renew_server", "remove_servers", "list_servers", "claim_job"):
        real = getattr(store, method)

        def spy(*args: Any, _name: str = method, _real: Any = real, **kwargs: Any) -> Any:
            calls.append(_name)
            return _real(*args, **kwargs)

        setattr(store, method, spy)
    machine = Machine()
    ctx = RuntimeContext(Settings(home=tmp_path / "home"), "http://x/mlflow", "http://x")
    sched = Scheduler(store, Recorder(machine, "solo", "host-1"), ctx, slots=2)
    assert not sched.membership.multi
    sched.membership.host = "host-1"
    sched.join()
    sched.tick()
    machine.end_all()
    sched.tick()
    assert job(store, "j").status is S.COMPLETED and job(store, "j").owner is None
    assert calls == []
    sched.membership.leave()
