"""From a :class:`JobDocument` to a submitted job: upload, register, resolve, PUT.

- local code/data -> ``LocalUpload/<hash>/<name>`` on ``workspaceblobstore``, then an
  anonymous code/data version ``<name>/versions/<hash>``;
- URIs and datastore paths -> an anonymous data version;
- inline environments -> ``environments/CliV2AnonymousEnvironment/versions/<hash>``;
- ``azureml:NAME:VER``, ``azureml:NAME@latest``, bare names -> full ARM ids.
"""

from __future__ import annotations

import copy
import hashlib
import re
import secrets
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from amlite.cli.common import BadInput
from amlite.client import DEFAULT_DATASTORE, AmliteClient
from amlite.domain.arm_id import parse_reference
from amlite.domain.json_value import JsonObject

if TYPE_CHECKING:  # the schemas load only when a document is submitted (amlite.cli)
    from amlite.schemas.yaml import InlineEnvironment, JobDocument

ANONYMOUS_ENVIRONMENT = "CliV2AnonymousEnvironment"
LOCAL_COMPUTE = "local"

_ADJECTIVES = (
    "amber",
    "brave",
    "calm",
    "eager",
    "fancy",
    "gentle",
    "happy",
    "jolly",
    "keen",
    "lively",
    "mellow",
    "nimble",
    "proud",
    "quiet",
    "rapid",
    "shiny",
    "tidy",
    "witty",
)
_NOUNS = (
    "badger",
    "comet",
    "falcon",
    "garden",
    "harbor",
    "island",
    "kettle",
    "lantern",
    "meadow",
    "otter",
    "pepper",
    "river",
    "saddle",
    "tulip",
    "violin",
    "willow",
    "yarrow",
    "zebra",
)

Log = Callable[[str], None]


def generate_name() -> str:
    """A fresh valid job name such as ``amlite_jolly_otter_3fa2c1d9``."""
    return f"amlite_{secrets.choice(_ADJECTIVES)}_{secrets.choice(_NOUNS)}_{secrets.token_hex(4)}"


def submit_job(
    client: AmliteClient, doc: JobDocument, name: str | None = None, log: Log | None = None
) -> dict[str, Any]:
    """Prepare ``doc`` against the server and PUT it; returns the created job."""
    body = prepare(client, doc, log)
    return client.put_job(name or doc.name or generate_name(), body)


def prepare(client: AmliteClient, doc: JobDocument, log: Log | None = None) -> dict[str, Any]:
    """The REST body of ``doc`` with every upload done and every reference resolved."""
    from amlite.schemas.yaml import set_at  # loaded already: ``doc`` came from the schemas

    say = log or (lambda _msg: None)
    missing = [
        f"{u.source}: {u.local_path} does not exist"
        for u in doc.uploads
        if not u.local_path.exists()
    ]
    for env in doc.environments:
        for path in (env.conda_file, env.dockerfile, env.definition_file):
            if path is not None and not path.is_file():
                missing.append(f"{env.source}: {path} does not exist")
    if missing:
        raise BadInput("; ".join(missing))
    body = copy.deepcopy(doc.body)
    for upload in doc.uploads:
        say(f"uploading {upload.local_path}")
        set_at(body, upload.target, upload_asset(client, upload.kind, upload.local_path))
    for remote in doc.remote_data:
        set_at(body, remote.target, register_remote_data(client, remote.path, remote.datastore))
    for env in doc.environments:
        set_at(body, env.target, register_environment(client, env))
    for ref in doc.references:
        set_at(body, ref.target, resolve(client, ref.kind, ref.value, ref.source))
    return body


