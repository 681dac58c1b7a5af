"""Deployments and their operations in the store, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest

from amlite.errors import NotFound
from amlite.store import open_store


def test_deployments_and_operations_round_trip(database_url: str) -> None:
    store = open_store(database_url)
    try:
        first = store.put_deployment("Sub/RG", "d1", "Accepted", {"a": 1})
        assert first.scope_key == "sub/rg"
        store.put_operation(first.seq, 0, "OP0", "/x/0", {"provisioningState": "Running"})
        store.put_operation(first.seq, 0, "OP0", "/x/0", {"provisioningState": "Succeeded"})
        store.put_operation(first.seq, 1, "OP1", "/x/1", {"provisioningState": "Failed"})
        ops = store.list_operations(first.seq)
        assert [(o.position, o.body["provisioningState"]) for o in ops] == [
            (0, "Succeeded"),
            (1, "Failed"),
        ]
        assert [o.operation_id for o in store.list_operations(first.seq, after_position=0)] == [
            "OP1"
        ]
        updated = store.update_deployment("sub/rg", "d1", "Running", {"a": 2})
        assert (updated.state, updated.body) == ("Running", {"a": 2})
        assert [d.name for d in store.deployments_in_states(["Running"])] == ["d1"]
        store.put_deployment("sub/rg", "d2", "Succeeded", {})
        assert [d.name for d in store.list_deployments("SUB/rg")] == ["d1", "d2"]
        assert [d.name for d in store.list_deployments("sub/rg", after_seq=first.seq)] == ["d2"]
        replaced = store.put_deployment("sub/rg", "d1", "Accepted", {"a": 3})
        assert store.list_operations(replaced.seq) == []  # a redeployment starts afresh
        assert store.delete_deployment("sub/rg", "d1")
        assert not store.delete_deployment("sub/rg", "d1")
        assert store.get_deployment("sub/rg", "d1") is None
        with pytest.raises(NotFound):
            store.update_deployment("sub/rg", "d1", "Failed", {})
    finally:
        store.close()
