"""Printing: JSON for machines (``-o json``), plain aligned tables and Rich lines for people."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from rich.cells import cell_len

from amlite.domain.arm_id import parse_resource_id

if TYPE_CHECKING:
    from rich.console import Console

    from amlite.client import ApiError

    console: Console
    """Rich lines for people on stdout (made on first use: ``__getattr__``)."""
    err_console: Console
    """The same on stderr."""


def __getattr__(name: str) -> Console:
    """``output.console`` and ``output.err_console`` (PEP 562)."""
    if name in ("console", "err_console"):
        return _made(name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _made(name: str) -> Console:
    """``console`` or ``err_console``, made on first use (lazy: amlite.cli)."""
    found: Console | None = globals().get(name)
    if found is None:
        from rich.console import Console

        found = Console(stderr=name == "err_console", highlight=False, soft_wrap=True)
        globals()[name] = found
    return found


def print_json(data: Any) -> None:
    """Plain JSON on stdout (no Rich styling, so it parses)."""
    sys.stdout.write(json.dumps(data, indent=2, sort_keys=False) + "\n")
    sys.stdout.flush()


def error(message: str) -> None:
    _made("err_console").print(f"[red]error:[/red] {_escape(message)}")


def print_api_error(exc: ApiError) -> None:
    """``error: <code>: <message>`` then one ``  <target>: <message>`` line per detail."""
    error(f"{exc.code}: {exc.message}")
    err = _made("err_console")
    for detail in exc.details:
        target = detail.get("target") or exc.target or "-"
        err.print(f"  {_escape(str(target))}: {_escape(str(detail.get('message', '')))}")


def print_problems(problems: Sequence[str], header: str) -> None:
    error(header)
    for problem in problems:
        _made("err_console").print(f"  {_escape(problem)}")


def short_id(value: Any) -> str:
    """An ARM id shown as ``name`` or ``name:version``; anything else as is."""
    if not isinstance(value, str) or not value:
        return ""
    ref = parse_resource_id(value)
    if ref is None:
        return value
    return f"{ref.name}:{ref.version}" if ref.version else ref.name


def job_row(job: dict[str, Any]) -> list[str]:
    props = job.get("properties") or {}
    compute = props.get("compute") or {}
    created = (job.get("systemData") or {}).get("createdAt") or ""
    return [
        str(job.get("name", "")),
        str(props.get("jobType", "")),
        str(props.get("status", "")),
        str(props.get("experimentName", "")),
        short_id(compute.get("target")),
        str(created)[:19],
    ]


JOB_COLUMNS = ["Name", "Type", "Status", "Experiment", "Compute", "Created"]


def table(title: str | None, columns: Sequence[str], rows: Iterable[Sequence[str]]) -> None:
    """Columns padded to their widest cell under a header and a rule, as plain text: a Rich
    table measured and rendered each of 1,000 jobs' cells (1.8 s for ``job list --max
    1000``); this costs milliseconds. Control characters in values are shown as ``?``."""
    body = [[_printable(str(cell)) for cell in row] for row in rows]
    head = [_printable(str(column)) for column in columns]
    widths = [cell_len(column) for column in head]
    for row in body:
        for i, cell in enumerate(row[: len(widths)]):
            widths[i] = max(widths[i], cell_len(cell))
    lines = [_printable(title)] if title else []
    lines.append(_padded(head, widths))
    lines.append("  ".join("─" * width for width in widths))
    lines.extend(_padded(row, widths) for row in body)
    sys.stdout.write("\n".join(lines) + "\n")  # what ``console.file`` is, without Rich
    sys.stdout.flush()


def _padded(cells: Sequence[str], widths: Sequence[int]) -> str:
    return "  ".join(
        cell + " " * (width - cell_len(cell)) for cell, width in zip(cells, widths, strict=False)
    ).rstrip()


def _printable(text: str) -> str:
    return text.translate(_CONTROL)


_CONTROL = {c: "?" for c in [*range(0x20), *range(0x7F, 0xA0)]}


def details(title: str, pairs: Sequence[tuple[str, Any]]) -> None:
    """A two-column key/value table, skipping empty values."""
    from rich.table import Table  # lazy: amlite.cli

    t = Table(title=title, show_header=False)
    t.add_column("field", style="bold")
    t.add_column("value", overflow="fold")
    for key, value in pairs:
        if value in (None, "", {}, []):
            continue
        text = value if isinstance(value, str) else json.dumps(value)
        t.add_row(key, _escape(text))
    _made("console").print(t)


def show_job(job: dict[str, Any]) -> None:
    props = job.get("properties") or {}
    pairs: list[tuple[str, Any]] = [
        ("name", job.get("name")),
        ("type", props.get("jobType")),
        ("status", props.get("status")),
        ("experiment", props.get("experimentName")),
        ("compute", short_id((props.get("compute") or {}).get("target"))),
        ("command", props.get("command") or (props.get("trial") or {}).get("command")),
        ("code", short_id(props.get("codeId") or (props.get("trial") or {}).get("codeId"))),
        ("environment", short_id(props.get("environmentId"))),
        ("inputs", props.get("inputDataBindings")),
        ("outputs", props.get("outputDataBindings")),
        ("tags", props.get("tags")),
        ("properties", props.get("properties")),
        ("artifacts", (props.get("output") or {}).get("path")),
        ("id", job.get("id")),
    ]
    details(f"job {job.get('name', '')}", pairs)


def _escape(text: str) -> str:
    from rich.markup import escape  # lazy: amlite.cli

    return escape(text)
