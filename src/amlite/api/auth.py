"""Bearer-token authentication: admin tokens see everything, a job's token only its job.

A token found in the store is remembered, so that most requests read no token at all: an
admin token for good (admin tokens are never deleted), a job's token for
``JOB_TOKEN_SECONDS`` (a job calling ``mlflow.log_metric`` in a loop read its token once per
call). A job's token is deleted with its job: every job token remembered is forgotten as soon
as a job is deleted through this server (``Store.job_deletes``), so the token of a job
deleted here is refused (401) from the next request on; one deleted through another server
sharing a PostgreSQL store, within ``JOB_TOKEN_SECONDS``. An unknown token is never
remembered.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from fastapi import Request

from amlite.errors import Forbidden, Unauthorized
from amlite.services.tokens import TokenLookup, TokenStore, hash_token

JOB_TOKEN_SECONDS = 1.0
"""How long a job's token found in the store is taken as valid without reading it again."""
MAX_JOB_TOKENS = 10_000
"""Job tokens remembered at most (all are forgotten when there would be more)."""


@dataclass(frozen=True)
class Principal:
    workspace_key: str | None
    job_name: str | None

    @property
    def is_admin(self) -> bool:
        return self.job_name is None

    def require_admin(self) -> None:
        if not self.is_admin:
            raise Forbidden("a job's token can only read and cancel its own job")

    def require_job(self, workspace_key: str, name: str) -> None:
        if self.is_admin:
            return
        if self.workspace_key != workspace_key or self.job_name != name:
            raise Forbidden("a job's token can only read and cancel its own job")


class Authenticator:
    def __init__(
        self,
        find_token: TokenLookup,
        *,
        job_deletes: Callable[[], int] = lambda: 0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """``find_token``: the token record of a token hash (``amlite.services.tokens``);
        ``job_deletes``: the store's ``job_deletes`` now."""
        self._find_token = find_token
        self._job_deletes = job_deletes
        self._clock = clock
        self._cache: dict[str, Principal] = {}
        """Admin tokens, by hash."""
        self._jobs: dict[str, tuple[Principal, float]] = {}
        """Job tokens, by hash: the principal, and until when (``clock``) it holds."""
        self._deletes = job_deletes()
        """``job_deletes`` when the job tokens in ``_jobs`` were found."""

    @classmethod
    def for_store(cls, store: TokenStore) -> Authenticator:
        return cls(store.find_token, job_deletes=lambda: store.job_deletes)

    def cached(self, request: Request) -> Principal | None:
        """The caller if its token is one already known (no store read), else None."""
        return self._known(self._digest(request))

    def __call__(self, request: Request) -> Principal:
        digest = self._digest(request)
        principal = self._known(digest)
        if principal is None:
            deletes = self._job_deletes()  # before the read: a delete after it is seen
            record = self._find_token(digest)
            if record is None:
                raise Unauthorized("the bearer token is not valid")
            principal = Principal(record.workspace_key, record.job_name)
            if principal.is_admin:
                self._cache[digest] = principal
            else:
                self._remember_job(digest, principal, deletes)
        return principal

    def _known(self, digest: str) -> Principal | None:
        principal = self._cache.get(digest)
        if principal is not None:
            return principal
        entry = self._jobs.get(digest)
        if entry is None:
            return None
        if self._job_deletes() != self._deletes:  # a job was deleted: its token with it
            self._jobs.clear()
            return None
        principal, until = entry
        if self._clock() >= until:
            self._jobs.pop(digest, None)
            return None
        return principal

    def _remember_job(self, digest: str, principal: Principal, deletes: int) -> None:
        if deletes != self._deletes:
            if deletes < self._deletes:  # read before a delete already seen: too old
                return
            self._jobs.clear()
            self._deletes = deletes
        if len(self._jobs) >= MAX_JOB_TOKENS:
            self._jobs.clear()
        self._jobs[digest] = (principal, self._clock() + JOB_TOKEN_SECONDS)

    @staticmethod
    def _digest(request: Request) -> str:
        header = request.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise Unauthorized("missing bearer token: send 'Authorization: Bearer <token>'")
        return hash_token(token.strip())
