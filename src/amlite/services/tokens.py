"""Bearer tokens: one admin token per server home, and one token per running job."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

from amlite.domain.tokens import JOB_TOKEN_PREFIX, hash_token, new_token
from amlite.store import Store, TokenRecord

__all__ = ["JOB_TOKEN_PREFIX", "TokenLookup", "TokenStore", "hash_token", "new_token"]

TokenLookup = Callable[[str], TokenRecord | None]
"""Finds the record of a token by its hash (``hash_token``): the store's ``find_token``."""


class TokenStore(Protocol):
    """What authenticating reads of the store (a ``Store`` fits)."""

    @property
    def job_deletes(self) -> int: ...

    def find_token(self, token_hash: str) -> TokenRecord | None: ...


def ensure_admin_token(store: Store, token_file: Path) -> str:
    """The admin token: read from ``token_file``, or made at first start and saved (mode 0600)."""
    if token_file.exists():
        token = token_file.read_text().strip()
        if token:
            if store.find_token(hash_token(token)) is None:
                store.add_token(hash_token(token))
            return token
    token = new_token("amla")
    store.add_token(hash_token(token))
    token_file.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(token_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(token + "\n")
    os.chmod(token_file, 0o600)
    return token


def mint_job_token(store: Store, workspace_key: str, job_name: str) -> str:
    """A token that can only see and act on one job."""
    token = new_token(JOB_TOKEN_PREFIX)
    store.add_token(hash_token(token), workspace_key=workspace_key, job_name=job_name)
    return token


def lookup(store: Store, token: str) -> TokenRecord | None:
    return store.find_token(hash_token(token))
