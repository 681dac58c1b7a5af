"""Job inputs and outputs: data bindings, their modes, and literal inputs.

Data inputs become ``inputDataBindings`` (local paths to upload, URIs to register, ``azureml:``
references to resolve); outputs become ``outputDataBindings``. Literal inputs have no field in
the 2021 API, so they are substituted into the command text, which is also checked for
``inputs.*`` and ``search_space.*`` placeholders that name nothing.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from amlite.domain.json_value import JsonObject
from amlite.schemas.yaml.base import _SCHEME, TranslatorBase
from amlite.schemas.yaml.document import UNSUPPORTED, RemoteData, Target, set_at

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
_DATASTORE_URI = re.compile(r"^azureml://datastores/(?P<ds>[^/]+)/paths/(?P<path>.*)$", re.I)
_INPUT_REF = re.compile(r"\$\{\{\s*inputs\.([\w.-]+)\s*\}\}|\{inputs\.([\w.-]+)\}")
_SPACE_REF = re.compile(r"\$\{\{\s*search_space\.([\w.-]+)\s*\}\}|\{search_space\.([\w.-]+)\}")


class InputsMixin(TranslatorBase):
    """Translates ``inputs`` and ``outputs`` and substitutes literals into the command."""

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
        binding: JsonObject = {}
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
            binding: JsonObject = {}
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

    def _substitute(
        self,
        command: str,
        literals: dict[str, str],
        node: JsonObject,
        search_space: Mapping[str, object] | None,
        where: str,
    ) -> str:
        bindings = node.get("inputDataBindings")
        bound = set(bindings) if isinstance(bindings, dict) else set()

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


def _literal_text(value: Any) -> str:
    if isinstance(value, bool):
        return "True" if value else "False"
    return "" if value is None else str(value)
