"""MLflow tracking routes against a real server, on SQLite and PostgreSQL: shapes, order,
auth scoping and bad input (always MLflow's error shape, never a 500)."""

from __future__ import annotations

import time

import httpx
from tracking_helpers import (
    ARTIFACTS,
    ML,
    SCOPED1,
    SCOPED2,
    WS2,
    mlflow_error,
    run_job,
    running_job_token,
    stop_waiting_job,
)

from support.server import API, WS, LiveServer, job_url, read_artifact


def test_log_and_read_back(server: LiveServer) -> None:
    c = server.client()
    run_job(c, "j1", experimentName="exp1")
    now = int(time.time() * 1000)
    for i, value in enumerate([0.9, 0.5, 0.7]):
        # protobuf JSON: int64 as strings, as the mlflow client sends them
        resp = c.post(
            f"{ML}/runs/log-metric",
            json={
                "run_id": "j1",
                "key": "loss",
                "value": value,
                "step": str(9 - i),
                "timestamp": str(now),
            },
        )
        assert resp.status_code == 200 and resp.json() == {}, resp.text
    resp = c.post(
        f"{ML}/runs/log-batch",
        json={
            "run_id": "j1",
            "metrics": [
                {"key": "acc", "value": 0.1, "step": 0, "timestamp": now},
                {"key": "acc", "value": "NaN", "step": 1, "timestamp": now},
            ],
            "params": [{"key": "lr", "value": "0.01"}],
            "tags": [{"key": "team", "value": "a"}],
        },
    )
    assert resp.status_code == 200, resp.text
    assert (
        c.post(
            f"{ML}/runs/log-parameter", json={"run_uuid": "j1", "key": "bs", "value": "32"}
        ).status_code
        == 200
    )
    assert (
        c.post(f"{ML}/runs/set-tag", json={"run_id": "j1", "key": "team", "value": "b"}).status_code
        == 200
    )

    run = c.get(f"{ML}/runs/get", params={"run_id": "j1"}).json()["run"]
    info = run["info"]
    assert info["run_id"] == info["run_uuid"] == "j1"
    assert info["experiment_id"] == "exp1" and info["status"] == "FINISHED"
    assert info["lifecycle_stage"] == "active" and info["end_time"] >= info["start_time"] > 0
    assert (
        info["artifact_uri"] == "mlflow-artifacts:/00000000-0000-0000-0000-000000000000/rg1/ws1/j1"
    )
    latest = {m["key"]: (m["value"], m["step"]) for m in run["data"]["metrics"]}
    assert latest == {"loss": (0.7, 7), "acc": ("NaN", 1)}
    assert {p["key"]: p["value"] for p in run["data"]["params"]} == {"lr": "0.01", "bs": "32"}
    assert {t["key"]: t["value"] for t in run["data"]["tags"]} == {"team": "b"}

    history = c.get(
        f"{ML}/metrics/get-history", params={"run_id": "j1", "metric_key": "loss"}
    ).json()
    assert [(m["value"], m["step"]) for m in history["metrics"]] == [(0.9, 9), (0.5, 8), (0.7, 7)]

    ext = c.get(f"{WS}/jobs/j1/metrics?{API}").json()
    assert [m["value"] for m in ext["history"]["loss"]] == [0.9, 0.5, 0.7]
    assert {m["key"]: m["value"] for m in ext["value"]} == {"acc": "NaN", "loss": 0.7}
    assert ext["params"] == {"bs": "32", "lr": "0.01"} and ext["tags"] == {"team": "b"}

    # runs/update: the client's status claim never changes the job
    resp = c.post(
        f"{ML}/runs/update", json={"run_id": "j1", "status": "FAILED", "run_name": "nice"}
    )
    assert resp.status_code == 200 and resp.json()["run_info"]["status"] == "FINISHED"
    assert resp.json()["run_info"]["run_name"] == "nice"
    assert c.get(job_url("j1")).json()["properties"]["status"] == "Completed"


