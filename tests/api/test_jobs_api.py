"""The jobs REST contract against a real server on a loopback port."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx

from support.server import (
    API,
    WS,
    LiveServer,
    command_body,
    history,
    job_url,
    upload_code,
    wait_status,
    wait_terminal,
)


def test_put_runs_a_command_job_to_completion(server: LiveServer) -> None:
    with server.client() as c:
        resp = c.put(job_url("hello-1"), json=command_body("echo hello from amlite"))
        assert resp.status_code == 201, resp.text
        body = resp.json()
        assert body["name"] == "hello-1"
        assert body["id"] == f"{WS}/jobs/hello-1"
        assert body["type"] == "Microsoft.MachineLearningServices/workspaces/jobs"
        props = body["properties"]
        assert props["jobType"] == "Command"
        assert props["status"] in {"Queued", "Running", "Finalizing", "Completed"}
        assert set(props["interactionEndpoints"]) == {"Studio", "Tracking"}
        assert props["output"]["path"] == "ExperimentRun/dcid.hello-1"
        assert body["systemData"]["createdAt"].endswith("Z")

        done = wait_terminal(c, "hello-1")
        assert done["properties"]["status"] == "Completed"
        assert done["properties"]["provisioningState"] == "Succeeded"
        statuses = [e["status"] for e in history(c, "hello-1")["value"]]
        assert statuses == [
            "NotStarted",
            "Starting",
            "Preparing",
            "Queued",
            "Running",
            "Finalizing",
            "Completed",
        ]
        log = c.get(
            f"{WS}/datastores/workspaceblobstore/files/ExperimentRun/dcid.hello-1/user_logs/std_log.txt?{API}"
        )
        assert log.status_code == 200
        assert "hello from amlite" in log.text


def test_put_again_updates_only_description_tags_and_properties(server: LiveServer) -> None:
    with server.client() as c:
        body = command_body("echo same", description="first", tags={"a": "1"})
        assert c.put(job_url("upd"), json=body).status_code == 201
        body["properties"].update(description="second", tags={"b": "2"}, properties={"k": "v"})
        resp = c.put(job_url("upd"), json=body)
        assert resp.status_code == 200, resp.text
        props = resp.json()["properties"]
        assert props["description"] == "second"
        assert props["tags"] == {"b": "2"}
        assert props["properties"]["k"] == "v"

        changed = command_body("echo different")
        resp = c.put(job_url("upd"), json=changed)
        assert resp.status_code == 400
        targets = [d["target"] for d in resp.json()["error"]["details"]]
        assert "properties.command" in targets
        assert c.get(job_url("upd")).json()["properties"]["command"] == "echo same"

        # the same answers when the PUTs arrive together (group-committed): 201 for a new
        # job, 200 for the same job again, 400 for a bad body or an immutable change
        requests = [(f"burst-{i}", command_body("true")) for i in range(6)] * 2  # each twice
        requests += [("upd", command_body("echo changed")), ("burst-bad", {"x": 1})]

        def put(item: tuple[str, dict[str, Any]]) -> httpx.Response:
            return c.put(job_url(item[0]), json=item[1])

        with ThreadPoolExecutor(len(requests)) as pool:
            answers = list(pool.map(put, requests))
        for i in range(6):
            assert sorted(a.status_code for a in (answers[i], answers[i + 6])) == [200, 201]
        changed_again, bad = answers[-2:]
        assert changed_again.status_code == 400
        assert changed_again.json()["error"]["details"][0]["code"] == "ImmutableField"
        assert bad.status_code == 400 and bad.json()["error"]["code"]
        names = [j["name"] for j in c.get(f"{WS}/jobs?{API}").json()["value"]]
        assert sorted(names) == sorted(["upd", *(f"burst-{i}" for i in range(6))])


def test_bad_bodies_get_400_naming_the_field_and_store_nothing(server: LiveServer) -> None:
    with server.client() as c:
        resp = c.put(
            job_url("bad-1"), content=b"{not json", headers={"content-type": "application/json"}
        )
        assert resp.status_code == 400
        assert resp.json()["error"]["target"] == "body"

        resp = c.put(
            job_url("bad-2"),
            json={"properties": {"jobType": "Command", "compute": {}, "colour": 1}},
        )
        assert resp.status_code == 400
        err = resp.json()["error"]
        targets = {d["target"] for d in err["details"]}
        assert "properties.command" in targets
        assert "properties.colour" in targets

        resp = c.put(job_url("bad name!"), json=command_body("echo x"))
        assert resp.status_code == 400
        assert resp.json()["error"]["target"] == "id"

        resp = c.put(job_url("bad-3"), json=command_body("echo x", timeout="PT1.5S"))
        assert resp.status_code == 400
        assert resp.json()["error"]["details"][0]["target"] == "properties.timeout"

        resp = c.put(
            job_url("bad-4"), json=command_body("echo x", codeId=f"{WS}/codes/nope/versions/1")
        )
        assert resp.status_code == 400
        assert resp.json()["error"]["details"][0]["target"] == "properties.codeId"

        for name in ("bad-1", "bad-2", "bad-3", "bad-4"):
            assert c.get(job_url(name)).status_code == 404
        assert c.get(f"{WS}/jobs?{API}").json()["value"] == []


def test_auth_is_required_and_a_wrong_token_touches_nothing(server: LiveServer) -> None:
    with httpx.Client(base_url=server.url) as anon:
        resp = anon.put(job_url("x"), json=command_body("echo x"))
        assert resp.status_code == 401
        assert resp.json()["error"]["code"] == "AuthenticationFailed"
    with server.client(token="not-a-token") as bad:
        assert bad.put(job_url("x"), json=command_body("echo x")).status_code == 401
        assert bad.get(f"{WS}/jobs?{API}").status_code == 401
    with server.client() as c:
        assert c.get(job_url("x")).status_code == 404


def test_api_version_is_required_and_checked(server: LiveServer) -> None:
    with server.client() as c:
        resp = c.get(f"{WS}/jobs")
        assert resp.status_code == 400
        assert resp.json()["error"]["target"] == "api-version"
        resp = c.get(f"{WS}/jobs?api-version=2099-01-01")
        assert resp.status_code == 400


def test_missing_job_is_404_in_the_arm_envelope(server: LiveServer) -> None:
    with server.client() as c:
        resp = c.get(job_url("nope"))
        assert resp.status_code == 404
        assert resp.json()["error"]["code"] == "ResourceNotFound"
        assert c.post(f"{WS}/jobs/nope/cancel?{API}").status_code == 404


def test_paths_match_case_insensitively(server: LiveServer) -> None:
    with server.client() as c:
        assert c.put(job_url("ci"), json=command_body("true")).status_code == 201
        lower = WS.replace("resourceGroups", "resourcegroups").replace(
            "Microsoft.MachineLearningServices", "microsoft.machinelearningservices"
        )
        assert c.get(f"{lower}/JOBS/ci?{API}").status_code == 200


def test_list_pages_with_keyset_tokens_and_filters(server: LiveServer) -> None:
    with server.client() as c:
        for i in range(5):
            tags = {"team": "a" if i % 2 else "b", **({"gpu": ""} if i == 4 else {})}
            assert c.put(job_url(f"l{i}"), json=command_body("true", tags=tags)).status_code == 201
        names: list[str] = []
        url: str | None = f"{WS}/jobs?{API}&$top=2"
        pages = 0
        while url:
            page = c.get(url).json()
            names += [j["name"] for j in page["value"]]
            url = page["nextLink"]
            pages += 1
        assert names == ["l4", "l3", "l2", "l1", "l0"]
        assert pages == 3
        by_tags = c.get(f"{WS}/jobs?{API}&tags=team=a").json()["value"]
        assert [j["name"] for j in by_tags] == ["l3", "l1"]
        by_tag = c.get(f"{WS}/jobs?{API}&tag=gpu").json()["value"]
        assert [j["name"] for j in by_tag] == ["l4"]
        assert c.get(f"{WS}/jobs?{API}&jobType=Sweep").json()["value"] == []
        assert len(c.get(f"{WS}/jobs?{API}&jobType=command").json()["value"]) == 5
        assert c.get(f"{WS}/jobs?{API}&$skiptoken=garbage!").status_code == 400


def test_delete_answers_202_then_the_job_is_gone(server: LiveServer) -> None:
    with server.client() as c:
        assert c.put(job_url("del"), json=command_body("sleep 30")).status_code == 201
        resp = c.delete(job_url("del"))
        assert resp.status_code == 202
        assert int(resp.headers["Retry-After"]) >= 10
        location = resp.headers["Location"]
        for _ in range(300):
            poll = c.get(location)
            if poll.status_code == 204:
                break
            assert poll.status_code == 202
            time.sleep(0.05)
        assert poll.status_code == 204
        assert c.get(job_url("del")).status_code == 404
        again = c.delete(job_url("del"))  # ARM: deleting what does not exist succeeds
        assert again.status_code == 204, again.text
        assert c.delete(job_url("never-was")).status_code == 204
        assert c.get(location).status_code == 204


def test_cancel_a_running_job(server: LiveServer) -> None:
    with server.client() as c:
        assert c.put(job_url("long"), json=command_body("sleep 60")).status_code == 201
        wait_status(c, "long", "Running")
        assert c.post(f"{WS}/jobs/long/cancel?{API}").status_code == 200
        done = wait_terminal(c, "long", timeout=30)
        assert done["properties"]["status"] == "Canceled"
        events = history(c, "long")
        assert [e["status"] for e in events["value"]][-2:] == ["CancelRequested", "Canceled"]
        assert events["reason"] == "canceled by user"


PROBE = """
import os, sys, urllib.error, urllib.request
base, ws, api = sys.argv[1:4]
codes = []
for path in (f"/jobs/{os.environ['AZUREML_RUN_ID']}", "/jobs/other", "/jobs"):
    req = urllib.request.Request(f"{base}{ws}{path}?{api}")
    req.add_header("Authorization", "Bearer " + os.environ["AZUREML_RUN_TOKEN"])
    try:
        codes.append(urllib.request.urlopen(req).status)
    except urllib.error.HTTPError as err:
        codes.append(err.code)
