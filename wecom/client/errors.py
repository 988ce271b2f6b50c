"""What a WeCom server API call can fail with, by kind, so callers decide by class, not by number.

Every non-zero errcode becomes one of these; the kinds follow WeCom's error-code page (path/90313):
token problems are refreshed and retried once inside the client and surface as CredentialsRejected
only when the fresh token is refused too; rate limits and outages are worth retrying later; the rest
are recorded and not retried. Messages carry the errcode, WeCom's errmsg and the API path, never a
request or answer body (they may hold personal data).
"""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

# Token expired or revoked: drop that token, fetch another, retry once.
TOKEN_EXPIRED = frozenset({40014, 42001})
# The credentials themselves are wrong (bad corp id or secret) or the token is missing.
CREDENTIALS = frozenset({40001, 40013, 40014, 41001, 42001, 40091})
RATE_LIMITED = frozenset({45009, 45033, 45011})
UNAVAILABLE = frozenset({-1})
PERMISSION = frozenset({48002, 60011, 60020, 60111, 301002, 84074})
NOT_A_CONTACT = frozenset({84061})
WELCOME_CODE_USED = frozenset({41051})

# What the connection page says about an errcode.
MEANINGS = {
    -1: _("WeCom is busy; try again later"),
    40001: _("The secret is wrong"),
    40013: _("The corp id is wrong"),
    40014: _("The access token is invalid"),
    40091: _("The secret is invalid"),
    41001: _("The access token is missing"),
    41051: _("The welcome code was already used or has expired"),
    42001: _("The access token expired"),
    45009: _("WeCom's call frequency limit was reached"),
    45011: _("WeCom's call frequency limit was reached"),
    45033: _("WeCom's concurrency limit was reached"),
    48002: _("This API is not allowed for the app or secret"),
    60011: _("No permission for this staff member or department"),
    60020: _("The calling address is not on the corp's trusted IP list"),
    60111: _("The staff member does not exist"),
    81017: _("Too many group owners: filter by owner"),
    84061: _("No contact relationship between the staff member and the customer"),
    84074: _("No permission for customer contact"),
}


class WecomError(Exception):
    """A WeCom API call did not succeed. ``errcode`` 0 never raises; ``retryable`` says whether the
    same call may succeed later unchanged."""

    retryable = False

    def __init__(self, errcode: int | None, errmsg: str = "", path: str = ""):
        self.errcode = errcode
        self.errmsg = errmsg or ""
        self.path = path
        super().__init__(f"WeCom {path or '?'}: errcode {errcode}: {self.errmsg[:200]}")


class RateLimited(WecomError):
    """WeCom answered 45009 / 45033, or the connector's own budget for this API is spent: pause the
    work and resume it after ``retry_after`` seconds."""

    retryable = True

    def __init__(self, errcode, errmsg="", path="", *, retry_after: float = 60.0):
        super().__init__(errcode, errmsg, path)
        self.retry_after = float(retry_after)


class Unavailable(WecomError):
    """Network error, timeout, an HTTP status other than 200, an answer that is not JSON, or
    errcode -1 (system busy): retry later."""

    retryable = True


class CredentialsRejected(WecomError):
    """The corp id or secret is refused, or a fresh token was refused again: a configuration problem."""


class PermissionDenied(WecomError):
    """The secret or app has no permission for this call or this staff member: record, don't retry."""


class NotAContact(WecomError):
    """84061: the customer is not (or no longer) this staff member's contact: record, don't retry."""


class WelcomeCodeUsed(WecomError):
    """41051: the welcome code was already used or its 20 seconds have passed."""


class InvalidRequest(WecomError):
    """Any other non-zero errcode (bad parameter, unknown id…): record, don't retry."""


class NotConfigured(WecomError):
    """No WeCom corp is configured (no WECOM_* settings) and no local server is running."""

    def __init__(self, errmsg: str = "WeCom is not configured", path: str = ""):
        super().__init__(None, errmsg, path)


def from_answer(errcode: int, errmsg: str, path: str, *, retry_after: float = 60.0) -> WecomError:
    """The exception for a non-zero errcode answered by WeCom."""
    if errcode in RATE_LIMITED:
        return RateLimited(errcode, errmsg, path, retry_after=retry_after)
    if errcode in UNAVAILABLE:
        return Unavailable(errcode, errmsg, path)
    if errcode in CREDENTIALS:
        return CredentialsRejected(errcode, errmsg, path)
    if errcode in PERMISSION:
        return PermissionDenied(errcode, errmsg, path)
    if errcode in NOT_A_CONTACT:
        return NotAContact(errcode, errmsg, path)
    if errcode in WELCOME_CODE_USED:
        return WelcomeCodeUsed(errcode, errmsg, path)
    return InvalidRequest(errcode, errmsg, path)


def meaning(errcode: int | None) -> str:
    """What an errcode means, in words, for the connection page."""
    if errcode is None:
        return ""
    return str(MEANINGS.get(errcode, _("See WeCom's error code list")))
