"""Bearer tokens as values: how one is made and how it is kept (only its hash is stored).
Pure, so that the sweep controller can make a trial's token with the trial
(``services/tokens.py`` keeps them in the store)."""

from __future__ import annotations

import hashlib
import secrets

JOB_TOKEN_PREFIX = "amlj"
"""The prefix of a job token (one that can only see and act on one job)."""


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_token(prefix: str) -> str:
    return f"{prefix}_{secrets.token_urlsafe(32)}"
