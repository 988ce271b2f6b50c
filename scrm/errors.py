"""The one vocabulary of domain errors every app's services raise.

Each error carries an HTTP status, a stable `code` a program can test and `details` naming the
fields or rows at fault. The API's exception handler (scrm.api.errors) answers them in the one error
shape, and the dashboard's ServiceErrorMiddleware (scrm.middleware) shows their message, so no view
needs to translate them. An app adds its own errors by subclassing one of these with its own
`code` (points' InsufficientPoints, a 409)."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _


class ServiceError(Exception):
    status = 400
    code = "invalid"
    default_message = _("The request cannot be carried out.")

    def __init__(self, message=None, *, details: dict | None = None, code: str | None = None) -> None:
        self.message = str(message or self.default_message)
        self.details = details or {}
        if code:
            self.code = code
        super().__init__(self.message)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.code!r}, {self.details!r})"


class InvalidInput(ServiceError):
    """Bad values: details maps each field (or item index, for batches) to its messages."""

    status = 400
    code = "validation_error"
    default_message = _("The request has invalid data; see details for each field.")


class Conflict(ServiceError):
    status = 409
    code = "conflict"
    default_message = _("The request conflicts with the current state.")


class NotInScope(ServiceError):
    """Members (or other objects) that do not exist or lie outside the caller's store."""

    status = 404
    code = "not_found"
    default_message = _("Not found.")


class Forbidden(ServiceError):
    status = 403
    code = "permission_denied"
    default_message = _("You may not do this.")
