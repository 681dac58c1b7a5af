"""The one error a Terraform configuration can cause: where (file:line:column) and what."""

from __future__ import annotations

from amlite.errors import RequestError


class TerraformError(RequestError):
    """A configuration amlite cannot turn into a deployment; the message starts with the place."""

    code = "InvalidTerraformConfiguration"

    def __init__(self, message: str, where: str | None = None) -> None:
        super().__init__(f"{where}: {message}" if where else message, target=where)
        self.reason = message
        self.where = where
