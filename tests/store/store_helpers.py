"""Helpers of the store tests (import as ``store_helpers``)."""

from __future__ import annotations

from typing import Any

from amlite.domain.arm_id import WorkspaceRef
from amlite.store import NewJob

WS = WorkspaceRef("00000000-sub", "My-RG", "My-Workspace")
OTHER_WS = WorkspaceRef("00000000-sub", "other-rg", "other")


def new_job(name: str, workspace: WorkspaceRef = WS, **kwargs: Any) -> NewJob:
    spec = kwargs.pop("spec", None) or {"command": f"echo {name}"}
    tags = kwargs.pop("tags", None)
    if tags is not None:
        spec = {**spec, "tags": tags}
    job_type = kwargs.pop("job_type", "Command")
    return NewJob(workspace=workspace, name=name, job_type=job_type, spec=spec, **kwargs)
