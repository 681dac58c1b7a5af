"""Building blocks of the wire models: the lenient-casing base model and shared field types.

Azure accepts property names and enum values in any casing (real clients send
``maximize`` and ``DockerSpecificationType``), so every model canonicalises the keys
it knows before pydantic sees them, and every enum field canonicalises its value.
Keys of free-form maps (tags, environment variables, binding names) are left alone.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Annotated, Any, ClassVar

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    model_validator,
)
from pydantic.alias_generators import to_camel
from pydantic_core import PydanticCustomError

#: Marks the tag of a discriminated-union member inside an error location, so the
#: location can be turned back into a JSON path (see ``arm.loc_to_target``).
TAG_MARK = "\u00a7"

#: Error type of violations raised by amlite's own validators; ``ctx["at"]`` (optional)
#: is a sub-path appended to the location.
AMLITE_ERROR = "amlite"

#: Prefix of the error type raised when a discriminator is missing or unknown.
TAG_ERROR_PREFIX = "amlite_tag:"

INT32_MIN = -(2**31)
INT32_MAX = 2**31 - 1

ALNUM_PATTERN = "[a-zA-Z0-9_]"
"""The spec's (unanchored) pattern: at least one letter, digit or underscore."""

_UUID_RE = re.compile(r"^[0-9a-fA-F]{8}-(?:[0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$")


def violation(message: str, at: str | None = None) -> PydanticCustomError:
    """An error for a validator to raise; ``at`` names a sub-field of the validated value."""
    ctx: dict[str, Any] = {"at": at} if at else {}
    return PydanticCustomError(AMLITE_ERROR, message, ctx)


class WireModel(BaseModel):
    """Base of every wire model: camelCase names, unknown fields refused, strict types.

    Subclasses list the spec's read-only properties in ``read_only``: they are dropped
    from requests (a client may send back what it got).
    """

    model_config = ConfigDict(
        extra="forbid",
        alias_generator=to_camel,
        populate_by_name=False,
        strict=True,
        frozen=True,
    )

    read_only: ClassVar[frozenset[str]] = frozenset()

    @classmethod
    def _aliases(cls) -> dict[str, str]:
        cached = cls.__dict__.get("_alias_cache")
        if cached is None:
            cached = {}
            for name, info in cls.model_fields.items():
                alias = info.alias or name
                cached[alias.lower()] = alias
            for alias in cls.read_only:
                cached.setdefault(alias.lower(), alias)
            cls._alias_cache = cached  # type: ignore[attr-defined]
        return cached

    @model_validator(mode="before")
    @classmethod
    def _canonical_keys(cls, data: Any) -> Any:
        if not isinstance(data, Mapping):
            return data
        aliases = cls._aliases()
        out: dict[str, Any] = {}
        seen: dict[str, str] = {}
        for key, value in data.items():
            if not isinstance(key, str):
                out[key] = value
                continue
            canonical = aliases.get(key.lower(), key)
            if canonical in seen:
                raise violation(f"field given twice: '{seen[canonical]}' and '{key}'", canonical)
            seen[canonical] = key
            if canonical in cls.read_only:
                continue
            out[canonical] = value
        return out

    def wire(self) -> dict[str, Any]:
        """The model as a JSON-ready dict in the spec's casing, without absent fields."""
        return self.model_dump(by_alias=True, exclude_none=True, mode="json")


def _enum_canonicaliser(values: tuple[str, ...]) -> Callable[[Any], str]:
    by_lower = {v.lower(): v for v in values}
    listed = ", ".join(values)

    def canonical(value: Any) -> str:
        if not isinstance(value, str):
            raise violation(f"must be a string, one of: {listed}")
        found = by_lower.get(value.lower())
        if found is None:
            raise violation(f"'{value}' is not one of: {listed}")
        return found

    return canonical


def one_of(*values: str) -> BeforeValidator:
    """A validator making a ``str`` field an enum accepted in any casing."""
    return BeforeValidator(_enum_canonicaliser(values))


def _uuid(value: str) -> str:
    if not _UUID_RE.match(value):
        raise violation(f"'{value}' is not a UUID (xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx)")
    return value


def _relative_path(value: str) -> str:
    if not value.strip():
        raise violation("must not be empty")
    if value.startswith(("/", "\\")) or re.match(r"^[A-Za-z]:", value):
        raise violation(f"'{value}' must be a relative path")
    depth = 0
    for part in re.split(r"[/\\]+", value):
        if part == "..":
            depth -= 1
            if depth < 0:
                raise violation(f"'{value}' escapes its root with '..'")
        elif part not in ("", "."):
            depth += 1
    return value


Int32 = Annotated[int, Field(ge=INT32_MIN, le=INT32_MAX)]
PositiveInt32 = Annotated[int, Field(ge=1, le=INT32_MAX)]
NonNegativeInt32 = Annotated[int, Field(ge=0, le=INT32_MAX)]
AlnumStr = Annotated[str, Field(min_length=1, pattern=ALNUM_PATTERN)]
UuidStr = Annotated[str, AfterValidator(_uuid)]
RelativePath = Annotated[str, AfterValidator(_relative_path)]
StrMap = dict[str, str]


def discriminated(field: str, members: Mapping[str, type[BaseModel]]) -> Any:
    """A union of ``members`` chosen by the (case-insensitive) value of ``field``.

    ``members`` maps the spec's discriminator value to its model. The result is an
    ``Annotated`` type to use as a field annotation.
    """
    by_lower = {tag.lower(): tag for tag in members}
    attr_by_model = {model: _attr_for(model, field) for model in members.values()}

    def pick(value: Any) -> str | None:
        if isinstance(value, BaseModel):
            attr = attr_by_model.get(type(value))
            return TAG_MARK + str(getattr(value, attr)) if attr else None
        if not isinstance(value, Mapping):
            return None
        for key, tag in value.items():
            if isinstance(key, str) and key.lower() == field.lower() and isinstance(tag, str):
                found = by_lower.get(tag.lower())
                return TAG_MARK + found if found else None
        return None

    choices = tuple(Annotated[model, Tag(TAG_MARK + tag)] for tag, model in members.items())
    return Annotated[
        _union(choices),
        Discriminator(
            pick,
            custom_error_type=TAG_ERROR_PREFIX + field,
            custom_error_message="must be one of: " + ", ".join(members),
        ),
    ]


def _union(choices: tuple[Any, ...]) -> Any:
    from typing import Union

    return Union[choices]  # noqa: UP007 - built at runtime from a tuple


def _attr_for(model: type[BaseModel], alias: str) -> str | None:
    for name, info in model.model_fields.items():
        if (info.alias or name) == alias:
            return name
    return None
