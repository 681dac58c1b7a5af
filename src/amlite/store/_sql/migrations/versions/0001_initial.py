"""Initial schema: workspaces, jobs, tags, status events, metrics, assets, tokens.

Revision ID: 0001_initial
Revises:
Create Date: 2024-01-01 00:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001_initial"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Frozen copies of the types as they were at this revision (never import tables.py here).
Seq = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
When = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "workspaces",
        sa.Column("key", sa.String(400), primary_key=True),
        sa.Column("subscription", sa.String(200), nullable=False),
        sa.Column("resource_group", sa.String(200), nullable=False),
        sa.Column("workspace", sa.String(200), nullable=False),
        sa.Column("created_at", When, nullable=False),
    )
    op.create_table(
        "jobs",
        sa.Column("seq", Seq, primary_key=True, autoincrement=True),
        sa.Column(
            "workspace_key",
            sa.String(400),
            sa.ForeignKey("workspaces.key", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("job_type", sa.String(50), nullable=False),
        sa.Column("status", sa.String(50), nullable=False),
        sa.Column("priority", sa.Integer, nullable=False),
        sa.Column("experiment_name", sa.String(255), nullable=False),
        sa.Column("parent_name", sa.String(255), nullable=True),
        sa.Column("compute", sa.String(255), nullable=False),
        sa.Column("spec", sa.JSON, nullable=False),
        sa.Column("runtime", sa.JSON, nullable=False),
        sa.Column("system_properties", sa.JSON, nullable=False),
        sa.Column("status_reason", sa.Text, nullable=True),
        sa.Column("exit_code", sa.Integer, nullable=True),
        sa.Column("created_at", When, nullable=False),
        sa.Column("modified_at", When, nullable=False),
        sa.UniqueConstraint("workspace_key", "name", name="uq_jobs_workspace_name"),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_jobs_workspace_seq", "jobs", ["workspace_key", "seq"])
    op.create_index("ix_jobs_workspace_parent_seq", "jobs", ["workspace_key", "parent_name", "seq"])
    op.create_index(
        "ix_jobs_status_priority_seq", "jobs", ["status", sa.text("priority DESC"), "seq"]
    )
    op.create_table(
        "job_tags",
        sa.Column("job_seq", Seq, sa.ForeignKey("jobs.seq", ondelete="CASCADE"), primary_key=True),
        sa.Column("key", sa.String(255), primary_key=True),
        sa.Column("value", sa.Text, nullable=False),
    )
    op.create_index("ix_job_tags_key_job", "job_tags", ["key", "job_seq"])
    op.create_table(
        "status_events",
        sa.Column("id", Seq, primary_key=True, autoincrement=True),
        sa.Column("job_seq", Seq, sa.ForeignKey("jobs.seq", ondelete="CASCADE"), nullable=False),
        sa.Column("status", sa.String(50), nullable=False),
        sa.Column("at", When, nullable=False),
        sa.Column("reason", sa.Text, nullable=True),
    )
    op.create_index("ix_status_events_job_id", "status_events", ["job_seq", "id"])
    op.create_table(
        "metrics",
        sa.Column("id", Seq, primary_key=True, autoincrement=True),
        sa.Column("job_seq", Seq, sa.ForeignKey("jobs.seq", ondelete="CASCADE"), nullable=False),
        sa.Column("key", sa.String(255), nullable=False),
        sa.Column("value", sa.Float, nullable=False),
        sa.Column("step", sa.BigInteger, nullable=False),
        sa.Column("timestamp", sa.BigInteger, nullable=False),
    )
    op.create_index("ix_metrics_job_key_step", "metrics", ["job_seq", "key", "step"])
    op.create_table(
        "assets",
        sa.Column("seq", Seq, primary_key=True, autoincrement=True),
        sa.Column("workspace_key", sa.String(400), nullable=False),
        sa.Column("kind", sa.String(50), nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("version", sa.String(255), nullable=False),
        sa.Column("body", sa.JSON, nullable=False),
        sa.Column("created_at", When, nullable=False),
        sa.Column("modified_at", When, nullable=False),
        sa.UniqueConstraint(
            "workspace_key",
            "kind",
            "name",
            "version",
            name="uq_assets_workspace_kind_name_version",
        ),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_assets_workspace_kind_seq", "assets", ["workspace_key", "kind", "seq"])
    op.create_table(
        "tokens",
        sa.Column("token_hash", sa.String(128), primary_key=True),
        sa.Column("workspace_key", sa.String(400), nullable=True),
        sa.Column("job_name", sa.String(255), nullable=True),
        sa.Column("job_seq", Seq, sa.ForeignKey("jobs.seq", ondelete="CASCADE"), nullable=True),
        sa.Column("created_at", When, nullable=False),
    )
    op.create_index("ix_tokens_job_seq", "tokens", ["job_seq"])


def downgrade() -> None:
    op.drop_table("tokens")
    op.drop_table("assets")
    op.drop_table("metrics")
    op.drop_table("status_events")
    op.drop_table("job_tags")
    op.drop_table("jobs")
    op.drop_table("workspaces")
