"""Phone numbers in one form (E.164), whatever way a store clerk or a platform wrote them."""

from __future__ import annotations

import phonenumbers
from django.utils.translation import gettext as _

DEFAULT_REGION = "CN"


class InvalidPhone(ValueError):
    pass


def normalize_phone(raw: str, *, region: str = DEFAULT_REGION) -> str:
    """'138 0013 8000', '+86 13800138000', '0086-13800138000' -> '+8613800138000'."""
    text = (raw or "").strip()
    if text.startswith("00"):
        text = "+" + text[2:]
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        raise InvalidPhone(_("%(value)s is not a phone number.") % {"value": raw}) from None
    if not phonenumbers.is_valid_number(number):
        raise InvalidPhone(_("%(value)s is not a valid phone number.") % {"value": raw})
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def mask_phone(e164: str) -> str:
    """+8613800138000 -> +86 138****8000, for roles that do not need the full number."""
    if not e164:
        return ""
    if e164.startswith("+86") and len(e164) == 14:
        return f"+86 {e164[3:6]}****{e164[-4:]}"
    return e164[:-6] + "****" + e164[-2:] if len(e164) > 8 else "****"
