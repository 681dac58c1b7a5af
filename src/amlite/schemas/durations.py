"""Duration fields of the wire models (``timeout``): validated by the one parser,
``amlite.domain.durations.parse_duration`` (its docstring has the rules)."""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator

from amlite.domain.durations import MAX_DURATION, Precision, parse_duration
from amlite.errors import ValidationFailed
from amlite.schemas._base import violation

__all__ = [
    "MAX_DURATION",
    "MinutesDuration",
    "Precision",
    "SecondsDuration",
    "duration_seconds",
    "normalize_duration",
]


def duration_seconds(value: object, precision: Precision) -> float:
    """Seconds in the ISO 8601 duration ``value``; ValueError says what is wrong."""
    return parse_duration(value, precision).total_seconds()


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
