"""The brand's send policy: frequency caps, quiet hours, attempts per delivery and whether WeCom's own
per-customer limit is applied (operators and brand-wide keys change it; every store reads it)."""

from __future__ import annotations

from django.db import transaction
from django.utils.translation import gettext as _

from campaigns.models import SendPolicy, WecomLimit
from scrm.errors import InvalidInput
from scrm.permissions import require_write

RESOURCE = "send_policy"
FIELDS = ("daily_cap", "weekly_cap", "monthly_cap", "quiet_start", "quiet_end", "max_attempts", "wecom_limit")
MAX_ATTEMPTS = 20


def current() -> SendPolicy:
    return SendPolicy.objects.get_or_create(pk=1)[0]


@transaction.atomic
def update_policy(*, actor, values: dict) -> SendPolicy:
    """Change some of the policy's fields; all are checked first and on any error nothing changes.
    Caps are 0 (none) or more; quiet hours have both ends or neither; a day cap above the week's (or
    the week's above the month's) is refused as it could never apply."""
    require_write(actor, RESOURCE)
    unknown = sorted(set(values) - set(FIELDS))
    if unknown:
        raise InvalidInput(details={name: [_("Unknown field.")] for name in unknown})
    policy = SendPolicy.objects.select_for_update().filter(pk=1).first() or SendPolicy(pk=1)
    for name, value in values.items():
        setattr(policy, name, value)
    errors: dict[str, list] = {}
    if (policy.quiet_start is None) != (policy.quiet_end is None):
        errors["quiet_end" if policy.quiet_end is None else "quiet_start"] = [
            _("Quiet hours need both a start and an end.")
        ]
    caps = [("daily_cap", policy.daily_cap), ("weekly_cap", policy.weekly_cap), ("monthly_cap", policy.monthly_cap)]
    for (small, low), (big, high) in zip(caps, caps[1:], strict=False):
        if low and high and low > high:
            errors[small] = [_("%(small)s cannot be above %(big)s.") % {
                "small": SendPolicy._meta.get_field(small).verbose_name,
                "big": SendPolicy._meta.get_field(big).verbose_name}]
    if policy.wecom_limit not in WecomLimit.values:
        errors["wecom_limit"] = [_("One of: %(choices)s.") % {"choices": ", ".join(WecomLimit.values)}]
    if not 1 <= policy.max_attempts <= MAX_ATTEMPTS:
        errors["max_attempts"] = [_("Between 1 and %(max)d.") % {"max": MAX_ATTEMPTS}]
    if errors:
        raise InvalidInput(details=errors)
    policy.save()
    return policy
