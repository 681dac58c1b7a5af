"""Amounts of compute: what a node has and what a job holds on it."""

from __future__ import annotations

from dataclasses import dataclass

GIB = 1024**3


@dataclass(frozen=True)
class Resources:
    cpus: float = 0.0
    memory: int = 0
    """Bytes."""
    gpus: float = 0.0

    def fits_in(self, other: Resources) -> bool:
        eps = 1e-9
        return (
            self.cpus <= other.cpus + eps
            and self.memory <= other.memory
            and self.gpus <= other.gpus + eps
        )

    def minus(self, other: Resources) -> Resources:
        return Resources(self.cpus - other.cpus, self.memory - other.memory, self.gpus - other.gpus)

    def plus(self, other: Resources) -> Resources:
        return Resources(self.cpus + other.cpus, self.memory + other.memory, self.gpus + other.gpus)

    def describe(self) -> str:
        parts = [_count(self.cpus, "CPU")]
        if self.memory:
            parts.append(f"{self.memory / GIB:g} GiB memory")
        if self.gpus:
            parts.append(_count(self.gpus, "GPU"))
        return ", ".join(parts)


def _count(value: float, unit: str) -> str:
    return f"{value:g} {unit}{'' if value == 1 else 's'}"


def plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


@dataclass(frozen=True)
class ClusterNode:
    id: str
    address: str
    total: Resources
