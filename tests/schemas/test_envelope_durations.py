"""The ARM error envelope and duration normalisation."""

from __future__ import annotations

import pytest
from schema_helpers import command_body

from amlite.errors import NotFound, ValidationFailed
from amlite.schemas import error_envelope, normalize_duration, parse_job


def test_validation_errors_list_every_violation() -> None:
    with pytest.raises(ValidationFailed) as info:
        parse_job(command_body(command=1, colour="red"))
    envelope = error_envelope(info.value)
    error = envelope["error"]
    assert error["code"] == "ValidationError"
    assert error["target"] == "properties.command"
    assert {(d["target"], d["code"]) for d in error["details"]} == {
        ("properties.command", "InvalidValue"),
        ("properties.colour", "UnknownField"),
    }
    assert all(d["message"] for d in error["details"])


def test_other_errors_have_no_details() -> None:
    envelope = error_envelope(NotFound("job j not found", target="j"))
    assert envelope == {
        "error": {
            "code": "ResourceNotFound",
            "message": "job j not found",
            "target": "j",
            "details": [],
        }
    }


@pytest.mark.parametrize(
    ("value", "precision", "seconds"),
    [
        ("PT1H30M", "seconds", 5400.0),
        ("PT90S", "seconds", 90.0),
        ("P1D", "minutes", 86400.0),
        ("P1W", "minutes", 604800.0),
        ("PT2M", "minutes", 120.0),
    ],
)
def test_normalize_duration(value: str, precision: str, seconds: float) -> None:
    assert normalize_duration(value, precision=precision, target="t") == seconds  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("value", "precision", "words"),
    [
        ("PT1.5S", "seconds", "over-precise"),
        ("PT30S", "minutes", "over-precise"),
        ("P1Y", "seconds", "ambiguous"),
        ("P2M", "minutes", "ambiguous"),
        ("-PT1M", "seconds", "positive"),
        ("PT0S", "seconds", "positive"),
        ("soon", "seconds", "ISO 8601"),
    ],
)
def test_bad_durations(value: str, precision: str, words: str) -> None:
    with pytest.raises(ValidationFailed) as info:
        normalize_duration(value, precision=precision, target="properties.timeout")  # type: ignore[arg-type]
    [violation] = info.value.violations
    assert violation.target == "properties.timeout"
    assert words in violation.message
