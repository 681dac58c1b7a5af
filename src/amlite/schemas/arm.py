"""The ARM side of the wire: the error envelope and pydantic errors turned into violations."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from amlite.errors import RequestError, ValidationFailed, Violation
from amlite.schemas._base import AMLITE_ERROR, TAG_ERROR_PREFIX, TAG_MARK, WireModel

M = TypeVar("M", bound=BaseModel)

#: Read-only fields of every ARM resource envelope (common-types ``Resource``).
ENVELOPE_READ_ONLY = frozenset({"id", "name", "type", "systemData"})


class ResourceEnvelope(WireModel):
    """Base of ``XxxResource`` bodies: read-only envelope fields are ignored."""

    read_only = ENVELOPE_READ_ONLY


def error_envelope(exc: RequestError) -> dict[str, Any]:
    """The ARM error body for ``exc``; a ValidationFailed lists every violation in details."""
    details: list[dict[str, Any]] = []
    if isinstance(exc, ValidationFailed):
        details = [
            {"code": v.code, "message": v.message, "target": v.target} for v in exc.violations
        ]
    return {
        "error": {
            "code": exc.code,
            "message": exc.message,
            "target": exc.target,
            "details": details,
        }
    }


def loc_to_target(loc: Sequence[int | str], at: str | None = None) -> str:
    """A pydantic location as a JSON path.

    ``('properties', '§Command', 'compute', 'instanceCount')`` becomes
    ``properties.compute.instanceCount``; list indices become ``[i]``.
    """
    target = ""
    for part in loc:
        if isinstance(part, int):
            target += f"[{part}]"
        elif part.startswith(TAG_MARK):
            continue
        else:
            target = f"{target}.{part}" if target else part
    if at:
        target = f"{target}.{at}" if target else at
    return target or "body"


_TYPE_MESSAGES = {
    "missing": "is required",
    "extra_forbidden": "unknown field",
    "string_type": "must be a string",
    "int_type": "must be an integer",
    "int_from_float": "must be an integer",
    "float_type": "must be a number",
    "bool_type": "must be a boolean",
    "dict_type": "must be an object",
    "model_type": "must be an object",
    "model_attributes_type": "must be an object",
    "list_type": "must be an array",
    "string_too_short": "must not be empty",
    "string_pattern_mismatch": "must contain at least one letter, digit or underscore",
}


def _bound_message(error: Mapping[str, Any]) -> str | None:
    ctx = error.get("ctx") or {}
    for key, word in (("ge", ">="), ("gt", ">"), ("le", "<="), ("lt", "<")):
        if key in ctx:
            return f"must be {word} {ctx[key]}"
    return None


def _tag_violation(error: Mapping[str, Any], field: str) -> Violation:
    target = loc_to_target(error["loc"])
    value = error.get("input")
    if not isinstance(value, Mapping):
        return Violation(target, "must be an object")
    given = next(
        (v for k, v in value.items() if isinstance(k, str) and k.lower() == field.lower()), None
    )
    field_target = f"{target}.{field}" if target != "body" else field
    if given is None:
        return Violation(field_target, "is required", "Required")
    if field == "jobType" and isinstance(given, str) and given.lower() == "labeling":
        return Violation(
            field_target,
            "labeling jobs are a separate resource (workspaces/labelingJobs);"
            " this resource accepts jobType Command or Sweep",
        )
    listed = str(error.get("msg", ""))
    if not isinstance(given, str):
        return Violation(field_target, f"must be a string; {listed}")
    return Violation(field_target, f"'{given}' is not supported; {listed}")


def violations_from(exc: ValidationError) -> list[Violation]:
    """One violation per pydantic error, with JSON-path targets and plain messages."""
    out: list[Violation] = []
    for error in exc.errors(include_url=False):
        kind = str(error["type"])
        if kind.startswith(TAG_ERROR_PREFIX):
            out.append(_tag_violation(error, kind[len(TAG_ERROR_PREFIX) :]))
            continue
        ctx = error.get("ctx") or {}
        at = ctx.get("at") if kind == AMLITE_ERROR else None
        target = loc_to_target(error["loc"], at)
        if kind == AMLITE_ERROR:
            message = str(error["msg"])
        else:
            message = _TYPE_MESSAGES.get(kind) or _bound_message(error) or str(error["msg"])
        code = (
            "Required"
            if kind == "missing"
            else ("UnknownField" if kind == "extra_forbidden" else "InvalidValue")
        )
        out.append(Violation(target, message, code))
    return _dedupe(out)


def _dedupe(violations: list[Violation]) -> list[Violation]:
    seen: set[tuple[str, str]] = set()
    unique = []
    for v in violations:
        if (v.target, v.message) not in seen:
            seen.add((v.target, v.message))
            unique.append(v)
    return unique


def validate_model(model: type[M], body: object) -> M:
    """``model`` validated from ``body``; raises ValidationFailed listing every problem."""
    try:
        return model.model_validate(body)
    except ValidationError as exc:
        raise ValidationFailed(violations_from(exc)) from None
