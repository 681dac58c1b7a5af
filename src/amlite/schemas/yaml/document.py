"""What a translation produces: a :class:`JobDocument` and the client-side work it lists.

The REST body keeps its references unresolved; each :class:`LocalUpload`, :class:`RemoteData`,
:class:`InlineEnvironment` and :class:`Reference` names the place in the body (``target``) where
the resolved id goes, and :func:`set_at` puts it there. A document that cannot be translated
raises :class:`JobDocumentError` with every problem found.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from amlite.domain.json_value import JsonObject, JsonValue

Target = tuple[str, ...]

UNSUPPORTED = "not supported by api-version 2021-03-01-preview"


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
    body: JsonObject
    source: Path
    name: str | None = None
    is_rest_body: bool = False
    is_local: bool = False
    uploads: list[LocalUpload] = field(default_factory=list)
    remote_data: list[RemoteData] = field(default_factory=list)
    environments: list[InlineEnvironment] = field(default_factory=list)
    references: list[Reference] = field(default_factory=list)

    @property
    def properties(self) -> JsonObject:
        return object_at(self.body, ("properties",))

    @property
    def job_type(self) -> str:
        return str(self.properties.get("jobType", ""))


def object_at(body: JsonObject, target: Target) -> JsonObject:
    """The object ``body[t0][t1]...``, creating empty ones on the way."""
    node = body
    for key in target:
        child = node.setdefault(key, {})
        if not isinstance(child, dict):
            raise TypeError(f"{'.'.join(target)}: '{key}' holds a {type(child).__name__}")
        node = child
    return node


def set_at(body: JsonObject, target: Target, value: JsonValue) -> None:
    """Set ``body[t0][t1]...`` to ``value``, creating dicts on the way."""
    object_at(body, target[:-1])[target[-1]] = value
