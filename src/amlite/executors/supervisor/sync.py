"""Outputs uploaded while the job runs (docs/datastores.md, "While a job runs").

The ``finalize`` steps upload the job's outputs to blob datastores when it ends
(``blob_upload``), ``./outputs`` and ``./logs`` by way of the artifacts folder
(``copy_into``, then ``blob_upload`` of that folder). While the command runs, a thread does
the same every ``AMLITE_OUTPUT_SYNC_SECONDS`` (default 60; 0: never), straight from where
the job writes, uploading only the files changed since the last upload (``blobs``); the
final upload then sends only what changed after the last round. A round that fails (the
storage account away) is logged once and retried at the next; a SAS that has expired is no
longer used (the server signed it for the job's timeout and a day, or a week).
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from .blobs import blob_child, blob_upload, sas_expiry
from .control import SystemLog
from .steps import _job_made_link

DEFAULT_SYNC_SECONDS = 60.0
SAS_MARGIN_SECONDS = 60.0


def sync_seconds(environ: dict[str, str] | os._Environ[str] = os.environ) -> float:
    """``AMLITE_OUTPUT_SYNC_SECONDS``: 0 (or less) turns the periodic upload off."""
    value = environ.get("AMLITE_OUTPUT_SYNC_SECONDS")
    try:
        return max(0.0, float(value)) if value else DEFAULT_SYNC_SECONDS
    except ValueError:
        return DEFAULT_SYNC_SECONDS


def sync_pairs(finalize: list[dict[str, str]]) -> list[tuple[str, str]]:
    """(local folder, blob URL) to upload while the job runs: each ``blob_upload`` step's,
    and each ``copy_into`` whose destination a ``blob_upload`` then uploads, from the
    ``copy_into``'s source (where the job writes) straight to its place in the blobs."""
    uploads = [(s["src"], s["dst"]) for s in finalize if s["op"] == "blob_upload"]
    pairs = list(uploads)
    for step in finalize:
        if step["op"] != "copy_into":
            continue
        for src, url in uploads:
            root = src.rstrip(os.sep)
            if step["dst"].startswith(root + os.sep):
                rel = os.path.relpath(step["dst"], root).replace(os.sep, "/")
                pairs.append((step["src"], blob_child(url, rel)))
    return pairs


class OutputSync:
    """The thread that uploads ``pairs`` every ``interval`` seconds until ``stop``."""

    def __init__(
        self, pairs: list[tuple[str, str]], interval: float, log: SystemLog, confine: str
    ) -> None:
        self._pairs, self._interval, self._log, self._confine = pairs, interval, log, confine
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="output-sync", daemon=True)
        self._said: set[str] = set()
        self.rounds = 0

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            self.sync_once()

    def sync_once(self) -> int:
        """One round; returns how many files it uploaded."""
        sent = 0
        for src, url in self._pairs:
            if self._stop.is_set():
                break  # the job ended: the final upload follows at once
            where = url.split("?", 1)[0]
            expires = sas_expiry(url)
            if expires is not None and time.time() > expires - SAS_MARGIN_SECONDS:
                self._once(f"output sync: the SAS for {where} has expired; not uploading "
                           "it while the job runs")  # fmt: skip
                continue
            if self._job_made(src) and _job_made_link(src, self._confine):
                self._once(f"output sync: {src} is a symbolic link: not uploaded")
                continue
            try:
                sent += blob_upload(src, url)
            except Exception as exc:  # the account away: the next round tries again
                self._once(f"output sync to {where} failed: {exc}")
        self.rounds += 1
        return sent

    def _job_made(self, src: str) -> bool:
        """Whether ``src`` is a place the job controls (in its run directory), so possibly a
        link it made; the artifacts folder is the supervisor's."""
        root = os.path.abspath(self._confine).rstrip(os.sep) + os.sep
        return os.path.lexists(src) and os.path.abspath(src).startswith(root)

    def _once(self, message: str) -> None:
        if message not in self._said:
            self._said.add(message)
            self._log.write(message)


@contextmanager
def output_sync(plan: dict[str, Any], confine: str, log: SystemLog) -> Iterator[None]:
    """Upload the plan's blob outputs periodically while the body runs."""
    interval = sync_seconds()
    pairs = sync_pairs(plan.get("finalize") or [])
    if not pairs or interval <= 0:
        yield
        return
    syncer = OutputSync(pairs, interval, log, confine)
    log.write(f"output sync: every {interval:g} s to {len(pairs)} blob location(s)")
    syncer.start()
    try:
        yield
    finally:
        syncer.stop()
