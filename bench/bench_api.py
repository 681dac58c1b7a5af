"""API throughput and latency against the limit of its stack (issue 10, part 2).

Measures, with a keep-alive HTTP/1.1 load generator (asyncio, raw sockets, one connection
per concurrent client) on loopback, at concurrency 1/8/32/128 (p50, p99, req/s, errors):
- amlite: GET a job, LIST ``$top=100`` (pages/s), PUT a Command job (``true``; jobs/s
  accepted, and how many jobs the scheduler drained in the same time);
- the bare stack, served exactly as amlite serves it (the same listening socket and uvicorn
  config, FastAPI, sync endpoints in the thread pool): GET returning 1 KB of JSON, and PUT
  writing one row into SQLite (WAL, amlite's engine and pragmas) through SQLAlchemy.

amlite and the bare stack run in the same run, cell by cell in alternation, on the same
(loaded, 2-core) machine: read the ratios, not the absolute figures.

``--postgres`` also runs each amlite variant on PostgreSQL (``[<variant>, PostgreSQL]``),
beside the same variant on SQLite: one throwaway cluster (``tests/support/postgres.py``'s,
on loopback, with PostgreSQL's own durability defaults: ``fsync`` and
``synchronous_commit`` on), a fresh database per amlite server. The bare stack stays on
SQLite.

Run: ``.venv/bin/python bench/bench_api.py`` (about 3 minutes; ``--quick`` for a smoke
run). Results are appended to ``bench/results/api.md``.
"""

from __future__ import annotations

import argparse
import asyncio
import concurrent.futures
import contextlib
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from _server import API, WS, BenchServer

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from support.postgres import PostgresServer

RESULTS = Path(__file__).parent / "results" / "api.md"
CONCURRENCY = (1, 8, 32, 128)
ITEM = {"id": "x" * 16, "properties": {f"key{i:02d}": "v" * 24 for i in range(28)}}
"""About 1 KB of JSON: what the bare GET returns."""


# -- the bare stack ---------------------------------------------------------------------
def serve_bare(home: Path) -> None:
    """A bare FastAPI app on amlite's socket and uvicorn config (run in a subprocess)."""
    import uvicorn
    from fastapi import FastAPI
    from fastapi.responses import JSONResponse
    from sqlalchemy import JSON, Column, Integer, MetaData, String, Table, select

    from amlite.api.server import _bind, _config
    from amlite.store._sql.engine import make_engine, read_tx, write_tx

    engine = make_engine(f"sqlite:///{home / 'bare.db'}")
    meta = MetaData()
    items = Table(
        "items",
        meta,
        Column("seq", Integer, primary_key=True, autoincrement=True),
        Column("name", String(255), nullable=False, unique=True),
        Column("body", JSON, nullable=False),
    )
    meta.create_all(engine)
    app = FastAPI(docs_url=None, redoc_url=None)

    @app.get("/item")
    def get_item() -> dict[str, Any]:
        return ITEM

    @app.put("/item/{name}")
    def put_item(name: str, body: dict[str, Any]) -> JSONResponse:
        with write_tx(engine) as conn:
            conn.execute(items.insert().values(name=name, body=body))
        return JSONResponse({"name": name, **body}, status_code=201)

    @app.get("/count")
    def count() -> dict[str, int]:
        with read_tx(engine) as conn:
            return {"n": len(conn.execute(select(items.c.seq)).all())}

    sock = _bind("127.0.0.1", 0)
    (home / "bare.port").write_text(str(sock.getsockname()[1]))
    uvicorn.Server(_config(app, "warning")).run(sockets=[sock])


