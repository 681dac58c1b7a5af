"""Environment versions -> cached virtualenvs.

A ``condaFile`` becomes a virtualenv built with the host's Python from the file's pip list and
its conda packages (conda ``name=ver`` -> pip ``name==ver``). ``python``, ``pip`` and packages
that only conda provides are skipped with a note; so is a requested Python version the host does
not have. A docker image is ignored when a ``condaFile`` is present; a docker-only environment
cannot run (amlite has no container engine).
"""

from __future__ import annotations

import hashlib
import json
import re
import shlex
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import yaml

from amlite.config import Settings
from amlite.executors._base import EnvironmentBuild

CONDA_ONLY = frozenset(
    """
    _libgcc_mutex _openmp_mutex blas bzip2 ca-certificates cudatoolkit cudnn cuda-toolkit
    cuda-nvcc gcc gxx gxx_linux-64 gcc_linux-64 icu ld_impl_linux-64 libblas libcblas libffi
    libgcc libgcc-ng libgfortran libgfortran-ng libgomp liblapack libstdcxx-ng libuuid libzlib
    mkl mkl-service mkl_fft mkl_random nccl ncurses nodejs openblas openssl r-base readline
    sqlite tk tzdata xz zlib libedit libiconv libxml2 make
    """.split()  # noqa: SIM905
)
"""Conda packages with no pip counterpart worth installing (system libraries, toolchains)."""

_CONDA_SPEC = re.compile(
    r"^(?P<name>[A-Za-z0-9_.\-]+)\s*(?P<op>==|>=|<=|!=|~=|=|>|<)?\s*(?P<rest>.*)$"
)


@dataclass(frozen=True)
class CondaRequirements:
    requirements: list[str]
    python_version: str | None = None
    notes: list[str] = field(default_factory=list)


def _conda_to_pip(spec: str, notes: list[str]) -> tuple[str | None, str | None]:
    """(pip requirement, python version) for one conda dependency string."""
    text = spec.strip()
    if "::" in text:  # channel::package
        text = text.split("::", 1)[1]
    m = _CONDA_SPEC.match(text)
    if not m:
        notes.append(f"skipped conda dependency {spec!r}: not understood")
        return None, None
    name, op, rest = m.group("name"), m.group("op"), m.group("rest").strip()
    lname = name.lower()
    if lname == "python":
        return None, rest.split("=")[0].strip() or None
    if lname == "pip":
        return None, None
    if lname in CONDA_ONLY:
        notes.append(f"skipped conda-only package {spec!r}")
        return None, None
    if not op:
        return name, None
    if op == "=":
        version = rest.split("=")[0].strip()  # drop a conda build string
        return (f"{name}=={version}" if version else name), None
    return f"{name}{op}{rest.replace(' ', '')}", None


def parse_conda_file(conda_file: str | Mapping[str, Any]) -> CondaRequirements:
    """Requirements for pip from a conda environment file (YAML text or already parsed)."""
    data = yaml.safe_load(conda_file) if isinstance(conda_file, str) else conda_file
    if data is None:
        data = {}
    if not isinstance(data, Mapping):
        raise ValueError("condaFile must be a YAML mapping")
    deps = data.get("dependencies") or []
    if not isinstance(deps, list):
        raise ValueError("condaFile 'dependencies' must be a list")
    reqs: list[str] = []
    notes: list[str] = []
    python: str | None = None
    for dep in deps:
        if isinstance(dep, Mapping):
            for key, items in dep.items():
                if str(key).lower() != "pip":
                    notes.append(f"skipped dependency group {key!r}")
                    continue
                for item in items or []:
                    line = str(item).strip()
                    if not line:
                        continue
                    reqs.extend(shlex.split(line) if line.startswith("-") else [line])
        elif dep is not None:
            req, py = _conda_to_pip(str(dep), notes)
            if req:
                reqs.append(req)
            if py:
                python = py
    return CondaRequirements(normalize(reqs), python, notes)


def normalize(requirements: list[str]) -> list[str]:
    """Whitespace removed, duplicates dropped, order kept (pip options need their order)."""
    seen: set[str] = set()
    out: list[str] = []
    for r in requirements:
        r = r.strip() if r.startswith("-") else re.sub(r"\s+", "", r)
        if r and r not in seen:
            seen.add(r)
            out.append(r)
    return out


def host_python_version() -> str:
    return f"{sys.version_info.major}.{sys.version_info.minor}"


def env_hash(requirements: list[str], python_version: str) -> str:
    key = json.dumps({"python": python_version, "requirements": sorted(requirements)})
    return hashlib.sha256(key.encode()).hexdigest()[:24]


def _has_docker(body: Mapping[str, Any]) -> bool:
    docker = body.get("docker")
    return bool(docker) and isinstance(docker, Mapping)


def resolve_environment(
    settings: Settings, body: Mapping[str, Any]
) -> tuple[EnvironmentBuild | None, str | None]:
    """(build, fail reason) for an environment version's ``properties``.

    A build of ``None`` without a reason means: run with the server's own Python.
    """
    conda_file = body.get("condaFile")
    if not conda_file:
        if _has_docker(body):
            return None, (
                "docker-only environments are not supported: amlite runs no container "
                "engine; add a condaFile to the environment"
            )
        return None, None
    try:
        parsed = parse_conda_file(conda_file)
    except (ValueError, yaml.YAMLError) as exc:
        return None, f"invalid condaFile: {exc}"
    notes = list(parsed.notes)
    host = host_python_version()
    if parsed.python_version:
        wanted = ".".join(parsed.python_version.split(".")[:2])
        if wanted != host:
            notes.append(
                f"python {parsed.python_version} requested; using the host's python {host}"
            )
    if _has_docker(body):
        notes.append("docker image ignored: the condaFile is used instead")
    directory = settings.envs_dir / env_hash(parsed.requirements, host)
    build = EnvironmentBuild(
        dir=str(directory), python=sys.executable, requirements=parsed.requirements, notes=notes
    )
    return build, None
