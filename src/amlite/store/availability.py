"""Is the database there and writable? One classification of store failures, and a probe.

A database that is read-only (a SQLite file or folder without write permission, a read-only
mount, a full disk) or out of reach (PostgreSQL stopped, restarting, refusing connections)
is a temporary condition, not a bug: the API answers 503 with ``Retry-After``, ``/health``
says so, the scheduler backs off, and everything resumes when the database is back (the
engines drop broken connections, see ``amlite.store._sql.engine``).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import exc as sa_exc

RETRY_AFTER_SECONDS = 5
"""What a 503 tells clients to wait before trying again."""

PROBE_EVERY_SECONDS = 2.0
"""``/health`` probes the database at most this often (its answer is cached between)."""


STORE_ERRORS: tuple[type[Exception], ...] = (sa_exc.DBAPIError, sa_exc.TimeoutError)
"""The exception classes a store failure can raise (what ``unavailable_reason`` looks at)."""


def unavailable_reason(error: BaseException) -> str | None:
    """Why the database is unavailable, when ``error`` says it is; None for any other error."""
    if not isinstance(error, STORE_ERRORS):
        return None
    if (
        isinstance(error, sa_exc.DBAPIError)
        and not isinstance(error, sa_exc.OperationalError | sa_exc.InterfaceError)
        and not error.connection_invalidated
    ):
        return None  # integrity, data or programming errors are not about availability
    original = getattr(error, "orig", None) or error
    text = str(original).strip().splitlines()[0] if str(original).strip() else type(error).__name__
    lowered = text.lower()
    if "readonly" in lowered or "read-only" in lowered or "read only" in lowered:
        return f"the database is read-only ({text})"
    if "locked" in lowered or "busy" in lowered:
        return f"the database is busy ({text})"
    if isinstance(error, sa_exc.TimeoutError):
        return f"no database connection is free ({text})"
    return f"the database cannot be reached or written ({text})"


@dataclass(frozen=True)
class Availability:
    """The last probe's answer: ``reason`` is None when the database is usable."""

    reason: str | None
    checked_at: float


class AvailabilityProbe:
    """Probes a store with a write that changes nothing, at most every few seconds."""

    def __init__(self, every: float = PROBE_EVERY_SECONDS) -> None:
        self._every = every
        self._lock = threading.Lock()
        self._last: Availability | None = None

    def check(self, probe: Callable[[], None]) -> Availability:
        """``probe`` is the store's ``probe_writable`` (called outside the cache window)."""
        with self._lock:
            now = time.monotonic()
            if self._last is not None and now - self._last.checked_at < self._every:
                return self._last
            try:
                probe()
                reason = None
            except Exception as exc:  # classify: anything unexpected is reported as is
                reason = unavailable_reason(exc) or f"the database probe failed: {exc!r}"[:300]
            self._last = Availability(reason, time.monotonic())
            return self._last