print(*codes)
"""


def test_a_jobs_own_token_reaches_only_that_job(server: LiveServer) -> None:
    with server.client() as c:
        code = upload_code(c, "probe", {"probe.py": PROBE})  # the job sees no host /tmp
        assert c.put(job_url("other"), json=command_body("true")).status_code == 201
        cmd = f"python probe.py {server.url} {WS} {API}"
        body = command_body(cmd, codeId=code)
        assert c.put(job_url("tok"), json=body).status_code == 201
        assert wait_terminal(c, "tok")["properties"]["status"] == "Completed"
        log = c.get(
            f"{WS}/datastores/workspaceblobstore/files/ExperimentRun/dcid.tok/user_logs/std_log.txt?{API}"
        ).text
        assert log.strip() == "200 403 403"


def test_list_filters_by_experiment_and_status(server: LiveServer) -> None:
    with server.client() as c:
        c.put(job_url("ea"), json=command_body("true", experimentName="exp-a"))
        c.put(job_url("eb"), json=command_body("sleep 30", experimentName="exp-b"))
        wait_terminal(c, "ea")
        wait_status(c, "eb", "Running")
        names = [j["name"] for j in c.get(f"{WS}/jobs?{API}&experimentName=exp-a").json()["value"]]
        assert names == ["ea"]
        running = c.get(f"{WS}/jobs?{API}&status=running,queued").json()["value"]
        assert [j["name"] for j in running] == ["eb"]
        assert c.get(f"{WS}/jobs?{API}&status=Sleeping").status_code == 400
        c.post(f"{WS}/jobs/eb/cancel?{API}")


def test_get_and_list_show_a_status_change_at_once(server: LiveServer) -> None:
    """GET and LIST serve jobs rendered earlier while their row has not changed: a cancel
    must show in both on the next request, never the copy rendered before it."""
    with server.client() as c:
        assert c.put(job_url("fresh"), json=command_body("sleep 60")).status_code == 201
        wait_status(c, "fresh", "Running")

        def listed() -> str:
            page = c.get(f"{WS}/jobs?{API}&$top=100").json()["value"]
            return next(j["properties"]["status"] for j in page if j["name"] == "fresh")

        assert listed() == "Running"  # rendered and kept at this version
        assert c.post(f"{WS}/jobs/fresh/cancel?{API}").status_code == 200
        seen = {c.get(job_url("fresh")).json()["properties"]["status"], listed()}
        assert seen <= {"CancelRequested", "Canceled"}, seen
        done = wait_terminal(c, "fresh", timeout=30)
        assert done["properties"]["status"] == "Canceled"
        assert listed() == "Canceled"
