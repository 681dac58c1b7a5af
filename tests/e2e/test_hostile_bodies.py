"""Hostile binding names and archives against a real server: refused with a 4xx naming the
field, nothing written outside the run directory or the datastore."""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path

from amlite.data.archives import MAX_MEMBERS
from support.server import API, WS, LiveServer, command_body, job_url

DS = f"{WS}/datastores/workspaceblobstore"


def test_binding_names_that_climb_are_refused(server: LiveServer, tmp_path: Path) -> None:
    target = tmp_path / "escaped"
    name = "../../../../../../../../../../.." + str(target)
    with server.client() as c:
        for field in ("inputDataBindings", "outputDataBindings"):
            binding = {"dataId": f"{DS}/paths/x"} if field == "inputDataBindings" else {}
            body = command_body("true", **{field: {name: binding}})
            resp = c.put(job_url("climb"), json=body)
            assert resp.status_code == 400, resp.text
            error = json.dumps(resp.json()["error"])
            assert f"properties.{field}" in error and "must match" in error
        assert c.get(job_url("climb")).status_code == 404
    assert not target.exists()


def test_an_archive_of_too_many_members_is_refused(server: LiveServer) -> None:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for i in range(MAX_MEMBERS + 1):
            tar.addfile(tarfile.TarInfo(f"f{i}"), io.BytesIO(b""))
    assert len(buf.getvalue()) < 200_000
    with server.client() as c:
        resp = c.post(f"{DS}/upload?{API}&path=many", content=buf.getvalue())
        assert resp.status_code == 413, resp.text
        error = resp.json()["error"]
        assert error["target"] == "body"
        assert f"more than {MAX_MEMBERS} members" in error["message"]
        assert c.get(f"{DS}/list?{API}&path=many").json()["value"] == []
