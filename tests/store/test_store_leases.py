"""Server leases and job owners on both backends: leases on the database's clock, owners
taken by compare-and-set (of two racing claims exactly one wins, also across threads)."""

from __future__ import annotations

import threading

import pytest
from store_helpers import WS, new_job

from amlite.domain.status import ACCEPT_PATH, JobStatus
from amlite.errors import Fenced
from amlite.store import Fence, Store, open_store


def test_leases_live_on_the_database_clock(store: Store) -> None:
    store.renew_server("a", "host-1", 10, 1234, 30)
    store.renew_server("b", "host-2", 20, None, -1)  # already expired
    by_id = {s.id: s for s in store.list_servers()}
    assert set(by_id) == {"a", "b"}
    assert 25 < by_id["a"].left <= 30 and by_id["a"].pid_start == 1234
    assert by_id["b"].left < 0 and by_id["b"].host == "host-2"
    store.renew_server("b", "host-2", 20, None, 30)  # renewed: alive again
    assert {s.id: s.left > 0 for s in store.list_servers()} == {"a": True, "b": True}
    store.remove_servers(["a", "b"])
    assert store.list_servers() == []


def test_a_claim_is_a_compare_and_set_of_the_owner(store: Store) -> None:
    store.create_job(new_job("j"), then=ACCEPT_PATH)
    queued = JobStatus.QUEUED
    assert store.claim_job(WS.key, "j", "a", previous=None, status=queued)
    assert not store.claim_job(WS.key, "j", "b", previous=None, status=queued)
    assert not store.claim_job(WS.key, "j", "b", previous="a", status=JobStatus.RUNNING)
    job = store.get_job(WS.key, "j")
    assert job is not None and job.owner == "a"
    assert store.claim_job(WS.key, "j", "b", previous="a", status=queued)  # took over
    assert store.claim_job(WS.key, "j", None, previous="b", status=queued)  # given up
    job = store.get_job(WS.key, "j")
    assert job is not None and job.owner is None


def test_of_racing_claims_exactly_one_wins(database_url: str) -> None:
    first = open_store(database_url)
    first.create_job(new_job("race"), then=ACCEPT_PATH)
    stores = [open_store(database_url) for _ in range(4)]
    wins: list[str] = []
    barrier = threading.Barrier(len(stores))

    def claim(i: int) -> None:
        barrier.wait()
        if stores[i].claim_job(WS.key, "race", f"s{i}", previous=None, status=JobStatus.QUEUED):
            wins.append(f"s{i}")

    threads = [threading.Thread(target=claim, args=(i,)) for i in range(len(stores))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    job = first.get_job(WS.key, "race")
    assert len(wins) == 1 and job is not None and job.owner == wins[0]
    for opened in [first, *stores]:
        opened.close()


def test_servers_wake_each_other(database_url: str) -> None:
    listener, sender = open_store(database_url), open_store(database_url)
    if not listener.multi_server:
        sender.notify_servers("b")  # nothing to wake on SQLite: a no-op
        for opened in (listener, sender):
            opened.close()
        return
    woken = threading.Event()
    stop = threading.Event()
    thread = threading.Thread(target=listener.listen_servers, args=("a", woken.set, stop))
    thread.start()
    try:
        deadline = 50
        while not woken.is_set() and deadline:  # until it listens: LISTEN is not instant
            sender.notify_servers("b")
            woken.wait(0.2)
            deadline -= 1
        assert woken.is_set()
    finally:
        stop.set()
        thread.join()
        for opened in (listener, sender):
            opened.close()


def test_a_write_with_a_fence_needs_the_owner_epoch_and_a_live_lease(store: Store) -> None:
    store.create_job(new_job("j"), then=ACCEPT_PATH)
    store.create_job(new_job("sw", job_type="Sweep"), then=ACCEPT_PATH)
    queued = JobStatus.QUEUED
    store.renew_server("a", "host-1", 10, None, 30)
    store.renew_server("b", "host-1", 11, None, 30)
    first = store.claim_job(WS.key, "j", "a", previous=None, status=queued)
    assert first == 1
    fence_a = Fence(WS.key, "j", "a", first)
    assert store.fence_holds(fence_a)
    store.renew_server("a", "host-1", 10, None, -1)  # a stalls past its lease
    assert not store.fence_holds(fence_a)
    with pytest.raises(Fenced):
        store.transition(WS.key, "j", JobStatus.FAILED, fence=fence_a)
    store.renew_server("a", "host-1", 10, None, 30)  # renewed before anyone took over
    assert store.fence_holds(fence_a)
    second = store.claim_job(WS.key, "j", "b", previous="a", status=queued)
    assert second == 2  # b took it over: a's fence fails for good
    assert not store.fence_holds(fence_a)
    with pytest.raises(Fenced):
        store.transition(WS.key, "j", JobStatus.FAILED, fence=fence_a)
    with pytest.raises(Fenced):  # also when the status moved on too (what matters first)
        store.transition(WS.key, "j", JobStatus.FAILED, fence=fence_a, expect=JobStatus.RUNNING)
    assert store.claim_job(WS.key, "j", "a", previous="b", status=queued) == 3
    assert not store.fence_holds(fence_a)  # a holds it again, by a newer claim only
    moved = store.transition(WS.key, "j", JobStatus.RUNNING, fence=Fence(WS.key, "j", "a", 3),
                             runtime={"pid": 7})  # fmt: skip
    assert moved.status is JobStatus.RUNNING and moved.owner_epoch == 3
    # a note about a job another server owns: only while that server still owns it, merged
    assert not store.set_owned_runtime(WS.key, "j", {"unattended": {"x": 1}}, owner="b")
    assert store.set_owned_runtime(WS.key, "j", {"unattended": {"x": 1}}, owner="a")
    noted = store.get_job(WS.key, "j")
    assert noted is not None and noted.runtime == {"pid": 7, "unattended": {"x": 1}}

    # a fence on another job (a sweep's controller adding its trials)
    sweep_epoch = store.claim_job(WS.key, "sw", "b", previous=None, status=queued)
    assert sweep_epoch is not None
    stale = Fence(WS.key, "sw", "a", sweep_epoch)
    with pytest.raises(Fenced):
        store.add_trials(WS.key, "sw", [new_job("sw_0")], path=ACCEPT_PATH,
                         runtime={"nextIndex": 1}, fence=stale)  # fmt: skip
    assert store.get_job(WS.key, "sw_0") is None
    fresh = Fence(WS.key, "sw", "b", sweep_epoch)
    created = store.add_trials(WS.key, "sw", [new_job("sw_0")], path=ACCEPT_PATH,
                               runtime={"nextIndex": 1}, fence=fresh)  # fmt: skip
    assert [t.name for t in created] == ["sw_0"]
