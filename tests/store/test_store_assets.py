"""Assets (containers and versions) and tokens in the store."""

from __future__ import annotations

import threading

import pytest
from store_helpers import OTHER_WS, WS, new_job

from amlite.errors import Conflict, NotFound
from amlite.store import Store

K = WS.key


def test_put_creates_then_replaces(store: Store) -> None:
    record, created = store.put_asset(K, "codes", "src", None, {"description": "v1"})
    assert created is True
    assert record.version is None and record.body == {"description": "v1"}
    assert record.created_at.tzinfo is not None
    again, created = store.put_asset(K, "codes", "src", None, {"description": "v2"})
    assert created is False
    assert again.seq == record.seq and again.created_at == record.created_at
    assert again.modified_at >= record.modified_at
    assert store.get_asset(K, "codes", "src") == again
    assert store.get_asset(K, "codes", "src").body == {"description": "v2"}  # type: ignore[union-attr]


def test_versions_are_separate_from_their_container(store: Store) -> None:
    store.put_asset(K, "environments", "env", None, {"c": 1})
    v1, created = store.put_asset(K, "environments", "env", "1", {"image": "a"})
    assert created and v1.version == "1"
    store.put_asset(K, "environments", "env", "2", {"image": "b"})
    assert store.get_asset(K, "environments", "env", "1") == v1
    assert store.get_asset(K, "environments", "env", "3") is None
    assert store.get_asset(K, "environments", "env").version is None  # type: ignore[union-attr]
    assert store.get_asset(K, "data", "env") is None
    assert store.get_asset(OTHER_WS.key, "environments", "env") is None


def test_list_containers_and_versions_paged_oldest_first(store: Store) -> None:
    for i in range(5):
        store.put_asset(K, "data", f"d{i}", None, {})
        store.put_asset(K, "data", f"d{i}", "1", {})
    store.put_asset(K, "codes", "c", None, {})
    store.put_asset(OTHER_WS.key, "data", "x", None, {})
    names: list[str] = []
    after: int | None = None
    while page := store.list_assets(K, "data", after_seq=after, limit=2):
        names += [a.name for a in page]
        assert all(a.version is None for a in page)
        after = page[-1].seq
    assert names == [f"d{i}" for i in range(5)]
    for v in ["2", "10", "3"]:
        store.put_asset(K, "data", "d0", v, {"v": v})
    versions = store.list_assets(K, "data", name="d0", versions=True)
    assert [a.version for a in versions] == ["1", "2", "10", "3"]
    assert [a.version for a in store.list_assets(K, "data", name="d0", versions=True, limit=2)] == [
        "1",
        "2",
    ]
    assert [a.name for a in store.list_assets(K, "data", name="d3")] == ["d3"]


def test_latest_version_is_the_most_recently_created(store: Store) -> None:
    assert store.latest_version(K, "codes", "c") is None
    store.put_asset(K, "codes", "c", None, {})
    assert store.latest_version(K, "codes", "c") is None
    store.put_asset(K, "codes", "c", "10", {})
    store.put_asset(K, "codes", "c", "9", {})
    store.put_asset(K, "codes", "c", "10", {"replaced": True})  # replacing keeps creation order
    latest = store.latest_version(K, "codes", "c")
    assert latest is not None and latest.version == "9"


def test_delete_version_and_container_cascade(store: Store) -> None:
    store.put_asset(K, "codes", "c", None, {})
    store.put_asset(K, "codes", "c", "1", {})
    store.put_asset(K, "codes", "c", "2", {})
    store.put_asset(K, "codes", "keep", "1", {})
    assert store.delete_asset(K, "codes", "c", "1") is True
    assert store.delete_asset(K, "codes", "c", "1") is False
    assert [a.version for a in store.list_assets(K, "codes", name="c", versions=True)] == ["2"]
    assert store.delete_asset(K, "codes", "c") is True
    assert store.get_asset(K, "codes", "c") is None
    assert store.get_asset(K, "codes", "c", "2") is None
    assert store.delete_asset(K, "codes", "c") is False
    assert store.get_asset(K, "codes", "keep", "1") is not None


def test_datastores_and_computes_have_no_versions(store: Store) -> None:
    store.put_asset(K, "datastores", "workspaceblobstore", None, {"isDefault": True})
    store.put_asset(K, "computes", "local", None, {"computeType": "Local"})
    assert [a.name for a in store.list_assets(K, "datastores")] == ["workspaceblobstore"]
    assert store.get_asset(K, "computes", "local").body == {"computeType": "Local"}  # type: ignore[union-attr]
    assert store.delete_asset(K, "datastores", "workspaceblobstore") is True
    assert store.list_assets(K, "datastores") == []


def test_tokens(store: Store) -> None:
    assert store.has_admin_token() is False
    assert store.find_token("h") is None
    store.create_job(new_job("j1"))
    store.add_token("job-hash", workspace_key=K, job_name="j1")
    assert store.has_admin_token() is False
    store.add_token("admin-hash")
    store.add_token("admin-hash")  # idempotent
    assert store.has_admin_token() is True
    admin = store.find_token("admin-hash")
    assert admin is not None and admin.is_admin and admin.workspace_key is None
    scoped = store.find_token("job-hash")
    assert scoped is not None and not scoped.is_admin
    assert (scoped.workspace_key, scoped.job_name) == (K, "j1")
    assert scoped.created_at.tzinfo is not None
    with pytest.raises(Conflict):
        store.add_token("admin-hash", workspace_key=K, job_name="j1")
    with pytest.raises(NotFound):
        store.add_token("x", workspace_key=K, job_name="missing")
    with pytest.raises(ValueError):
        store.add_token("x", job_name="j1")


def test_concurrent_puts_create_once(store: Store) -> None:
    barrier = threading.Barrier(4)
    results: list[bool] = []
    lock = threading.Lock()

    def put(i: int) -> None:
        barrier.wait()
        _record, created = store.put_asset(K, "data", "same", "1", {"writer": i})
        with lock:
            results.append(created)

    threads = [threading.Thread(target=put, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert sorted(results) == [False, False, False, True]
    assert len(store.list_assets(K, "data", name="same", versions=True)) == 1
