"""The store's tables (SQLAlchemy Core). The migrations in ``migrations/versions`` create them.

Keep this file and the newest migration in step: ``tests/store/test_migrations.py`` checks
that the migrated schema matches these definitions.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.types import TypeDecorator

NO_VERSION = ""
"""How a container (or a datastore / compute) is stored in ``assets.version``: NULL would not
take part in the unique constraint."""


class UtcDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC datetime on every backend (SQLite keeps it as naive UTC)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        value = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if isinstance(value, str):  # raw text read back from SQLite
            value = datetime.fromisoformat(value)
        assert isinstance(value, datetime)
        return as_utc(value)


def utcnow() -> datetime:
    return datetime.now(UTC)


def as_utc(value: datetime) -> datetime:
    """A datetime as ``UtcDateTime`` reads it back: aware, in UTC (naive means UTC)."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


# An INTEGER PRIMARY KEY on SQLite (the rowid), BIGINT elsewhere.
SeqType = BigInteger().with_variant(Integer(), "sqlite")

metadata = MetaData()

workspaces = Table(
    "workspaces",
    metadata,
    Column("key", String(400), primary_key=True),
    Column("subscription", String(200), nullable=False),
    Column("resource_group", String(200), nullable=False),
    Column("workspace", String(200), nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
)

jobs = Table(
    "jobs",
    metadata,
    Column("seq", SeqType, primary_key=True, autoincrement=True),
    Column(
        "workspace_key",
        String(400),
        ForeignKey("workspaces.key", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("name", String(255), nullable=False),
    Column("job_type", String(50), nullable=False),
    Column("status", String(50), nullable=False),
    Column("priority", Integer, nullable=False),
    Column("experiment_name", String(255), nullable=False),
    Column("parent_name", String(255), nullable=True),
    Column("compute", String(255), nullable=False),
    Column("spec", JSON, nullable=False),
    Column("runtime", JSON, nullable=False),
    Column("system_properties", JSON, nullable=False),
    Column("status_reason", Text, nullable=True),
    Column("exit_code", Integer, nullable=True),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("modified_at", UtcDateTime(), nullable=False),
    Column("owner", String(200), nullable=True),
    Column("owner_epoch", Integer, nullable=False, server_default="0"),
    UniqueConstraint("workspace_key", "name", name="uq_jobs_workspace_name"),
    Index("ix_jobs_workspace_seq", "workspace_key", "seq"),
    Index("ix_jobs_workspace_parent_seq", "workspace_key", "parent_name", "seq"),
    sqlite_autoincrement=True,
)
# Queued jobs are claimed highest priority first, then in submission order.
Index("ix_jobs_status_priority_seq", jobs.c.status, jobs.c.priority.desc(), jobs.c.seq)

# The servers sharing the database (docs/high-availability.md): each renews its row's lease
# (``expires``: seconds since the epoch on the database's clock); ``jobs.owner`` names the
# server that runs a job or holds a sweep's controller.
servers = Table(
    "servers",
    metadata,
    Column("id", String(200), primary_key=True),
    Column("host", String(255), nullable=False),
    Column("pid", Integer, nullable=False),
    Column("pid_start", BigInteger, nullable=True),
    Column("expires", Float, nullable=False),
)

job_tags = Table(
    "job_tags",
    metadata,
    Column("job_seq", SeqType, ForeignKey("jobs.seq", ondelete="CASCADE"), primary_key=True),
    Column("key", String(255), primary_key=True),
    Column("value", Text, nullable=False),
    Index("ix_job_tags_key_job", "key", "job_seq"),
)

status_events = Table(
    "status_events",
    metadata,
    Column("id", SeqType, primary_key=True, autoincrement=True),
    Column("job_seq", SeqType, ForeignKey("jobs.seq", ondelete="CASCADE"), nullable=False),
    Column("status", String(50), nullable=False),
    Column("at", UtcDateTime(), nullable=False),
    Column("reason", Text, nullable=True),
    Index("ix_status_events_job_id", "job_seq", "id"),
)

metrics = Table(
    "metrics",
    metadata,
    Column("id", SeqType, primary_key=True, autoincrement=True),
    Column("job_seq", SeqType, ForeignKey("jobs.seq", ondelete="CASCADE"), nullable=False),
    Column("key", String(255), nullable=False),
    Column("value", Float, nullable=True),  # NULL is NaN (SQLite cannot store NaN)
    Column("step", BigInteger, nullable=False),
    Column("timestamp", BigInteger, nullable=False),
    Index("ix_metrics_job_key_id", "job_seq", "key", "id"),
)

run_params = Table(
    "run_params",
    metadata,
    Column("job_seq", SeqType, ForeignKey("jobs.seq", ondelete="CASCADE"), primary_key=True),
    Column("key", String(255), primary_key=True),
    Column("value", Text, nullable=False),
)

run_tags = Table(
    "run_tags",
    metadata,
    Column("job_seq", SeqType, ForeignKey("jobs.seq", ondelete="CASCADE"), primary_key=True),
    Column("key", String(255), primary_key=True),
    Column("value", Text, nullable=False),
)

assets = Table(
    "assets",
    metadata,
    Column("seq", SeqType, primary_key=True, autoincrement=True),
    Column("workspace_key", String(400), nullable=False),
    Column("kind", String(50), nullable=False),
    Column("name", String(255), nullable=False),
    Column("version", String(255), nullable=False),
    Column("body", JSON, nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("modified_at", UtcDateTime(), nullable=False),
    UniqueConstraint(
        "workspace_key", "kind", "name", "version", name="uq_assets_workspace_kind_name_version"
    ),
    Index("ix_assets_workspace_kind_seq", "workspace_key", "kind", "seq"),
    sqlite_autoincrement=True,
)

tokens = Table(
    "tokens",
    metadata,
    Column("token_hash", String(128), primary_key=True),
    Column("workspace_key", String(400), nullable=True),
    Column("job_name", String(255), nullable=True),
    Column("job_seq", SeqType, ForeignKey("jobs.seq", ondelete="CASCADE"), nullable=True),
    Column("created_at", UtcDateTime(), nullable=False),
    Index("ix_tokens_job_seq", "job_seq"),
)

# Deployments (Microsoft.Resources/deployments) of a resource group and their operations.
deployments = Table(
    "deployments",
    metadata,
    Column("seq", SeqType, primary_key=True, autoincrement=True),
    Column("scope_key", String(400), nullable=False),
    Column("name", String(64), nullable=False),
    Column("state", String(50), nullable=False),
    Column("body", JSON, nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("modified_at", UtcDateTime(), nullable=False),
    UniqueConstraint("scope_key", "name", name="uq_deployments_scope_name"),
    Index("ix_deployments_scope_seq", "scope_key", "seq"),
    Index("ix_deployments_state", "state"),
    sqlite_autoincrement=True,
)

deployment_operations = Table(
    "deployment_operations",
    metadata,
    Column(
        "deployment_seq",
        SeqType,
        ForeignKey("deployments.seq", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("position", Integer, primary_key=True),
    Column("operation_id", String(64), nullable=False),
    Column("resource_id", Text, nullable=False),
    Column("body", JSON, nullable=False),
    Column("modified_at", UtcDateTime(), nullable=False),
)
