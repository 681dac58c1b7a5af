"""Integer query parameters (``$top``, ``count``, ``offset``, ``points``...): one parser.

Only ASCII digits are accepted (``str.isdigit`` also accepts ``²`` and ``٣``), at most
``maximum`` (int32 by default, as the spec's ``$top``), so no value reaches ``int()`` that it
cannot convert: anything else is a 400 naming the parameter.
"""

from __future__ import annotations

from fastapi import Request

from amlite.api.deps import query_ci
from amlite.errors import ValidationFailed

INT32_MAX = 2**31 - 1
INT64_MAX = 2**63 - 1


def parse_count(raw: str, name: str, maximum: int = INT32_MAX) -> int:
    """``raw`` as a non-negative integer at most ``maximum``; ValidationFailed at ``name``."""
    text = raw.strip()
    if not text or not text.isascii() or not text.isdigit():
        raise ValidationFailed.one(name, f"must be a non-negative integer, got {raw[:40]!r}")
    if len(text.lstrip("0")) > len(str(maximum)) or int(text) > maximum:
        raise ValidationFailed.one(name, f"must be at most {maximum}")
    return int(text)


def query_int(request: Request, *names: str, maximum: int = INT32_MAX) -> int | None:
    """The first of ``names`` present in the query (case-insensitive) as an integer, or None."""
    for name in names:
        raw = query_ci(request, name)
        if raw is not None and raw != "":
            return parse_count(raw, name, maximum)
    return None
