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
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from amlite.errors import AmliteError

Target = tuple[str, ...]

UNSUPPORTED = "not supported by api-version 2021-03-01-preview"

_READ_ONLY = {
    "id",
    "status",
    "creation_context",
    "interaction_endpoints",
    "log_files",
    "output",
    "parameters",
    "services",
}
_COMMON = {
    "$schema",
    "type",
    "name",
    "display_name",
    "description",
    "tags",
    "properties",
    "experiment_name",
    "compute",
    "resources",
    "inputs",
    "outputs",
    "identity",
} | _READ_ONLY
_COMMAND = _COMMON | {
    "command",
    "code",
    "environment",
    "environment_variables",
    "distribution",
    "limits",
    "timeout",
}
_SWEEP = _COMMON | {
    "trial",
    "search_space",
    "objective",
    "algorithm",
    "sampling_algorithm",
    "early_termination",
    "limits",
    "max_total_trials",
    "max_concurrent_trials",
    "timeout_minutes",
    "timeout",
}
_TRIAL = {
    "$schema",
    "type",
    "command",
    "code",
    "environment",
    "environment_variables",
    "distribution",
    "inputs",
    "outputs",
    "compute",
    "resources",
    "limits",
    "timeout",
}

_MODES = {
    "mount": "ReadOnlyMount",
    "ro_mount": "ReadOnlyMount",
    "readonlymount": "ReadOnlyMount",
    "rw_mount": "ReadWriteMount",
    "readwritemount": "ReadWriteMount",
    "download": "Download",
    "direct": "Direct",
    "upload": "Upload",
    "evalmount": "EvalMount",
    "eval_mount": "EvalMount",
    "evaldownload": "EvalDownload",
    "eval_download": "EvalDownload",
}
_DATA_TYPES = {"uri_file", "uri_folder", "mltable", "mlflow_model", "custom_model", "triton_model"}
_LITERAL_TYPES = {"string", "integer", "number", "boolean"}
_ALGORITHMS = {"random": "Random", "grid": "Grid", "bayesian": "Bayesian"}
_POLICIES = {
    "bandit": "Bandit",
    "median_stopping": "MedianStopping",
    "medianstopping": "MedianStopping",
    "truncation_selection": "TruncationSelection",
    "truncationselection": "TruncationSelection",
}
_GOALS = {"maximize": "Maximize", "minimize": "Minimize"}
_DATASTORE_URI = re.compile(r"^azureml://datastores/(?P<ds>[^/]+)/paths/(?P<path>.*)$", re.I)
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")
_INPUT_REF = re.compile(r"\$\{\{\s*inputs\.([\w.-]+)\s*\}\}|\{inputs\.([\w.-]+)\}")
_SPACE_REF = re.compile(r"\$\{\{\s*search_space\.([\w.-]+)\s*\}\}|\{search_space\.([\w.-]+)\}")


class JobDocumentError(AmliteError):
    """A job document that cannot be translated; ``problems`` lists every ``where: what``."""

    def __init__(self, problems: list[str], source: Path | None = None) -> None:
        self.problems = list(problems)
        self.source = source
        where = f"{source}: " if source else ""
        super().__init__(where + "; ".join(self.problems))


@dataclass
class LocalUpload:
    """A local file or folder to upload and register as a code (``codes``) or data version."""

    kind: str
    local_path: Path
    target: Target
    source: str


@dataclass
class RemoteData:
    """A URI (https, wasbs, or a datastore path) to register as an anonymous data version."""

    path: str
    datastore: str | None
    target: Target
    source: str


@dataclass
class InlineEnvironment:
    """An environment written inline, to register as an anonymous environment version."""

    target: Target
    source: str
    image: str | None = None
    conda_file: Path | None = None
    conda_text: str | None = None
    dockerfile: Path | None = None
    definition_file: Path | None = None


@dataclass
class Reference:
    """``azureml:NAME[:VER|@latest]``, a bare name or an ARM id of ``kind`` to resolve."""

    kind: str
    value: str
    target: Target
    source: str


