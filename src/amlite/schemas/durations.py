"""ISO 8601 durations of the jobs contract (``timeout`` fields).

``CommandJob.timeout`` and ``TrialComponent.timeout`` allow at most seconds precision,
``SweepJob.timeout`` at most minutes precision. Years and months are refused: their
length depends on the calendar. Durations must be positive and at most ``MAX_DURATION``
(ten years, ``P3650D``): a longer timeout means "none" in practice, and any deadline computed
from it stays far inside the dates Python and the stores can hold.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Literal

import isodate
from pydantic import AfterValidator

from amlite.errors import ValidationFailed
from amlite.schemas._base import violation

Precision = Literal["seconds", "minutes"]
MAX_DURATION = timedelta(days=3650)


def duration_seconds(value: object, precision: Precision) -> float:
    """Seconds in the ISO 8601 duration ``value``; ValueError says what is wrong."""
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
    seconds = parsed.total_seconds()
    if parsed > MAX_DURATION:
        raise ValueError(_too_long(value))
    if seconds <= 0:
        raise ValueError(f"'{value}' must be a positive duration")
    if precision == "seconds" and parsed.microseconds:
        raise ValueError(f"'{value}' is over-precise: at most seconds precision is supported")
    if precision == "minutes" and (parsed.microseconds or parsed.seconds % 60):
        raise ValueError(f"'{value}' is over-precise: at most minutes precision is supported")
    return seconds


def _too_long(value: str) -> str:
    return f"'{value[:60]}' is too long: at most P{MAX_DURATION.days}D (ten years)"


def normalize_duration(value: str, *, precision: Precision, target: str) -> float:
    """Seconds in ``value``; raises ValidationFailed at ``target`` when it is not acceptable."""
    try:
        return duration_seconds(value, precision)
    except ValueError as exc:
        raise ValidationFailed.one(target, str(exc)) from None


def _checker(precision: Precision) -> AfterValidator:
    def check(value: str) -> str:
        try:
            duration_seconds(value, precision)
        except ValueError as exc:
            raise violation(str(exc)) from None
        return value.strip()

    return AfterValidator(check)


SecondsDuration = Annotated[str, _checker("seconds")]
"""A duration field with at most seconds precision (kept as sent)."""

MinutesDuration = Annotated[str, _checker("minutes")]
"""A duration field with at most minutes precision (kept as sent)."""