def test_bad_input_is_400_in_mlflow_shape(server: LiveServer) -> None:
    c = server.client()
    run_job(c, "j1")
    bad = [
        ("runs/log-metric", b"{not json"),
        ("runs/log-metric", b"[1, 2]"),
        ("runs/log-metric", b""),
    ]
    for path, raw in bad:
        mlflow_error(c.post(f"{ML}/{path}", content=raw), 400, "INVALID_PARAMETER_VALUE")
    metric = {"run_id": "j1", "key": "m", "value": 1.0, "step": 0, "timestamp": 1}
    for change in (
        {"value": "abc"},
        {"value": True},
        {"value": None},
        {"value": [1]},
        {"key": None},
        {"key": ""},
        {"key": "../up"},
        {"key": "x" * 251},
        {"step": "seven"},
        {"timestamp": 1.5},
        {"run_id": None},
    ):
        mlflow_error(
            c.post(f"{ML}/runs/log-metric", json={**metric, **change}),
            400,
            "INVALID_PARAMETER_VALUE",
        )

    def batch(n_metrics: int = 0, n_params: int = 0, n_tags: int = 0) -> dict[str, object]:
        return {
            "run_id": "j1",
            "metrics": [
                {"key": "m", "value": i, "timestamp": 1, "step": i} for i in range(n_metrics)
            ],
            "params": [{"key": f"p{i}", "value": "v"} for i in range(n_params)],
            "tags": [{"key": f"t{i}", "value": "v"} for i in range(n_tags)],
        }

    for body in (batch(1001), batch(n_params=101), batch(n_tags=101), batch(900, 100, 1)):
        msg = mlflow_error(
            c.post(f"{ML}/runs/log-batch", json=body), 400, "INVALID_PARAMETER_VALUE"
        )
        assert "at most" in msg
    assert c.post(f"{ML}/runs/log-batch", json=batch(1000)).status_code == 200
    mlflow_error(
        c.post(f"{ML}/runs/log-batch", json={"run_id": "j1", "metrics": {"a": 1}}),
        400,
        "INVALID_PARAMETER_VALUE",
    )
    # a rejected batch wrote nothing, the good one wrote 1000 points
    ext = c.get(f"{WS}/jobs/j1/metrics?{API}").json()
    assert len(ext["history"]["m"]) == 1000

    assert (
        c.post(
            f"{ML}/runs/log-parameter", json={"run_id": "j1", "key": "p", "value": "1"}
        ).status_code
        == 200
    )
    msg = mlflow_error(
        c.post(f"{ML}/runs/log-parameter", json={"run_id": "j1", "key": "p", "value": "2"}),
        400,
        "INVALID_PARAMETER_VALUE",
    )
    assert "cannot change" in msg
    mlflow_error(
        c.post(f"{ML}/runs/log-parameter", json={"run_id": "j1", "key": "q", "value": {"x": 1}}),
        400,
        "INVALID_PARAMETER_VALUE",
    )
    mlflow_error(
        c.post(f"{ML}/runs/set-tag", json={"run_id": "j1", "key": "t", "value": "x" * 8001}),
        400,
        "INVALID_PARAMETER_VALUE",
    )
    mlflow_error(
        c.post(f"{ML}/runs/update", json={"run_id": "j1", "status": "DONE"}),
        400,
        "INVALID_PARAMETER_VALUE",
    )
    mlflow_error(c.get(f"{ML}/runs/get"), 400, "INVALID_PARAMETER_VALUE")
    mlflow_error(
        c.get(f"{ML}/metrics/get-history", params={"run_id": "j1"}), 400, "INVALID_PARAMETER_VALUE"
    )
    mlflow_error(
        c.get(f"{ML}/runs/get", params={"run_id": "ghost"}), 404, "RESOURCE_DOES_NOT_EXIST"
    )
    mlflow_error(
        c.post(f"{ML}/runs/log-metric", json={**metric, "run_id": "ghost"}),
        404,
        "RESOURCE_DOES_NOT_EXIST",
    )
    mlflow_error(
        c.post(f"{ML}/runs/create", json={"experiment_id": "0"}), 400, "INVALID_PARAMETER_VALUE"
    )
    mlflow_error(c.get(f"{ML}/registered-models/search"), 404, "ENDPOINT_NOT_FOUND")
    # auth failures keep MLflow's shape too
    mlflow_error(httpx.get(f"{server.url}{ML}/runs/get?run_id=j1"), 401, "UNAUTHENTICATED")
    mlflow_error(server.client("wrong").get(f"{ML}/runs/get?run_id=j1"), 401, "UNAUTHENTICATED")
    # the ARM extension answers in the ARM envelope
    resp = c.get(f"{WS}/jobs/j1/metrics")
    assert resp.status_code == 400 and resp.json()["error"]["target"] == "api-version"
    resp = c.get(f"{WS}/jobs/ghost/metrics?{API}")
    assert resp.status_code == 404 and "error" in resp.json()