@dataclass
class JobDocument:
    body: dict[str, Any]
    source: Path
    name: str | None = None
    is_rest_body: bool = False
    is_local: bool = False
    uploads: list[LocalUpload] = field(default_factory=list)
    remote_data: list[RemoteData] = field(default_factory=list)
    environments: list[InlineEnvironment] = field(default_factory=list)
    references: list[Reference] = field(default_factory=list)

    @property
    def properties(self) -> dict[str, Any]:
        props: dict[str, Any] = self.body.setdefault("properties", {})
        return props

    @property
    def job_type(self) -> str:
        return str(self.properties.get("jobType", ""))


def set_at(body: dict[str, Any], target: Target, value: Any) -> None:
    """Set ``body[t0][t1]...`` to ``value``, creating dicts on the way."""
    node = body
    for key in target[:-1]:
        node = node.setdefault(key, {})
    node[target[-1]] = value


def load_job_document(path: Path, overrides: Mapping[str, Any] | None = None) -> JobDocument:
    """Read a job document (REST body, 2021 CLI YAML or current CLI YAML) from ``path``.

    ``overrides`` (``{"compute": "azureml:x", "inputs.epochs": 3}``) are applied to the YAML
    before translation, as ``--set`` does. Raises :class:`JobDocumentError`.
    """
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise JobDocumentError([f"cannot read the file: {exc.strerror or exc}"], path) from exc
    except yaml.YAMLError as exc:
        raise JobDocumentError([f"not valid YAML/JSON: {exc}"], path) from exc
    if not isinstance(raw, dict):
        raise JobDocumentError(["a job document must be a mapping"], path)
    for key, value in (overrides or {}).items():
        _apply_override(raw, key, value)
    return translate(raw, path)


def translate(raw: dict[str, Any], source: Path) -> JobDocument:
    """Translate an already parsed document; relative paths are relative to ``source``'s folder."""
    if (
        "properties" in raw
        and isinstance(raw["properties"], dict)
        and ("jobType" in raw["properties"] or set(raw) <= {"properties", "name", "id", "type"})
    ):
        doc = JobDocument(body=json.loads(json.dumps(raw)), source=source, is_rest_body=True)
        name = raw.get("name")
        doc.name = name if isinstance(name, str) and "/" not in name else None
        return doc
    return _Translator(source).run(raw)


def _apply_override(raw: dict[str, Any], key: str, value: Any) -> None:
    parts = key.split(".")
    node = raw
    for part in parts[:-1]:
        nxt = node.get(part)
        if not isinstance(nxt, dict):
            nxt = {}
            node[part] = nxt
        node = nxt
    node[parts[-1]] = value


def seconds_to_iso(value: Any) -> str:
    """``3600`` (seconds) -> ``PT3600S``; an ISO string is kept."""
    if isinstance(value, str) and value.upper().startswith("P"):
        return value.upper()
    return f"PT{int(float(value))}S"


def seconds_to_iso_minutes(value: Any) -> str:
    """``7200`` (seconds) -> ``PT120M``, rounding up (a sweep timeout has minute precision)."""
    if isinstance(value, str) and value.upper().startswith("P"):
        return value.upper()
    return f"PT{max(1, math.ceil(float(value) / 60))}M"


