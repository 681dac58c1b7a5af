"""Jobs in the store: create, get, list (filters, paging), metadata, runtime, delete."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import event, func, select
from store_helpers import OTHER_WS, WS, new_job

from amlite.domain.arm_id import WorkspaceRef
from amlite.domain.status import JobStatus
from amlite.errors import Conflict, InvalidTransition, NotFound
from amlite.store import Store
from amlite.store._sql.store import SqlStore
from amlite.store._sql.tables import metrics


def test_workspace_is_created_once_and_keeps_its_casing(store: Store) -> None:
    assert store.get_workspace(WS.key) is None
    store.ensure_workspace(WS)
    store.ensure_workspace(WS)
    assert store.get_workspace(WS.key) == WS
    assert store.get_workspace(WS.key.upper()) == WS


def test_create_and_get(store: Store) -> None:
    at = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
    spec = {"command": "python train.py", "tags": {"team": "a"}, "nested": {"x": [1, 2.5]}}
    created = store.create_job(
        new_job("j1", spec=spec, priority=5, experiment_name="exp", compute="cpu"), at=at
    )
    assert created.status is JobStatus.NOT_STARTED
    assert created.created_at == at == created.modified_at
    assert created.created_at.tzinfo is not None
    got = store.get_job(WS.key, "j1")
    assert got == created
    assert got.spec == spec
    assert (got.priority, got.experiment_name, got.compute) == (5, "exp", "cpu")
    assert got.workspace_key == WS.key
    assert store.get_workspace(WS.key) == WS  # create_job ensured it
    assert store.get_job(WS.key, "missing") is None
    assert store.get_job(OTHER_WS.key, "j1") is None
    assert store.status_history(WS.key, "j1")[0].status is JobStatus.NOT_STARTED


def test_times_are_utc_even_when_given_in_another_zone(store: Store) -> None:
    at = datetime(2024, 5, 1, 14, 0, tzinfo=UTC).astimezone(timezone(timedelta(hours=2)))
    created = store.create_job(new_job("j1"), at=at)
    got = store.get_job(WS.key, "j1")
    assert got is not None and got.created_at == at == created.created_at
    assert got.created_at.utcoffset() == timedelta(0)


def test_duplicate_name_conflicts_per_workspace(store: Store) -> None:
    store.create_job(new_job("j1"))
    with pytest.raises(Conflict):
        store.create_job(new_job("j1", spec={"command": "other"}))
    store.create_job(new_job("j1", workspace=OTHER_WS))  # another workspace: fine
    assert store.get_job(WS.key, "j1").spec == {"command": "echo j1"}  # type: ignore[union-attr]
    # the failed create left nothing behind: the next job still gets a usable name and seq
    assert len(store.list_jobs(WS.key)) == 1


def test_list_newest_first_and_paged_without_gaps(store: Store) -> None:
    for i in range(25):
        store.create_job(new_job(f"j{i:02d}"))
    store.create_job(new_job("elsewhere", workspace=OTHER_WS))
    seen: list[str] = []
    before: int | None = None
    while True:
        page = store.list_jobs(WS.key, before_seq=before, limit=7)
        if not page:
            break
        seqs = [j.seq for j in page]
        assert seqs == sorted(seqs, reverse=True)
        seen += [j.name for j in page]
        before = page[-1].seq
    assert seen == [f"j{i:02d}" for i in reversed(range(25))]


def test_list_filters(store: Store) -> None:
    store.create_job(new_job("a", tags={"team": "x", "kind": "cv"}))
    store.create_job(new_job("b", tags={"team": "y"}))
    store.create_job(new_job("sweep", job_type="Sweep", tags={"team": "x"}))
    store.create_job(new_job("sweep_0", parent_name="sweep"))
    store.create_job(new_job("sweep_1", parent_name="sweep", tags={"team": "x"}))
    store.transition(WS.key, "b", JobStatus.CANCEL_REQUESTED)

    def names(**kwargs: object) -> list[str]:
        return [j.name for j in store.list_jobs(WS.key, **kwargs)]  # type: ignore[arg-type]

    assert names(job_type="sweep") == ["sweep"]
    assert names(job_type="COMMAND") == ["sweep_1", "sweep_0", "b", "a"]
    assert names(tag="team") == ["sweep_1", "sweep", "b", "a"]
    assert names(tag="kind") == ["a"]
    assert names(tag="nope") == []
    assert names(tags={"team": "x"}) == ["sweep_1", "sweep", "a"]
    assert names(tags={"team": "x", "kind": "cv"}) == ["a"]
    assert names(tags={"team": "x", "kind": "nlp"}) == []
    assert names(parent_name="sweep") == ["sweep_1", "sweep_0"]
    assert names(top_level_only=True) == ["sweep", "b", "a"]
    assert names(statuses=[JobStatus.CANCEL_REQUESTED]) == ["b"]
    assert names(statuses=[]) == []
    assert names(statuses=[JobStatus.NOT_STARTED], top_level_only=True, tag="team") == [
        "sweep",
        "a",
    ]


def test_versions_agree_with_the_records_for_every_filter_and_value(store: Store) -> None:
    """``list_job_versions`` and ``job_version`` run statements compiled once per shape of
    filters: later calls with other values must not get the first call's answer."""
    for ws in (WS, OTHER_WS):
        store.create_job(new_job("a", ws, tags={"team": "x"}))
        store.create_job(new_job("sweep", ws, job_type="Sweep", experiment_name="exp"))
        store.create_job(new_job("sweep_0", ws, parent_name="sweep"))
        store.create_job(new_job("b", ws, experiment_name="exp"))
    store.transition(WS.key, "b", JobStatus.CANCEL_REQUESTED)
    seqs = sorted(j.seq for j in store.list_jobs(WS.key))
    cases: list[dict[str, object]] = [
        {},
        {"job_type": "sweep"},
        {"job_type": "COMMAND"},
        {"parent_name": "sweep"},
        {"parent_name": "nope"},
        {"top_level_only": True},
        {"experiment_name": "exp"},
        {"experiment_name": "Default", "top_level_only": True},
        {"tag": "team"},
        {"statuses": [JobStatus.CANCEL_REQUESTED]},
        {"limit": 1},
        {"limit": 2, "before_seq": seqs[-1]},
        {"before_seq": seqs[1]},
    ]
    for key in (WS.key, OTHER_WS.key):
        for case in cases:
            records = store.list_jobs(key, **case)  # type: ignore[arg-type]
            versions = store.list_job_versions(key, **case)  # type: ignore[arg-type]
            assert [(v.seq, v.modified_at, v.status) for v in versions] == [
                (r.seq, r.modified_at, r.status) for r in records
            ], (key, case)
    for ws in (WS, OTHER_WS):
        for name in ("a", "b", "sweep_0"):
            record = store.get_job(ws.key, name)
            assert record is not None
            version = store.job_version(ws.key, name)
            assert version is not None
            assert (version.seq, version.modified_at, version.status) == (
                record.seq,
                record.modified_at,
                record.status,
            )
    assert store.job_version(WS.key, "nope") is None


