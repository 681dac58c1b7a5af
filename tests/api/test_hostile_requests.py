"""Hostile requests get a 4xx naming the field, never a 500, and the connection stays usable.

Each case goes through one raw keep-alive connection (``http.client``), so a server that
drops the connection after an error (as a 500 does) is caught: the next request must go out
on the very same socket.
"""

from __future__ import annotations

import http.client
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest

from support.server import API, WS, LiveServer, command_body, job_url

MLFLOW = "/mlflow/api/2.0/mlflow"


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    srv = LiveServer(tmp_path_factory.mktemp("hostile") / "home").start()
    yield srv
    srv.stop()


class Conn:
    """One keep-alive connection; ``send`` fails the test if the server dropped it."""

    def __init__(self, srv: LiveServer) -> None:
        host, port = srv.url.removeprefix("http://").rsplit(":", 1)
        self.http = http.client.HTTPConnection(host, int(port), timeout=60)
        self.token = srv.token
        self.local: Any = None

    def send(
        self, method: str, path: str, body: bytes | str | None = None, *, auth: bool = True
    ) -> tuple[int, dict[str, str], bytes]:
        headers = {"Content-Type": "application/json"}
        if auth:
            headers["Authorization"] = f"Bearer {self.token}"
        self.http.request(method, path, body=body, headers=headers)
        resp = self.http.getresponse()
        data = resp.read()
        local = self.http.sock.getsockname() if self.http.sock else None
        if self.local is not None:
            assert local == self.local, "the server dropped the keep-alive connection"
        self.local = local
        assert resp.getheader("connection", "").lower() != "close", (resp.status, data[:300])
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, data

    def close(self) -> None:
        self.http.close()


@pytest.fixture
def conn(live: LiveServer) -> Iterator[Conn]:
    c = Conn(live)
    c.send("GET", "/health")
    yield c
    c.close()


def arm_error(status: int, data: bytes, expected: int = 400) -> dict[str, Any]:
    assert status == expected, data[:500]
    error: dict[str, Any] = json.loads(data)["error"]
    assert error["code"] and error["message"]
    return error


def mlflow_error(status: int, data: bytes, expected: int = 400) -> dict[str, Any]:
    assert status == expected, data[:500]
    body: dict[str, Any] = json.loads(data)
    assert body["error_code"] and body["message"]
    return body


DEEP = "[" * 10_000 + "]" * 10_000


def test_deeply_nested_json_is_a_400_on_arm_and_mlflow(conn: Conn) -> None:
    status, _, data = conn.send("PUT", job_url("deep"), DEEP)
    assert arm_error(status, data)["target"] == "body"
    nested = '{"properties": ' * 200 + "1" + "}" * 200
    status, _, data = conn.send("PUT", job_url("deep"), nested)
    assert "nested deeper" in arm_error(status, data)["message"]
    status, _, data = conn.send("POST", f"{MLFLOW}/runs/log-batch", DEEP)
    assert "nested deeper" in mlflow_error(status, data)["message"]
    # unauthenticated: refused before the body is even parsed
    status, headers, data = conn.send("POST", f"{MLFLOW}/runs/log-batch", DEEP, auth=False)
    assert mlflow_error(status, data, 401)["error_code"] == "UNAUTHENTICATED"
    assert headers["www-authenticate"].startswith("Bearer ")


@pytest.mark.parametrize("timeout", ["P1000000000D", "PT99999999999999H", "P3651D"])
def test_over_large_timeout_is_a_400_naming_the_field(conn: Conn, timeout: str) -> None:
    body = command_body("echo hi", timeout=timeout)
    status, _, data = conn.send("PUT", job_url("big-timeout"), json.dumps(body))
    error = arm_error(status, data)
    assert error["target"] == "properties.timeout", error
    assert "too long" in error["message"]


def test_ten_year_timeout_is_accepted(conn: Conn) -> None:
    body = command_body("echo hi", timeout="P3650D")
    status, _, data = conn.send("PUT", job_url("long-timeout"), json.dumps(body))
    assert status == 201, data


HUGE = "9" * 5000


