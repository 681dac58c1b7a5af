"""Keyset pagination tokens and ``nextLink`` URLs."""

from __future__ import annotations

import base64
from urllib.parse import urlencode

from amlite.errors import ValidationFailed


def encode_token(seq: int) -> str:
    return base64.urlsafe_b64encode(f"s{seq}".encode()).decode().rstrip("=")


def decode_token(token: str | None) -> int | None:
    if not token:
        return None
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
        if not raw.startswith("s"):
            raise ValueError(raw)
        return int(raw[1:])
    except (ValueError, UnicodeDecodeError):
        raise ValidationFailed.one(
            "$skiptoken", "not a continuation token this server issued"
        ) from None


def next_link(base_url: str, path: str, query: dict[str, str], seq: int) -> str:
    params = {k: v for k, v in query.items() if k.lower() != "$skiptoken"}
    params["$skiptoken"] = encode_token(seq)
    return f"{base_url}{path}?{urlencode(params)}"
