"""Errors of the data layer; callers map them to the field they checked."""

from __future__ import annotations


class PathEscapeError(ValueError):
    """A relative path that would leave its root (absolute, ``..``, or a symlink pointing out)."""


class TooLargeError(ValueError):
    """Content larger than allowed."""
