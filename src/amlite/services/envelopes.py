"""How stored records look on the wire: the ARM envelope of jobs and assets."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from amlite.data.paths import artifacts_path
from amlite.domain import names
from amlite.domain.arm_id import PROVIDER, WorkspaceRef
from amlite.domain.json_value import JsonObject, JsonValue
from amlite.domain.status import provisioning_state
from amlite.store import AssetRecord, JobRecord

JOB_TYPE = f"{PROVIDER}/workspaces/jobs"
DEFAULT_DATASTORE = names.DEFAULT_DATASTORE
DEFAULT_COMPUTE = "local"


def iso(value: datetime) -> str:
    return value.isoformat().replace("+00:00", "Z")


def system_data(created: datetime, modified: datetime) -> JsonObject:
    return {
        "createdAt": iso(created),
        "createdBy": "amlite",
        "createdByType": "User",
        "lastModifiedAt": iso(modified),
        "lastModifiedBy": "amlite",
        "lastModifiedByType": "User",
    }


def job_resource(job: JobRecord, workspace: WorkspaceRef, public_url: str) -> JsonObject:
    """The ``JobBaseResource`` of a stored job."""
    props: JsonObject = dict(job.spec)
    stored = props.get("properties")
    user_props: JsonObject = dict(stored) if isinstance(stored, dict) else {}
    user_props.update(job.system_properties)
    if user_props:
        props["properties"] = user_props
    props["status"] = job.status.value
    props["provisioningState"] = provisioning_state(job.status)
    job_id = workspace.resource_id("jobs", job.name)
    props["interactionEndpoints"] = {
        "Studio": {
            "jobEndpointType": "Studio",
            "endpoint": f"{public_url}/#/jobs{job_id}",
            "properties": {},
        },
        "Tracking": {
            "jobEndpointType": "Tracking",
            "endpoint": f"{public_url}/mlflow",
            "properties": {},
        },
    }
    props["output"] = {
        "datastoreId": workspace.resource_id("datastores", DEFAULT_DATASTORE),
        "path": artifacts_path(job.name),
    }
    if job.job_type == "Command":
        props.setdefault("parameters", {})
    return {
        "id": job_id,
        "name": job.name,
        "type": JOB_TYPE,
        "properties": props,
        "systemData": system_data(job.created_at, job.modified_at),
    }


def asset_type(kind: str, versioned: bool) -> str:
    base = f"{PROVIDER}/workspaces/{kind}"
    return f"{base}/versions" if versioned else base


def asset_resource(record: AssetRecord, workspace: WorkspaceRef) -> JsonObject:
    body = _without_secrets(record.body) if record.kind == "datastores" else dict(record.body)
    versioned = record.version is not None
    return {
        "id": workspace.resource_id(record.kind, record.name, record.version),
        "name": record.version if versioned else record.name,
        "type": asset_type(record.kind, versioned),
        "properties": body,
        "systemData": system_data(record.created_at, record.modified_at),
    }


def _without_secrets(body: Mapping[str, JsonValue]) -> JsonObject:
    """Datastore secrets are write-only (``x-ms-secret``): never echoed back."""
    out: JsonObject = dict(body)
    stored = out.get("contents")
    contents: JsonObject = dict(stored) if isinstance(stored, dict) else {}
    creds = contents.get("credentials")
    if isinstance(creds, dict) and "secrets" in creds:
        contents["credentials"] = {k: v for k, v in creds.items() if k != "secrets"}
        out["contents"] = contents
    return out
