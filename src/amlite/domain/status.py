"""The job status machine: one table of allowed edges, one check.

Status path (SEMANTICS.md): NotStarted -> Starting -> Preparing -> Queued -> Running
-> Finalizing -> Completed | Failed; cancel: -> CancelRequested -> Canceled.
Any non-terminal status may also go to Failed (a job that cannot be prepared, or whose
process vanished).
"""

from __future__ import annotations

from enum import StrEnum

from amlite.errors import InvalidTransition


class JobStatus(StrEnum):
    NOT_STARTED = "NotStarted"
    STARTING = "Starting"
    PROVISIONING = "Provisioning"
    PREPARING = "Preparing"
    QUEUED = "Queued"
    RUNNING = "Running"
    FINALIZING = "Finalizing"
    CANCEL_REQUESTED = "CancelRequested"
    COMPLETED = "Completed"
    FAILED = "Failed"
    CANCELED = "Canceled"
    NOT_RESPONDING = "NotResponding"
    PAUSED = "Paused"
    UNKNOWN = "Unknown"

    @property
    def is_terminal(self) -> bool:
        return self in TERMINAL


S = JobStatus
TERMINAL = frozenset({S.COMPLETED, S.FAILED, S.CANCELED})
ACCEPT_PATH = (S.STARTING, S.PREPARING, S.QUEUED)
"""The statuses a validated, stored job passes on its way into the queue."""
ACTIVE = frozenset({S.NOT_STARTED, S.STARTING, S.PREPARING, S.QUEUED, S.RUNNING, S.FINALIZING})

_FORWARD: dict[JobStatus, frozenset[JobStatus]] = {
    S.NOT_STARTED: frozenset({S.STARTING}),
    S.STARTING: frozenset({S.PREPARING}),
    S.PREPARING: frozenset({S.QUEUED}),
    S.QUEUED: frozenset({S.RUNNING}),
    S.RUNNING: frozenset({S.FINALIZING, S.COMPLETED}),
    S.FINALIZING: frozenset({S.COMPLETED}),
    S.CANCEL_REQUESTED: frozenset({S.CANCELED}),
}

ALLOWED: dict[JobStatus, frozenset[JobStatus]] = {
    status: _FORWARD.get(status, frozenset())
    | (frozenset({S.CANCEL_REQUESTED, S.FAILED}) if status in ACTIVE else frozenset())
    | (frozenset({S.FAILED}) if status is S.CANCEL_REQUESTED else frozenset())
    for status in JobStatus
}
"""Every allowed edge. Terminal statuses have none."""


def check_transition(current: JobStatus, new: JobStatus) -> None:
    """Raise InvalidTransition unless ``current -> new`` is in the table."""
    if new not in ALLOWED[current]:
        raise InvalidTransition(f"a job cannot go from {current.value} to {new.value}")


def provisioning_state(status: JobStatus) -> str:
    """The ARM ``provisioningState`` of a job resource.

    It describes the resource, not the run (Azure's examples show ``Succeeded`` for a
    Running job): ``InProgress`` until the job is accepted into the queue, then
    ``Succeeded``; ``Failed`` only for a job that failed before it was queued.
    """
    if status in (S.NOT_STARTED, S.STARTING, S.PREPARING):
        return "InProgress"
    return "Succeeded"
