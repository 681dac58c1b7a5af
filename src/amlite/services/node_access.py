"""What a job's token may do on the datastore file endpoints: the paths its Ray nodes were
granted when it was submitted (``executors.ray.ship.grants``: its inputs to read, its
outputs and artifacts to read and write), writes only until the job ends. The admin token
may do anything; a token with no grants (a local job's) nothing."""

from __future__ import annotations

from amlite.config import Settings
from amlite.data import paths
from amlite.errors import Forbidden
from amlite.executors.ray.ship import granted
from amlite.store import Store


def check_file_access(
    store: Store,
    settings: Settings,
    token_workspace: str | None,
    token_job: str | None,
    workspace_key: str,
    datastore: str,
    path: str,
    write: bool,
) -> None:
    """Raise ``Forbidden`` unless the caller may read (or write) ``path`` on ``datastore``."""
    if token_job is None:  # the admin token
        return
    if token_workspace == workspace_key:
        run_dir = paths.run_dir(settings, workspace_key, token_job)
        if granted(run_dir, datastore, path, write):
            if not write:
                return
            job = store.get_job(workspace_key, token_job)
            if job is not None and not job.status.is_terminal:
                return
            raise Forbidden("the job has ended: its token can no longer write")
    raise Forbidden("a job's token can only read and cancel its own job")
