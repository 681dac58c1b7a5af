"""Check instances (API responses) against a definition of the wire contract, mfe.json.

The swagger 2.0 definitions are turned into one JSON Schema (Draft 7) document:

* ``$ref`` inside mfe.json and into common-types ``types.json`` are resolved (refs to files
  that are not stored, e.g. machineLearningServices.json, accept anything);
* ``allOf`` is flattened into the definition, so ``additionalProperties: false`` sees the
  inherited properties;
* a polymorphic base (``discriminator``) dispatches on its discriminator to the subtype named
  by ``x-ms-discriminator-value`` (``jobType``, ``distributionType``, ``identityType``,
  ``policyType``, ``dockerSpecificationType``, ``contentsType``, ``credentialsType``, ...);
* ``readOnly`` properties are allowed (these are responses); ``null`` is accepted for any
  property (Azure serialises absent values as null); ``uuid``, ``date-time``, ``duration``
  and ``int32`` formats are checked loosely.

Usage: ``assert_matches_spec("JobBaseResource", response.json())``.
"""

from __future__ import annotations

import copy
import json
import re
from datetime import datetime
from functools import cache
from typing import Any

import isodate
import jsonschema

from support.shared import SPEC_DIR

MFE = SPEC_DIR / "mfe.json"
COMMON = SPEC_DIR / "common-types" / "resource-management" / "v2" / "types.json"

_COMMON_PREFIX = "common."
_BASE_SUFFIX = ".base"
_UUID = re.compile(r"^[0-9a-fA-F]{8}-(?:[0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$")


def _rewrite_refs(node: Any, *, in_common: bool) -> Any:
    """Point every ``$ref`` at ``#/definitions/<name>`` of the combined document."""
    if isinstance(node, list):
        return [_rewrite_refs(x, in_common=in_common) for x in node]
    if not isinstance(node, dict):
        return node
    out = {}
    for key, value in node.items():
        if key == "$ref" and isinstance(value, str):
            file_part, _, pointer = value.partition("#")
            name = pointer.rsplit("/", 1)[-1]
            if not file_part:
                out[key] = f"#/definitions/{_COMMON_PREFIX if in_common else ''}{name}"
            elif file_part.endswith("common-types/resource-management/v2/types.json"):
                out[key] = f"#/definitions/{_COMMON_PREFIX}{name}"
            else:
                out[key] = "#/definitions/__any__"
        else:
            out[key] = _rewrite_refs(value, in_common=in_common)
    return out


def _drop_nulls(value: Any) -> Any:
    """The instance without null-valued properties (Azure serialises absent values as null)."""
    if isinstance(value, dict):
        return {k: _drop_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_drop_nulls(v) for v in value]
    return value


def _flatten(name: str, defs: dict[str, Any], seen: tuple[str, ...] = ()) -> dict[str, Any]:
    """The definition with its ``allOf`` parents merged in (properties and required)."""
    schema = copy.deepcopy(defs[name])
    parents = schema.pop("allOf", [])
    props: dict[str, Any] = {}
    required: list[str] = []
    for parent in parents:
        ref = parent.get("$ref", "")
        parent_name = ref.rsplit("/", 1)[-1]
        if parent_name in defs and parent_name not in seen:
            flat = _flatten(parent_name, defs, (*seen, name))
            props.update(flat.get("properties", {}))
            required += flat.get("required", [])
    props.update(schema.get("properties", {}))
    required += schema.get("required", [])
    if props:
        schema["properties"] = props
    if required:
        schema["required"] = sorted(set(required))
    schema.pop("discriminator", None)
    return schema


def _parents(schema: dict[str, Any]) -> list[str]:
    return [p["$ref"].rsplit("/", 1)[-1] for p in schema.get("allOf", []) if "$ref" in p]


@cache
def _document() -> dict[str, Any]:
    mfe = json.loads(MFE.read_text())
    common = json.loads(COMMON.read_text())
    defs: dict[str, Any] = {}
    for name, schema in mfe["definitions"].items():
        defs[name] = _rewrite_refs(schema, in_common=False)
    # The one deliberate difference: searchSpace values are declared as objects, but real
    # clients send (and amlite answers with) the wire list form ["uniform", [0.1, 0.9]].
    defs["SweepJob"]["properties"]["searchSpace"]["additionalProperties"] = {
        "type": ["object", "array"]
    }
    for name, schema in common["definitions"].items():
        defs[_COMMON_PREFIX + name] = _rewrite_refs(schema, in_common=True)

    subtypes: dict[str, dict[str, str]] = {}
    for name, schema in defs.items():
        for parent in _parents(schema):
            if "discriminator" in defs.get(parent, {}):
                tag = schema.get("x-ms-discriminator-value", name)
                subtypes.setdefault(parent, {})[tag] = name

    out: dict[str, Any] = {"__any__": {}}
    for name, raw in defs.items():
        flat = _flatten(name, defs)
        field = raw.get("discriminator")
        if field:
            # the base's own shape, then dispatch on the discriminator to the subtype
            out[name + _BASE_SUFFIX] = flat
            members = subtypes.get(name, {})
            out[name] = {
                "type": "object",
                "required": [field],
                "properties": {field: {"enum": sorted(members)}},
                "allOf": [
                    {
                        "if": {"properties": {field: {"const": tag}}, "required": [field]},
                        "then": {"$ref": f"#/definitions/{sub}"},
                    }
                    for tag, sub in members.items()
                ],
            }
        else:
            out[name] = flat
    return {"definitions": out}


def _format_checker() -> jsonschema.FormatChecker:
    checker = jsonschema.FormatChecker()

    @checker.checks("uuid")
    def _uuid(value: object) -> bool:
        return not isinstance(value, str) or bool(_UUID.match(value))

    @checker.checks("date-time", raises=ValueError)
    def _date_time(value: object) -> bool:
        if isinstance(value, str):
            datetime.fromisoformat(value.replace("Z", "+00:00"))
        return True

    @checker.checks("duration", raises=(isodate.ISO8601Error, ValueError))
    def _duration(value: object) -> bool:
        if isinstance(value, str):
            isodate.parse_duration(value)
        return True

    @checker.checks("int32")
    def _int32(value: object) -> bool:
        return not isinstance(value, int) or -(2**31) <= value < 2**31

    return checker


@cache
def _validator(definition: str) -> jsonschema.Draft7Validator:
    document = _document()
    if definition not in document["definitions"]:
        raise KeyError(f"no definition {definition!r} in {MFE}")
    schema = {**document, "$ref": f"#/definitions/{definition}"}
    return jsonschema.Draft7Validator(schema, format_checker=_format_checker())


def spec_errors(definition: str, instance: object) -> list[str]:
    """Every way ``instance`` breaks ``definition``, as ``path: message`` lines."""
    errors = []
    for error in _validator(definition).iter_errors(_drop_nulls(instance)):
        path = ".".join(str(p) for p in error.absolute_path) or "<root>"
        errors.append(f"{path}: {error.message}")
    return errors


def assert_matches_spec(definition: str, instance: object) -> None:
    """Fail with every problem when ``instance`` does not match mfe.json's ``definition``."""
    errors = spec_errors(definition, instance)
    assert not errors, f"{definition} mismatch:\n  " + "\n  ".join(errors)
