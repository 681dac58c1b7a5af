"""The one error a Bicep file can cause: where (file:line:column) and what."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from amlite.errors import RequestError


@dataclass(frozen=True)
class Position:
    """A place in a source file (line and column count from 1)."""

    file: Path
    line: int
    column: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}"


class BicepError(RequestError):
    """A Bicep file that cannot be compiled; the message starts with ``file:line:column``."""

    code = "BicepCompilationFailed"

    def __init__(self, message: str, position: Position) -> None:
        super().__init__(f"{position}: {message}", target=str(position))
        self.position = position
        self.reason = message
