"""An in-memory stand-in for the amlite REST API, served through ``httpx.MockTransport``.

It keeps jobs, assets and datastore files in dicts and moves each job one status further
on every GET, appending a line to its ``user_logs/std_log.txt`` as it goes.
"""

from __future__ import annotations

import io
import json
import re
import tarfile
from typing import Any
from urllib.parse import unquote

import httpx

WS = re.compile(
    r"^/subscriptions/([^/]+)/resourceGroups/([^/]+)/providers/"
    r"Microsoft\.MachineLearningServices/workspaces/([^/]+)(/.*)?$",
    re.I,
)
PROGRESS = ["NotStarted", "Starting", "Preparing", "Queued", "Running", "Finalizing"]


class FakeApi:
    def __init__(self, page_size: int = 2) -> None:
        self.jobs: dict[str, dict[str, Any]] = {}
        self.assets: dict[str, dict[str, Any]] = {}
        self.files: dict[tuple[str, str], bytes] = {}
        self.requests: list[tuple[str, str]] = []
        self.page_size = page_size
        self.token = "secret"

    @property
    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handle)

    # -- helpers -------------------------------------------------------------------------
    @staticmethod
    def error(
        status: int, code: str, message: str, details: list[dict[str, Any]] | None = None
    ) -> httpx.Response:
        body = {
            "error": {"code": code, "message": message, "target": None, "details": details or []}
        }
        return httpx.Response(status, json=body)

    def _page(self, request: httpx.Request, items: list[dict[str, Any]]) -> httpx.Response:
        skip = int(request.url.params.get("$skiptoken") or 0)
        page = items[skip : skip + self.page_size]
        link = None
        if skip + self.page_size < len(items):
            link = str(request.url.copy_set_param("$skiptoken", str(skip + self.page_size)))
        return httpx.Response(200, json={"value": page, "nextLink": link})

    # -- dispatch ------------------------------------------------------------------------
    def handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append((request.method, request.url.path))
        if request.headers.get("Authorization") != f"Bearer {self.token}":
            return self.error(401, "AuthenticationFailed", "missing or bad token")
        if request.url.params.get("api-version") != "2021-03-01-preview":
            return self.error(400, "InvalidApiVersion", "api-version missing")
        m = WS.match(unquote(request.url.path))
        if not m:
            return self.error(404, "NotFound", "no such path")
        ws_id = request.url.path[: len(request.url.path) - len(m.group(4) or "")]
        parts = [p for p in (m.group(4) or "").split("/") if p]
        if parts[:1] == ["jobs"]:
            return self.jobs_route(request, ws_id, parts[1:])
        if parts[:1] == ["datastores"] and len(parts) >= 3:
            return self.files_route(request, parts[1], parts[2], "/".join(parts[3:]))
        return self.assets_route(request, ws_id, parts)

    def jobs_route(self, request: httpx.Request, ws_id: str, rest: list[str]) -> httpx.Response:
        if not rest:
            items = list(self.jobs.values())
            jt = request.url.params.get("jobType")
            tag = request.url.params.get("tag")
            items = [
                j
                for j in items
                if (not jt or j["properties"]["jobType"] == jt)
                and (not tag or tag in (j["properties"].get("tags") or {}))
            ]
            return self._page(request, items)
        name = rest[0]
        if request.method == "PUT":
            props = json.loads(request.content)["properties"]
            if not props.get("command") and props.get("jobType") == "Command":
                return self.error(
                    400,
                    "ValidationError",
                    "1 problem",
                    [
                        {
                            "code": "Required",
                            "target": "properties.command",
                            "message": "field required",
                        }
                    ],
                )
            props = {
                **props,
                "status": "NotStarted",
                "output": {
                    "datastoreId": f"{ws_id}/datastores/workspaceblobstore",
                    "path": f"ExperimentRun/dcid.{name}",
                },
            }
            job = {
                "id": f"{ws_id}/jobs/{name}",
                "name": name,
                "type": "jobs",
                "properties": props,
                "_step": 0,
            }
            self.jobs[name] = job
            return httpx.Response(201, json=self._public(job))
        job = self.jobs.get(name)
        if job is None:
            return self.error(404, "ResourceNotFound", f"job {name} not found")
        if request.method == "POST" and rest[1:] == ["cancel"]:
            job["properties"]["status"] = "Canceled"
            return httpx.Response(200)
        if request.method == "DELETE":
            del self.jobs[name]
            return httpx.Response(204)
        self._advance(job)
        return httpx.Response(200, json=self._public(job))

    @staticmethod
    def _public(job: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in job.items() if not k.startswith("_")}

    def _advance(self, job: dict[str, Any]) -> None:
        props = job["properties"]
        if props["status"] in ("Completed", "Failed", "Canceled"):
            return
        job["_step"] += 1
        step = job["_step"]
        log_key = ("workspaceblobstore", f"{props['output']['path']}/user_logs/std_log.txt")
        if step < len(PROGRESS):
            props["status"] = PROGRESS[step]
            if PROGRESS[step] == "Running":
                self.files[log_key] = self.files.get(log_key, b"") + b"line one\n"
            return
        self.files[log_key] = self.files.get(log_key, b"") + "line two \u00e9\n".encode()
        failed = "fail" in str(props.get("command") or "")
        props["status"] = "Failed" if failed else "Completed"
        for out in props.get("outputDataBindings") or {}:
            self.files[("workspaceblobstore", f"azureml/{job['name']}/{out}/result.txt")] = b"42"
        self.files[("workspaceblobstore", f"{props['output']['path']}/outputs/model.txt")] = b"m"

    def files_route(
        self, request: httpx.Request, datastore: str, op: str, path: str
    ) -> httpx.Response:
        if op == "upload" and request.method == "POST":
            base = request.url.params["path"].strip("/")
            with tarfile.open(fileobj=io.BytesIO(request.content), mode="r:gz") as tar:
                for member in tar.getmembers():
                    if member.isfile():
                        data = tar.extractfile(member)
                        assert data is not None
                        self.files[(datastore, f"{base}/{member.name}")] = data.read()
            return httpx.Response(200, json={})
        if op == "files" and request.method == "PUT":
            self.files[(datastore, path)] = request.content
            return httpx.Response(201)
        if op == "files":
            if (datastore, path) not in self.files:
                return self.error(404, "ResourceNotFound", f"no file {path}")
            offset = int(request.url.params.get("offset") or 0)
            return httpx.Response(200, content=self.files[(datastore, path)][offset:])
        if op == "list":
            base = request.url.params.get("path", "").strip("/")
            value = [
                {"path": p[len(base) + 1 :], "size": len(b)}
                for (ds, p), b in sorted(self.files.items())
                if ds == datastore and p.startswith(base + "/")
            ]
            return httpx.Response(200, json={"value": value})
        return self.error(404, "NotFound", "no such datastore operation")

    def assets_route(self, request: httpx.Request, ws_id: str, parts: list[str]) -> httpx.Response:
        key = "/".join(parts)
        if request.method == "PUT":
            item = {
                "id": f"{ws_id}/{key}",
                "name": parts[-1],
                "properties": json.loads(request.content)["properties"],
            }
            self.assets[key] = item
            if len(parts) == 4:
                self.assets.setdefault(
                    "/".join(parts[:2]),
                    {"id": f"{ws_id}/{'/'.join(parts[:2])}", "name": parts[1], "properties": {}},
                )
            return httpx.Response(201, json=item)
        if request.method == "GET" and key in self.assets:
            return httpx.Response(200, json=self.assets[key])
        if request.method == "GET" and len(parts) in (1, 3):
            depth = len(parts) + 1
            items = [
                v
                for k, v in sorted(self.assets.items())
                if k.startswith(key + "/") and k.count("/") + 1 == depth
            ]
            return self._page(request, items)
        return self.error(404, "ResourceNotFound", f"{key} not found")
