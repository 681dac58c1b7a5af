"""Talking to a Ray cluster over its dashboard's HTTP APIs (Ray Jobs and the State API).

The server never imports ``ray``: a Ray compute's ``address`` is the dashboard
(``http://HOST:8265``), the same address ``ray job submit --address`` takes. Jobs are Ray
Jobs, so they keep running when amlite's server stops, and a restarted server finds them
again by their submission id.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from typing import Any

from amlite.domain.resources import ClusterNode, Resources
from amlite.errors import ExecutionError

ALIVE = ("PENDING", "RUNNING")
"""Ray Jobs statuses of a job that has not ended."""
NODE_ID_LABEL = "ray.io/node-id"
TIMEOUT_SECONDS = 15.0


class RayUnavailable(ExecutionError):
    """The cluster's dashboard did not answer (or answered with an error)."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status

    @property
    def transient(self) -> bool:
        """Worth trying again: no answer, or a server-side error (a head node still starting
        answers 500 "No available agent to submit job")."""
        return self.status is None or self.status >= 500


def normalise_address(address: str) -> str:
    """``HOST:PORT`` or ``http(s)://HOST:PORT`` → the dashboard's base URL. ValueError for
    ``ray://`` (Ray Client) addresses, which amlite does not speak."""
    text = address.strip().rstrip("/")
    if text.startswith("ray://"):
        raise ValueError(
            "a Ray Client address (ray://) cannot be used: give the dashboard address "
            "(http://HOST:8265), as for 'ray job submit --address'"
        )
    if "://" not in text:
        text = f"http://{text}"
    if not text.startswith(("http://", "https://")):
        raise ValueError(f"'{address}' is not an http(s) address of a Ray dashboard")
    return text


@dataclass(frozen=True)
class RayJob:
    status: str
    """PENDING, RUNNING, STOPPED, SUCCEEDED or FAILED."""
    message: str


class RayCluster:
    def __init__(self, address: str, timeout: float = TIMEOUT_SECONDS) -> None:
        self.address = normalise_address(address)
        self.timeout = timeout

    def _call(
        self, method: str, path: str, body: Any = None, raw: bytes | None = None, text: bool = False
    ) -> Any:
        data = raw if raw is not None else None if body is None else json.dumps(body).encode()
        kind = "application/octet-stream" if raw is not None else "application/json"
        request = urllib.request.Request(
            self.address + path, data=data, method=method, headers={"Content-Type": kind}
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                data = response.read()
                return data.decode("utf-8", "replace") if text else json.loads(data or b"null")
        except urllib.error.HTTPError as exc:
            detail = exc.read()[:300].decode("utf-8", "replace")
            raise RayUnavailable(
                f"Ray cluster at {self.address}: {method} {path} answered {exc.code}: {detail}",
                status=exc.code,
            ) from exc
        except (OSError, ValueError) as exc:
            raise RayUnavailable(f"Ray cluster at {self.address} cannot be reached: {exc}") from exc

    def version(self) -> str:
        return str((self._call("GET", "/api/version") or {}).get("ray_version") or "?")

    def nodes(self) -> list[ClusterNode]:
        """The alive nodes and their total resources."""
        answer = self._call("GET", "/api/v0/nodes?detail=1&limit=10000")
        rows = (((answer or {}).get("data") or {}).get("result") or {}).get("result") or []
        nodes = []
        for row in rows:
            if row.get("state") != "ALIVE":
                continue
            total = row.get("resources_total") or {}
            nodes.append(
                ClusterNode(
                    id=str(row["node_id"]),
                    address=str(row.get("node_ip") or ""),
                    total=Resources(
                        float(total.get("CPU") or 0),
                        int(total.get("memory") or 0),
                        float(total.get("GPU") or 0),
                    ),
                )
            )
        nodes.sort(key=lambda n: n.id)
        return nodes

    def submit(
        self,
        submission_id: str,
        entrypoint: str,
        *,
        node_id: str,
        resources: Resources | None,
        runtime_env: dict[str, Any] | None = None,
    ) -> None:
        """Start ``entrypoint`` on node ``node_id``, holding ``resources`` there while it runs."""
        body: dict[str, Any] = {
            "entrypoint": entrypoint,
            "submission_id": submission_id,
            "entrypoint_label_selector": {NODE_ID_LABEL: node_id},
            "metadata": {"amlite": "1"},
        }
        if runtime_env:
            body["runtime_env"] = runtime_env
        if resources is not None:
            body["entrypoint_num_cpus"] = resources.cpus
            if resources.memory:
                body["entrypoint_memory"] = int(resources.memory)
            if resources.gpus:
                body["entrypoint_num_gpus"] = resources.gpus
        self._call("POST", "/api/jobs/", body)

    def job(self, submission_id: str) -> RayJob | None:
        """The job's status; None if the cluster does not know it."""
        try:
            data = self._call("GET", f"/api/jobs/{submission_id}")
        except RayUnavailable as exc:
            if exc.status == 404:
                return None
            raise
        return RayJob(str(data.get("status") or ""), str(data.get("message") or ""))

    def ensure_package(self, uri: str, data: bytes) -> bool:
        """Make the cluster hold package ``uri`` (``gcs://NAME.zip``); True if it was
        uploaded now. Asking first (as Ray's own job client does) also pins it for a while,
        so it is not collected before the job that uses it is submitted."""
        path = "/api/packages/gcs/" + uri.removeprefix("gcs://")
        try:
            self._call("GET", path)
            return False
        except RayUnavailable as exc:
            if exc.status != 404:
                raise
        self._call("PUT", path, raw=data)
        return True

    def logs(self, submission_id: str) -> str:
        """The output of the job's entrypoint so far, read from the node it runs on (Ray
        Jobs' own ``/logs`` reads the head's copy, which misses an entrypoint placed on
        another node)."""
        info = self._call("GET", f"/api/jobs/{submission_id}") or {}
        node = info.get("driver_node_id")
        if not node:
            data = self._call("GET", f"/api/jobs/{submission_id}/logs")
            return str((data or {}).get("logs") or "")
        query = urllib.parse.urlencode(
            {"node_id": node, "filename": f"job-driver-{submission_id}.log", "lines": -1}
        )
        return str(self._call("GET", f"/api/v0/logs/file?{query}", text=True))

    def stop(self, submission_id: str) -> None:
        self._call("POST", f"/api/jobs/{submission_id}/stop")
