"""A campaign's text and its personal fields ({name}, {tier}, {points}): checked when the campaign
is saved (an unknown field is an error naming it) and filled in per member at send time from one
SQL row per member (campaigns.queries.personal_sql)."""

from __future__ import annotations

import string

from django.utils.translation import gettext as _

from campaigns.links import text as link_text
from scrm.errors import InvalidInput

# Field -> what it says (for the API's description); their SQL is in campaigns.queries.
FIELDS = ("name", "tier", "points")


def fields_of(text: str) -> list[str]:
    """The personal fields `text` uses; InvalidInput naming an unknown or malformed one."""
    try:
        parsed = list(string.Formatter().parse(text))
    except ValueError as exc:
        raise InvalidInput(details={"content": [_("The text's braces do not match: %(error)s. Write {{ and }} "
                                                  "for literal braces.") % {"error": exc}]}) from None
    used, unknown = [], []
    for _literal, field, spec, conversion in parsed:
        if field is None:
            continue
        if field not in FIELDS or spec or conversion:
            unknown.append("{" + field + (f"!{conversion}" if conversion else "") + (f":{spec}" if spec else "") + "}")
        elif field not in used:
            used.append(field)
    if unknown:
        raise InvalidInput(details={"content": [
            _("Unknown personal field(s): %(fields)s. Known fields: %(known)s.")
            % {"fields": ", ".join(unknown), "known": ", ".join("{" + f + "}" for f in FIELDS)}
        ]})
    return used


def check(text: str, *, max_bytes: int | None) -> None:
    """Refuse empty text, unknown fields and text over the channel's limit (its links counted as the
    tracked links that replace them when it is sent)."""
    if not text.strip():
        raise InvalidInput(details={"content": [_("The message has no text.")]})
    fields_of(text)
    link_text.check(text)
    size = link_text.tracked_size(text)
    if max_bytes is not None and size > max_bytes and link_text.urls(text):
        raise InvalidInput(details={"content": [
            _("The text is %(size)d bytes once its links are replaced by tracked links of up to %(link)d bytes "
              "each; this channel takes at most %(limit)d.")
            % {"size": size, "link": link_text.tracked_url_bytes(), "limit": max_bytes}
        ]})
    elif max_bytes is not None and size > max_bytes:
        raise InvalidInput(details={"content": [
            _("The text is %(size)d bytes; this channel takes at most %(limit)d.")
            % {"size": len(text.encode()), "limit": max_bytes}
        ]})


def render(text: str, values: dict) -> str:
    return text.format(**{field: values.get(field, "") for field in FIELDS})
