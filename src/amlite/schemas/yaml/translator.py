"""The entry points: read a job document and translate it, command or sweep, into a REST body.

:func:`load_job_document` reads a file and applies ``--set`` overrides; :func:`translate` keeps
a REST body as is and hands CLI YAML (either form) to the translator, which checks the keys
allowed for each job type and assembles the parts (inputs, environment, sweep settings).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

import yaml

from amlite.domain.json_value import JsonObject
from amlite.errors import JobDocumentError
from amlite.schemas.yaml.base import YamlMapping
from amlite.schemas.yaml.document import UNSUPPORTED, JobDocument, Target, object_at, set_at
from amlite.schemas.yaml.environment import EnvironmentMixin
from amlite.schemas.yaml.inputs import InputsMixin
from amlite.schemas.yaml.sweep import _ALGORITHMS, SweepMixin

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


def load_job_document(path: Path, overrides: Mapping[str, object] | None = None) -> JobDocument:
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


def translate(raw: YamlMapping, source: Path) -> JobDocument:
    """Translate an already parsed document; relative paths are relative to ``source``'s folder."""
    properties = raw.get("properties")
    if isinstance(properties, dict) and (
        "jobType" in properties or set(raw) <= {"properties", "name", "id", "type"}
    ):
        doc = JobDocument(body=json.loads(json.dumps(raw)), source=source, is_rest_body=True)
        name = raw.get("name")
        doc.name = name if isinstance(name, str) and "/" not in name else None
        return doc
    return _Translator(source).run(raw)


def _apply_override(raw: YamlMapping, key: str, value: object) -> None:
    parts = key.split(".")
    node = raw
    for part in parts[:-1]:
        nxt = node.get(part)
        if not isinstance(nxt, dict):
            nxt = {}
            node[part] = nxt
        node = nxt
    node[parts[-1]] = value


class _Translator(InputsMixin, EnvironmentMixin, SweepMixin):
    """Translates one CLI YAML job document, command or sweep, into a JobDocument."""

    # -- entry ---------------------------------------------------------------------------
    def run(self, raw: YamlMapping) -> JobDocument:
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

    def _common(self, raw: YamlMapping, props: JsonObject) -> None:
        name = raw.get("name")
        if isinstance(name, str):
            self.doc.name = name
        for key, wire in (("description", "description"), ("experiment_name", "experimentName")):
            if raw.get(key) is not None:
                props[wire] = str(raw[key])
        if raw.get("tags") is not None:
            props["tags"] = {**self._string_map(raw["tags"], "tags")}
        extra = self._string_map(raw.get("properties") or {}, "properties")
        if raw.get("display_name") is not None:
            extra["display_name"] = str(raw["display_name"])
        if extra:
            props["properties"] = {**extra}
        if raw.get("identity") is not None:
            props["identity"] = self._identity(raw["identity"])

    # -- command -------------------------------------------------------------------------
    def _command(self, raw: YamlMapping) -> None:
        self._unknown(raw, _COMMAND, "")
        props = self.doc.properties
        props["jobType"] = "Command"
        self._common(raw, props)
        literals = self._inputs(raw.get("inputs"), ("properties",), "inputs")
        self._outputs(raw.get("outputs"), ("properties",), "outputs")
        self._component(raw, ("properties",), "", literals, search_space=None)
        props["compute"] = self._compute(raw.get("compute"), raw.get("resources"))
        limits = raw.get("limits")
        timeout = raw.get("timeout", _member(limits, "timeout"))
        if isinstance(limits, dict):
            self._unknown(limits, {"timeout"}, "limits.")
        elif limits:
            self.problems.append("limits: must be a mapping")
        if timeout is not None:
            props["timeout"] = self._seconds(timeout, "timeout")

    def _component(
        self,
        raw: YamlMapping,
        at: Target,
        where: str,
        literals: dict[str, str],
        search_space: Mapping[str, object] | None,
    ) -> None:
        """Fields shared by a command job and a sweep's trial, written at ``at``."""
        node = object_at(self.doc.body, at)
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
            node["environmentVariables"] = {
                **self._string_map(raw["environment_variables"], f"{where}environment_variables")
            }
        if raw.get("distribution") is not None:
            node["distribution"] = self._distribution(
                raw["distribution"], raw, f"{where}distribution"
            )

    # -- sweep ---------------------------------------------------------------------------
    def _sweep(self, raw: YamlMapping) -> None:
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
        if trial.get("limits") and not isinstance(trial["limits"], dict):
            self.problems.append("trial.limits: must be a mapping")
        trial_timeout = trial.get("timeout", _member(trial.get("limits"), "timeout"))
        if trial_timeout is not None:
            timeout = self._seconds(trial_timeout, "trial.timeout")
            set_at(self.doc.body, ("properties", "trial", "timeout"), timeout)
        compute = raw.get("compute", trial.get("compute"))
        props["compute"] = self._compute(compute, raw.get("resources", trial.get("resources")))


def _member(value: object, key: str) -> object:
    """``value[key]`` when ``value`` is a YAML mapping, else None."""
    return value.get(key) if isinstance(value, dict) else None
