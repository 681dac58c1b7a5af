"""Metrics, params and run tags in the store, on SQLite and PostgreSQL."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, TypeVar

import pytest
from sqlalchemy import event

from amlite.domain.arm_id import WorkspaceRef
from amlite.errors import Conflict, NotFound
from amlite.store import MetricPoint, NewJob, Store
from amlite.store._sql.store import SqlStore

WS = WorkspaceRef("00000000-sub", "My-RG", "My-Workspace")
OTHER = WorkspaceRef("00000000-sub", "other-rg", "other")


def job(name: str, ws: WorkspaceRef = WS, job_type: str = "Command", **kw: Any) -> NewJob:
    return NewJob(ws, name, job_type, {"command": "echo"}, **kw)


T = TypeVar("T")


def selects_during(store: Store, call: Callable[[], T]) -> tuple[T, int]:
    """What ``call`` returns, and how many SELECT statements it sent to the database."""
    assert isinstance(store, SqlStore)
    statements: list[str] = []

    def count(*args: object) -> None:
        statements.append(str(args[2]))

    event.listen(store.engine, "before_cursor_execute", count)
    try:
        result = call()
    finally:
        event.remove(store.engine, "before_cursor_execute", count)
    return result, len([s for s in statements if s.lstrip().upper().startswith("SELECT")])


def test_metric_history_keeps_logging_order_not_step_order(store: Store) -> None:
    store.create_job(job("j1"))
    store.log_metrics(
        WS.key,
        "j1",
        [MetricPoint("loss", 3.0, step=10, timestamp=1), MetricPoint("loss", 2.0, step=2)],
    )
    store.log_metrics(WS.key, "j1", [MetricPoint("loss", 1.0, step=0, timestamp=3)])
    values = [(p.value, p.step) for p in store.metric_history(WS.key, "j1", "loss")]
    assert values == [(3.0, 10), (2.0, 2), (1.0, 0)]
    assert store.metric_history(WS.key, "j1", "nope") == []


def test_latest_metrics_is_the_last_logged_value_per_key(store: Store) -> None:
    store.create_job(job("j1"))
    store.log_metrics(
        WS.key,
        "j1",
        [
            MetricPoint("b", 1.0, step=5),
            MetricPoint("a", 7.0, step=1, timestamp=11),
            MetricPoint("b", 2.0, step=1),  # lower step, but logged last
        ],
    )
    latest = store.latest_metrics(WS.key, "j1")
    assert [(p.key, p.value, p.step) for p in latest] == [("a", 7.0, 1), ("b", 2.0, 1)]
    assert latest[0].timestamp == 11
    assert store.latest_metrics(WS.key, "missing") == []
    histories = store.all_metric_histories(WS.key, "j1")
    assert {k: [p.value for p in v] for k, v in histories.items()} == {
        "b": [1.0, 2.0],
        "a": [7.0],
    }


def test_non_finite_values_round_trip(store: Store) -> None:
    store.create_job(job("j1"))
    store.log_metrics(
        WS.key,
        "j1",
        [MetricPoint("m", math.nan), MetricPoint("m", math.inf), MetricPoint("m", -math.inf)],
    )
    values = [p.value for p in store.metric_history(WS.key, "j1", "m")]
    assert math.isnan(values[0]) and values[1:] == [math.inf, -math.inf]


def test_logging_to_a_missing_job_is_not_found(store: Store) -> None:
    with pytest.raises(NotFound):
        store.log_metrics(WS.key, "ghost", [MetricPoint("m", 1.0)])
    with pytest.raises(NotFound):
        store.log_params(WS.key, "ghost", {"a": "1"})
    with pytest.raises(NotFound):
        store.set_run_tags(WS.key, "ghost", {"a": "1"})


def test_metric_histories_of_a_sweep_in_one_query(store: Store) -> None:
    store.create_job(job("sweep", job_type="Sweep"))
    for name in ("sweep_0", "sweep_1", "sweep_2"):
        store.create_job(job(name, parent_name="sweep"))
    store.create_job(job("other"))
    store.create_job(job("sweep_0", OTHER, parent_name="sweep"))  # same names, other workspace
    store.log_metrics(WS.key, "sweep_0", [MetricPoint("acc", 0.1, step=9)])
    store.log_metrics(WS.key, "sweep_1", [MetricPoint("acc", 0.5), MetricPoint("loss", 9.0)])
    store.log_metrics(WS.key, "sweep_0", [MetricPoint("acc", 0.2, step=1)])
    store.log_metrics(WS.key, "other", [MetricPoint("acc", 0.9)])
    store.log_metrics(OTHER.key, "sweep_0", [MetricPoint("acc", 0.7)])

    histories, selects = selects_during(
        store, lambda: store.metric_histories(WS.key, "sweep", "acc")
    )
    assert histories == {"sweep_0": [0.1, 0.2], "sweep_1": [0.5]}
    assert selects == 1
    # only the named trials (the studio's drawn curves), still one query
    assert store.metric_histories(WS.key, "sweep", "acc", names=["sweep_1", "nope"]) == {
        "sweep_1": [0.5]
    }
    assert store.metric_histories(WS.key, "sweep", "acc", names=[]) == {}


def test_metric_summaries_aggregate_each_trial_in_one_query(store: Store) -> None:
    store.create_job(job("sweep", job_type="Sweep"))
    for name in ("sweep_0", "sweep_1", "sweep_2"):
        store.create_job(job(name, parent_name="sweep"))
    store.create_job(job("other"))
    inf = math.inf
    store.log_metrics(WS.key, "sweep_0", [MetricPoint("acc", 0.3), MetricPoint("acc", -inf)])
    store.log_metrics(WS.key, "sweep_0", [MetricPoint("acc", 0.9, step=0), MetricPoint("acc", 0.5)])
    store.log_metrics(WS.key, "sweep_1", [MetricPoint("acc", 0.4), MetricPoint("acc", math.nan)])
    store.log_metrics(WS.key, "sweep_1", [MetricPoint("loss", 7.0)])
    store.log_metrics(WS.key, "sweep_2", [MetricPoint("acc", inf)])  # no finite value
    store.log_metrics(WS.key, "other", [MetricPoint("acc", 0.8)])

    summaries, selects = selects_during(
        store, lambda: store.metric_summaries(WS.key, "sweep", "acc")
    )
    assert selects == 1
    assert sorted(summaries) == ["sweep_0", "sweep_1", "sweep_2"]
    s0, s1, s2 = summaries["sweep_0"], summaries["sweep_1"], summaries["sweep_2"]
    assert (s0.count, s0.low, s0.high, s0.last) == (4, 0.3, 0.9, 0.5)  # last logged, not step
    assert (s1.count, s1.low, s1.high) == (2, 0.4, 0.4) and math.isnan(s1.last)
    assert (s2.count, s2.low, s2.high, s2.last) == (1, None, None, inf)
    assert store.metric_summaries(WS.key, "sweep", "missing") == {}
    # only the named trials (the studio's unscored trials and table page), still one query
    named, selects = selects_during(
        store, lambda: store.metric_summaries(WS.key, "sweep", "acc", names=["sweep_1", "nope"])
    )
    assert list(named) == ["sweep_1"] and named["sweep_1"].count == s1.count == 2
    assert selects == 1
    assert store.metric_summaries(WS.key, "sweep", "acc", names=[]) == {}


def test_sweep_trials_are_the_listed_trials_with_their_properties_only(store: Store) -> None:
    store.create_job(job("sweep", job_type="Sweep"))
    props = {"hyperparameters": '{"x": 1}', "_azureml.sweep_index": "0"}
    store.create_job(NewJob(WS, "sweep_0", "Command", {"command": "a", "properties": props}))
    store.create_job(NewJob(WS, "sweep_1", "Command", {"command": "b"}, parent_name="sweep"))
    store.create_job(
        NewJob(WS, "sweep_2", "Command", {"command": "c", "properties": props}, parent_name="sweep")
    )
    store.set_system_properties(WS.key, "sweep_2", {"score": "0.5"})
    store.create_job(job("sweep_9", OTHER, parent_name="sweep"))  # other workspace

    rows = store.sweep_trials(WS.key, "sweep", 100)
    listed = store.list_jobs(WS.key, parent_name="sweep", limit=100)
    assert [r.name for r in rows] == [j.name for j in listed] == ["sweep_2", "sweep_1"]
    for row, record in zip(rows, listed, strict=True):
        assert (row.status, row.status_reason, row.created_at) == (
            record.status,
            record.status_reason,
            record.created_at,
        )
        assert row.properties == (record.spec.get("properties") or {})
        assert row.system_properties == record.system_properties
    assert rows[0].properties == props and rows[0].system_properties == {"score": "0.5"}
    assert [r.name for r in store.sweep_trials(WS.key, "sweep", 1)] == ["sweep_2"]


def test_params_are_write_once_per_value(store: Store) -> None:
    store.create_job(job("j1"))
    store.log_params(WS.key, "j1", {"lr": "0.1", "layers": "3"})
    store.log_params(WS.key, "j1", {"lr": "0.1"})  # same value again: fine
    with pytest.raises(Conflict):
        store.log_params(WS.key, "j1", {"new": "x", "lr": "0.2"})
    # the failed call kept nothing
    assert store.get_params(WS.key, "j1") == {"layers": "3", "lr": "0.1"}


def test_run_tags_are_upserted_and_apart_from_arm_tags(store: Store) -> None:
    store.create_job(job("j1"))
    store.set_run_tags(WS.key, "j1", {"team": "a", "mlflow.runName": "r"})
    store.set_run_tags(WS.key, "j1", {"team": "b"})
    assert store.get_run_tags(WS.key, "j1") == {"mlflow.runName": "r", "team": "b"}
    record = store.get_job(WS.key, "j1")
    assert record is not None and "tags" not in record.spec
    assert store.list_jobs(WS.key, tag="team") == []


def test_delete_job_removes_its_tracking_rows(store: Store) -> None:
    store.create_job(job("j1"))
    store.log_metrics(WS.key, "j1", [MetricPoint("m", 1.0)])
    store.log_params(WS.key, "j1", {"p": "1"})
    store.set_run_tags(WS.key, "j1", {"t": "1"})
    assert store.delete_job(WS.key, "j1")
    store.create_job(job("j1"))  # a new job of the same name starts empty
    assert store.metric_history(WS.key, "j1", "m") == []
    assert store.get_params(WS.key, "j1") == {} and store.get_run_tags(WS.key, "j1") == {}


def test_jobs_named_and_experiment_names(store: Store) -> None:
    store.create_job(job("j1", experiment_name="exp-a"))
    store.create_job(job("j2", experiment_name="exp-b"))
    store.create_job(job("j1", OTHER, experiment_name="exp-c"))
    store.put_asset(WS.key, "experiments", "created", None, {"name": "created"})
    assert [j.workspace_key for j in store.jobs_named("j1")] == [WS.key, OTHER.key]
    assert store.jobs_named("nobody") == []
    assert store.experiment_names(WS.key) == ["created", "exp-a", "exp-b"]
    assert store.experiment_names(OTHER.key) == ["exp-c"]


def test_a_thousand_points_are_one_executemany_per_call(store: Store) -> None:
    store.create_job(job("j1"))
    points = [MetricPoint("loss", float(i), step=i, timestamp=i) for i in range(1000)]
    assert isinstance(store, SqlStore)
    executes: list[bool] = []

    def seen(
        conn: object, cursor: object, stmt: str, params: object, ctx: object, many: bool
    ) -> None:
        if stmt.lstrip().upper().startswith("INSERT INTO METRICS"):
            executes.append(many)

    event.listen(store.engine, "before_cursor_execute", seen)
    try:
        for _ in range(5):
            store.log_metrics(WS.key, "j1", points)
    finally:
        event.remove(store.engine, "before_cursor_execute", seen)
    assert executes == [True] * 5, "each call is one executemany"
    # the rate itself is measured in bench/bench_tracking.py (no timed unit tests)
    history = store.metric_history(WS.key, "j1", "loss")
    assert len(history) == 5000 and [p.value for p in history[:3]] == [0.0, 1.0, 2.0]


def test_upgrade_from_0001_keeps_metrics(database_url: str) -> None:
    """A database at the first schema, with metrics, upgrades to 0002 without losing any."""
    from alembic import command
    from sqlalchemy import text

    from amlite.store import open_store
    from amlite.store._sql import migrate
    from amlite.store._sql.engine import make_engine, write_tx

    engine = make_engine(database_url)
    try:
        with write_tx(engine) as conn:
            command.upgrade(migrate.alembic_config(conn), "0001_initial")
            conn.execute(
                text(
                    "INSERT INTO workspaces "
                    "(key, subscription, resource_group, workspace, created_at)"
                    " VALUES ('s/r/w', 's', 'r', 'w', CURRENT_TIMESTAMP)"
                )
            )
            conn.execute(
                text(
                    "INSERT INTO jobs (workspace_key, name, job_type, status, priority,"
                    " experiment_name, compute, spec, runtime, system_properties, created_at,"
                    " modified_at) VALUES ('s/r/w', 'old', 'Command', 'Completed', 0, 'e', 'local',"
                    " '{}', '{}', '{}', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
                )
            )
            seq = conn.execute(text("SELECT seq FROM jobs")).scalar()
            for i, value in enumerate([0.3, 0.1, 0.2]):
                conn.execute(
                    text(
                        "INSERT INTO metrics (job_seq, key, value, step, timestamp)"
                        " VALUES (:seq, 'loss', :v, :step, 0)"
                    ),
                    {"seq": seq, "v": value, "step": 10 - i},
                )
    finally:
        engine.dispose()
    store = open_store(database_url)
    try:
        assert [p.value for p in store.metric_history("s/r/w", "old", "loss")] == [0.3, 0.1, 0.2]
        store.log_metrics("s/r/w", "old", [MetricPoint("loss", math.nan)])
        store.log_params("s/r/w", "old", {"p": "1"})
        assert math.isnan(store.metric_history("s/r/w", "old", "loss")[-1].value)
    finally:
        store.close()