def test_job_token_reaches_only_its_own_run(server: LiveServer) -> None:
    admin = server.client()
    token_a = running_job_token(server, "ja", experimentName="expA")
    running_job_token(server, "jb")
    a = server.client(token_a)
    point = {"key": "m", "value": 1.0, "step": 0, "timestamp": 1}
    assert a.post(f"{ML}/runs/log-metric", json={"run_id": "ja", **point}).status_code == 200
    assert a.get(f"{ML}/runs/get", params={"run_id": "ja"}).status_code == 200
    assert a.get(f"{ML}/experiments/get", params={"experiment_id": "expA"}).status_code == 200
    assert a.get(f"{WS}/jobs/ja/metrics?{API}").status_code == 200
    denied = [
        a.post(f"{ML}/runs/log-metric", json={"run_id": "jb", **point}),
        a.post(f"{ML}/runs/log-batch", json={"run_id": "jb", "metrics": [point]}),
        a.post(f"{ML}/runs/log-parameter", json={"run_id": "jb", "key": "p", "value": "1"}),
        a.post(f"{ML}/runs/set-tag", json={"run_id": "jb", "key": "t", "value": "1"}),
        a.post(f"{ML}/runs/update", json={"run_id": "jb", "status": "FINISHED"}),
        a.get(f"{ML}/runs/get", params={"run_id": "jb"}),
        a.get(f"{ML}/metrics/get-history", params={"run_id": "jb", "metric_key": "m"}),
        a.post(f"{ML}/experiments/create", json={"name": "mine"}),
        a.put(f"{ARTIFACTS}/00000000-0000-0000-0000-000000000000/rg1/ws1/jb/x.txt", content=b"x"),
        a.get(f"{SCOPED2}/api/2.0/mlflow/runs/get", params={"run_id": "ja"}),
    ]
    for resp in denied:
        mlflow_error(resp, 403, "PERMISSION_DENIED")
    resp = a.get(f"{WS}/jobs/jb/metrics?{API}")
    assert resp.status_code == 403 and resp.json()["error"]["code"] == "AuthorizationFailed"
    # nothing reached jb; the admin reads both runs
    assert admin.get(f"{WS}/jobs/jb/metrics?{API}").json()["history"] == {}
    assert (
        admin.get(f"{ML}/runs/get", params={"run_id": "ja"}).json()["run"]["data"]["metrics"][0][
            "value"
        ]
        == 1.0
    )
    # once ja ended its token only reads (tests/security/test_token_revocation.py)
    stop_waiting_job(server, "ja")
    stop_waiting_job(server, "jb")
    mlflow_error(
        a.post(f"{ML}/runs/log-metric", json={"run_id": "ja", **point}), 403, "PERMISSION_DENIED"
    )
    assert a.get(f"{ML}/runs/get", params={"run_id": "ja"}).status_code == 200


