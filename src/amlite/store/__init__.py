"""Persistence of workspaces, assets, jobs, status history and tokens.

The store never sees wire models: it keeps plain dicts (the validated, normalized
``properties`` of a resource) and the records below.
"""

from amlite.store._base import (
    AssetRecord,
    DeploymentRecord,
    Fence,
    JobRecord,
    JobVersion,
    MetricPoint,
    MetricSummary,
    NewJob,
    OperationRecord,
    ServerRecord,
    StatusEvent,
    Store,
    TokenRecord,
    TrialRow,
    TrialsVersion,
)


def open_store(url: str) -> Store:
    """Open (and migrate to the newest schema) the store at a SQLAlchemy URL."""
    from amlite.store._sql.store import SqlStore

    return SqlStore.open(url)


__all__ = [
    "AssetRecord",
    "DeploymentRecord",
    "Fence",
    "JobRecord",
    "JobVersion",
    "MetricPoint",
    "MetricSummary",
    "NewJob",
    "OperationRecord",
    "ServerRecord",
    "StatusEvent",
    "Store",
    "TokenRecord",
    "TrialRow",
    "TrialsVersion",
    "open_store",
]