def test_filters_apply_before_the_page_is_cut(store: Store) -> None:
    for i in range(30):
        store.create_job(new_job(f"j{i:02d}", tags={"even": "1"} if i % 2 == 0 else {}))
    first = store.list_jobs(WS.key, tag="even", limit=5)
    assert [j.name for j in first] == ["j28", "j26", "j24", "j22", "j20"]
    second = store.list_jobs(WS.key, tag="even", limit=5, before_seq=first[-1].seq)
    assert [j.name for j in second] == ["j18", "j16", "j14", "j12", "j10"]


def test_update_metadata_replaces_fields_and_tags_index(store: Store) -> None:
    store.create_job(new_job("j1", spec={"command": "c", "description": "old", "tags": {"a": "1"}}))
    updated = store.update_job_metadata(
        WS.key, "j1", description="new", tags={"b": "2"}, properties={"p": "v"}
    )
    assert updated.spec == {
        "command": "c",
        "description": "new",
        "tags": {"b": "2"},
        "properties": {"p": "v"},
    }
    assert store.get_job(WS.key, "j1") == updated
    assert [j.name for j in store.list_jobs(WS.key, tag="b")] == ["j1"]
    assert store.list_jobs(WS.key, tag="a") == []
    cleared = store.update_job_metadata(WS.key, "j1", description=None, tags=None, properties=None)
    assert cleared.spec == {"command": "c"}
    with pytest.raises(NotFound):
        store.update_job_metadata(WS.key, "nope", description="x", tags=None, properties=None)