def test_admin_run_ids_across_workspaces(server: LiveServer) -> None:
    c = server.client()
    run_job(c, "same")
    assert c.get(f"{ML}/runs/get", params={"run_id": "same"}).status_code == 200
    run_job(c, "same", ws=WS2)
    msg = mlflow_error(
        c.get(f"{ML}/runs/get", params={"run_id": "same"}), 400, "INVALID_PARAMETER_VALUE"
    )
    assert "workspaces" in msg
    for scoped, key in ((SCOPED1, "rg1/ws1"), (SCOPED2, "rg2/ws2")):
        resp = c.post(
            f"{scoped}/api/2.0/mlflow/runs/log-metric",
            json={"run_id": "same", "key": "m", "value": 1, "timestamp": 1},
        )
        assert resp.status_code == 200, resp.text
        info = c.get(f"{scoped}/api/2.0/mlflow/runs/get", params={"run_id": "same"}).json()["run"][
            "info"
        ]
        assert info["artifact_uri"].endswith(f"/{key}/same")
    mlflow_error(
        c.get(f"{SCOPED1}/api/2.0/mlflow/runs/get", params={"run_id": "ghost"}),
        404,
        "RESOURCE_DOES_NOT_EXIST",
    )


def test_experiments(server: LiveServer) -> None:
    c = server.client()
    run_job(c, "j1", experimentName="vision")
    got = c.get(
        f"{SCOPED1}/api/2.0/mlflow/experiments/get", params={"experiment_id": "vision"}
    ).json()
    assert got["experiment"]["experiment_id"] == got["experiment"]["name"] == "vision"
    resp = c.get(
        f"{SCOPED1}/api/2.0/mlflow/experiments/get-by-name", params={"experiment_name": "vision"}
    )
    assert resp.status_code == 200
    mlflow_error(
        c.get(f"{SCOPED1}/api/2.0/mlflow/experiments/get", params={"experiment_id": "nope"}),
        404,
        "RESOURCE_DOES_NOT_EXIST",
    )
    # plain /mlflow + admin token = the CLI's default workspace
    resp = c.post(f"{ML}/experiments/create", json={"name": "new-exp"})
    assert resp.status_code == 200 and resp.json() == {"experiment_id": "new-exp"}
    assert (
        c.get(f"{ML}/experiments/get-by-name", params={"experiment_name": "new-exp"}).status_code
        == 200
    )
    mlflow_error(
        c.post(f"{ML}/experiments/create", json={"name": "new-exp"}), 400, "RESOURCE_ALREADY_EXISTS"
    )
    mlflow_error(c.post(f"{ML}/experiments/create", json={}), 400, "INVALID_PARAMETER_VALUE")
    mlflow_error(
        c.get(f"{ML}/experiments/get", params={"experiment_id": "vision"}),
        404,
        "RESOURCE_DOES_NOT_EXIST",
    )


def test_artifacts_land_in_the_jobs_outputs(server: LiveServer) -> None:
    c = server.client()
    run_job(c, "j1")
    root = f"{ARTIFACTS}/00000000-0000-0000-0000-000000000000/rg1/ws1/j1"
    assert c.put(f"{root}/a.txt", content=b"hello").status_code == 200
    assert c.put(f"{root}/sub/b.bin", content=b"\x00\x01").status_code == 200
    assert read_artifact(c, "j1", "outputs/a.txt") == "hello"
    assert c.get(f"{root}/sub/b.bin").content == b"\x00\x01"
    listing = c.get(
        ARTIFACTS, params={"path": "00000000-0000-0000-0000-000000000000/rg1/ws1/j1"}
    ).json()
    assert listing["files"] == [
        {"path": "a.txt", "is_dir": False, "file_size": 5},
        {"path": "sub", "is_dir": True},
    ]
    mlflow_error(c.get(f"{root}/missing.txt"), 404, "RESOURCE_DOES_NOT_EXIST")
    mlflow_error(
        c.put(f"{root}/..%2F..%2Fescape.txt", content=b"x"), 400, "INVALID_PARAMETER_VALUE"
    )
    mlflow_error(
        c.put(f"{ARTIFACTS}/only/three/parts", content=b"x"), 400, "INVALID_PARAMETER_VALUE"
    )
    mlflow_error(
        c.put(f"{ARTIFACTS}/00000000-0000-0000-0000-000000000000/rg1/ws1/ghost/x", content=b"x"),
        404,
        "RESOURCE_DOES_NOT_EXIST",
    )