class BareServer:
    def __init__(self, home: Path) -> None:
        self.home = home
        self.proc: subprocess.Popen[bytes] | None = None
        self.port = 0

    def __enter__(self) -> BareServer:
        self.home.mkdir(parents=True, exist_ok=True)
        log = (self.home / "bare.log").open("ab")
        self.proc = subprocess.Popen(
            [sys.executable, __file__, "--serve-bare", str(self.home)], stdout=log, stderr=log
        )
        deadline = time.monotonic() + 300
        port_file = self.home / "bare.port"
        while not port_file.exists():
            if time.monotonic() > deadline or self.proc.poll() is not None:
                raise RuntimeError("the bare server did not start")
            time.sleep(0.05)
        self.port = int(port_file.read_text())
        time.sleep(0.5)
        return self

    def __exit__(self, *_: object) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(30)

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid


# -- the load generator -------------------------------------------------------------------
@dataclass
class Cell:
    latencies: list[float] = field(default_factory=list)
    errors: int = 0
    seconds: float = 0.0
    first_error: str = ""
    cpu_seconds: float = 0.0
    """CPU time (user + system) the server process used during the cell, warm-up included."""
    answered: int = 0
    """Responses during the cell, warm-up included."""

    @property
    def cpu_ms_per_request(self) -> float:
        return 1000 * self.cpu_seconds / self.answered if self.answered else float("nan")

    @property
    def rate(self) -> float:
        return len(self.latencies) / self.seconds if self.seconds else 0.0

    def pct(self, p: float) -> float:
        if not self.latencies:
            return float("nan")
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(p * len(ordered)))]


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    length = 0
    for line in lines[1:]:
        name, _, value = line.partition(":")
        if name.strip().lower() == "content-length":
            length = int(value)
        elif name.strip().lower() == "transfer-encoding":
            raise RuntimeError("chunked responses are not expected here")
    body = await reader.readexactly(length) if length else b""
    return status, body


def request_bytes(method: str, path: str, token: str | None, body: bytes | None = None) -> bytes:
    head = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1"]
    if token:
        head.append(f"Authorization: Bearer {token}")
    if body is not None:
        head += ["Content-Type: application/json", f"Content-Length: {len(body)}"]
    return ("\r\n".join(head) + "\r\n\r\n").encode() + (body or b"")


async def _load(
    port: int,
    make: Callable[[int], bytes],
    ok: tuple[int, ...],
    concurrency: int,
    seconds: float,
    warmup: float,
) -> Cell:
    cell = Cell()
    counter = iter(range(10**9))
    start = time.perf_counter()
    measure_from = start + warmup
    stop_at = measure_from + seconds

    async def worker() -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            while True:
                t0 = time.perf_counter()
                if t0 >= stop_at:
                    return
                writer.write(make(next(counter)))
                try:
                    status, body = await _read_response(reader)
                except (OSError, asyncio.IncompleteReadError) as exc:
                    cell.errors += 1
                    cell.first_error = cell.first_error or repr(exc)
                    writer.close()
                    reader, writer = await asyncio.open_connection("127.0.0.1", port)
                    continue
                t1 = time.perf_counter()
                cell.answered += 1
                if t0 < measure_from:
                    continue
                if status in ok:
                    cell.latencies.append((t1 - t0) * 1000)
                else:
                    cell.errors += 1
                    cell.first_error = cell.first_error or f"{status} {body[:200]!r}"
        finally:
            writer.close()

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    cell.seconds = min(time.perf_counter(), stop_at + 60) - measure_from
    return cell


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (its own threads, not its children)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def load(
    port: int,
    make: Callable[[int], bytes],
    concurrency: int,
    seconds: float,
    ok: tuple[int, ...] = (200,),
    warmup: float = 0.5,
    pid: int | None = None,
) -> Cell:
    """Drive ``port`` for ``seconds`` after ``warmup``; with ``pid``, also the CPU time that
    server used per request (the figure a loaded machine disturbs least)."""
    before = cpu_seconds(pid) if pid else 0.0
    cell = asyncio.run(_load(port, make, ok, concurrency, seconds, warmup))
    if pid:
        cell.cpu_seconds = cpu_seconds(pid) - before
    return cell


