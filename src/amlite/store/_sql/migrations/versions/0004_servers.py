"""Several servers on one database: the ``servers`` lease table and ``jobs.owner``.

Revision ID: 0004_servers
Revises: 0003_deployments
Create Date: 2026-12-05 00:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004_servers"
down_revision: str | None = "0003_deployments"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "servers",
        sa.Column("id", sa.String(200), primary_key=True),
        sa.Column("host", sa.String(255), nullable=False),
        sa.Column("pid", sa.Integer, nullable=False),
        sa.Column("pid_start", sa.BigInteger, nullable=True),
        sa.Column("expires", sa.Float, nullable=False),
    )
    # a nullable column without a default: a plain ALTER TABLE ADD COLUMN on both backends
    op.add_column("jobs", sa.Column("owner", sa.String(200), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("jobs") as batch:
        batch.drop_column("owner")
    op.drop_table("servers")
