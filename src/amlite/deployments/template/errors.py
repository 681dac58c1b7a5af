"""The one error the template language raises: what went wrong, and where in the template."""

from __future__ import annotations


class TemplateError(Exception):
    """A template that cannot be evaluated. ``expression`` is the string being evaluated (if
    any), ``path`` the JSON path of the value in the template (e.g. ``resources[0].name``)."""

    code = "InvalidTemplate"

    def __init__(self, message: str, expression: str | None = None, path: str | None = None):
        super().__init__(message)
        self.message = message
        self.expression = expression
        self.path = path

    def at(self, path: str) -> TemplateError:
        """Attach the template path once (the innermost wins)."""
        if self.path is None:
            self.path = path
        return self

    def __str__(self) -> str:
        text = self.message
        if self.expression is not None:
            text += f" in expression '{self.expression}'"
        if self.path:
            text += f" (at {self.path})"
        return text


class ParameterError(TemplateError):
    """A template parameter that was not given, or given a value of the wrong type or range."""

    code = "InvalidTemplateParameter"


class DeferredReference(TemplateError):
    """``reference()`` while validating: the value is only known while deploying."""
