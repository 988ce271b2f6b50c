"""What member services raise. Each error carries an HTTP status, a stable code and `details`
naming the fields or rows at fault; the API turns them into the one error shape unchanged."""

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


class IdentityConflict(ServiceError):
    """The identities given belong to more than one member (or to one the caller cannot reach):
    an operator decides, for instance by merging."""

    status = 409
    code = "identity_conflict"
    default_message = _("These identities belong to different members; merge them first.")


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
