"""The errors only points raise, in the shared vocabulary of scrm.errors (status, code, details)."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from scrm.errors import ServiceError


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
