"""Fencing a stalled server's writes: ``jobs.owner_epoch``, raised by every claim.

Revision ID: 0005_fencing
Revises: 0004_servers
Create Date: 2026-12-05 21:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005_fencing"
down_revision: str | None = "0004_servers"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # a constant default: a plain ALTER TABLE ADD COLUMN on both backends
    op.add_column("jobs", sa.Column("owner_epoch", sa.Integer, nullable=False, server_default="0"))


def downgrade() -> None:
    with op.batch_alter_table("jobs") as batch:
        batch.drop_column("owner_epoch")