@pytest.mark.parametrize(
    ("path", "target"),
    [
        (f"{WS}/jobs?{API}&$top=\u00b2", "$top"),
        (f"{WS}/jobs?{API}&$top={HUGE}", "$top"),
        (f"{WS}/jobs?{API}&$top=-1", "$top"),
        (f"{WS}/codes?{API}&count=\u00b2", "count"),
        (f"{WS}/codes?{API}&count={HUGE}", "count"),
        (f"{WS}/datastores/workspaceblobstore/files/x.txt?{API}&offset=\u00b2", "offset"),
        (f"{WS}/datastores/workspaceblobstore/files/x.txt?{API}&offset={HUGE}", "offset"),
        (f"{WS}/jobs/any/trialsummary?{API}&points=\u00b2", "points"),
        (f"{WS}/jobs/any/trialsummary?{API}&points={HUGE}", "points"),
    ],
)
def test_bad_integer_query_parameters_are_a_400_naming_them(
    conn: Conn, live: LiveServer, path: str, target: str
) -> None:
    with live.client() as c:  # what they name exists, so the parameter is what is checked
        c.put(f"{WS}/datastores/workspaceblobstore/files/x.txt?{API}", content=b"abc")
        c.put(job_url("any"), json=command_body("true"))
    status, _, data = conn.send("GET", quote(path, safe="/?&=$"))
    assert arm_error(status, data)["target"] == target


def test_huge_integer_in_a_json_body_is_a_400_naming_its_path(conn: Conn) -> None:
    raw = json.dumps(command_body("echo hi")).replace(
        '"compute": {}', f'"priority": {HUGE}, "compute": {{}}'
    )
    status, _, data = conn.send("PUT", job_url("huge-int"), raw)
    error = arm_error(status, data)
    assert error["target"] == "properties.priority", error
    out_of_range = json.dumps(command_body("echo hi", priority=2**40))
    status, _, data = conn.send("PUT", job_url("huge-int"), out_of_range)
    assert arm_error(status, data)["target"] == "properties.priority"
    batch = '{"run_id": "x", "metrics": [{"key": "m", "value": 1, "step": ' + HUGE + "}]}"
    status, _, data = conn.send("POST", f"{MLFLOW}/runs/log-batch", batch)
    assert "metrics[0].step" in mlflow_error(status, data)["message"]


@pytest.mark.parametrize(
    ("props", "target"),
    [
        ({"command": "echo a\u0000b"}, "properties.command"),
        ({"environmentVariables": {"A": "x\u0000y"}}, "properties.environmentVariables.A"),
        ({"environmentVariables": {"A\u0000": "x"}}, "properties.environmentVariables.A\\x00"),
        ({"displayName": "a\u0000"}, "properties.displayName"),
        ({"tags": {"t": "\u0000"}}, "properties.tags.t"),
    ],
)
def test_nul_in_strings_is_a_400_naming_the_field(
    conn: Conn, props: dict[str, Any], target: str
) -> None:
    body = command_body("echo hi")
    body["properties"].update(props)
    status, _, data = conn.send("PUT", job_url("nul"), json.dumps(body))
    assert arm_error(status, data)["target"] == target


def test_other_control_characters_are_refused_by_the_models(conn: Conn) -> None:
    body = command_body("echo a\u0001b")
    status, _, data = conn.send("PUT", job_url("ctl"), json.dumps(body))
    error = arm_error(status, data)
    assert error["target"] == "properties.command" and "U+0001" in error["message"]
    fine = command_body("echo a\tb\necho c\r\n")
    status, _, data = conn.send("PUT", job_url("ctl"), json.dumps(fine))
    assert status == 201, data


def test_nul_in_names_and_query_values_is_a_400(conn: Conn) -> None:
    status, _, data = conn.send("GET", f"{WS}/jobs/a%00b?{API}")
    assert arm_error(status, data)["target"] == "path"
    status, _, data = conn.send("PUT", f"{WS}/jobs/a%00b?{API}", json.dumps(command_body("x")))
    assert arm_error(status, data)["target"] == "path"
    status, _, data = conn.send("GET", f"{WS}/jobs?{API}&experimentName=a%00")
    assert arm_error(status, data)["target"] == "experimentName"
    status, _, data = conn.send("GET", f"{MLFLOW}/runs/get?run_id=a%00")
    assert "run_id" in mlflow_error(status, data)["message"]
    batch = json.dumps({"run_id": "x", "params": [{"key": "p", "value": "a\u0000"}]})
    status, _, data = conn.send("POST", f"{MLFLOW}/runs/log-batch", batch)
    assert "params[0].value" in mlflow_error(status, data)["message"]