def content_hash(path: Path) -> str:
    """A stable hash of a file or of a folder's relative paths and contents."""
    digest = hashlib.sha256()
    files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
    for item in files:
        rel = item.name if item == path else item.relative_to(path).as_posix()
        digest.update(rel.encode() + b"\0")
        with item.open("rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                digest.update(chunk)
        digest.update(b"\0")
    return digest.hexdigest()[:32]


def asset_name(text: str, fallback: str) -> str:
    """A valid asset name made from ``text`` (``iris.csv`` -> ``iris_csv``)."""
    name = re.sub(r"[^A-Za-z0-9_-]", "_", text).strip("_-")[:200]
    return name if name and name[0].isalnum() else fallback


def upload_local(client: AmliteClient, kind: str, local: Path) -> tuple[str, str, str]:
    """Upload a file/folder to ``LocalUpload/<hash>/`` on the default datastore.

    Returns (content hash, datastore id, path of the asset on the datastore): a folder's own
    path, a data file's own path, or (for code) the folder holding the file.
    """
    digest = content_hash(local)
    remote_dir = f"LocalUpload/{digest}"
    if local.is_dir():
        path = f"{remote_dir}/{local.name}"
        client.upload_dir(DEFAULT_DATASTORE, local, path)
    else:
        client.put_file(DEFAULT_DATASTORE, f"{remote_dir}/{local.name}", local.read_bytes())
        path = remote_dir if kind == "codes" else f"{remote_dir}/{local.name}"
    return digest, client.workspace.resource_id("datastores", DEFAULT_DATASTORE), path


def upload_asset(client: AmliteClient, kind: str, local: Path) -> str:
    """Upload a local file/folder and register it as an anonymous ``kind`` (codes|data) version."""
    digest, datastore_id, path = upload_local(client, kind, local)
    name = asset_name(local.name, kind)
    props: JsonObject = {"datastoreId": datastore_id, "path": path, "isAnonymous": True}
    client.put_asset(kind, name, digest, {"properties": props})
    return client.workspace.resource_id(kind, name, digest)


def register_remote_data(client: AmliteClient, path: str, datastore: str | None) -> str:
    """An anonymous data version for a URI or a path on a datastore."""
    ws = client.workspace
    digest = hashlib.sha256(f"{datastore or ''}|{path}".encode()).hexdigest()[:32]
    name = asset_name(path.rstrip("/").rsplit("/", 1)[-1], "data")
    props: dict[str, Any] = {"path": path, "isAnonymous": True}
    if datastore:
        props["datastoreId"] = ws.resource_id("datastores", datastore)
    client.put_asset("data", name, digest, {"properties": props})
    return ws.resource_id("data", name, digest)


def environment_body(env: InlineEnvironment) -> dict[str, Any]:
    """The environment version body of an inline environment (files read now)."""
    image, conda, dockerfile = env.image, env.conda_text, None
    if env.definition_file is not None:
        import yaml  # lazy: amlite.cli

        spec = yaml.safe_load(env.definition_file.read_text(encoding="utf-8")) or {}
        if not isinstance(spec, dict):
            raise BadInput(f"{env.source}: {env.definition_file} is not an environment definition")
        image = spec.get("image") or (spec.get("docker") or {}).get("image") or image
        if spec.get("conda_file"):
            conda_path = env.definition_file.parent / str(spec["conda_file"]).removeprefix("file:")
            conda = conda_path.read_text(encoding="utf-8")
    if env.conda_file is not None:
        conda = env.conda_file.read_text(encoding="utf-8")
    if env.dockerfile is not None:
        dockerfile = env.dockerfile.read_text(encoding="utf-8")
    props: dict[str, Any] = {"isAnonymous": True}
    if conda:
        props["condaFile"] = conda
    if dockerfile:
        props["docker"] = {"dockerSpecificationType": "Build", "dockerfile": dockerfile}
    elif image:
        props["docker"] = {"dockerSpecificationType": "Image", "dockerImageUri": str(image)}
    return {"properties": props}


def register_environment(client: AmliteClient, env: InlineEnvironment) -> str:
    body = environment_body(env)
    digest = hashlib.sha256(repr(sorted(body["properties"].items())).encode()).hexdigest()[:32]
    client.put_asset("environments", ANONYMOUS_ENVIRONMENT, digest, body)
    return client.workspace.resource_id("environments", ANONYMOUS_ENVIRONMENT, digest)


def resolve(client: AmliteClient, kind: str, value: str, source: str = "") -> str:
    """The full ARM id of a reference; ``@latest`` or no version asks the server."""
    ws = client.workspace
    if value.startswith("azureml://registries/"):
        return value
    if kind in ("computes", "datastores"):
        ref = parse_reference(value, kind, ws)
        if ref is None:
            raise BadInput(f"{source}: {value!r} is not a {kind[:-1]} reference")
        return ref.workspace.resource_id(kind, ref.name)
    ref = parse_reference(value, kind, ws)
    if ref is None:
        raise BadInput(
            f"{source}: {value!r} is not a reference to {kind} "
            "(expected azureml:NAME:VERSION, azureml:NAME@latest or an ARM id)"
        )
    if ref.version and ref.version.lower() != "latest":
        return ref.id
    return ws.resource_id(kind, ref.name, latest_version(client, kind, ref.name, source))


def latest_version(client: AmliteClient, kind: str, name: str, source: str = "") -> str:
    versions = list(client.list_assets(kind, name))
    if not versions:
        raise BadInput(f"{source}: {kind} {name!r} has no versions")

    def key(item: dict[str, Any]) -> tuple[str, list[tuple[int, str]]]:
        created = str((item.get("systemData") or {}).get("createdAt") or "")
        parts = re.split(r"(\d+)", str(item.get("name", "")))
        return created, [(int(p), "") if p.isdigit() else (0, p) for p in parts if p]

    return str(max(versions, key=key).get("name"))
