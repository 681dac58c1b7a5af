"""ISO 8601 durations of the jobs contract (``timeout`` fields): the one parser.

``CommandJob.timeout`` and ``TrialComponent.timeout`` allow at most seconds precision,
``SweepJob.timeout`` at most minutes precision. Years and months are refused: their
length depends on the calendar. Durations must be positive and at most ``MAX_DURATION``
(ten years, ``P3650D``): a longer timeout means "none" in practice, and any deadline computed
from it stays far inside the dates Python and the stores can hold.

The request schemas (``amlite.schemas.durations``) validate with ``parse_duration``; the
typed job specs (``amlite.domain.specs.Duration``) carry its result, so nothing after the
front door parses a duration again.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Literal

import isodate

Precision = Literal["seconds", "minutes"]
MAX_DURATION = timedelta(days=3650)


def parse_duration(value: object, precision: Precision = "seconds") -> timedelta:
    """The ISO 8601 duration ``value``; ValueError says what is wrong."""
    if not isinstance(value, str):
        raise ValueError("must be an ISO 8601 duration string such as 'PT1H30M'")
    text = value.strip()
    try:
        parsed = isodate.parse_duration(text)
    except OverflowError:
        raise ValueError(_too_long(value)) from None
    except (isodate.ISO8601Error, ValueError, TypeError):
        raise ValueError(f"'{value}' is not an ISO 8601 duration such as 'PT1H30M'") from None
    if isinstance(parsed, isodate.Duration):
        if parsed.years or parsed.months:
            raise ValueError(
                f"'{value}' uses years or months, whose length is ambiguous; use days or hours"
            )
        parsed = parsed.tdelta
    if not isinstance(parsed, timedelta):  # pragma: no cover - isodate returns one of the two
        raise ValueError(f"'{value}' is not an ISO 8601 duration")
    if parsed > MAX_DURATION:
        raise ValueError(_too_long(value))
    if parsed.total_seconds() <= 0:
        raise ValueError(f"'{value}' must be a positive duration")
    if precision == "seconds" and parsed.microseconds:
        raise ValueError(f"'{value}' is over-precise: at most seconds precision is supported")
    if precision == "minutes" and (parsed.microseconds or parsed.seconds % 60):
        raise ValueError(f"'{value}' is over-precise: at most minutes precision is supported")
    return parsed


def _too_long(value: str) -> str:
    return f"'{value[:60]}' is too long: at most P{MAX_DURATION.days}D (ten years)"
