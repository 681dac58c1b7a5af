"""The YAML front door: job documents as people write them -> a 2021-03-01-preview REST body.

Three shapes are accepted:

- a REST body ``{"properties": {...}}`` (JSON or YAML), used as is;
- CLI v2 YAML of 2021 (``type: command_job | sweep_job``, ``code: {local_path}``,
  ``inputs.x: {data: ..., mode: mount}``, ``compute: {target}``, ``timeout_minutes`` ...);
- current CLI v2 YAML (``type: command | sweep``, ``code: src``, ``inputs.x: {type, path, mode}``,
  literal inputs, ``outputs``, ``resources``, ``limits``, ``sampling_algorithm`` ...).

Both YAML forms are read by one tolerant translator (a key means the same in either form).
The result, a :class:`JobDocument`, holds the REST body whose references are still unresolved
plus the work the client must do first: upload local code and data, register inline
environments and remote data, and turn ``azureml:`` references into full ARM ids. Each such
item names the place in the body (``target``) where the resolved id goes.

Decisions (where Azure's 2021 API has no field): literal inputs are substituted into the
command text here; ``display_name`` becomes ``properties.display_name``; a missing compute
(or ``local``) means the workspace's ``local`` compute.

Modules: :mod:`.document` (the result and its errors), :mod:`.translator` (entry points, job
types), :mod:`.inputs` (inputs, outputs, literals), :mod:`.environment` (code, environment,
compute, distribution, identity), :mod:`.sweep` (sweep settings), :mod:`.durations`
(seconds -> ISO 8601) and :mod:`.base` (state and checks shared by the translator's parts).
"""

from __future__ import annotations

from amlite.errors import JobDocumentError
from amlite.schemas.yaml.document import (
    UNSUPPORTED,
    InlineEnvironment,
    JobDocument,
    LocalUpload,
    Reference,
    RemoteData,
    Target,
    set_at,
)
from amlite.schemas.yaml.durations import seconds_to_iso, seconds_to_iso_minutes
from amlite.schemas.yaml.translator import load_job_document, translate

__all__ = [
    "UNSUPPORTED",
    "InlineEnvironment",
    "JobDocument",
    "JobDocumentError",
    "LocalUpload",
    "Reference",
    "RemoteData",
    "Target",
    "load_job_document",
    "seconds_to_iso",
    "seconds_to_iso_minutes",
    "set_at",
    "translate",
]
