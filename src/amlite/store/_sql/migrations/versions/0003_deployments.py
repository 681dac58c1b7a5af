"""Deployments of ARM templates (Microsoft.Resources/deployments) and their operations.

Revision ID: 0003_deployments
Revises: 0002_tracking
Create Date: 2026-12-05 00:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003_deployments"
down_revision: str | None = "0002_tracking"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Frozen copies of the types as they were at this revision (never import tables.py here).
Seq = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
Utc = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "deployments",
        sa.Column("seq", Seq, primary_key=True, autoincrement=True),
        sa.Column("scope_key", sa.String(400), nullable=False),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("state", sa.String(50), nullable=False),
        sa.Column("body", sa.JSON, nullable=False),
        sa.Column("created_at", Utc, nullable=False),
        sa.Column("modified_at", Utc, nullable=False),
        sa.UniqueConstraint("scope_key", "name", name="uq_deployments_scope_name"),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_deployments_scope_seq", "deployments", ["scope_key", "seq"])
    op.create_index("ix_deployments_state", "deployments", ["state"])
    op.create_table(
        "deployment_operations",
        sa.Column(
            "deployment_seq",
            Seq,
            sa.ForeignKey("deployments.seq", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("position", sa.Integer, primary_key=True),
        sa.Column("operation_id", sa.String(64), nullable=False),
        sa.Column("resource_id", sa.Text, nullable=False),
        sa.Column("body", sa.JSON, nullable=False),
        sa.Column("modified_at", Utc, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("deployment_operations")
    op.drop_index("ix_deployments_state", table_name="deployments")
    op.drop_index("ix_deployments_scope_seq", table_name="deployments")
    op.drop_table("deployments")
