"""A job's token on the datastore file endpoints: exactly the paths its Ray nodes were
granted (``node_grants.json`` in its run directory), writes only until the job ends, and
nothing at all without grants (a local job's token, as before)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from support.server import API, WS, LiveServer, command_body, job_url, wait_status, wait_terminal

FILES = f"{WS}/datastores/workspaceblobstore"


@pytest.fixture
def server(tmp_path: Path) -> Iterator[LiveServer]:
    """A plain server (the rule is the API's; no sandbox needed)."""
    srv = LiveServer(tmp_path / "home").start()
    yield srv
    srv.stop()


def test_a_jobs_token_reaches_exactly_its_granted_datastore_paths(server: LiveServer) -> None:
    c = server.client()
    for path in ("sets/d1/a.txt", "sets/d10/b.txt", "private/secret.txt"):
        assert c.put(f"{FILES}/files/{path}?{API}", content=b"data").status_code == 201
    command = "while [ ! -e go ]; do sleep 0.05; done"
    assert c.put(job_url("g1"), json=command_body(command)).status_code == 201
    wait_status(c, "g1", "Running")
    run_dir = next(server.home.glob("runs/*/*/*/g1"))
    job = server.client(json.loads((run_dir / "plan.json").read_text())["env"]["AZUREML_RUN_TOKEN"])

    # no grants (a local job): the token reads no datastore file, as before
    assert job.get(f"{FILES}/files/sets/d1/a.txt?{API}").status_code == 403

    grants = {
        "read": [["workspaceblobstore", "sets/d1"]],
        "write": [["workspaceblobstore", "out/g1"]],
    }
    (run_dir / "node_grants.json").write_text(json.dumps(grants))
    assert job.get(f"{FILES}/files/sets/d1/a.txt?{API}").content == b"data"
    listing = job.get(f"{FILES}/list?{API}&path=sets/d1")
    assert listing.status_code == 200 and listing.json()["value"][0]["path"] == "a.txt"
    assert job.get(f"{FILES}/files/sets/d10/b.txt?{API}").status_code == 403  # not a prefix
    assert job.get(f"{FILES}/files/private/secret.txt?{API}").status_code == 403
    assert job.get(f"{FILES}/list?{API}&path=").status_code == 403
    assert job.get(f"{FILES}/files/sets/d1/../../private/secret.txt?{API}").status_code in (
        400,
        403,
        404,
    )
    assert job.put(f"{FILES}/files/sets/d1/x.txt?{API}", content=b"w").status_code == 403
    assert job.put(f"{FILES}/files/out/g1/model.txt?{API}", content=b"m").status_code == 201
    assert job.get(f"{FILES}/files/out/g1/model.txt?{API}").content == b"m"  # reads back
    assert job.post(f"{FILES}/upload?{API}&path=out/g1", content=b"x").status_code == 403
    denied = job.put(f"{WS}/datastores/other/files/out/g1/x?{API}", content=b"w")
    assert denied.status_code in (403, 404)
    assert "error" in denied.json()

    (server.job_dir("g1") / "go").touch()
    assert wait_terminal(c, "g1")["properties"]["status"] == "Completed"
    # once the job ended its token only reads
    late = job.put(f"{FILES}/files/out/g1/late.txt?{API}", content=b"late")
    assert late.status_code == 403 and "error" in late.json()
    assert job.get(f"{FILES}/files/out/g1/model.txt?{API}").status_code == 200
