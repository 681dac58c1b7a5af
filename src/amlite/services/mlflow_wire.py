"""MLflow's REST shapes: request fields read strictly, errors, and JSON-safe numbers.

The MLflow client sends protobuf JSON: 64-bit integers arrive as strings (``"step": "3"``)
and non-finite doubles as ``"NaN"``, ``"Infinity"``, ``"-Infinity"``. Both are accepted; any
other type or a missing required field is an ``MlflowError`` (400 INVALID_PARAMETER_VALUE).
Limits are MLflow's own (``mlflow.utils.validation``).
"""

from __future__ import annotations

import functools
import math
import re
import time
from collections.abc import Mapping
from typing import Any

from amlite.domain.json_value import JsonObject
from amlite.store import MetricPoint

MAX_METRICS_PER_BATCH = 1000
MAX_PARAMS_TAGS_PER_BATCH = 100
MAX_ENTITIES_PER_BATCH = 1000
MAX_PARAM_VAL_LENGTH = 6000
MAX_TAG_VAL_LENGTH = 8000
MAX_KEY_LENGTH = 250
_VALID_KEY = re.compile(r"^[/\w.\- :]+$")
_INT64 = re.compile(r"-?\d{1,19}")
_SPECIAL = {"nan": math.nan, "infinity": math.inf, "-infinity": -math.inf}

INVALID_PARAMETER_VALUE = "INVALID_PARAMETER_VALUE"
RESOURCE_DOES_NOT_EXIST = "RESOURCE_DOES_NOT_EXIST"
RESOURCE_ALREADY_EXISTS = "RESOURCE_ALREADY_EXISTS"
PERMISSION_DENIED = "PERMISSION_DENIED"
UNAUTHENTICATED = "UNAUTHENTICATED"
ENDPOINT_NOT_FOUND = "ENDPOINT_NOT_FOUND"
INTERNAL_ERROR = "INTERNAL_ERROR"
TEMPORARILY_UNAVAILABLE = "TEMPORARILY_UNAVAILABLE"

HTTP_STATUS = {
    INVALID_PARAMETER_VALUE: 400,
    RESOURCE_ALREADY_EXISTS: 400,
    UNAUTHENTICATED: 401,
    PERMISSION_DENIED: 403,
    RESOURCE_DOES_NOT_EXIST: 404,
    ENDPOINT_NOT_FOUND: 404,
    INTERNAL_ERROR: 500,
    TEMPORARILY_UNAVAILABLE: 503,
}


