"""The server's sockets: every connection it accepts has Nagle's algorithm off.

With Nagle on, a response written in two pieces (headers, body) waits for the client's
delayed ACK, about 40 ms on Linux, on every request. asyncio turns TCP_NODELAY on for
accepted sockets only when the listening socket was made with ``IPPROTO_TCP``.
"""

from __future__ import annotations

import contextlib
import os
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from amlite.api import server as server_mod
from amlite.config import Settings


def _server_side_of(client: socket.socket) -> socket.socket:
    """The socket this process accepted for ``client`` (found by its peer address)."""
    wanted = client.getsockname()
    for entry in os.listdir("/proc/self/fd"):
        fd = int(entry)
        with contextlib.suppress(OSError):
            if not os.readlink(f"/proc/self/fd/{fd}").startswith("socket:"):
                continue
            candidate = socket.socket(fileno=os.dup(fd))
            try:
                if candidate.type == socket.SOCK_STREAM and candidate.getpeername() == wanted:
                    return candidate
            except OSError:
                pass
            candidate.close()
    raise AssertionError("the server's side of the connection was not found")


@pytest.fixture
def embedded(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[str]:
    monkeypatch.setenv("AMLITE_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("AMLITE_DATABASE_URL", raising=False)
    with server_mod.EmbeddedServer(Settings.from_env()) as srv:
        yield srv.url


def test_accepted_connections_have_tcp_nodelay(embedded: str) -> None:
    host, port = embedded.removeprefix("http://").rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=10) as client:
        client.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
        assert client.recv(4096).startswith(b"HTTP/1.1 200")  # accepted and served
        accepted = _server_side_of(client)
        with accepted:
            assert accepted.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0


def test_listening_socket_is_tcp_with_nodelay() -> None:
    with server_mod._bind("127.0.0.1", 0) as sock:
        assert sock.proto == socket.IPPROTO_TCP  # asyncio's condition for TCP_NODELAY
        assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0
