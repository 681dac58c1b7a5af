"""One exception tree for amlite.

    AmliteError
     ├── RequestError            -> a 4xx answer in the ARM error envelope
     │    ├── ValidationFailed   -> 400, one Violation per problem (target = JSON path)
     │    ├── Unauthorized       -> 401
     │    ├── Forbidden          -> 403
     │    ├── NotFound           -> 404
     │    ├── Conflict           -> 409
     │    └── PayloadTooLarge    -> 413
     ├── InvalidTransition       -> a status change the status table does not allow
 │    └── Fenced             -> a write by a server that no longer holds the job
     └── ExecutionError          -> a job could not be prepared or run (becomes Failed + reason)

Every layer raises these; only the API layer turns them into HTTP answers.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


class AmliteError(Exception):
    """Base of every error amlite raises on purpose."""


@dataclass(frozen=True)
class Violation:
    """One problem with a request: where (JSON path such as ``properties.trial.command``) and
    what."""

    target: str
    message: str
    code: str = "InvalidValue"


class RequestError(AmliteError):
    status_code = 400
    code = "BadRequest"

    def __init__(self, message: str, target: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.target = target


class ValidationFailed(RequestError):
    status_code = 400
    code = "ValidationError"

    def __init__(self, violations: list[Violation], message: str | None = None) -> None:
        if not violations:
            raise ValueError("ValidationFailed needs at least one violation")
        first = violations[0]
        summary = message or (
            f"{first.target}: {first.message}"
            if len(violations) == 1
            else f"{len(violations)} problems with the request, first: "
            f"{first.target}: {first.message}"
        )
        super().__init__(summary, target=first.target)
        self.violations = list(violations)

    @classmethod
    def one(cls, target: str, message: str, code: str = "InvalidValue") -> ValidationFailed:
        return cls([Violation(target, message, code)])


class Unauthorized(RequestError):
    status_code = 401
    code = "AuthenticationFailed"


class Forbidden(RequestError):
    status_code = 403
    code = "AuthorizationFailed"


class NotFound(RequestError):
    status_code = 404
    code = "ResourceNotFound"


class Conflict(RequestError):
    status_code = 409
    code = "Conflict"


class PayloadTooLarge(RequestError):
    status_code = 413
    code = "PayloadTooLarge"


class ServiceUnavailable(RequestError):
    """A backing service (a datastore's storage account) cannot be used right now."""

    status_code = 503
    code = "ServiceUnavailable"


class InvalidTransition(AmliteError):
    """A status change that the status table does not allow."""


class Fenced(InvalidTransition):
    """A write refused because the server no longer holds what it rests on (a job or sweep
    another server took over while this one stalled; ``amlite.store.Fence``)."""


class JobDocumentError(AmliteError):
    """A job document that cannot be translated; ``problems`` lists every ``where: what``."""

    def __init__(self, problems: list[str], source: Path | None = None) -> None:
        self.problems = list(problems)
        self.source = source
        where = f"{source}: " if source else ""
        super().__init__(where + "; ".join(self.problems))


class ExecutionError(AmliteError):
    """A job could not be prepared or run; the message becomes the job's error."""