def test_non_finite_numbers_are_refused_in_arm_bodies(conn: Conn) -> None:
    raw = json.dumps(command_body("echo hi")).replace(
        '"compute": {}', '"compute": {"instanceCount": NaN}'
    )
    status, _, data = conn.send("PUT", job_url("nan"), raw)
    assert arm_error(status, data)["target"] == "properties.compute.instanceCount"


def test_a_401_carries_a_bearer_challenge(live: LiveServer) -> None:
    for headers in ({}, {"Authorization": "Bearer not-a-token"}):
        resp = httpx.get(f"{live.url}{WS}/jobs?{API}", headers=headers)
        assert resp.status_code == 401
        assert resp.headers["www-authenticate"].startswith('Bearer realm="amlite"')
        assert resp.json()["error"]["code"] == "AuthenticationFailed"
        resp = httpx.get(f"{live.url}{MLFLOW}/runs/get?run_id=x", headers=headers)
        assert resp.status_code == 401
        assert resp.headers["www-authenticate"].startswith("Bearer ")


def test_head_answers_like_arm_check_existence(live: LiveServer) -> None:
    with live.client() as c:
        assert c.put(job_url("head-1"), json=command_body("echo hi")).status_code == 201
        resp = c.head(job_url("head-1"))
        assert resp.status_code == 204 and resp.content == b""
        resp = c.head(job_url("head-missing"))
        assert resp.status_code == 404 and resp.content == b""
        resp = c.head(f"{WS}/datastores/workspaceblobstore?{API}")
        assert resp.status_code == 204
        resp = c.head("/health")
        assert resp.status_code == 200 and resp.content == b""
        assert c.get(job_url("head-1")).status_code == 200  # the connection still serves


def test_declared_oversize_body_is_refused_before_reading(live: LiveServer) -> None:
    host, port = live.url.removeprefix("http://").rsplit(":", 1)
    c = http.client.HTTPConnection(host, int(port), timeout=30)
    c.putrequest("PUT", job_url("big"))
    c.putheader("Authorization", f"Bearer {live.token}")
    c.putheader("Content-Type", "application/json")
    c.putheader("Content-Length", str(300 * 1024 * 1024))
    c.endheaders()
    c.send(b"{")  # and nothing more: the answer must come without the rest
    resp = c.getresponse()
    assert resp.status == 413
    assert json.loads(resp.read())["error"]["code"] == "PayloadTooLarge"
    c.close()


def _rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


def _chunks(total: int, size: int = 1024 * 1024) -> Iterator[bytes]:
    block = b"[" + b"1," * (size // 2 - 1) + b"1"
    sent = 0
    while sent < total:
        yield block
        sent += len(block)


@pytest.mark.parametrize(
    ("path", "auth", "expected"),
    [
        (f"{MLFLOW}/runs/log-batch", False, 401),
        (f"{MLFLOW}/runs/log-batch", True, 413),
        (job_url("stream-big"), False, 401),
        (job_url("stream-big"), True, 413),
    ],
)
def test_chunked_64mib_bodies_are_refused_early_and_memory_stays_bounded(
    live: LiveServer, path: str, auth: bool, expected: int
) -> None:
    assert live.proc is not None
    before = _rss_kib(live.proc.pid)
    headers = {"Authorization": f"Bearer {live.token}"} if auth else {}
    started = time.monotonic()
    try:
        resp = (
            httpx.post(
                f"{live.url}{path}",
                content=_chunks(64 * 1024 * 1024),
                headers=headers,
                timeout=60,
            )
            if "mlflow" in path
            else httpx.put(
                f"{live.url}{path}", content=_chunks(64 * 1024 * 1024), headers=headers, timeout=60
            )
        )
        status = resp.status_code
    except (httpx.RemoteProtocolError, httpx.WriteError):
        status = -1  # the server answered and closed while the client was still sending
    after = _rss_kib(live.proc.pid)
    assert status in (expected, -1), status
    assert after - before < 50 * 1024, f"RSS grew {(after - before) // 1024} MiB"
    assert time.monotonic() - started < 60
    with live.client() as c:
        assert c.get("/health").status_code == 200
