"""Status transitions: the edge table, compare-and-set under races, history, queue order."""

from __future__ import annotations

import contextlib
import threading
from datetime import UTC, datetime, timedelta

import pytest
from store_helpers import OTHER_WS, WS, new_job

from amlite.domain.status import JobStatus
from amlite.errors import InvalidTransition, NotFound
from amlite.store import Store

S = JobStatus
PATH = [S.STARTING, S.PREPARING, S.QUEUED, S.RUNNING, S.FINALIZING, S.COMPLETED]


def test_full_path_with_history_in_order(store: Store) -> None:
    t0 = datetime(2024, 1, 1, tzinfo=UTC)
    store.create_job(new_job("j1"), at=t0)
    for i, status in enumerate(PATH, start=1):
        job = store.transition(WS.key, "j1", status, at=t0 + timedelta(seconds=i))
        assert job.status is status
        assert job.modified_at == t0 + timedelta(seconds=i)
    history = store.status_history(WS.key, "j1")
    assert [e.status for e in history] == [S.NOT_STARTED, *PATH]
    assert [e.at for e in history] == [t0 + timedelta(seconds=i) for i in range(len(PATH) + 1)]
    assert all(e.at.tzinfo is not None for e in history)


def test_default_times_increase(store: Store) -> None:
    store.create_job(new_job("j1"))
    store.transition(WS.key, "j1", S.STARTING)
    store.transition(WS.key, "j1", S.FAILED, reason="boom")
    history = store.status_history(WS.key, "j1")
    assert [e.at for e in history] == sorted(e.at for e in history)
    assert history[-1].reason == "boom"


def test_reason_and_exit_code_are_kept(store: Store) -> None:
    store.create_job(new_job("j1"))
    for status in PATH[:4]:
        store.transition(WS.key, "j1", status)
    failed = store.transition(WS.key, "j1", S.FAILED, reason="exit 3", exit_code=3)
    assert (failed.status_reason, failed.exit_code) == ("exit 3", 3)
    assert store.get_job(WS.key, "j1") == failed


def test_refused_transitions_change_nothing(store: Store) -> None:
    store.create_job(new_job("j1"))
    with pytest.raises(InvalidTransition):
        store.transition(WS.key, "j1", S.RUNNING)
    store.transition(WS.key, "j1", S.CANCEL_REQUESTED)
    store.transition(WS.key, "j1", S.CANCELED, reason="user")
    with pytest.raises(InvalidTransition):
        store.transition(WS.key, "j1", S.FAILED)
    job = store.get_job(WS.key, "j1")
    assert job is not None and job.status is S.CANCELED and job.status_reason == "user"
    assert [e.status for e in store.status_history(WS.key, "j1")] == [
        S.NOT_STARTED,
        S.CANCEL_REQUESTED,
        S.CANCELED,
    ]


def test_transition_of_missing_job(store: Store) -> None:
    with pytest.raises(NotFound):
        store.transition(WS.key, "nope", S.STARTING)


def _race(store: Store, name: str, targets: tuple[S, ...]) -> list[str]:
    """Run one transition per target from its own thread, all released at once."""
    barrier = threading.Barrier(len(targets))
    outcomes: list[str] = []
    lock = threading.Lock()

    def attempt(target: S) -> None:
        barrier.wait()
        try:
            store.transition(WS.key, name, target)
            result = "won"
        except InvalidTransition:
            result = "lost"
        with lock:
            outcomes.append(result)

    threads = [threading.Thread(target=attempt, args=(t,)) for t in targets]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    return sorted(outcomes)


@pytest.mark.parametrize(
    ("start", "targets"),
    [
        ([], (S.STARTING, S.STARTING)),
        ([], (S.STARTING,) * 4),
        (PATH[:4], (S.COMPLETED, S.FAILED)),  # Running: finish and fail race, one wins
    ],
)
def test_concurrent_transitions_have_one_winner(
    store: Store, start: list[S], targets: tuple[S, ...]
) -> None:
    for r in range(8):
        store.create_job(new_job(f"race{r}"))
        for status in start:
            store.transition(WS.key, f"race{r}", status)
        assert _race(store, f"race{r}", targets) == ["lost"] * (len(targets) - 1) + ["won"]
        assert len(store.status_history(WS.key, f"race{r}")) == len(start) + 2


def test_expect_applies_only_from_the_status_the_caller_decided_on(store: Store) -> None:
    store.create_job(new_job("j1"))
    store.transition(WS.key, "j1", [S.STARTING, S.PREPARING, S.QUEUED])
    # a cancel that saw Queued while the scheduler moved the job to Running loses, though
    # Running -> CancelRequested is an allowed edge
    store.transition(WS.key, "j1", S.RUNNING, runtime={"pid": 1}, expect=S.QUEUED)
    with pytest.raises(InvalidTransition):
        store.transition(WS.key, "j1", [S.CANCEL_REQUESTED, S.CANCELED], expect=S.QUEUED)
    job = store.get_job(WS.key, "j1")
    assert job is not None and job.status is S.RUNNING and job.runtime == {"pid": 1}
    done = store.transition(WS.key, "j1", S.CANCEL_REQUESTED, expect=S.RUNNING)
    assert done.status is S.CANCEL_REQUESTED
    with pytest.raises(NotFound):
        store.transition(WS.key, "nope", S.STARTING, expect=S.NOT_STARTED)


