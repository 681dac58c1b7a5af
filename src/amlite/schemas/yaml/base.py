"""The translator's shared state and checks, which every part of the translation builds on.

:class:`TranslatorBase` holds the document being built and the problems found so far, and the
helpers every part uses: unknown-key checks, string maps, durations, and recording a local
upload or a reference at a ``target`` in the body.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from amlite.schemas.yaml.document import JobDocument, LocalUpload, Reference, Target, set_at
from amlite.schemas.yaml.durations import seconds_to_iso, seconds_to_iso_minutes

_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")

YamlMapping = dict[str, object]
"""A mapping of a parsed YAML document: its values are whatever YAML gave (strings, numbers,
dates, lists, mappings ...), narrowed where they are read."""


def whole_number(value: object) -> int:
    """A YAML number (or numeric string) as an integer, as ``int()`` reads it; TypeError for
    anything else."""
    if isinstance(value, int | float | str):
        return int(value)
    raise TypeError(f"{value!r} is not a number")


class TranslatorBase:
    """State of one translation (the document, the problems) and the shared checks."""

    def __init__(self, source: Path) -> None:
        self.source = source
        self.base = source.parent
        self.problems: list[str] = []
        self.doc = JobDocument(body={"properties": {}}, source=source)

    def _unknown(self, raw: Mapping[str, object], allowed: set[str], where: str) -> None:
        for key in raw:
            if key not in allowed:
                self.problems.append(f"{where}{key}: unknown key")

    def _string_map(self, value: Any, where: str) -> dict[str, str]:
        if not isinstance(value, dict):
            self.problems.append(f"{where}: must be a mapping")
            return {}
        return {str(k): "" if v is None else str(v) for k, v in value.items()}

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

    def _upload(self, kind: str, text: str, target: Target, where: str) -> None:
        local = Path(text.removeprefix("file:")).expanduser()
        local = local if local.is_absolute() else (self.base / local)
        self.doc.uploads.append(LocalUpload(kind, local.resolve(), target, where))
        set_at(self.doc.body, target, f"file:{local.resolve()}")

    def _reference(self, kind: str, text: str, target: Target, where: str) -> None:
        self.doc.references.append(Reference(kind, text, target, where))
        set_at(self.doc.body, target, text)
