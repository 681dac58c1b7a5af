"""Turn a stored Command job (or sweep trial) into a fully resolved ``RunPlan``.

Everything the supervisor needs is looked up here: the code snapshot, the environment, input
data and output destinations on their datastores, the environment variables of the job
(SEMANTICS.md, "Running a command job"), the command with its placeholders substituted, and
the processes of a distributed job (``amlite.executors.launchers``).
Missing or unusable assets raise ``ExecutionError``; the job then fails with that message.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from amlite.config import Settings
from amlite.data import paths
from amlite.data.backends import AzureBlobContainer, blob_account, blob_name
from amlite.data.bindings import (
    Binding,
    Location,
    bind_input,
    bind_output,
    is_http,
    local_path_of,
    split_azureml_uri,
)
from amlite.data.blob_bindings import bind_blob_input, bind_blob_output, write_validity
from amlite.domain.arm_id import WorkspaceRef, parse_reference, parse_resource_id
from amlite.domain.names import ASSET_NAME_PATTERN, is_asset_name
from amlite.domain.placeholders import PlaceholderContextError, substitute
from amlite.domain.specs import CommandJobSpec, InputBinding, ManagedIdentity, OutputBinding
from amlite.errors import ExecutionError
from amlite.executors._base import EnvironmentBuild, FileStep, NodeSlot, RunPlan
from amlite.executors.launchers import launch
from amlite.services.asset_cache import AssetReader
from amlite.services.environments import resolve_environment
from amlite.store._base import AssetRecord, JobRecord, Store

SWEEP_PREFIX = "AZUREML_SWEEP_"


@dataclass(frozen=True)
class _BlobPath:
    """A path on a blob datastore."""

    uri: str
    container: AzureBlobContainer
    path: str

    def probe(self, what: str) -> tuple[bool, bool]:
        """(exists, is a single file), asking the storage account."""
        try:
            return self.container.exists(self.path)
        except Exception as exc:
            raise ExecutionError(f"{what}: the datastore's storage failed: {exc}") from exc

    def signed(self, what: str, bind: Any, *args: Any, **kwargs: Any) -> Binding:
        try:
            return bind(*args, **kwargs)
        except ValueError as exc:
            raise ExecutionError(f"{what}: {exc}") from exc
        except Exception as exc:
            raise ExecutionError(f"{what}: the datastore's storage failed: {exc}") from exc


@dataclass(frozen=True)
class RuntimeContext:
    settings: Settings
    tracking_uri: str
    server_url: str


class _Resolver:
    """Asset and datastore lookups for one job."""

    def __init__(
        self, store: Store, settings: Settings, ws: WorkspaceRef, assets: AssetReader | None
    ) -> None:
        self.store = store
        self.assets = assets or store
        """Where assets are read by name and version (the scheduler's ``AssetCache``)."""
        self.settings = settings
        self.ws = ws

    def asset(self, kind: str, ref_text: str, what: str) -> AssetRecord:
        ref = parse_reference(ref_text, kind, self.ws)
        if ref is None:
            raise ExecutionError(f"{what}: {ref_text!r} is not a reference to {kind}")
        key = ref.workspace.key
        if ref.version is None or ref.version.lower() == "latest":
            record = self.store.latest_version(key, kind, ref.name)
        else:
            record = self.assets.get_asset(key, kind, ref.name, ref.version)
        if record is None:
            version = f" version {ref.version}" if ref.version else ""
            raise ExecutionError(f"{what}: {kind} {ref.name!r}{version} does not exist")
        return record

    def datastore(self, ref_text: str | None, what: str) -> tuple[str, Path]:
        """(name, local root) of a datastore reference (default ``workspaceblobstore``)."""
        if not ref_text:
            return paths.DEFAULT_DATASTORE, self._root(self.ws.key, paths.DEFAULT_DATASTORE)
        ref = parse_reference(ref_text, "datastores", self.ws)
        if ref is None:
            raise ExecutionError(f"{what}: {ref_text!r} is not a datastore reference")
        key = ref.workspace.key
        if ref.name.lower() != paths.DEFAULT_DATASTORE and (
            self.assets.get_asset(key, "datastores", ref.name) is None
        ):
            raise ExecutionError(f"{what}: datastore {ref.name!r} does not exist")
        return ref.name, self._root(key, ref.name)

    def _root(self, key: str, name: str) -> Path:
        try:
            return paths.datastore_root(self.settings, key, name)
        except ValueError as exc:
            raise ExecutionError(f"invalid datastore {name!r}: {exc}") from exc

    def on_datastore(self, datastore_ref: str | None, rel: str, what: str) -> tuple[str, Path]:
        """(URI, local path) of ``rel`` on a datastore; refuses paths that leave it."""
        name, root = self.datastore(datastore_ref, what)
        try:
            local = paths.safe_join(root, rel.lstrip("/") if rel else "")
        except paths.PathEscapeError as exc:
            raise ExecutionError(f"{what}: {exc}") from exc
        return paths.datastore_uri(name, rel), local

    def blob(self, datastore_ref: str | None, rel: str, what: str) -> _BlobPath | None:
        """``rel`` on a blob datastore, or None when the datastore is on local disk."""
        name = paths.DEFAULT_DATASTORE
        key = self.ws.key
        if datastore_ref:
            ref = parse_reference(datastore_ref, "datastores", self.ws)
            if ref is None:
                raise ExecutionError(f"{what}: {datastore_ref!r} is not a datastore reference")
            name, key = ref.name, ref.workspace.key
        record = self.assets.get_asset(key, "datastores", name)
        account = blob_account(record.body) if record is not None else None
        if account is None:
            return None
        try:
            path = blob_name(rel or "")
        except paths.PathEscapeError as exc:
            raise ExecutionError(f"{what}: {exc}") from exc
        return _BlobPath(paths.datastore_uri(name, path), AzureBlobContainer(account), path)

    def blob_location(self, path: str, datastore_ref: str | None, what: str) -> _BlobPath | None:
        """``location`` for a path on a blob datastore; None for anything else."""
        if is_http(path) or local_path_of(path) is not None:
            return None
        split = split_azureml_uri(path)
        if split is not None:
            return self.blob(split[0], split[1], what)
        if "://" in path:
            return None
        return self.blob(datastore_ref, path, what)

    def location(self, path: str, datastore_ref: str | None, what: str) -> Location:
        """A data/code ``path`` (azureml://, http(s), file://, absolute, or datastore-relative)."""
        if is_http(path):
            return Location(uri=path, url=path)
        local = local_path_of(path)
        if local is not None:
            return Location(uri=path, local=local)
        split = split_azureml_uri(path)
        if split is not None:
            _, local = self.on_datastore(split[0], split[1], what)
            return Location(uri=path, local=local)
        if "://" in path:
            raise ExecutionError(f"{what}: unsupported location {path!r}")
        uri, local = self.on_datastore(datastore_ref, path, what)
        return Location(uri=uri, local=local)


def _place(wd: Path, default: Path, path_on_compute: str | None, what: str) -> Path:
    if not path_on_compute:
        return default
    try:
        return paths.safe_join(wd, path_on_compute)
    except paths.PathEscapeError as exc:
        raise ExecutionError(f"{what}.pathOnCompute: {exc}") from exc


def _binding_dir(run_dir: Path, sub: str, name: str, what: str) -> Path:
    """``run_dir/sub/name``, the default place of a binding; the name must be a plain word
    (the API refuses others: this guards jobs stored before that rule)."""
    if not is_asset_name(name):
        raise ExecutionError(f"{what}: binding name {name!r} must match {ASSET_NAME_PATTERN}")
    try:
        return paths.safe_join(run_dir / sub, name)
    except paths.PathEscapeError as exc:
        raise ExecutionError(f"{what}: {exc}") from exc


def _code_steps(res: _Resolver, code_id: str | None, wd: Path) -> list[FileStep]:
    if not code_id:
        return [FileStep("mkdir", "", str(wd))]
    body = res.asset("codes", code_id, "codeId").body
    path = str(body.get("path") or "")
    blob = res.blob_location(path, body.get("datastoreId"), "codeId")
    if blob is not None:
        exists, is_file = blob.probe("codeId")
        if not exists:
            raise ExecutionError(f"codeId: the code snapshot {blob.uri!r} does not exist")
        bound = blob.signed(
            "codeId", bind_blob_input, "code", blob.container, blob.path,
            is_file=is_file, mode="Download", mount_point=wd,
        )  # fmt: skip
        return bound.prepare
    loc = res.location(path, body.get("datastoreId"), "codeId")
    if loc.local is None:
        raise ExecutionError(f"codeId: code at {path!r} is not on a local datastore")
    if not loc.local.exists():
        raise ExecutionError(f"codeId: the code snapshot {loc.uri!r} does not exist")
    if loc.local.is_dir():
        return [FileStep("copy", str(loc.local), str(wd))]
    return [
        FileStep("mkdir", "", str(wd)),
        FileStep("copy", str(loc.local), str(wd / loc.local.name)),
    ]


def _bind_inputs(
    res: _Resolver, bindings: Mapping[str, InputBinding] | None, run_dir: Path, wd: Path
) -> dict[str, Binding]:
    out: dict[str, Binding] = {}
    for name, b in (bindings or {}).items():
        what = f"inputDataBindings.{name}"
        default = _binding_dir(run_dir, "inputs", name, what)
        data_id = b.data_id or ""
        if not data_id:
            raise ExecutionError(f"{what}: no dataId")
        is_uri = is_http(data_id) or local_path_of(data_id) or split_azureml_uri(data_id)
        if is_uri and parse_resource_id(data_id) is None:
            blob = res.blob_location(data_id, None, what)
            loc = res.location(data_id, None, what)
        else:
            body = res.asset("data", data_id, what).body
            data_path, data_store = str(body.get("path") or ""), body.get("datastoreId")
            blob = res.blob_location(data_path, data_store, what)
            loc = res.location(data_path, data_store, what)
        mount = _place(wd, default, b.path_on_compute, what)
        mode = b.mode
        if blob is not None and (mode or "").lower() != "direct":
            exists, is_file = blob.probe(what)
            if not exists:
                raise ExecutionError(f"{what}: data {blob.uri!r} does not exist")
            out[name] = blob.signed(
                what, bind_blob_input, name, blob.container, blob.path,
                is_file=is_file, mode=mode, mount_point=mount,
            )  # fmt: skip
            continue
        try:
            direct = (mode or "").lower() == "direct"
            if loc.local is not None and not direct and not loc.local.exists():
                raise ExecutionError(f"{what}: data {loc.uri!r} does not exist")
            out[name] = bind_input(name, loc, mode, mount)
        except ValueError as exc:
            raise ExecutionError(f"{what}: {exc}") from exc
    return out


def _bind_outputs(
    res: _Resolver,
    bindings: Mapping[str, OutputBinding] | None,
    job_name: str,
    run_dir: Path,
    wd: Path,
    timeout_seconds: float | None,
) -> dict[str, Binding]:
    out: dict[str, Binding] = {}
    for name, b in (bindings or {}).items():
        what = f"outputDataBindings.{name}"
        default = _binding_dir(run_dir, "outputs", name, what)
        rel = b.path_on_datastore or f"azureml/{job_name}/{name}/"
        mount = _place(wd, default, b.path_on_compute, what)
        blob = res.blob(b.datastore_id, rel, what)
        if blob is not None:
            out[name] = blob.signed(
                what, bind_blob_output, name, blob.container, blob.path,
                mode=b.mode, mount_point=mount, timeout_seconds=timeout_seconds,
            )  # fmt: skip
            continue
        _, target = res.on_datastore(b.datastore_id, rel, what)
        try:
            out[name] = bind_output(name, target, b.mode, mount)
        except ValueError as exc:
            raise ExecutionError(f"{what}: {exc}") from exc
    return out


def _runtime_env(
    job: JobRecord,
    spec: CommandJobSpec,
    ws: WorkspaceRef,
    token: str,
    ctx: RuntimeContext,
    experiment: str,
) -> dict[str, str]:
    env = {
        "AZUREML_RUN_ID": job.name,
        "AZUREML_ARM_SUBSCRIPTION": ws.subscription,
        "AZUREML_ARM_RESOURCEGROUP": ws.resource_group,
        "AZUREML_ARM_WORKSPACE_NAME": ws.workspace,
        "AZUREML_ARM_PROJECT_NAME": experiment,
        "AZUREML_RUN_TOKEN": token,
        "MLFLOW_TRACKING_URI": ctx.tracking_uri,
        "MLFLOW_RUN_ID": job.name,
        "MLFLOW_EXPERIMENT_ID": experiment,
        "MLFLOW_TRACKING_TOKEN": token,
    }
    if ctx.server_url:
        env["AMLITE_URL"] = ctx.server_url
    identity = spec.identity
    if isinstance(identity, ManagedIdentity) and identity.client_id:
        env["DEFAULT_IDENTITY_CLIENT_ID"] = identity.client_id
    return env


def _search_path(env: Mapping[str, str], environment: EnvironmentBuild | None) -> str | None:
    """The PATH the job's launcher programs (``mpirun``) are looked up on when planning;
    None when an environment is built first (it may bring them: the supervisor checks)."""
    if environment is not None:
        return None
    return env.get("PATH") or os.environ.get("PATH") or os.defpath


def build_plan(
    store: Store,
    job: JobRecord,
    *,
    token: str,
    ctx: RuntimeContext,
    extra_env: Mapping[str, str] | None = None,
    nodes: Sequence[NodeSlot] = (),
    workspace: WorkspaceRef | None = None,
    assets: AssetReader | None = None,
) -> RunPlan:
    """The plan that runs ``job`` (on ``nodes`` of a cluster, if given; in ``workspace``, if
    the caller already holds it; reading assets through ``assets`` if given, else the
    store); raises ``ExecutionError`` if it cannot be prepared."""
    ws = workspace or store.get_workspace(job.workspace_key)
    if ws is None:
        raise ExecutionError(f"workspace {job.workspace_key!r} does not exist")
    try:
        spec = job.job_spec
    except ValueError as exc:
        raise ExecutionError(f"the stored job is malformed: {exc}") from exc
    if not isinstance(spec, CommandJobSpec):
        raise ExecutionError(f"a {spec.job_type} job runs no command of its own")
    settings = ctx.settings
    res = _Resolver(store, settings, ws, assets)
    run_dir = paths.run_dir(settings, job.workspace_key, job.name)
    wd = run_dir / "wd"
    artifacts = paths.datastore_root(settings, job.workspace_key, paths.DEFAULT_DATASTORE)
    artifacts = artifacts / paths.artifacts_path(job.name)
    experiment = job.experiment_name or spec.experiment_name or "Default"

    prepare = _code_steps(res, spec.code_id, wd)
    inputs = _bind_inputs(res, spec.input_data_bindings, run_dir, wd)
    timeout_seconds = spec.timeout.seconds if spec.timeout is not None else None
    outputs = _bind_outputs(res, spec.output_data_bindings, job.name, run_dir, wd, timeout_seconds)
    finalize: list[FileStep] = []
    notes: list[str] = []
    for binding in [*inputs.values(), *outputs.values()]:
        prepare.extend(binding.prepare)
        finalize.extend(binding.finalize)
        notes.extend(binding.notes)
    for sub in ("outputs", "logs"):
        finalize.append(FileStep("copy_into", str(wd / sub), str(artifacts / sub)))
    blob_artifacts = res.blob(None, paths.artifacts_path(job.name), "artifacts")
    if blob_artifacts is not None:  # written here while the job runs, uploaded when it ends
        url = blob_artifacts.container.signed_url(
            blob_artifacts.path, write=True, valid_for=write_validity(timeout_seconds)
        )
        finalize.append(FileStep("blob_upload", str(artifacts), url))

    environment, fail_reason = None, None
    if spec.environment_id:
        env_body = res.asset("environments", spec.environment_id, "environmentId").body
        environment, fail_reason = resolve_environment(settings, env_body)
    if environment is not None and notes:
        environment = type(environment)(
            environment.dir,
            environment.python,
            environment.requirements,
            [*environment.notes, *notes],
        )

    extra = dict(extra_env or {})
    search_space = {
        k[len(SWEEP_PREFIX) :]: v for k, v in extra.items() if k.startswith(SWEEP_PREFIX)
    }
    try:
        command = substitute(
            spec.command,
            {k: b.path for k, b in inputs.items()},
            {k: b.path for k, b in outputs.items()},
            search_space,
        )
    except KeyError as exc:
        raise ExecutionError(f"command: placeholder {exc.args[0]} has no value") from exc
    except PlaceholderContextError as exc:
        raise ExecutionError(f"command: {exc}") from exc

    env: dict[str, str] = dict(spec.environment_variables or {})
    env.update(_runtime_env(job, spec, ws, token, ctx, experiment))
    env.update({f"AZURE_ML_INPUT_{k}": b.path for k, b in inputs.items()})
    env.update({f"AZURE_ML_OUTPUT_{k}": b.path for k, b in outputs.items()})
    env.update(extra)

    try:
        hosts = tuple(node.address for node in nodes) if len(nodes) > 1 else ()
        launched = launch(
            spec.workload(), command, str(artifacts), _search_path(env, environment), hosts
        )
    except ValueError as exc:
        raise ExecutionError(f"distribution: {exc}") from exc

    return RunPlan(
        job_id=ws.resource_id("jobs", job.name),
        run_dir=str(run_dir),
        working_dir=str(wd),
        artifacts_dir=str(artifacts),
        command=command,
        env=env,
        timeout_seconds=timeout_seconds,
        prepare=prepare,
        finalize=finalize,
        environment=environment,
        fail_reason=fail_reason or launched.fail_reason,
        processes=launched.processes,
        nodes=list(nodes),
        start_id=f"{job.workspace_key}/jobs/{job.name}/{job.seq}/{job.created_at.isoformat()}",
        slot_group=f"{job.workspace_key}/jobs/{job.parent_name}" if job.parent_name else "",
    )
