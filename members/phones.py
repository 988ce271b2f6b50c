"""Phone numbers in one form (E.164), whatever way a store clerk or a platform wrote them.

A value that is not plainly one number is refused rather than guessed: letters are not read as
keypad digits (138OO138OOO is a typo, not +8613866138666), and a cell with two numbers does not
quietly keep the first."""

from __future__ import annotations

import re
import unicodedata

import phonenumbers
from django.utils.translation import gettext as _

DEFAULT_REGION = "CN"

# What may sit between the digits of one number: spaces, dashes, dots, brackets (and their
# full-width forms); a + only in front.
_FORMATTING = frozenset(" \t\u00a0\u3000-.()\u2010\u2011\u2012\u2013\u2014\u2212\uff0d\uff0e\uff08\uff09")
_PLUS = frozenset("+")  # after NFKC, which turns ＋ into +
# What separates two numbers in one value: 13800138000/13900139000, 13800138000、13900139000...
_SEVERAL = re.compile(r"[/\\;,、|，；／｜\n\r&＆]|\bor\b|或|和|及", re.IGNORECASE)
_DIGIT_RUNS = re.compile(r"\d+")

LETTERS, SEVERAL, INVALID = "letters", "several", "invalid"


class InvalidPhone(ValueError):
    """`reason` says what is wrong: LETTERS, SEVERAL or INVALID."""

    def __init__(self, message: str, reason: str = INVALID) -> None:
        super().__init__(message)
        self.reason = reason


def _parsed(text: str, region: str) -> str | None:
    """E.164 for `text` when it is a valid number, else None."""
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def _holds_two_numbers(text: str, region: str) -> bool:
    """Whether the digit runs of `text` split into two valid numbers ('13800138000 13900139000'),
    where '+86 138 0013 8000' or '010-6552 9988' are the parts of one."""
    runs = _DIGIT_RUNS.findall(text)
    plus = "+" if "+" in text[: text.index(runs[0])] else ""
    for cut in range(1, len(runs)):
        if _parsed(plus + "".join(runs[:cut]), region) and _parsed("".join(runs[cut:]), region):
            return True
    return False


def normalize_phone(raw: str, *, region: str = DEFAULT_REGION) -> str:
    """'138 0013 8000', '+86 13800138000', '0086-13800138000' -> '+8613800138000'.

    Raises InvalidPhone for letters, for more than one number and for what is not a valid number."""
    text = unicodedata.normalize("NFKC", raw or "").strip()  # full-width digits and signs
    several = _("%(value)s holds more than one phone number; give one number.") % {"value": raw}
    if _SEVERAL.search(text):
        parts = [part for part in _SEVERAL.split(text) if part and any(ch.isdigit() for ch in part)]
        if len(parts) > 1:
            raise InvalidPhone(several, SEVERAL)
    if any(unicodedata.category(ch).startswith("L") for ch in text):
        raise InvalidPhone(_("%(value)s contains letters; a phone number has digits only.") % {"value": raw}, LETTERS)
    if text.startswith("00"):
        text = "+" + text[2:]
    first_digit = next((at for at, ch in enumerate(text) if ch.isdecimal()), None)
    later_plus = text.find("+", first_digit) if first_digit is not None else -1
    if later_plus > 0 and any(ch.isdecimal() for ch in text[later_plus:]):
        raise InvalidPhone(several, SEVERAL)  # '+8613800138000 +8613900139000'
    if first_digit is None or any(
        not (ch.isdecimal() or ch in _FORMATTING or (ch in _PLUS and at < first_digit)) for at, ch in enumerate(text)
    ):
        raise InvalidPhone(_("%(value)s is not a phone number.") % {"value": raw})
    if len(_DIGIT_RUNS.findall(text)) > 1 and _holds_two_numbers(text, region):
        raise InvalidPhone(several, SEVERAL)
    e164 = _parsed(text, region)
    if e164 is None:
        raise InvalidPhone(_("%(value)s is not a valid phone number.") % {"value": raw})
    return e164


def mask_phone(e164: str) -> str:
    """+8613800138000 -> +86 138****8000, for roles that do not need the full number."""
    if not e164:
        return ""
    if e164.startswith("+86") and len(e164) == 14:
        return f"+86 {e164[3:6]}****{e164[-4:]}"
    return e164[:-6] + "****" + e164[-2:] if len(e164) > 8 else "****"


_SEARCH_SEPARATORS = re.compile(r"[\s\-().+/]")


def looks_like_phone(value: str) -> bool:
    """Whether a search text is a phone number or its last digits (four or more digits with only the
    separators people type between them), as the member search reads it: such a text is personal
    data and belongs in a request body, never in a URL."""
    text = unicodedata.normalize("NFKC", value or "").strip()
    digits = "".join(ch for ch in text if ch.isdigit())
    return len(digits) >= 4 and _SEARCH_SEPARATORS.sub("", text) == digits
