"""Follow a job: status changes and its ``user_logs/std_log.txt``, until it ends."""

from __future__ import annotations

import codecs
import sys
import time
from contextlib import nullcontext
from typing import Any

from rich.console import Console

from amlite.client import AmliteClient, ApiError
from amlite.domain.arm_id import parse_resource_id

TERMINAL = frozenset({"Completed", "Failed", "Canceled"})
LOG_FILE = "user_logs/std_log.txt"


def artifacts_location(job: dict[str, Any]) -> tuple[str, str] | None:
    """(datastore name, path) of the job's artifact folder, from ``properties.output``."""
    out = (job.get("properties") or {}).get("output") or {}
    ref = parse_resource_id(str(out.get("datastoreId") or ""))
    if ref is None or not out.get("path"):
        return None
    return ref.name, str(out["path"]).strip("/")


class _LogTail:
    def __init__(self, client: AmliteClient) -> None:
        self.client = client
        self.offset = 0
        self.decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")

    def read(self, job: dict[str, Any]) -> str:
        where = artifacts_location(job)
        if where is None:
            return ""
        try:
            chunk = self.client.get_file(where[0], f"{where[1]}/{LOG_FILE}", self.offset)
        except ApiError:
            return ""
        self.offset += len(chunk)
        return self.decoder.decode(chunk)


def follow_job(
    client: AmliteClient,
    name: str,
    console: Console | None = None,
    logs: bool = True,
    poll: float = 1.0,
    quiet: bool = False,
) -> str:
    """Print status changes (and logs) until the job is terminal; returns its final status.

    On a terminal, a Rich spinner shows the current status; otherwise plain lines.
    """
    con = console or Console(highlight=False, soft_wrap=True)
    tail = _LogTail(client)
    last = None
    live = con.is_terminal and not quiet
    spinner = con.status(f"{name}: waiting") if live else nullcontext()
    with spinner as status:
        while True:
            job = client.get_job(name)
            current = str((job.get("properties") or {}).get("status") or "Unknown")
            text = tail.read(job) if logs else ""
            if current in TERMINAL and text:  # the last lines come before the final status
                con.print(text, end="", markup=False, highlight=False)
                text = ""
            if current != last:
                if not quiet:
                    con.print(f"{name}: {current}", markup=False)
                if status is not None:
                    status.update(f"{name}: {current}")
                last = current
            if text:
                con.print(text, end="", markup=False, highlight=False)
            if current in TERMINAL:
                break
            time.sleep(poll)
    props = job.get("properties") or {}
    best = (props.get("properties") or {}).get("best_child_run_id")
    if best and not quiet:
        con.print(f"best trial: {best}", markup=False)
    sys.stdout.flush()
    return current
