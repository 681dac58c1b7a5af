"""Follow a job until it ends: a command job's status changes and ``user_logs/std_log.txt``;
a sweep's trial table (Rich Live on a terminal, plain lines otherwise)."""

from __future__ import annotations

import codecs
import sys
import time
from contextlib import nullcontext
from typing import TYPE_CHECKING, Any

from amlite.cli.sweeps import (
    TERMINAL,
    SweepView,
    best_line,
    final_lines,
    is_sweep,
    sweep_view,
    trial_line,
    trial_table,
)
from amlite.client import AmliteClient, ApiError
from amlite.domain.arm_id import parse_resource_id
from amlite.domain.json_value import JsonObject, member

if TYPE_CHECKING:
    from rich.console import Console

__all__ = ["TERMINAL", "PollDelay", "artifacts_location", "follow_job", "follow_sweep"]
LOG_FILE = "user_logs/std_log.txt"
FIRST_POLL = 0.05
"""Seconds before the first look again, and again after anything changed: a trivial job is
seen ending within tens of milliseconds instead of after a whole ``poll``."""


class PollDelay:
    """The wait between two looks at a job: ``FIRST_POLL`` at first and after a change,
    doubling while nothing changes, up to ``longest`` (the ``poll`` the caller asked for)."""

    def __init__(self, longest: float) -> None:
        self.longest = longest
        self.next = min(FIRST_POLL, longest)

    def changed(self) -> None:
        self.next = min(FIRST_POLL, self.longest)

    def wait(self) -> None:
        time.sleep(self.next)
        self.next = min(self.next * 2, self.longest)


RANK0_LOG_FILE = "user_logs/std_log_process_0.txt"


def artifacts_location(job: JsonObject) -> tuple[str, str] | None:
    """(datastore name, path) of the job's artifact folder, from ``properties.output``."""
    out = member(job, "properties", "output")
    path = member(out, "path")
    ref = parse_resource_id(str(member(out, "datastoreId") or ""))
    if ref is None or not path:
        return None
    return ref.name, str(path).strip("/")


class _LogTail:
    """Follows ``std_log.txt``, or rank 0's ``std_log_process_0.txt`` for a distributed job."""

    def __init__(self, client: AmliteClient) -> None:
        self.client = client
        self.offset = 0
        self.decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self.file: str | None = None

    def read(self, job: JsonObject) -> str:
        where = artifacts_location(job)
        if where is None:
            return ""
        for candidate in [self.file] if self.file else [LOG_FILE, RANK0_LOG_FILE]:
            try:
                chunk = self.client.get_file(where[0], f"{where[1]}/{candidate}", self.offset)
            except ApiError:
                continue
            self.file = candidate
            self.offset += len(chunk)
            return self.decoder.decode(chunk)
        return ""


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
    con = console or _console()
    job = client.get_job(name)
    if is_sweep(job):
        return follow_sweep(client, name, con, poll=poll, quiet=quiet)
    tail = _LogTail(client)
    last = None
    live = con.is_terminal and not quiet
    spinner = con.status(f"{name}: waiting") if live else nullcontext()
    delay = PollDelay(poll)
    with spinner as status:
        while True:
            current = str(member(job, "properties", "status") or "Unknown")
            text = tail.read(job) if logs else ""
            if current in TERMINAL and text:  # the last lines come before the final status
                con.print(text, end="", markup=False, highlight=False)
                text = ""
            if current != last or text:
                delay.changed()
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
            delay.wait()
            job = client.get_job(name)
    sys.stdout.flush()
    return current


def follow_sweep(
    client: AmliteClient,
    name: str,
    console: Console | None = None,
    poll: float = 1.0,
    quiet: bool = False,
) -> str:
    """Show a sweep's trials (status, parameters, latest and best primary metric, early
    termination) until the sweep ends, then its best trial; returns the sweep's status."""
    con = console or _console()
    cache: dict[str, tuple[float | None, float | None, int]] = {}

    def snapshot() -> SweepView:
        return sweep_view(client, client.get_job(name), with_metrics=True, cache=cache)

    view = snapshot()
    delay = PollDelay(poll)  # a sweep's view is many requests: never reset, only grows
    if con.is_terminal and not quiet:
        from rich.live import Live  # lazy: amlite.cli

        with Live(trial_table(view), console=con, refresh_per_second=4) as live:
            while not view.done:
                delay.wait()
                view = snapshot()
                live.update(trial_table(view))
    else:
        printer = _PlainPrinter(con, quiet)
        printer.show(view)
        while not view.done:
            delay.wait()
            view = snapshot()
            printer.show(view)
    if not quiet:
        for line in final_lines(view):
            con.print(line, markup=False)
    sys.stdout.flush()
    return view.status


def _console() -> Console:
    from rich.console import Console  # lazy: amlite.cli

    return Console(highlight=False, soft_wrap=True)


class _PlainPrinter:
    """Plain lines for a non-terminal: whatever changed since the last poll."""

    def __init__(self, console: Console, quiet: bool) -> None:
        self.console = console
        self.quiet = quiet
        self.status: str | None = None
        self.trials: dict[str, tuple[Any, ...]] = {}
        self.best: str | None = None

    def say(self, text: str) -> None:
        if not self.quiet:
            self.console.print(text, markup=False)

    def show(self, view: SweepView) -> None:
        if not view.done:  # a final status comes after the trials' last lines
            self._status(view)
        for trial in view.trials:
            state = (trial.status, trial.latest, trial.value, trial.early_terminated)
            if self.trials.get(trial.name) != state:
                self.trials[trial.name] = state
                self.say("  " + trial_line(trial, view.metric))
        best = best_line(view)
        if best != self.best and not view.done and view.leader() is not None:
            self.best = best
            self.say(best)
        self._status(view)

    def _status(self, view: SweepView) -> None:
        if view.status != self.status:
            self.status = view.status
            self.say(f"{view.name}: {view.status}")
