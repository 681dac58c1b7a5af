"""Where and how a job runs: code, environment, compute and resources, distribution, identity.

Local code is uploaded, inline environments are registered, ``azureml:`` names and ARM ids are
recorded as references; a missing compute (or ``local``) means the workspace's ``local``
compute.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import yaml

from amlite.domain.json_value import JsonObject
from amlite.schemas.yaml.base import _SCHEME, TranslatorBase
from amlite.schemas.yaml.document import UNSUPPORTED, InlineEnvironment, Reference, Target, set_at


class EnvironmentMixin(TranslatorBase):
    """Translates code, environment, compute, distribution and identity."""

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

    def _compute(self, value: object, resources: object) -> JsonObject:
        compute: JsonObject = {}
        target = value
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

    def _distribution(self, value: Any, raw: Mapping[str, object], where: str) -> JsonObject:
        if not isinstance(value, dict):
            self.problems.append(f"{where}: must be a mapping")
            return {}
        kind = str(value.get("type") or "").lower()
        if kind == "pytorch":
            self._unknown(
                value, {"type", "process_count", "process_count_per_instance"}, f"{where}."
            )
            out: JsonObject = {"distributionType": "PyTorch"}
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
    def _instances(raw: Mapping[str, object]) -> int:
        for holder in (raw.get("resources"), raw.get("compute")):
            if isinstance(holder, dict) and holder.get("instance_count") is not None:
                return int(holder["instance_count"])
        return 1

    def _identity(self, value: Any) -> JsonObject:
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
            out: JsonObject = {"identityType": "Managed"}
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
