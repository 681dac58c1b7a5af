"""Deployments and their operations in ``SqlStore``."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

from sqlalchemy import Engine, delete, select, update

from amlite.domain.json_value import JsonValue
from amlite.errors import NotFound
from amlite.store._base import DeploymentRecord, OperationRecord
from amlite.store._sql.engine import read_tx, write_tx
from amlite.store._sql.tables import deployment_operations, deployments, utcnow


def _record(row: Any) -> DeploymentRecord:
    return DeploymentRecord(
        seq=int(row.seq),
        scope_key=row.scope_key,
        name=row.name,
        state=row.state,
        body=dict(row.body),
        created_at=row.created_at,
        modified_at=row.modified_at,
    )


class DeploymentTables:
    _engine: Engine

    def put_deployment(
        self, scope_key: str, name: str, state: str, body: Mapping[str, JsonValue]
    ) -> DeploymentRecord:
        now = utcnow()
        key = scope_key.lower()
        with write_tx(self._engine) as conn:
            old = conn.execute(
                select(deployments.c.seq).where(
                    deployments.c.scope_key == key, deployments.c.name == name
                )
            ).scalar()
            if old is not None:
                conn.execute(
                    delete(deployment_operations).where(
                        deployment_operations.c.deployment_seq == old
                    )
                )
                conn.execute(delete(deployments).where(deployments.c.seq == old))
            conn.execute(
                deployments.insert().values(
                    scope_key=key,
                    name=name,
                    state=state,
                    body=dict(body),
                    created_at=now,
                    modified_at=now,
                )
            )
            row = conn.execute(
                select(deployments).where(
                    deployments.c.scope_key == key, deployments.c.name == name
                )
            ).one()
        return _record(row)

    def get_deployment(self, scope_key: str, name: str) -> DeploymentRecord | None:
        with read_tx(self._engine) as conn:
            row = conn.execute(
                select(deployments).where(
                    deployments.c.scope_key == scope_key.lower(), deployments.c.name == name
                )
            ).first()
        return _record(row) if row is not None else None

    def update_deployment(
        self, scope_key: str, name: str, state: str, body: Mapping[str, JsonValue]
    ) -> DeploymentRecord:
        key = scope_key.lower()
        with write_tx(self._engine) as conn:
            done = conn.execute(
                update(deployments)
                .where(deployments.c.scope_key == key, deployments.c.name == name)
                .values(state=state, body=dict(body), modified_at=utcnow())
            )
            if done.rowcount == 0:
                raise NotFound(f"deployment '{name}' does not exist")
            row = conn.execute(
                select(deployments).where(
                    deployments.c.scope_key == key, deployments.c.name == name
                )
            ).one()
        return _record(row)

    def list_deployments(
        self, scope_key: str, *, after_seq: int | None = None, limit: int = 100
    ) -> list[DeploymentRecord]:
        query = select(deployments).where(deployments.c.scope_key == scope_key.lower())
        if after_seq is not None:
            query = query.where(deployments.c.seq > after_seq)
        with read_tx(self._engine) as conn:
            rows = conn.execute(query.order_by(deployments.c.seq).limit(limit)).all()
        return [_record(r) for r in rows]

    def deployments_in_states(self, states: Collection[str]) -> list[DeploymentRecord]:
        with read_tx(self._engine) as conn:
            rows = conn.execute(
                select(deployments)
                .where(deployments.c.state.in_(list(states)))
                .order_by(deployments.c.seq)
            ).all()
        return [_record(r) for r in rows]

    def delete_deployment(self, scope_key: str, name: str) -> bool:
        key = scope_key.lower()
        with write_tx(self._engine) as conn:
            seq = conn.execute(
                select(deployments.c.seq).where(
                    deployments.c.scope_key == key, deployments.c.name == name
                )
            ).scalar()
            if seq is None:
                return False
            conn.execute(
                delete(deployment_operations).where(deployment_operations.c.deployment_seq == seq)
            )
            conn.execute(delete(deployments).where(deployments.c.seq == seq))
        return True

    def put_operation(
        self,
        deployment_seq: int,
        position: int,
        operation_id: str,
        resource_id: str,
        body: Mapping[str, JsonValue],
    ) -> None:
        values = {
            "operation_id": operation_id,
            "resource_id": resource_id,
            "body": dict(body),
            "modified_at": utcnow(),
        }
        with write_tx(self._engine) as conn:
            done = conn.execute(
                update(deployment_operations)
                .where(
                    deployment_operations.c.deployment_seq == deployment_seq,
                    deployment_operations.c.position == position,
                )
                .values(**values)
            )
            if done.rowcount == 0:
                conn.execute(
                    deployment_operations.insert().values(
                        deployment_seq=deployment_seq, position=position, **values
                    )
                )

    def list_operations(
        self, deployment_seq: int, *, after_position: int | None = None, limit: int = 100
    ) -> list[OperationRecord]:
        query = select(deployment_operations).where(
            deployment_operations.c.deployment_seq == deployment_seq
        )
        if after_position is not None:
            query = query.where(deployment_operations.c.position > after_position)
        with read_tx(self._engine) as conn:
            rows = conn.execute(query.order_by(deployment_operations.c.position).limit(limit)).all()
        return [
            OperationRecord(
                position=int(r.position),
                operation_id=r.operation_id,
                resource_id=r.resource_id,
                body=dict(r.body),
                modified_at=r.modified_at,
            )
            for r in rows
        ]
