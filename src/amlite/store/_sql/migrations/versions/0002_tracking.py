"""MLflow tracking: run params and run tags; metrics ordered by logging order; NaN as NULL.

Revision ID: 0002_tracking
Revises: 0001_initial
Create Date: 2024-01-02 00:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002_tracking"
down_revision: str | None = "0001_initial"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Frozen copies of the types as they were at this revision (never import tables.py here).
Seq = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _pairs(name: str) -> None:
    op.create_table(
        name,
        sa.Column("job_seq", Seq, sa.ForeignKey("jobs.seq", ondelete="CASCADE"), primary_key=True),
        sa.Column("key", sa.String(255), primary_key=True),
        sa.Column("value", sa.Text, nullable=False),
    )


def upgrade() -> None:
    _pairs("run_params")
    _pairs("run_tags")
    # "The N-th logged value" is read in id order per (job, key); NaN is stored as NULL.
    op.drop_index("ix_metrics_job_key_step", table_name="metrics")
    with op.batch_alter_table("metrics") as batch:
        batch.alter_column("value", existing_type=sa.Float, nullable=True)
    op.create_index("ix_metrics_job_key_id", "metrics", ["job_seq", "key", "id"])


def downgrade() -> None:
    op.drop_index("ix_metrics_job_key_id", table_name="metrics")
    op.execute("DELETE FROM metrics WHERE value IS NULL")
    with op.batch_alter_table("metrics") as batch:
        batch.alter_column("value", existing_type=sa.Float, nullable=False)
    op.create_index("ix_metrics_job_key_step", "metrics", ["job_seq", "key", "step"])
    op.drop_table("run_tags")
    op.drop_table("run_params")