class _Translator:
    def __init__(self, source: Path) -> None:
        self.source = source
        self.base = source.parent
        self.problems: list[str] = []
        self.doc = JobDocument(body={"properties": {}}, source=source)

    # -- entry ---------------------------------------------------------------------------
    def run(self, raw: dict[str, Any]) -> JobDocument:
        kind = str(raw.get("type") or "command").lower()
        if not {"type", "command", "trial", "jobs"} & set(raw):
            self.problems.append(
                "not a job document: expected command (a command job) or trial (a sweep job)"
            )
        elif kind in ("command", "command_job"):
            self._command(raw)
        elif kind in ("sweep", "sweep_job"):
            self._sweep(raw)
        elif kind in ("automl", "pipeline", "pipeline_job", "automl_job", "spark", "parallel"):
            self.problems.append(f"type: {kind} jobs are {UNSUPPORTED} (only command and sweep)")
        else:
            self.problems.append(f"type: unknown job type {kind!r} (expected command or sweep)")
        if self.problems:
            raise JobDocumentError(self.problems, self.source)
        return self.doc

    def _unknown(self, raw: Mapping[str, Any], allowed: set[str], where: str) -> None:
        for key in raw:
            if key not in allowed:
                self.problems.append(f"{where}{key}: unknown key")

    def _common(self, raw: dict[str, Any], props: dict[str, Any]) -> None:
        if isinstance(raw.get("name"), str):
            self.doc.name = raw["name"]
        for key, wire in (("description", "description"), ("experiment_name", "experimentName")):
            if raw.get(key) is not None:
                props[wire] = str(raw[key])
        if raw.get("tags") is not None:
            props["tags"] = self._string_map(raw["tags"], "tags")
        extra = self._string_map(raw.get("properties") or {}, "properties")
        if raw.get("display_name") is not None:
            extra["display_name"] = str(raw["display_name"])
        if extra:
            props["properties"] = extra
        if raw.get("identity") is not None:
            props["identity"] = self._identity(raw["identity"])

    def _string_map(self, value: Any, where: str) -> dict[str, str]:
        if not isinstance(value, dict):
            self.problems.append(f"{where}: must be a mapping")
            return {}
        return {str(k): "" if v is None else str(v) for k, v in value.items()}

    # -- command -------------------------------------------------------------------------
    def _command(self, raw: dict[str, Any]) -> None:
        self._unknown(raw, _COMMAND, "")
        props = self.doc.properties
        props["jobType"] = "Command"
        self._common(raw, props)
        literals = self._inputs(raw.get("inputs"), ("properties",), "inputs")
        self._outputs(raw.get("outputs"), ("properties",), "outputs")
        self._component(raw, ("properties",), "", literals, search_space=None)
        props["compute"] = self._compute(raw.get("compute"), raw.get("resources"))
        timeout = raw.get("timeout", (raw.get("limits") or {}).get("timeout"))
        if isinstance(raw.get("limits"), dict):
            self._unknown(raw["limits"], {"timeout"}, "limits.")
        if timeout is not None:
            props["timeout"] = self._seconds(timeout, "timeout")

    def _component(
        self,
        raw: dict[str, Any],
        at: Target,
        where: str,
        literals: dict[str, str],
        search_space: dict[str, Any] | None,
    ) -> None:
        """Fields shared by a command job and a sweep's trial, written at ``at``."""
        node: dict[str, Any] = self.doc.body
        for key in at:
            node = node.setdefault(key, {})
        command = raw.get("command")
        if not isinstance(command, str) or not command.strip():
            self.problems.append(f"{where}command: required (a non-empty string)")
        else:
            node["command"] = self._substitute(command, literals, node, search_space, where)
        if raw.get("code") is not None:
            self._code(raw["code"], (*at, "codeId"), f"{where}code")
        if raw.get("environment") is not None:
            self._environment(raw["environment"], (*at, "environmentId"), f"{where}environment")
        if raw.get("environment_variables") is not None:
            node["environmentVariables"] = self._string_map(
                raw["environment_variables"], f"{where}environment_variables"
            )
        if raw.get("distribution") is not None:
            node["distribution"] = self._distribution(
                raw["distribution"], raw, f"{where}distribution"
            )

    def _substitute(
        self,
        command: str,
        literals: dict[str, str],
        node: dict[str, Any],
        search_space: dict[str, Any] | None,
        where: str,
    ) -> str:
        bound = set(node.get("inputDataBindings") or {})

        def repl(m: re.Match[str]) -> str:
            name = m.group(1) or m.group(2)
            if name in literals:
                return literals[name]
            if name not in bound:
                self.problems.append(
                    f"{where}command: refers to inputs.{name}, which is not defined"
                )
            return m.group(0)

        text = _INPUT_REF.sub(repl, command)
        if search_space is not None:
            for m in _SPACE_REF.finditer(text):
                name = m.group(1) or m.group(2)
                if name not in search_space:
                    self.problems.append(
                        f"{where}command: refers to search_space.{name}, which is not defined"
                    )
        return text

    # -- code, environment, compute ------------------------------------------------------
    def _code(self, value: Any, target: Target, where: str) -> None:
        if isinstance(value, dict):
            self._unknown(
                value,
                {
                    "local_path",
                    "path",
                    "arm_id",
                    "name",
                    "version",
                    "$schema",
                    "description",
                    "tags",
                    "datastore",
                    "id",
                },
                f"{where}.",
            )
            if value.get("local_path") is not None:
                value = value["local_path"]
            elif value.get("arm_id") is not None:
                value = value["arm_id"]
            elif value.get("name") is not None:
                value = f"azureml:{value['name']}" + (
                    f":{value['version']}" if value.get("version") is not None else ""
                )
            elif value.get("path") is not None:
                value = value["path"]
            else:
                self.problems.append(f"{where}: needs local_path, path or arm_id")
                return
        text = str(value)
        if text.startswith("azureml:") or text.lower().startswith("/subscriptions/"):
            self._reference("codes", text, target, where)
        elif _SCHEME.match(text):
            self.problems.append(
                f"{where}: remote code ({text}) is {UNSUPPORTED}; use a local folder"
            )
        else:
            self._upload("codes", text, target, where)

    def _upload(self, kind: str, text: str, target: Target, where: str) -> None:
        local = Path(text.removeprefix("file:")).expanduser()
        local = local if local.is_absolute() else (self.base / local)
        self.doc.uploads.append(LocalUpload(kind, local.resolve(), target, where))
        set_at(self.doc.body, target, f"file:{local.resolve()}")

    def _reference(self, kind: str, text: str, target: Target, where: str) -> None:
        self.doc.references.append(Reference(kind, text, target, where))
        set_at(self.doc.body, target, text)

    def _environment(self, value: Any, target: Target, where: str) -> None:
        if isinstance(value, str):
            if value.startswith("file:") or value.endswith((".yml", ".yaml")):
                local = self.base / value.removeprefix("file:")
                env = InlineEnvironment(target, where, definition_file=local.resolve())
                self._inline(env)
            else:
                self._reference("environments", value, target, where)
            return
        if not isinstance(value, dict):
            self.problems.append(f"{where}: must be a reference or a mapping")
            return
        self._unknown(
            value,
            {
                "$schema",
                "name",
                "version",
                "description",
                "tags",
                "image",
                "docker",
                "conda_file",
                "build",
                "os_type",
                "arm_id",
                "inference_config",
            },
            f"{where}.",
        )
        if value.get("arm_id"):
            self._reference("environments", str(value["arm_id"]), target, where)
            return
        env = InlineEnvironment(target, where)
        docker = value.get("docker") or {}
        if not isinstance(docker, dict):
            self.problems.append(f"{where}.docker: must be a mapping")
            docker = {}
        self._unknown(docker, {"image", "build"}, f"{where}.docker.")
        image = value.get("image") or docker.get("image")
        env.image = str(image) if image else None
        build = value.get("build") or docker.get("build")
        if isinstance(build, dict):
            ctx = self.base / str(build.get("path") or build.get("context") or ".")
            dockerfile = build.get("dockerfile_path") or build.get("dockerfile") or "Dockerfile"
            env.dockerfile = (ctx / str(dockerfile).removeprefix("file:")).resolve()
        conda = value.get("conda_file")
        if isinstance(conda, dict):
            env.conda_text = yaml.safe_dump(conda, sort_keys=False)
        elif conda is not None:
            env.conda_file = (self.base / str(conda).removeprefix("file:")).resolve()
        if not (env.image or env.dockerfile or env.conda_file or env.conda_text):
            self.problems.append(f"{where}: an inline environment needs image, build or conda_file")
            return
        self._inline(env)

    def _inline(self, env: InlineEnvironment) -> None:
        self.doc.environments.append(env)
        set_at(self.doc.body, env.target, f"<inline environment from {env.source}>")

    def _compute(self, value: Any, resources: Any) -> dict[str, Any]:
        compute: dict[str, Any] = {}
        target: Any = value
        if isinstance(value, dict):
            self._unknown(
                value,
                {"target", "instance_count", "instance_type", "location", "properties"},
                "compute.",
            )
            target = value.get("target")
            for key, wire in (
                ("instance_count", "instanceCount"),
                ("instance_type", "instanceType"),
                ("location", "location"),
                ("properties", "properties"),
            ):
                if value.get(key) is not None:
                    compute[wire] = value[key]
        if isinstance(resources, dict):
            self._unknown(
                resources,
                {
                    "instance_count",
                    "instance_type",
                    "shm_size",
                    "properties",
                    "docker_args",
                    "locations",
                },
                "resources.",
            )
            for key, wire in (
                ("instance_count", "instanceCount"),
                ("instance_type", "instanceType"),
                ("properties", "properties"),
            ):
                if resources.get(key) is not None:
                    compute[wire] = resources[key]
        text = str(target) if target else "local"
        if text.removeprefix("azureml:").lower() == "local":
            self.doc.is_local = True
            text = "local"
        self.doc.references.append(
            Reference("computes", text, ("properties", "compute", "target"), "compute")
        )
        compute["target"] = text
        return compute

    def _distribution(self, value: Any, raw: dict[str, Any], where: str) -> dict[str, Any]:
        if not isinstance(value, dict):
            self.problems.append(f"{where}: must be a mapping")
            return {}
        kind = str(value.get("type") or "").lower()
        if kind == "pytorch":
            self._unknown(
                value, {"type", "process_count", "process_count_per_instance"}, f"{where}."
            )
            out: dict[str, Any] = {"distributionType": "PyTorch"}
            if value.get("process_count") is not None:
                out["processCount"] = int(value["process_count"])
            elif value.get("process_count_per_instance") is not None:
                out["processCount"] = int(value["process_count_per_instance"]) * self._instances(
                    raw
                )
            return out
        if kind == "mpi":
            self._unknown(value, {"type", "process_count_per_instance"}, f"{where}.")
            out = {"distributionType": "Mpi"}
            if value.get("process_count_per_instance") is not None:
                out["processCountPerInstance"] = int(value["process_count_per_instance"])
            return out
        if kind == "tensorflow":
            self._unknown(value, {"type", "worker_count", "parameter_server_count"}, f"{where}.")
            out = {"distributionType": "TensorFlow"}
            if value.get("worker_count") is not None:
                out["workerCount"] = int(value["worker_count"])
            if value.get("parameter_server_count") is not None:
                out["parameterServerCount"] = int(value["parameter_server_count"])
            return out
        self.problems.append(
            f"{where}.type: {kind or 'missing'}; expected pytorch, mpi or tensorflow"
        )
        return {}

    @staticmethod
    def _instances(raw: dict[str, Any]) -> int:
        for holder in (raw.get("resources"), raw.get("compute")):
            if isinstance(holder, dict) and holder.get("instance_count") is not None:
                return int(holder["instance_count"])
        return 1

    def _identity(self, value: Any) -> dict[str, Any]:
        if not isinstance(value, dict):
            self.problems.append("identity: must be a mapping with a type")
            return {}
        kind = str(value.get("type") or "").lower().replace("_", "")
        if kind in ("amltoken",):
            self._unknown(value, {"type"}, "identity.")
            return {"identityType": "AMLToken"}
        if kind in ("managed", "managedidentity"):
            self._unknown(
                value,
                {"type", "client_id", "object_id", "msi_resource_id", "resource_id"},
                "identity.",
            )
            out = {"identityType": "Managed"}
            for key, wire in (
                ("client_id", "clientId"),
                ("object_id", "objectId"),
                ("msi_resource_id", "resourceId"),
                ("resource_id", "resourceId"),
            ):
                if value.get(key) is not None:
                    out[wire] = str(value[key])
            return out
        if kind == "useridentity":
            self.problems.append(
                f"identity.type: user_identity is {UNSUPPORTED} (use aml_token or managed)"
            )
        else:
            self.problems.append(f"identity.type: unknown identity {value.get('type')!r}")
        return {}

    def _seconds(self, value: Any, where: str) -> str:
        try:
            return seconds_to_iso(value)
        except (TypeError, ValueError):
            self.problems.append(f"{where}: must be a number of seconds, got {value!r}")
            return ""

    def _minutes(self, value: Any, where: str) -> str:
        try:
            return seconds_to_iso_minutes(value)
        except (TypeError, ValueError):
            self.problems.append(f"{where}: must be a number of seconds, got {value!r}")
            return ""

    # -- inputs and outputs --------------------------------------------------------------
    def _inputs(self, value: Any, at: Target, where: str) -> dict[str, str]:
        """Data inputs become ``inputDataBindings`` at ``at``; literals are returned as text."""
        literals: dict[str, str] = {}
        if value is None:
            return literals
        if not isinstance(value, dict):
            self.problems.append(f"{where}: must be a mapping")
            return literals
        for name, spec in value.items():
            loc = f"{where}.{name}"
            if isinstance(spec, dict) and "data" in spec:
                self._unknown(spec, {"data", "mode"}, f"{loc}.")
                self._data_input(
                    spec["data"], spec.get("mode"), (*at, "inputDataBindings", name), loc
                )
            elif isinstance(spec, dict) and str(spec.get("type", "")).lower() in _LITERAL_TYPES:
                self._unknown(
                    spec, {"type", "value", "default", "description", "optional"}, f"{loc}."
                )
                literal = spec.get("value", spec.get("default"))
                literals[name] = _literal_text(literal)
            elif isinstance(spec, dict):
                self._unknown(
                    spec,
                    {"type", "path", "mode", "description", "datastore", "optional"},
                    f"{loc}.",
                )
                kind = str(spec.get("type") or "uri_folder").lower()
                if kind not in _DATA_TYPES:
                    self.problems.append(f"{loc}.type: unknown input type {kind!r}")
                if spec.get("path") is None:
                    self.problems.append(f"{loc}.path: required for a {kind} input")
                    continue
                self._data_input(
                    spec["path"], spec.get("mode"), (*at, "inputDataBindings", name), loc
                )
            elif spec is None or isinstance(spec, list):
                self.problems.append(f"{loc}: an input needs a value")
            else:
                literals[name] = _literal_text(spec)
        return literals

    def _data_input(self, data: Any, mode: Any, at: Target, where: str) -> None:
        binding: dict[str, Any] = {}
        set_at(self.doc.body, at, binding)
        if mode is not None:
            mapped = _MODES.get(str(mode).lower())
            if mapped is None:
                self.problems.append(f"{where}.mode: unknown mode {mode!r}")
            else:
                binding["mode"] = mapped
        target = (*at, "dataId")
        if isinstance(data, dict):
            self._unknown(
                data,
                {
                    "path",
                    "local_path",
                    "datastore",
                    "name",
                    "version",
                    "arm_id",
                    "$schema",
                    "description",
                    "tags",
                    "id",
                },
                f"{where}.data.",
            )
            if data.get("local_path") is not None:
                self._upload("data", str(data["local_path"]), target, f"{where}.data.local_path")
            elif data.get("arm_id") is not None:
                self._reference("data", str(data["arm_id"]), target, where)
            elif data.get("path") is not None and data.get("datastore") is not None:
                ds = str(data["datastore"]).removeprefix("azureml:")
                self._remote(str(data["path"]), ds, target, where)
            elif data.get("path") is not None:
                self._path(str(data["path"]), target, f"{where}.data.path")
            elif data.get("name") is not None:
                ref = f"azureml:{data['name']}" + (
                    f":{data['version']}" if data.get("version") is not None else ""
                )
                self._reference("data", ref, target, where)
            else:
                self.problems.append(f"{where}.data: needs path, local_path or a reference")
            return
        self._path(str(data), target, where)

    def _path(self, text: str, target: Target, where: str) -> None:
        m = _DATASTORE_URI.match(text)
        if m:
            self._remote(m.group("path"), m.group("ds"), target, where)
        elif text.startswith("azureml://"):
            self.problems.append(
                f"{where}: {text} is {UNSUPPORTED} "
                "(use azureml://datastores/NAME/paths/PATH or azureml:NAME:VERSION)"
            )
        elif text.startswith("azureml:") or text.lower().startswith("/subscriptions/"):
            self._reference("data", text, target, where)
        elif _SCHEME.match(text):
            self._remote(text, None, target, where)
        else:
            self._upload("data", text, target, where)

    def _remote(self, path: str, datastore: str | None, target: Target, where: str) -> None:
        self.doc.remote_data.append(RemoteData(path, datastore, target, where))
        set_at(
            self.doc.body,
            target,
            f"azureml://datastores/{datastore}/paths/{path}" if datastore else path,
        )

    def _outputs(self, value: Any, at: Target, where: str) -> None:
        if value is None:
            return
        if not isinstance(value, dict):
            self.problems.append(f"{where}: must be a mapping")
            return
        for name, spec in value.items():
            loc = f"{where}.{name}"
            binding: dict[str, Any] = {}
            set_at(self.doc.body, (*at, "outputDataBindings", name), binding)
            if spec is None:
                continue
            if not isinstance(spec, dict):
                self.problems.append(f"{loc}: must be a mapping (type, mode, path) or empty")
                continue
            self._unknown(
                spec, {"type", "mode", "path", "description", "name", "version"}, f"{loc}."
            )
            kind = str(spec.get("type") or "uri_folder").lower()
            if kind not in _DATA_TYPES:
                self.problems.append(f"{loc}.type: unknown output type {kind!r}")
            if spec.get("mode") is not None:
                mapped = _MODES.get(str(spec["mode"]).lower())
                if mapped is None or mapped not in ("ReadWriteMount", "Upload"):
                    self.problems.append(
                        f"{loc}.mode: {spec['mode']!r}; expected rw_mount or upload"
                    )
                else:
                    binding["mode"] = mapped
            if spec.get("path") is not None:
                m = _DATASTORE_URI.match(str(spec["path"]))
                if not m:
                    self.problems.append(
                        f"{loc}.path: must be azureml://datastores/NAME/paths/PATH"
                    )
                    continue
                binding["pathOnDatastore"] = m.group("path")
                self._reference(
                    "datastores",
                    m.group("ds"),
                    (*at, "outputDataBindings", name, "datastoreId"),
                    f"{loc}.path",
                )

    # -- sweep ---------------------------------------------------------------------------
    def _sweep(self, raw: dict[str, Any]) -> None:
        self._unknown(raw, _SWEEP, "")
        props = self.doc.properties
        props["jobType"] = "Sweep"
        self._common(raw, props)
        algorithm = raw.get("sampling_algorithm", raw.get("algorithm"))
        if isinstance(algorithm, dict):
            algorithm = algorithm.get("type")
        mapped = _ALGORITHMS.get(str(algorithm or "random").lower())
        if mapped is None:
            self.problems.append(f"sampling_algorithm: unknown algorithm {algorithm!r}")
        else:
            props["algorithm"] = mapped
        space = raw.get("search_space")
        if not isinstance(space, dict) or not space:
            self.problems.append("search_space: required (a mapping of parameter -> distribution)")
            space = {}
        props["searchSpace"] = space
        props["objective"] = self._objective(raw.get("objective"))
        if raw.get("early_termination") is not None:
            props["earlyTermination"] = self._policy(raw["early_termination"])
        self._limits(raw, props)
        trial = raw.get("trial")
        if not isinstance(trial, dict):
            what = "a component file" if isinstance(trial, str) else "missing"
            self.problems.append(
                f"trial: {what}; expected a mapping with command, code, environment"
            )
            trial = {}
        self._unknown(trial, _TRIAL, "trial.")
        literals = self._inputs(raw.get("inputs"), ("properties", "trial"), "inputs")
        literals.update(self._inputs(trial.get("inputs"), ("properties", "trial"), "trial.inputs"))
        self._outputs(raw.get("outputs"), ("properties", "trial"), "outputs")
        self._outputs(trial.get("outputs"), ("properties", "trial"), "trial.outputs")
        self._component(trial, ("properties", "trial"), "trial.", literals, search_space=space)
        trial_timeout = trial.get("timeout", (trial.get("limits") or {}).get("timeout"))
        if trial_timeout is not None:
            props["trial"]["timeout"] = self._seconds(trial_timeout, "trial.timeout")
        compute = raw.get("compute", trial.get("compute"))
        props["compute"] = self._compute(compute, raw.get("resources", trial.get("resources")))

    def _objective(self, value: Any) -> dict[str, Any]:
        if not isinstance(value, dict):
            self.problems.append("objective: required (primary_metric and goal)")
            return {}
        self._unknown(value, {"primary_metric", "goal"}, "objective.")
        goal = _GOALS.get(str(value.get("goal") or "").lower())
        if goal is None:
            self.problems.append(
                f"objective.goal: {value.get('goal')!r}; expected maximize or minimize"
            )
        if not value.get("primary_metric"):
            self.problems.append("objective.primary_metric: required")
        return {"primaryMetric": str(value.get("primary_metric") or ""), "goal": goal or ""}

    def _policy(self, value: Any) -> dict[str, Any]:
        if not isinstance(value, dict):
            self.problems.append("early_termination: must be a mapping")
            return {}
        kind = str(value.get("type") or value.get("policy_type") or "").lower()
        policy = _POLICIES.get(kind)
        if policy is None:
            self.problems.append(
                f"early_termination.type: {kind or 'missing'}; expected bandit, "
                "median_stopping or truncation_selection"
            )
            return {}
        allowed = {"type", "policy_type", "evaluation_interval", "delay_evaluation"}
        allowed |= {
            "Bandit": {"slack_factor", "slack_amount"},
            "MedianStopping": set(),
            "TruncationSelection": {"truncation_percentage", "exclude_finished_jobs"},
        }[policy]
        self._unknown(value, allowed, "early_termination.")
        out: dict[str, Any] = {"policyType": policy}
        for key, wire in (
            ("evaluation_interval", "evaluationInterval"),
            ("delay_evaluation", "delayEvaluation"),
            ("slack_factor", "slackFactor"),
            ("slack_amount", "slackAmount"),
            ("truncation_percentage", "truncationPercentage"),
        ):
            if value.get(key) is not None:
                out[wire] = value[key]
        return out

    def _limits(self, raw: dict[str, Any], props: dict[str, Any]) -> None:
        limits = raw.get("limits") or {}
        if not isinstance(limits, dict):
            self.problems.append("limits: must be a mapping")
            limits = {}
        self._unknown(
            limits,
            {"max_total_trials", "max_concurrent_trials", "timeout", "trial_timeout"},
            "limits.",
        )
        for key, wire in (
            ("max_total_trials", "maxTotalTrials"),
            ("max_concurrent_trials", "maxConcurrentTrials"),
        ):
            got = limits.get(key, raw.get(key))
            if got is not None:
                props[wire] = int(got)
        if raw.get("timeout_minutes") is not None:
            props["timeout"] = f"PT{int(raw['timeout_minutes'])}M"
        elif limits.get("timeout", raw.get("timeout")) is not None:
            # a sweep's timeout has minute precision on the wire: round seconds up
            props["timeout"] = self._minutes(
                limits.get("timeout", raw.get("timeout")), "limits.timeout"
            )
        if limits.get("trial_timeout") is not None:
            timeout = self._seconds(limits["trial_timeout"], "limits.trial_timeout")
            set_at(self.doc.body, ("properties", "trial", "timeout"), timeout)


def _literal_text(value: Any) -> str:
    if isinstance(value, bool):
        return "True" if value else "False"
    return "" if value is None else str(value)