class MlflowError(Exception):
    """An error answered in MLflow's shape ``{"error_code", "message"}``."""

    def __init__(self, error_code: str, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.error_code = error_code
        self.message = message
        self.status = status or HTTP_STATUS.get(error_code, 400)

    def body(self) -> dict[str, str]:
        return {"error_code": self.error_code, "message": self.message}


def invalid(message: str) -> MlflowError:
    return MlflowError(INVALID_PARAMETER_VALUE, message)


def json_number(value: float) -> float | str:
    """A double as protobuf JSON writes it (non-finite values as strings)."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    return value


def metric_json(point: MetricPoint) -> JsonObject:
    return {
        "key": point.key,
        "value": json_number(point.value),
        "timestamp": point.timestamp,
        "step": point.step,
    }


def require_object(body: Any) -> Mapping[str, object]:
    if not isinstance(body, Mapping):
        raise invalid("the request body must be a JSON object")
    return body


def run_id_of(fields: Mapping[str, object]) -> str:
    """``run_id`` (or the older ``run_uuid``) of a request."""
    value = fields.get("run_id") or fields.get("run_uuid")
    if not isinstance(value, str) or not value.strip():
        raise invalid("Missing value for required parameter 'run_id'")
    return value.strip()


def required_str(fields: Mapping[str, object], name: str) -> str:
    value = fields.get(name)
    if not isinstance(value, str) or not value:
        raise invalid(f"Missing value for required parameter '{name}'")
    return value


def key_of(fields: Mapping[str, object], what: str) -> str:
    key = fields.get("key")
    if not isinstance(key, str) or not key:
        raise invalid(f"Missing value for required parameter 'key' of a {what}")
    return _checked_key(key, what)


@functools.lru_cache(maxsize=4096)
def _checked_key(key: str, what: str) -> str:
    """Keys repeat (a batch logs one metric many times): check each one once."""
    if len(key) > MAX_KEY_LENGTH:
        raise invalid(f"{what} key {key[:40]!r}... is longer than {MAX_KEY_LENGTH} characters")
    parts = key.split("/")
    if not _VALID_KEY.match(key) or key.startswith("/") or ".." in parts or "." in parts:
        raise invalid(
            f"Invalid {what} name: {key!r}. Names may only contain alphanumerics, underscores "
            "(_), dashes (-), periods (.), spaces ( ), colons (:) and slashes (/), and may not "
            "be a path that leaves its folder."
        )
    return key


def _double(value: Any, name: str) -> float:
    if isinstance(value, bool) or value is None:
        raise invalid(f"Got invalid value {value!r} for metric '{name}': expected a number")
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        special = _SPECIAL.get(value.strip().lower())
        if special is not None:
            return special
        try:
            return float(value)
        except ValueError:
            pass
    raise invalid(f"Got invalid value {value!r} for metric '{name}': expected a number")


def _int64(value: Any, field: str, default: int | None = None) -> int:
    if value is None and default is not None:
        return default
    if isinstance(value, bool):
        raise invalid(f"Got invalid value {value!r} for parameter '{field}': expected an integer")
    integral = isinstance(value, float) and value.is_integer()
    if isinstance(value, int):
        result = value
    elif integral or (isinstance(value, str) and _INT64.fullmatch(value.strip())):
        result = int(value)
    else:
        what = "Missing value for" if value is None else f"Got invalid value {value!r} for"
        raise invalid(f"{what} parameter '{field}': expected an integer")
    if not -(2**63) <= result < 2**63:
        raise invalid(f"parameter '{field}' is out of the 64-bit range")
    return result


def parse_metric(fields: Any) -> MetricPoint:
    fields = require_object(fields)
    key = key_of(fields, "metric")
    if "value" not in fields:
        raise invalid(f"Missing value for required parameter 'value' of metric '{key}'")
    value = _double(fields["value"], key)
    timestamp = _int64(fields.get("timestamp"), "timestamp", default=int(time.time() * 1000))
    step = _int64(fields.get("step"), "step", default=0)
    return MetricPoint(key=key, value=value, step=step, timestamp=timestamp)


def _text(fields: Mapping[str, object], key: str, what: str, limit: int) -> str:
    value = fields.get("value")
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise invalid(f"Missing or invalid value for {what} '{key}': expected a string")
    text = value if isinstance(value, str) else str(value)
    if len(text) > limit:
        raise invalid(f"{what} '{key}' has a value longer than {limit} characters")
    return text


def parse_param(fields: Any) -> tuple[str, str]:
    fields = require_object(fields)
    key = key_of(fields, "param")
    return key, _text(fields, key, "param", MAX_PARAM_VAL_LENGTH)


def parse_tag(fields: Any) -> tuple[str, str]:
    fields = require_object(fields)
    key = key_of(fields, "tag")
    return key, _text(fields, key, "tag", MAX_TAG_VAL_LENGTH)


def _list(fields: Mapping[str, object], name: str, limit: int) -> list[Any]:
    items = fields.get(name)
    if items is None:
        return []
    if not isinstance(items, list):
        raise invalid(f"'{name}' must be a list")
    if len(items) > limit:
        raise invalid(
            f"A batch logging request can contain at most {limit} {name}. "
            f"Got {len(items)} {name}. Please split up {name} across multiple requests and try "
            "again."
        )
    return items


def parse_batch(
    fields: Mapping[str, object],
) -> tuple[list[MetricPoint], dict[str, str], dict[str, str]]:
    """(metrics, params, tags) of a ``runs/log-batch`` body, all checked before anything is
    written."""
    metrics = _list(fields, "metrics", MAX_METRICS_PER_BATCH)
    params = _list(fields, "params", MAX_PARAMS_TAGS_PER_BATCH)
    tags = _list(fields, "tags", MAX_PARAMS_TAGS_PER_BATCH)
    total = len(metrics) + len(params) + len(tags)
    if total > MAX_ENTITIES_PER_BATCH:
        raise invalid(
            f"A batch logging request can contain at most {MAX_ENTITIES_PER_BATCH} metrics, "
            f"params and tags in total. Got {total}."
        )
    points = [parse_metric(m) for m in metrics]
    param_values: dict[str, str] = {}
    for item in params:
        key, value = parse_param(item)
        if param_values.get(key, value) != value:
            raise invalid(f"Duplicate parameter key {key!r} with different values in one batch")
        param_values[key] = value
    tag_values = dict(parse_tag(item) for item in tags)
    return points, param_values, tag_values