def test_start_and_cancel_race_has_one_winner(store: Store) -> None:
    """The scheduler's Queued -> Running and a cancel's Queued -> Canceled, both expecting
    Queued, at once: exactly one applies, whatever the interleaving."""
    for r in range(8):
        name = f"sc{r}"
        store.create_job(new_job(name))
        store.transition(WS.key, name, [S.STARTING, S.PREPARING, S.QUEUED])
        barrier = threading.Barrier(2)
        won: list[S] = []

        def attempt(
            path: list[S],
            name: str = name,
            barrier: threading.Barrier = barrier,
            won: list[S] = won,
        ) -> None:
            barrier.wait()
            with contextlib.suppress(InvalidTransition):
                won.append(store.transition(WS.key, name, path, expect=S.QUEUED).status)

        threads = [
            threading.Thread(target=attempt, args=([S.RUNNING],)),
            threading.Thread(target=attempt, args=([S.CANCEL_REQUESTED, S.CANCELED],)),
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        job = store.get_job(WS.key, name)
        assert job is not None and len(won) == 1 and job.status is won[0]


def test_queued_jobs_by_priority_then_submission(store: Store) -> None:
    specs = [("low", 0), ("high1", 10), ("mid", 5), ("high2", 10), ("notqueued", 99)]
    for name, prio in specs:
        store.create_job(new_job(name, priority=prio))
    store.create_job(new_job("other_ws", workspace=OTHER_WS, priority=7))
    for name in ["low", "high1", "mid", "high2"]:
        for status in PATH[:3]:
            store.transition(WS.key, name, status)
    for status in PATH[:3]:
        store.transition(OTHER_WS.key, "other_ws", status)
    assert [j.name for j in store.queued_jobs(10)] == ["high1", "high2", "other_ws", "mid", "low"]
    assert [j.name for j in store.queued_jobs(2)] == ["high1", "high2"]
    store.transition(WS.key, "high1", S.RUNNING)
    assert [j.name for j in store.queued_jobs(1)] == ["high2"]


def test_jobs_in_status_across_workspaces_oldest_first(store: Store) -> None:
    store.create_job(new_job("a"))
    store.create_job(new_job("b", workspace=OTHER_WS))
    store.create_job(new_job("c"))
    store.transition(WS.key, "c", S.STARTING)
    got = store.jobs_in_status([S.NOT_STARTED, S.STARTING])
    assert [j.name for j in got] == ["a", "b", "c"]
    assert [j.name for j in store.jobs_in_status([S.STARTING])] == ["c"]
    assert store.jobs_in_status([]) == []


def test_move_job_moves_from_the_status_it_was_read_in(store: Store) -> None:
    store.create_job(new_job("m1"))
    queued = store.transition(WS.key, "m1", [S.STARTING, S.PREPARING, S.QUEUED])
    store.set_system_properties(WS.key, "m1", {"k": "v"})  # another writer, meanwhile
    running = store.move_job(queued, S.RUNNING, runtime={"pid": 7})
    # the row as stored after the move, not the caller's copy with the status changed
    assert (running.status, running.runtime, running.system_properties) == (
        S.RUNNING,
        {"pid": 7},
        {"k": "v"},
    )
    assert running == store.get_job(WS.key, "m1")
    done = store.move_job(running, [S.FINALIZING, S.COMPLETED], reason="ok", exit_code=0)
    assert (done.status, done.status_reason, done.exit_code) == (S.COMPLETED, "ok", 0)
    history = [(e.status, e.reason) for e in store.status_history(WS.key, "m1")]
    assert history[-3:] == [(S.RUNNING, None), (S.FINALIZING, None), (S.COMPLETED, "ok")]


def test_move_job_from_a_stale_record_or_of_a_deleted_job_changes_nothing(store: Store) -> None:
    store.create_job(new_job("m2"))
    queued = store.transition(WS.key, "m2", [S.STARTING, S.PREPARING, S.QUEUED])
    store.transition(WS.key, "m2", [S.CANCEL_REQUESTED, S.CANCELED])  # a cancel won
    with pytest.raises(InvalidTransition):
        store.move_job(queued, S.RUNNING, runtime={"pid": 7})
    job = store.get_job(WS.key, "m2")
    assert job is not None and job.status is S.CANCELED and job.runtime == {}
    with pytest.raises(InvalidTransition):  # an edge the table refuses: nothing written
        store.move_job(job, S.RUNNING)
    assert len(store.status_history(WS.key, "m2")) == 6
    store.delete_job(WS.key, "m2")
    with pytest.raises(NotFound):
        store.move_job(queued, S.RUNNING)
