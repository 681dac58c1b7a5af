"""Name rules shared by the API and the runtime (one place for each).

- ``ASSET_NAME``: the swagger's pattern for asset names, ``^[a-zA-Z0-9][a-zA-Z0-9\\-_]{0,254}$``.
  Data binding names (the keys of ``inputDataBindings`` / ``outputDataBindings``) follow it
  too: the spec gives those keys no pattern, but a binding name becomes a directory of the run
  (``inputs/NAME``, ``outputs/NAME``), an environment variable (``AZURE_ML_INPUT_NAME``) and a
  placeholder (``${{inputs.NAME}}``), so it must be a plain word.
- ``PARAMETER_NAME``: search-space parameter names, identifiers that may start with ``--``
  (the value is then also passed as ``--NAME VALUE``) and may hold ``-`` (``learning-rate``,
  as in Azure's examples): ``^(--)?[A-Za-z_][A-Za-z0-9_-]{0,254}$``. The keys of a nested
  choice option are identifiers without the leading dashes.

Matching is on the whole string (``fullmatch``: a trailing newline does not pass).
"""

from __future__ import annotations

import re

DEFAULT_DATASTORE = "workspaceblobstore"
"""The datastore every workspace has (Azure's name): job artifacts, uploads, default outputs."""

ASSET_NAME_PATTERN = r"^[a-zA-Z0-9][a-zA-Z0-9\-_]{0,254}$"
PARAMETER_NAME_PATTERN = r"^(--)?[A-Za-z_][A-Za-z0-9_-]{0,254}$"
NESTED_KEY_PATTERN = r"^[A-Za-z_][A-Za-z0-9_-]{0,254}$"

_ASSET_NAME = re.compile(ASSET_NAME_PATTERN[1:-1])
_PARAMETER_NAME = re.compile(PARAMETER_NAME_PATTERN[1:-1])
_NESTED_KEY = re.compile(NESTED_KEY_PATTERN[1:-1])


def is_asset_name(name: object) -> bool:
    """Whether ``name`` is a valid asset (or data binding) name."""
    return isinstance(name, str) and _ASSET_NAME.fullmatch(name) is not None


def is_parameter_name(name: object) -> bool:
    """Whether ``name`` is a valid search-space parameter name."""
    return isinstance(name, str) and _PARAMETER_NAME.fullmatch(name) is not None


def is_nested_key(name: object) -> bool:
    """Whether ``name`` is a valid key of a nested choice option."""
    return isinstance(name, str) and _NESTED_KEY.fullmatch(name) is not None
