"""The sweep page's data call pages, sorts and filters the trials on the server
(``GET {ws}/jobs/{sweep}/trialsummary?$top&$skip&$orderby&status``): every order covers each
trial exactly once, what needs every trial comes in compact form, hostile values are a 400.

The sweep is written straight into a store (terminal trials, some scored, some with values
but no score, some with neither), then served by a real server."""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from amlite import schemas
from amlite.domain import run_properties as P
from amlite.domain.arm_id import WorkspaceRef
from amlite.domain.spec_codec import encode_job
from amlite.domain.status import ACCEPT_PATH, JobStatus
from amlite.services.references import resolve_references
from amlite.store import MetricPoint, NewJob, open_store
from support.server import API, WS, LiveServer

S = JobStatus
REF = WorkspaceRef("00000000-0000-0000-0000-000000000000", "rg1", "ws1")
TRIALS = 230
URL = f"{WS}/jobs/pg/trialsummary?{API}&curves=0"


def _expected(i: int) -> dict[str, Any]:
    """What trial ``i`` is: its status, parameters, logged values and score."""
    params: dict[str, Any] = {"x": round(((i * 37) % 101) / 101, 4)}
    if i % 3:
        params["opt"] = ["adam", "sgd", "<b>x</b>"][i % 4 % 3]
    values = [] if i % 11 == 0 else [((i * 53) % 97) / 97 + k * 0.01 for k in range(3)]
    failed = i % 7 == 0
    score = None if failed or not values else max(values)
    return {
        "status": "Failed" if failed else "Completed",
        "params": params,
        "values": values,
        "score": score,
        "value": score if score is not None else max(values, default=None),
    }


TRUTH = {f"pg_{i}": {"index": i, **_expected(i)} for i in range(TRIALS)}


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[httpx.Client]:
    home = tmp_path_factory.mktemp("paging") / "home"
    home.mkdir()
    store = open_store(f"sqlite:///{home / 'amlite.db'}")
    try:
        _write_sweep(store)
    finally:
        store.close()
    srv = LiveServer(home).start()
    with srv.client() as c:
        yield c
    srv.stop()


def _write_sweep(store: Any) -> None:
    store.ensure_workspace(REF)
    body = {
        "properties": {
            "jobType": "Sweep",
            "algorithm": "Random",
            "compute": {},
            "objective": {"primaryMetric": "acc", "goal": "Maximize"},
            "searchSpace": {"x": ["uniform", [0.0, 1.0]]},
            "maxTotalTrials": TRIALS,
            "maxConcurrentTrials": 2,
            "trial": {"command": "true"},
        }
    }
    typed, compute = resolve_references(store, REF, schemas.parse_job_spec(body))
    store.create_job(
        NewJob(REF, "pg", typed.job_type, encode_job(typed), compute=compute),
        then=(*ACCEPT_PATH, S.RUNNING),
    )
    for name, t in TRUTH.items():
        props = {P.HYPERPARAMETERS: json.dumps(t["params"]), P.SWEEP_INDEX: str(t["index"])}
        end = (S.FAILED,) if t["status"] == "Failed" else (S.COMPLETED,)
        store.create_job(
            NewJob(
                REF, name, "Command", {"command": "true", "properties": props}, parent_name="pg"
            ),
            then=(*ACCEPT_PATH, S.RUNNING, *end),
        )
        if t["values"]:
            store.log_metrics(REF.key, name, [MetricPoint("acc", v) for v in t["values"]])
        if t["score"] is not None:
            store.set_system_properties(REF.key, name, {P.SCORE: repr(t["score"])})
    best = max((t for t in TRUTH.values() if t["score"] is not None), key=lambda t: t["score"])
    store.set_system_properties(
        REF.key, "pg", {P.BEST_CHILD_RUN_ID: f"pg_{best['index']}", P.SCORE: repr(best["score"])}
    )
    store.transition(REF.key, "pg", [S.COMPLETED])


def _sort_key(key: str, t: dict[str, Any]) -> Any:
    if key == "value":
        return t["value"]
    if key == "status":
        return t["status"]
    if key == "index":
        return t["index"]
    value = t["params"].get(key.split("/", 1)[1])
    return None if value is None else (0, value) if isinstance(value, float) else (1, value)


def expected_order(key: str, desc: bool, status: str | None = None) -> list[str]:
    chosen = [(n, t) for n, t in TRUTH.items() if status is None or t["status"] == status]
    present = [(n, t) for n, t in chosen if _sort_key(key, t) is not None]
    missing = [n for n, t in chosen if _sort_key(key, t) is None]
    present.sort(key=lambda p: p[1]["index"])
    present.sort(key=lambda p: _sort_key(key, p[1]), reverse=desc)
    return [n for n, _ in present] + sorted(missing, key=lambda n: TRUTH[n]["index"])