def test_runtime_and_system_properties(store: Store) -> None:
    store.create_job(new_job("j1"))
    store.set_runtime(WS.key, "j1", {"pid": 123, "run_dir": "/tmp/x"})
    store.set_runtime(WS.key, "j1", {"pid": 456})
    store.set_system_properties(WS.key, "j1", {"a": "1", "b": "2"})
    store.set_system_properties(WS.key, "j1", {"b": "3"})
    job = store.get_job(WS.key, "j1")
    assert job is not None
    assert job.runtime == {"pid": 456}
    assert job.system_properties == {"a": "1", "b": "3"}
    with pytest.raises(NotFound):
        store.set_runtime(WS.key, "nope", {})
    with pytest.raises(NotFound):
        store.set_system_properties(WS.key, "nope", {})


def test_a_submission_inserts_its_workspace_only_the_first_time(store: Store) -> None:
    assert isinstance(store, SqlStore)
    statements: list[str] = []

    def seen(_conn: object, _cursor: object, statement: str, *_: object) -> None:
        statements.append(statement)

    event.listen(store.engine, "before_cursor_execute", seen)
    try:
        for name in ("w1", "w2", "w3"):
            store.create_job(new_job(name))
        store.create_job(new_job("o1", OTHER_WS))
    finally:
        event.remove(store.engine, "before_cursor_execute", seen)
    inserts = [s for s in statements if s.lstrip().upper().startswith("INSERT INTO WORKSPACES")]
    assert len(inserts) == 2  # WS once, OTHER_WS once
    assert store.get_workspace(OTHER_WS.key) == OTHER_WS


def test_delete_removes_history_tags_and_tokens(store: Store) -> None:
    store.create_job(new_job("j1", tags={"t": "v"}))
    store.create_job(new_job("j2", tags={"t": "v"}))
    store.transition(WS.key, "j1", JobStatus.STARTING)
    store.add_token("hash-j1", workspace_key=WS.key, job_name="j1")
    assert store.delete_job(WS.key, "j1") is True
    assert store.delete_job(WS.key, "j1") is False
    assert store.get_job(WS.key, "j1") is None
    assert store.status_history(WS.key, "j1") == []
    assert store.find_token("hash-j1") is None
    assert [j.name for j in store.list_jobs(WS.key, tag="t")] == ["j2"]
    # the name is free again
    again = store.create_job(new_job("j1"))
    assert again.status is JobStatus.NOT_STARTED
    assert [e.status for e in store.status_history(WS.key, "j1")] == [JobStatus.NOT_STARTED]


def test_workspace_keys_are_separate(store: Store) -> None:
    other = WorkspaceRef("s", "r", "w")
    store.create_job(new_job("j", workspace=other))
    assert store.list_jobs(WS.key) == []
    assert [j.name for j in store.list_jobs(other.key)] == ["j"]


def test_delete_cascades_to_metrics(store: Store) -> None:
    assert isinstance(store, SqlStore)
    job = store.create_job(new_job("j1"))
    with store.engine.begin() as conn:
        conn.execute(
            metrics.insert(),
            [
                {"job_seq": job.seq, "key": "loss", "value": 0.5, "step": s, "timestamp": 1}
                for s in (0, 1)
            ],
        )
    store.delete_job(WS.key, "j1")
    with store.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(metrics)).scalar() == 0