# -- the run ------------------------------------------------------------------------------
def command_body() -> bytes:
    return json.dumps(
        {"properties": {"jobType": "Command", "command": "true", "compute": {}}}
    ).encode()


TERMINAL_COUNT = "SELECT count(*) FROM jobs WHERE status IN ('Completed', 'Failed', 'Canceled')"


@dataclass(frozen=True)
class Variant:
    """An amlite to measure: the package in ``src`` (None: this checkout's), on SQLite or on
    PostgreSQL."""

    src: str | None
    postgres: bool = False


class Stores:
    """Where each amlite server of the run keeps its jobs: its own SQLite file in its home,
    or its own database in one throwaway PostgreSQL cluster (started on first use)."""

    def __init__(self) -> None:
        self.pg: PostgresServer | None = None
        self.urls: dict[Path, str] = {}

    def env(self, home: Path, variant: Variant) -> dict[str, str]:
        if not variant.postgres:
            return {}
        if self.pg is None:
            self.pg = PostgresServer(durable=True).start()
        self.urls[home] = self.pg.create_database("amlite_bench")
        return {"AMLITE_DATABASE_URL": self.urls[home]}

    def terminal_jobs(self, home: Path) -> int:
        url = self.urls.get(home)
        if url is None:
            with sqlite3.connect(f"file:{home / 'amlite.db'}?mode=ro", uri=True) as db:
                return int(db.execute(TERMINAL_COUNT).fetchone()[0])
        import psycopg

        with psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://")) as conn:
            row = conn.execute(TERMINAL_COUNT).fetchone()
        assert row is not None
        return int(row[0])

    def close(self) -> None:
        if self.pg is not None:
            self.pg.stop()


def pid_of(srv: BenchServer) -> int:
    assert srv.proc is not None
    return srv.proc.pid


def port_of(url: str) -> int:
    return int(url.rsplit(":", 1)[1])


@dataclass
class Run:
    variants: list[str]
    postgres: bool = False
    cells: dict[tuple[str, int], Cell] = field(default_factory=dict)
    drained: dict[tuple[str, int], float] = field(default_factory=dict)


def amlite_server(
    home: Path, variant: Variant, stores: Stores, slots: int | None = None
) -> BenchServer:
    """An amlite server of ``variant``, with its store from ``stores``."""
    env = {"PYTHONPATH": variant.src} if variant.src else {}
    if slots is not None:
        env["AMLITE_LOCAL_SLOTS"] = str(slots)
    env.update(stores.env(home, variant))
    return BenchServer(home, env)


