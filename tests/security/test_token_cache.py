"""The server remembers the callers' tokens: an admin token for good, a job's token for
``JOB_TOKEN_SECONDS`` (a job's MLflow calls read the store once a second, not once a call),
and forgets every job token at once when a job is deleted through this server (its token is
deleted with it: 401 from the next request on). A job deleted through another server sharing
a PostgreSQL store stops its token within ``JOB_TOKEN_SECONDS``. No timing: the clock is
passed in."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.requests import Request

from amlite.api.auth import JOB_TOKEN_SECONDS, Authenticator, Principal
from amlite.domain.arm_id import WorkspaceRef
from amlite.errors import Unauthorized
from amlite.services.tokens import hash_token, mint_job_token
from amlite.services.workspaces import Workspaces
from amlite.store import NewJob, Store, TokenRecord, open_store

WS = WorkspaceRef("sub", "rg", "ws")
SPEC = {"jobType": "Command", "command": "true", "compute": {"target": "local"}}


def request(token: str) -> Request:
    headers = [(b"authorization", f"Bearer {token}".encode())]
    return Request({"type": "http", "method": "GET", "path": "/", "headers": headers})


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    opened = open_store(f"sqlite:///{tmp_path / 'amlite.db'}")
    Workspaces(opened).ensure(WS)
    yield opened
    opened.close()


def new_job(store: Store, name: str) -> str:
    store.create_job(NewJob(workspace=WS, name=name, job_type="Command", spec=SPEC))
    return mint_job_token(store, WS.key, name)


class Lookups:
    """The store's ``find_token``, counted."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.count = 0

    def __call__(self, token_hash: str) -> TokenRecord | None:
        self.count += 1
        return self.store.find_token(token_hash)


def test_a_jobs_token_is_read_from_the_store_once_per_period(store: Store) -> None:
    token = new_job(store, "j")
    lookups, now = Lookups(store), [100.0]
    auth = Authenticator(lookups, job_deletes=lambda: store.job_deletes, clock=lambda: now[0])
    assert auth.cached(request(token)) is None
    assert auth(request(token)) == Principal(WS.key, "j")
    for _ in range(5):
        assert auth.cached(request(token)) == Principal(WS.key, "j")
        assert auth(request(token)) == Principal(WS.key, "j")
    assert lookups.count == 1
    now[0] += JOB_TOKEN_SECONDS
    assert auth.cached(request(token)) is None  # read again once the period is over
    assert auth(request(token)) == Principal(WS.key, "j")
    assert lookups.count == 2


def test_a_deleted_jobs_token_stops_at_once(store: Store) -> None:
    token, other = new_job(store, "j"), new_job(store, "k")
    auth = Authenticator.for_store(store)
    assert auth(request(token)) == Principal(WS.key, "j")
    assert auth(request(other)) == Principal(WS.key, "k")
    assert auth.cached(request(token)) is not None
    store.delete_job(WS.key, "j")
    assert auth.cached(request(token)) is None
    with pytest.raises(Unauthorized):
        auth(request(token))
    assert auth(request(other)) == Principal(WS.key, "k")  # read again, still valid
    new_job(store, "j")  # the same name again: the old token does not reach the new job
    with pytest.raises(Unauthorized):
        auth(request(token))


def test_a_delete_during_the_lookup_is_not_missed(store: Store) -> None:
    token = new_job(store, "j")

    def find_then_delete(token_hash: str) -> TokenRecord | None:
        found = store.find_token(token_hash)  # found just before the job is deleted
        store.delete_job(WS.key, "j")
        return found

    auth = Authenticator(find_then_delete, job_deletes=lambda: store.job_deletes)
    assert auth(request(token)) == Principal(WS.key, "j")
    assert auth.cached(request(token)) is None


def test_unknown_tokens_are_never_remembered(store: Store) -> None:
    lookups = Lookups(store)
    auth = Authenticator(lookups)
    for _ in range(2):
        with pytest.raises(Unauthorized):
            auth(request("amlj_nobody"))
    assert lookups.count == 2
    assert store.find_token(hash_token("amlj_nobody")) is None
