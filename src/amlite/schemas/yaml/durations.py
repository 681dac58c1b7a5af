"""Seconds as written in job YAML -> ISO 8601 durations of the REST body."""

from __future__ import annotations

import math
from typing import Any


def seconds_to_iso(value: Any) -> str:
    """``3600`` (seconds) -> ``PT3600S``; an ISO string is kept."""
    if isinstance(value, str) and value.upper().startswith("P"):
        return value.upper()
    return f"PT{int(float(value))}S"


def seconds_to_iso_minutes(value: Any) -> str:
    """``7200`` (seconds) -> ``PT120M``, rounding up (a sweep timeout has minute precision)."""
    if isinstance(value, str) and value.upper().startswith("P"):
        return value.upper()
    return f"PT{max(1, math.ceil(float(value) / 60))}M"
