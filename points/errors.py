"""What points services raise: the member centre's service errors (status, code, details naming the
field), so the API answers them in the one error shape and screens show their message."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from members.services.errors import Conflict, Forbidden, InvalidInput, NotInScope, ServiceError

__all__ = [
    "Conflict",
    "Forbidden",
    "InsufficientPoints",
    "InvalidInput",
    "NotInScope",
    "RewardUnavailable",
    "ServiceError",
]


class InsufficientPoints(ServiceError):
    status = 409
    code = "insufficient_points"
    default_message = _("The member does not have enough points.")


class RewardUnavailable(ServiceError):
    """Inactive, outside its window, out of stock, above the member's tier or over the member's limit;
    `code` says which."""

    status = 409
    code = "reward_unavailable"
    default_message = _("This reward cannot be redeemed now.")