def wait_drained(srv: BenchServer, stores: Stores, jobs: int, timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while stores.terminal_jobs(srv.home) < jobs and time.monotonic() < deadline:
        time.sleep(0.5)


def read_cells(
    out: Run,
    bare: BareServer,
    stack: contextlib.ExitStack[Any],
    home: Path,
    seconds: float,
    concurrencies: tuple[int, ...],
    list_jobs: int,
    variants: dict[str, Variant],
    stores: Stores,
) -> None:
    """The GET and LIST cells: one server per variant, stopped at the end."""
    body = command_body()
    pending = {
        name: amlite_server(home / f"read-{name}", variant, stores)
        for name, variant in variants.items()
    }
    with concurrent.futures.ThreadPoolExecutor(len(pending)) as pool:  # start together
        started = {name: pool.submit(srv.__enter__) for name, srv in pending.items()}
        servers = {}
        for name, future in started.items():
            stack.push(pending[name].__exit__)
            servers[name] = future.result()
    for srv in servers.values():
        with srv.client() as c:
            for i in range(list_jobs):  # the LIST pages and the job GET reads
                c.put(f"{WS}/jobs/seed-{i:05d}?{API}", content=body).raise_for_status()
    for srv in servers.values():
        wait_drained(srv, stores, list_jobs)
    get_bare = request_bytes("GET", "/item", None)
    for conc in concurrencies:
        out.cells["GET bare", conc] = load(
            bare.port, lambda _: get_bare, conc, seconds, pid=bare.pid
        )
        for name, srv in servers.items():
            get_job = request_bytes("GET", f"{WS}/jobs/seed-00000?{API}", srv.token)
            list_page = request_bytes("GET", f"{WS}/jobs?{API}&$top=100", srv.token)
            out.cells[f"GET job [{name}]", conc] = load(
                port_of(srv.url),
                lambda _, r=get_job: r,
                conc,
                seconds,  # type: ignore[misc]
                pid=pid_of(srv),
            )
            out.cells[f"LIST $top=100 [{name}]", conc] = load(
                port_of(srv.url),
                lambda _, r=list_page: r,
                conc,
                seconds,  # type: ignore[misc]
                pid=pid_of(srv),
            )
        print(f"reads at concurrency {conc} done", flush=True)
    for srv in servers.values():
        srv.__exit__()


def run(
    seconds: float,
    concurrencies: tuple[int, ...],
    list_jobs: int,
    variants: dict[str, Variant],
    reads: bool = True,
) -> Run:
    """GET and LIST on one server per variant (unless not ``reads``), then each PUT cell on
    a fresh server; the variants' cells in alternation."""
    out = Run(list(variants), postgres=any(v.postgres for v in variants.values()))
    home = Path(tempfile.mkdtemp(prefix="amlite-bench-api-"))
    body = command_body()
    stores = Stores()
    try:
        with BareServer(home / "bare") as bare, contextlib.ExitStack() as stack:
            if reads:
                read_cells(
                    out, bare, stack, home, seconds, concurrencies, list_jobs, variants, stores
                )
            put_bare_body = json.dumps(ITEM).encode()
            # each PUT cell on a fresh server of its own (one local slot: the jobs it queues
            # drain in the background while it is measured), started and stopped around the
            # cell, so that no variant's cell runs beside another's backlog; the variants'
            # order is reversed at every other concurrency
            names = list(variants)
            for round_no, conc in enumerate(concurrencies):
                tag = f"c{conc}"
                out.cells["PUT bare", conc] = load(
                    bare.port,
                    lambda i, tag=tag: request_bytes(  # type: ignore[misc]
                        "PUT", f"/item/{tag}-{i}", None, put_bare_body
                    ),
                    conc,
                    seconds,
                    ok=(201,),
                    pid=bare.pid,
                )
                for name in names if round_no % 2 == 0 else names[::-1]:
                    cell_home = home / f"put-{name}-{tag}"
                    with amlite_server(cell_home, variants[name], stores, slots=1) as srv:
                        before = stores.terminal_jobs(srv.home)
                        t0 = time.perf_counter()
                        out.cells[f"PUT job [{name}]", conc] = load(
                            port_of(srv.url),
                            lambda i, tag=tag, token=srv.token: request_bytes(  # type: ignore[misc]
                                "PUT", f"{WS}/jobs/{tag}-{i}?{API}", token, body
                            ),
                            conc,
                            seconds,
                            ok=(201,),
                            pid=pid_of(srv),
                        )
                        out.drained[name, conc] = (stores.terminal_jobs(srv.home) - before) / (
                            time.perf_counter() - t0
                        )
                print(f"writes at concurrency {conc} done", flush=True)
    finally:
        stores.close()
        shutil.rmtree(home, ignore_errors=True)
    return out


POSTGRES_NOTE = (
    "; [..., PostgreSQL]: amlite on PostgreSQL 15 (throwaway cluster on loopback, fsync and "
    "synchronous_commit on), the bare stack on SQLite"
)


def report(result: Run, concurrencies: tuple[int, ...], seconds: float, note: str) -> str:
    cpu = os.cpu_count()
    lines = [
        f"## {datetime.now().strftime('%Y-%m-%d %H:%M')} ({cpu} cores, load average "
        f"{os.getloadavg()[0]:.1f} at the end; {seconds:g} s per cell"
        f"{'; ' + note if note else ''}"
        f"{POSTGRES_NOTE if result.postgres else ''})",
        "",
        "| request | concurrency | req/s | p50 ms | p99 ms | errors | ratio to bare (req/s) "
        "| server CPU ms/request | ratio to bare (CPU/request) |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    rows: list[tuple[str, str | None]] = [("GET bare", None)]
    rows += [(f"GET job [{v}]", "GET bare") for v in result.variants]
    rows += [(f"LIST $top=100 [{v}]", None) for v in result.variants]
    rows += [("PUT bare", None)]
    rows += [(f"PUT job [{v}]", "PUT bare") for v in result.variants]
    for name, bare in rows:
        for conc in concurrencies:
            if (name, conc) not in result.cells:  # --put-only
                continue
            cell = result.cells[name, conc]
            ratio = cpu_ratio = ""
            if bare is not None and result.cells[bare, conc].rate:
                ratio = f"{cell.rate / result.cells[bare, conc].rate:.2f}"
                cpu_ratio = (
                    f"{cell.cpu_ms_per_request / result.cells[bare, conc].cpu_ms_per_request:.2f}"
                )
            label = name
            if name.startswith("PUT job"):
                variant = name[name.index("[") + 1 : -1]
                label += f" (drained {result.drained[variant, conc]:.0f} jobs/s meanwhile)"
            if cell.first_error:
                label += f"; first error: {cell.first_error[:80]}"
            lines.append(
                f"| {label} | {conc} | {cell.rate:.0f} | {cell.pct(0.5):.1f} | "
                f"{cell.pct(0.99):.1f} | {cell.errors} | {ratio} | "
                f"{cell.cpu_ms_per_request:.2f} | {cpu_ratio} |"
            )
    return "\n".join(lines) + "\n\n"


def main() -> None:
    if len(sys.argv) == 3 and sys.argv[1] == "--serve-bare":
        serve_bare(Path(sys.argv[2]))
        return
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=4.0, help="per cell")
    parser.add_argument("--list-jobs", type=int, default=300, help="jobs created for LIST")
    parser.add_argument("--note", default="", help="what this run measures (for the table)")
    parser.add_argument(
        "--variant",
        action="append",
        default=[],
        metavar="NAME=SRC",
        help="also run the amlite package in SRC (e.g. another commit's src/, from git "
        "archive) as NAME, in the same run; the checkout's own is 'this'",
    )
    parser.add_argument(
        "--postgres",
        action="store_true",
        help="also run each variant on PostgreSQL (a throwaway local cluster), as "
        "'[<variant>, PostgreSQL]'; the bare stack stays on SQLite",
    )
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--put-only", action="store_true", help="only the PUT cells")
    parser.add_argument("--no-write", action="store_true", help="print only")
    parser.add_argument(
        "--concurrency",
        type=int,
        action="append",
        default=[],
        help="measure at this concurrency only (repeatable; default 1, 8, 32 and 128)",
    )
    args = parser.parse_args()
    concurrencies = (1, 32) if args.quick else CONCURRENCY
    if args.concurrency:
        concurrencies = tuple(args.concurrency)
    seconds = 1.5 if args.quick else args.seconds
    variants: dict[str, Variant] = {}
    for item in args.variant:
        name, _, src = item.partition("=")
        variants[name] = Variant(str(Path(src).resolve()))
    variants["this"] = Variant(None)
    if args.postgres:
        for name, variant in list(variants.items()):
            variants[f"{name}, PostgreSQL"] = Variant(variant.src, postgres=True)
    result = run(
        seconds,
        concurrencies,
        120 if args.quick else args.list_jobs,
        variants,
        reads=not args.put_only,
    )
    text = report(result, concurrencies, seconds, args.note)
    print(text)
    if not args.no_write:
        RESULTS.parent.mkdir(parents=True, exist_ok=True)
        with RESULTS.open("a") as f:
            f.write(text)


if __name__ == "__main__":
    main()
