"""Bearer-token authentication: admin tokens see everything, a job's token only its job."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import Request

from amlite.errors import Forbidden, Unauthorized
from amlite.services.tokens import TokenLookup, hash_token


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
    def __init__(self, find_token: TokenLookup) -> None:
        """``find_token``: the token record of a token hash (``amlite.services.tokens``)."""
        self._find_token = find_token
        self._cache: dict[str, Principal] = {}

    def cached(self, request: Request) -> Principal | None:
        """The caller if its token is one already known (no store read), else None."""
        return self._cache.get(self._digest(request))

    def __call__(self, request: Request) -> Principal:
        digest = self._digest(request)
        principal = self._cache.get(digest)
        if principal is None:
            record = self._find_token(digest)
            if record is None:
                raise Unauthorized("the bearer token is not valid")
            principal = Principal(record.workspace_key, record.job_name)
            if principal.is_admin:
                self._cache[digest] = principal
        return principal

    @staticmethod
    def _digest(request: Request) -> str:
        header = request.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise Unauthorized("missing bearer token: send 'Authorization: Bearer <token>'")
        return hash_token(token.strip())