def test_create_and_queue_in_one_write(store: Store) -> None:
    """A submission is one transaction: the job arrives Queued, with every status on the
    way kept, and the record returned is the one a read gives."""
    spec = {"command": "python t.py", "tags": {"k": "v"}, "nested": {"x": [1, 2.5, None]}}
    at = datetime(2024, 5, 1, 12, 0, tzinfo=UTC).astimezone(timezone(timedelta(hours=-3)))
    path = (JobStatus.STARTING, JobStatus.PREPARING, JobStatus.QUEUED)
    created = store.create_job(new_job("j1", spec=spec, priority=2), at=at, then=path)
    assert created == store.get_job(WS.key, "j1")
    assert created.status is JobStatus.QUEUED
    assert created.created_at.utcoffset() == timedelta(0)
    assert [e.status for e in store.status_history(WS.key, "j1")] == [
        JobStatus.NOT_STARTED,
        *path,
    ]
    assert [j.name for j in store.list_jobs(WS.key, tag="k")] == ["j1"]


def test_create_along_a_refused_path_writes_nothing(store: Store) -> None:
    with pytest.raises(InvalidTransition):
        store.create_job(new_job("j1"), then=(JobStatus.RUNNING,))
    assert store.get_job(WS.key, "j1") is None


# -- create_jobs: a batch of submissions in one transaction (the API's group commit) -------
def test_create_jobs_stores_a_batch_in_order_like_create_job(store: Store) -> None:
    path = [JobStatus.STARTING, JobStatus.PREPARING, JobStatus.QUEUED]
    batch = [
        new_job("b1", tags={"team": "a"}),
        new_job("b2", workspace=OTHER_WS),
        new_job("b3", spec={"command": "x", "nested": {"y": [1, 2.5]}}),
    ]
    created = store.create_jobs(batch, then=path)
    assert [r.name if r else None for r in created] == ["b1", "b2", "b3"]
    for record in created:
        assert record is not None
        assert store.get_job(record.workspace_key, record.name) == record  # as a read sees it
        assert [e.status for e in store.status_history(record.workspace_key, record.name)] == [
            JobStatus.NOT_STARTED,
            *path,
        ]
    seqs = [r.seq for r in created if r]
    assert seqs == sorted(seqs)  # committed in the order submitted
    assert [r.name for r in store.list_jobs(WS.key, tag="team")] == ["b1"]
    assert store.get_workspace(OTHER_WS.key) == OTHER_WS


def test_create_jobs_answers_none_for_names_taken_before_or_within_the_batch(store: Store) -> None:
    store.create_job(new_job("old"))
    created = store.create_jobs(
        [new_job("new"), new_job("old", spec={"command": "x"}), new_job("new"), new_job("n2")]
    )
    assert [r.name if r else None for r in created] == ["new", None, None, "n2"]
    assert store.get_job(WS.key, "old").spec == {"command": "echo old"}  # type: ignore[union-attr]
    assert len(store.list_jobs(WS.key)) == 3


def test_create_jobs_is_one_transaction_all_or_nothing(store: Store) -> None:
    assert isinstance(store, SqlStore)
    statements: list[str] = []

    def count(conn: object, cursor: object, statement: str, *args: object) -> None:
        statements.append(statement.split()[0].upper())

    event.listen(store.engine, "before_cursor_execute", count)
    try:
        store.create_jobs([new_job(f"t{i}", tags={"k": "v"}) for i in range(20)])
    finally:
        event.remove(store.engine, "before_cursor_execute", count)
    # the workspace, the name check, the jobs, their tags, their events: not one per job
    assert len([s for s in statements if s in ("INSERT", "SELECT")]) <= 6
    with pytest.raises(InvalidTransition):  # an illegal path: nothing of the batch is stored
        store.create_jobs([new_job("z1"), new_job("z2")], then=[JobStatus.QUEUED])
    assert store.get_job(WS.key, "z1") is None and store.get_job(WS.key, "z2") is None
    assert store.create_jobs([]) == []
