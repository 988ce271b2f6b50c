"""The links in a campaign's text: which substrings are http(s) URLs, the text cut into literal and
link parts once (so each recipient's copy is a join), and how long the text is once every link is
replaced by a tracked one (what the channel's byte limit is checked against)."""

from __future__ import annotations

import re

from django.conf import settings
from django.utils.translation import gettext as _

from campaigns.links.tokens import MAX_TOKEN_LENGTH
from scrm.errors import InvalidInput

CODE_LENGTH = 7  # characters of a link's code
TARGET_MAX = 2000  # characters of a link's target URL

# ASCII URL characters only, so a link ends where Chinese text or punctuation begins; braces are left
# out (they are the text's personal fields).
_URL = re.compile(r"https?://[A-Za-z0-9\-._~:/?#\[\]@!$&'()*+,;=%]+")
_TRAILING = ".,;:!?'"  # sentence punctuation after a link is not part of it


def _trim(url: str) -> str:
    while url and (url[-1] in _TRAILING or (url[-1] == ")" and url.count("(") < url.count(")"))):
        url = url[:-1]
    return url


def parts(text: str) -> list[tuple[bool, str]]:
    """`text` as (is a link, piece) in order; joining the pieces gives `text` back."""
    found, at = [], 0
    for match in _URL.finditer(text):
        url = _trim(match.group(0))
        if len(url) <= len("https://"):
            continue
        start = match.start()
        if start > at:
            found.append((False, text[at:start]))
        found.append((True, url))
        at = start + len(url)
    if at < len(text):
        found.append((False, text[at:]))
    return found


def urls(text: str) -> list[str]:
    """The distinct links of `text`, in the order they first appear."""
    return list(dict.fromkeys(piece for is_link, piece in parts(text) if is_link))


def check(text: str) -> None:
    """Refuse a link too long to keep."""
    too_long = [url for url in urls(text) if len(url) > TARGET_MAX]
    if too_long:
        raise InvalidInput(details={"content": [
            _("A link is longer than %(max)d characters: %(start)s…") % {"max": TARGET_MAX, "start": too_long[0][:60]}
        ]})


def tracked_prefix() -> str:
    return f"{settings.SIYU_PUBLIC_URL}/l/"


def tracked_url(code: str, token: str) -> str:
    return f"{tracked_prefix()}{code}/{token}"


def tracked_url_bytes() -> int:
    """The longest a tracked link can be (the widest member id's token)."""
    return len(tracked_prefix().encode()) + CODE_LENGTH + 1 + MAX_TOKEN_LENGTH


def as_sent(text: str) -> str:
    """`text` with every link replaced by a tracked link of the longest length, for a channel's own
    check of what it will send (SMS segments, a provider's limit)."""
    longest = tracked_prefix() + "x" * CODE_LENGTH + "/" + "x" * MAX_TOKEN_LENGTH
    return "".join(longest if is_link else piece for is_link, piece in parts(text))


def tracked_size(text: str) -> int:
    """UTF-8 bytes of `text` with every link replaced by the longest tracked link."""
    return sum(tracked_url_bytes() if is_link else len(piece.encode()) for is_link, piece in parts(text))
