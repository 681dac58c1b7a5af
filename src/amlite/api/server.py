"""Serve the API: ``run_server`` (the ``amlite server`` command) and ``EmbeddedServer``
(a server in a background thread, for ``amlite run`` and tests)."""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import socket
import threading
import time
from types import TracebackType

import uvicorn

from amlite.api.app import Server
from amlite.api.serving_gc import settle_heap
from amlite.config import Settings, checked_public_url


def _bind(host: str, port: int) -> socket.socket:
    """The listening socket, made with ``IPPROTO_TCP``: asyncio turns Nagle's algorithm off
    (``TCP_NODELAY``) on the connections it accepts only when the listening socket's proto
    says TCP. With Nagle on, every response written in two pieces waits for the client's
    delayed ACK (about 40 ms on Linux). TCP_NODELAY is set on the listening socket too
    (Linux passes it on to accepted sockets)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.bind((host, port))
    sock.listen(2048)
    sock.set_inheritable(False)
    return sock


def _public_url(host: str, port: int, settings: Settings | None = None) -> str:
    """Where clients, jobs and Ray nodes reach this server: ``AMLITE_PUBLIC_URL`` (the load
    balancer in front of several servers) if set, else the address it listens on."""
    if settings is not None and settings.public_url:
        return checked_public_url(settings.public_url)
    reachable = "127.0.0.1" if host in ("0.0.0.0", "") else ("[::1]" if host == "::" else host)
    if ":" in reachable and not reachable.startswith("["):
        reachable = f"[{reachable}]"
    return f"http://{reachable}:{port}"


def _config(app: object, log_level: str) -> uvicorn.Config:
    return uvicorn.Config(
        app,  # type: ignore[arg-type]
        # uvloop (a dependency where it builds): its loop and transports are C, asyncio's
        # Python; server CPU per PUT at concurrency 128: 1.06 ms against 1.15 on asyncio's
        # loop (-8 %, medians of 6 runs; bench/results/api.md, helper put-tail)
        loop="uvloop" if importlib.util.find_spec("uvloop") else "asyncio",
        log_level=log_level,
        access_log=False,
        lifespan="on",
        timeout_graceful_shutdown=5,
    )


def run_server(settings: Settings, host: str = "127.0.0.1", port: int = 8642) -> None:
    """Serve until interrupted. Writes ``$AMLITE_HOME/server.json`` so the CLI finds it."""
    sock = _bind(host, port)
    url = _public_url(host, sock.getsockname()[1])  # for the CLI on this machine
    server = Server(settings, _public_url(host, sock.getsockname()[1], settings))
    try:
        server.scheduler.join()  # refuses a second server on one SQLite database
    except BaseException:
        server.store.close()
        raise
    info = settings.server_file
    info.write_text(json.dumps({"url": url, "pid": os.getpid()}))
    print(f"amlite server listening on {url} (home {settings.home})", flush=True)
    try:
        app = server.app()
        settle_heap()  # start-up is done: its objects need no more collecting
        uvicorn.Server(_config(app, "warning")).run(sockets=[sock])
    finally:
        with contextlib.suppress(OSError, ValueError):
            if json.loads(info.read_text()).get("pid") == os.getpid():
                info.unlink()
        server.store.close()


class EmbeddedServer:
    """A full amlite server on a free loopback port, in a background thread."""

    def __init__(self, settings: Settings, host: str = "127.0.0.1") -> None:
        self._sock = _bind(host, 0)
        self.url = _public_url(host, self._sock.getsockname()[1])
        self.server = Server(settings, _public_url(host, self._sock.getsockname()[1], settings))
        try:
            self.server.scheduler.join()  # refuses a second server on one SQLite database
        except BaseException:
            self.server.store.close()
            self._sock.close()
            raise
        self.token = self.server.admin_token
        self._uvicorn = uvicorn.Server(_config(self.server.app(), "error"))
        self._thread = threading.Thread(
            target=self._uvicorn.run, kwargs={"sockets": [self._sock]}, daemon=True
        )

    def __enter__(self) -> EmbeddedServer:
        self._thread.start()
        deadline = time.monotonic() + 30
        while not self._uvicorn.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the embedded amlite server did not start")
            time.sleep(0.01)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._uvicorn.should_exit = True
        self._thread.join(timeout=15)
        self._sock.close()
        self.server.store.close()