def walk(c: httpx.Client, query: str, top: int) -> tuple[list[dict[str, Any]], int]:
    rows: list[dict[str, Any]] = []
    for _ in range(TRIALS // top + 2):
        data = c.get(f"{URL}&sample=0&$top={top}&$skip={len(rows)}{query}").json()
        if not data["value"]:
            return rows, data["count"]
        assert len(data["value"]) <= top
        rows += data["value"]
    raise AssertionError(f"more pages than {TRIALS} trials make")


@pytest.mark.parametrize(
    ("orderby", "status"),
    [
        ("index asc", None),
        ("value desc", None),
        ("value asc", None),
        ("status desc", None),
        ("hyperparameters/x desc", None),
        ("hyperparameters/opt asc", None),
        ("value desc", "Failed"),
    ],
)
def test_pages_cover_every_trial_once_in_the_chosen_order(
    client: httpx.Client, orderby: str, status: str | None
) -> None:
    key, direction = orderby.split()
    query = f"&$orderby={orderby}" + (f"&status={status}" if status else "")
    rows, count = walk(client, query, 37)
    names = [r["name"] for r in rows]
    assert names == expected_order(key, direction == "desc", status)
    assert count == len(names) == len(set(names))
    for row in rows:  # each row's own figures, whichever page it came on
        t = TRUTH[row["name"]]
        assert (row["index"], row["status"], row["hyperparameters"]) == (
            t["index"],
            t["status"],
            t["params"],
        )
        assert row["score"] == t["score"] and row["points"] == len(t["values"])
        assert row["best"] == max(t["values"], default=None)
        assert row["last"] == (t["values"][-1] if t["values"] else None)


def test_the_compact_parts_cover_every_trial(client: httpx.Client) -> None:
    data = client.get(f"{URL}&$top=5&sample=40").json()
    assert (data["total"], data["count"], data["top"]) == (TRIALS, TRIALS, 5)
    assert data["orderby"] == "index asc" and len(data["value"]) == 5
    statuses = [t["status"] for t in TRUTH.values()]
    assert data["counts"] == {s: statuses.count(s) for s in set(statuses)}
    assert data["parameters"] == ["opt", "x"]
    assert data["withPoints"] == sum(1 for t in TRUTH.values() if t["values"])
    scored = [t for t in TRUTH.values() if t["value"] is not None]
    steps, best = [], -math.inf
    for t in scored:
        if t["value"] > best:
            best = t["value"]
            steps.append([t["index"], best])
    assert data["bestSoFar"] == [*steps, [scored[-1]["index"], best]]
    sample = data["sample"]
    assert sample["count"] == len(scored) and len(sample["index"]) == 40
    assert sample["index"] == sorted(set(sample["index"]))
    for i, v in zip(sample["index"], sample["value"], strict=True):
        assert TRUTH[f"pg_{i}"]["value"] == v
    top4 = sorted(scored, key=lambda t: -t["value"])[:4]  # the best tenth of the sample
    assert {t["index"] for t in top4} <= set(sample["index"])
    assert sample["hyperparameters"]["x"] == [
        TRUTH[f"pg_{i}"]["params"]["x"] for i in sample["index"]
    ]
    assert sample["index"][sample["best"]] == int(data["bestTrial"].rsplit("_", 1)[1])
    whole = client.get(f"{URL}&$top=1").json()["sample"]  # default: every scored trial
    assert len(whole["index"]) == len(scored)


def test_sizes_are_capped(client: httpx.Client) -> None:
    data = client.get(f"{URL}&$top=999999&sample=999999").json()
    assert data["top"] == 1000 and len(data["value"]) == TRIALS
    past = client.get(f"{URL}&$skip=5000").json()
    assert past["value"] == [] and past["count"] == TRIALS


@pytest.mark.parametrize(
    ("query", "target"),
    [
        ("$top=-1", "$top"),
        ("$top=ten", "$top"),
        ("$top=" + "9" * 400, "$top"),
        ("$skip=1.5", "$skip"),
        ("sample=x", "sample"),
        ("$orderby=score", "$orderby"),
        ("$orderby=value sideways", "$orderby"),
        ("$orderby=value desc extra", "$orderby"),
        ("$orderby=hyperparameters/", "$orderby"),
        ("$orderby=hyperparameters/" + "x" * 400, "$orderby"),
        ("status=Finished", "status"),
    ],
)
def test_bad_paging_values_are_a_400_naming_them(
    client: httpx.Client, query: str, target: str
) -> None:
    resp = client.get(f"{URL}&{query}")
    assert resp.status_code == 400
    error = resp.json()["error"]
    assert error["code"] and error["message"]
    assert target in json.dumps(error)
