"""``job download``: the artifact folder and each named output, mirrored locally.

- ``DIR/artifacts/...`` mirrors the job's artifact folder (``user_logs/``, ``outputs/`` ...);
- ``DIR/named-outputs/<name>/...`` holds each output binding's files (a binding without
  ``pathOnDatastore`` lives at ``azureml/<job>/<name>/`` on its datastore).

A sweep has no files of its own: as ``az ml job download`` does, its best trial's are fetched.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from amlite.cli.common import BadInput
from amlite.cli.follow import artifacts_location
from amlite.cli.sweeps import is_sweep
from amlite.client import DEFAULT_DATASTORE, AmliteClient
from amlite.domain import run_properties as P
from amlite.domain.arm_id import parse_resource_id
from amlite.domain.json_value import JsonObject, JsonValue, member, text


@dataclass
class Downloaded:
    """What ``job download`` fetched: ``job``'s files; for a sweep, its best trial's."""

    job: str
    files: list[Path]
    sweep: str | None = None
    metric: str | None = None
    score: str | None = None


def download(client: AmliteClient, name: str, dest: Path) -> Downloaded:
    """Download a job's files under ``dest``; for a sweep, those of its best trial."""
    job = client.get_job(name)
    if not is_sweep(job):
        return Downloaded(name, download_job(client, job, dest))
    props = member(job, "properties")
    best = text(member(props, "properties", P.BEST_CHILD_RUN_ID))
    if not best:
        raise BadInput(
            f"sweep {name} ({member(props, 'status')}) has no best trial yet: "
            "no trial has reported its primary metric"
        )
    metric = text(member(props, "objective", "primaryMetric")) or text(
        member(props, "properties", P.PRIMARY_METRIC)
    )
    score = text(member(props, "properties", P.SCORE))
    files = download_job(client, client.get_job(best), dest)
    return Downloaded(best, files, sweep=name, metric=metric, score=score)


def download_job(client: AmliteClient, job: JsonObject, dest: Path) -> list[Path]:
    """Download a job's files under ``dest``; returns the files written."""
    written: list[Path] = []
    where = artifacts_location(job)
    if where is not None:
        written += mirror(client, where[0], where[1], dest / "artifacts")
    for out_name, binding in named_outputs(job).items():
        datastore, path = binding
        written += mirror(client, datastore, path, dest / "named-outputs" / out_name)
    return written


def named_outputs(job: JsonObject) -> dict[str, tuple[str, str]]:
    """Output name -> (datastore, path on it)."""
    bindings = member(job, "properties", "outputDataBindings")
    result: dict[str, tuple[str, str]] = {}
    for out_name, binding in (bindings if isinstance(bindings, dict) else {}).items():
        ref = parse_resource_id(str(member(binding, "datastoreId") or ""))
        datastore = ref.name if ref is not None else DEFAULT_DATASTORE
        path = member(binding, "pathOnDatastore") or f"azureml/{job.get('name')}/{out_name}/"
        result[out_name] = (datastore, str(path).strip("/"))
    return result


def mirror(client: AmliteClient, datastore: str, path: str, dest: Path) -> list[Path]:
    """Copy every file below ``path`` on ``datastore`` into ``dest`` (folders kept)."""
    written: list[Path] = []
    dest.mkdir(parents=True, exist_ok=True)
    for entry in client.list_files(datastore, path):
        rel = PurePosixPath(str(entry.get("path", "")))
        if rel.is_absolute() or ".." in rel.parts or not rel.parts:
            continue
        target = dest.joinpath(*rel.parts)
        target.parent.mkdir(parents=True, exist_ok=True)
        remote = f"{path}/{rel.as_posix()}" if path else rel.as_posix()
        target.write_bytes(read_whole(client, datastore, remote, _size(entry.get("size"))))
        written.append(target)
    return written


def read_whole(client: AmliteClient, datastore: str, path: str, size: int) -> bytes:
    """A file's bytes, in as many ranged reads as the server needs (it caps each one)."""
    data = client.get_file(datastore, path)
    while len(data) < size:
        chunk = client.get_file(datastore, path, offset=len(data))
        if not chunk:
            break
        data += chunk
    return data


def _size(value: JsonValue) -> int:
    """A listing's ``size`` (a number; 0 when missing)."""
    return int(value) if isinstance(value, int | float | str) and value else 0
