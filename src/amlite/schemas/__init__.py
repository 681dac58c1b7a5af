"""Wire models of the Azure ML jobs contract (api-version 2021-03-01-preview) and request
validation: every PUT body goes through ``parse_job``, ``parse_asset`` or ``parse_compute``,
which answer the normalised properties (spec casing) or raise ``ValidationFailed`` listing
every violation with its JSON path."""

from amlite.schemas.arm import error_envelope
from amlite.schemas.assets import parse_asset
from amlite.schemas.computes import parse_compute
from amlite.schemas.durations import normalize_duration
from amlite.schemas.jobs import parse_job, parse_job_spec

__all__ = [
    "error_envelope",
    "normalize_duration",
    "parse_asset",
    "parse_compute",
    "parse_job",
    "parse_job_spec",
]
