"""The recipient part of a tracked link: the member id in base 62 followed by a MAC over the link's
code and that id (HMAC-SHA256 keyed by SECRET_KEY, cut to 48 bits, base64url), so a token names one
member on one link and cannot be made up or moved to another member or link. 13 to 19 characters.
Tokens made under a key in SECRET_KEY_FALLBACKS still verify while it is listed."""

from __future__ import annotations

import base64
import string

from django.conf import settings
from django.utils.crypto import constant_time_compare, salted_hmac

ALPHABET = string.digits + string.ascii_letters
MAC_BYTES = 6
MAC_LENGTH = 8  # base64 of 6 bytes
MAX_ID_LENGTH = 11  # base 62 of the largest bigint
MAX_TOKEN_LENGTH = MAX_ID_LENGTH + MAC_LENGTH
_SALT = "siyu.campaigns.links.token"


def _b62(n: int) -> str:
    digits = ""
    while True:
        n, r = divmod(n, 62)
        digits = ALPHABET[r] + digits
        if n == 0:
            return digits


def _from_b62(text: str) -> int | None:
    n = 0
    for ch in text:
        value = ALPHABET.find(ch)
        if value < 0:
            return None
        n = n * 62 + value
    return n


def _mac(code: str, ident: str, secret: str | None = None) -> str:
    digest = salted_hmac(_SALT, f"{code}:{ident}", secret=secret, algorithm="sha256").digest()
    return base64.urlsafe_b64encode(digest[:MAC_BYTES]).decode()


def make(code: str, member_id: int) -> str:
    ident = _b62(member_id)
    return ident + _mac(code, ident)


STAFF_MARK = "~"  # not a base-62 digit: a staff token never reads as a member's


def make_for_staff(code: str, staff_id: int) -> str:
    """A token naming a staff member's WeCom task rather than a member (one text reaches all of that
    staff member's customers): `~` and the staff member's id in base 62, then the MAC. member_of reads
    it as no member, so a click on it counts for the campaign and its link only."""
    ident = STAFF_MARK + _b62(staff_id)
    return ident + _mac(code, ident)


TEST_MARK = "-"  # not a base-62 digit either: a test send's token never reads as a member's or staff's


def make_for_test(code: str, test_send_id: int) -> str:
    """A token naming a test send to staff (a StaffTestLink's code, not a campaign's): `-` and the test
    send's id in base 62, then the MAC. It is followed as a test click, never a campaign's."""
    ident = TEST_MARK + _b62(test_send_id)
    return ident + _mac(code, ident)


def is_test(token: str) -> bool:
    return token.startswith(TEST_MARK)


def test_send_of(code: str, token: str) -> int | None:
    """The test send a make_for_test token names on test link `code`; None otherwise."""
    if not is_test(token) or not MAC_LENGTH < len(token) <= MAX_TOKEN_LENGTH:
        return None
    ident, mac = token[:-MAC_LENGTH], token[-MAC_LENGTH:]
    test_send_id = _from_b62(ident[1:]) if len(ident) > 1 else None
    if test_send_id is None or test_send_id <= 0:
        return None
    for secret in (settings.SECRET_KEY, *getattr(settings, "SECRET_KEY_FALLBACKS", [])):
        if constant_time_compare(mac, _mac(code, ident, secret)):
            return test_send_id
    return None


def staff_of(code: str, token: str) -> int | None:
    """The staff member a make_for_staff token names on link `code`; None otherwise."""
    if not token.startswith(STAFF_MARK) or not MAC_LENGTH < len(token) <= MAX_TOKEN_LENGTH:
        return None
    ident, mac = token[:-MAC_LENGTH], token[-MAC_LENGTH:]
    staff_id = _from_b62(ident[1:]) if len(ident) > 1 else None
    if staff_id is None or staff_id <= 0:
        return None
    for secret in (settings.SECRET_KEY, *getattr(settings, "SECRET_KEY_FALLBACKS", [])):
        if constant_time_compare(mac, _mac(code, ident, secret)):
            return staff_id
    return None


def member_of(code: str, token: str) -> int | None:
    """The member `token` names on link `code`; None when it is malformed or does not verify."""
    if not token or not MAC_LENGTH < len(token) <= MAX_TOKEN_LENGTH:
        return None
    ident, mac = token[:-MAC_LENGTH], token[-MAC_LENGTH:]
    if ident != "0" and ident.startswith("0"):
        return None  # one spelling per id
    member_id = _from_b62(ident)
    if member_id is None or member_id <= 0 or member_id >= 2**63:
        return None
    for secret in (settings.SECRET_KEY, *getattr(settings, "SECRET_KEY_FALLBACKS", [])):
        if constant_time_compare(mac, _mac(code, ident, secret)):
            return member_id
    return None
