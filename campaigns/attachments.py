"""A campaign's attachments: what follows its text, in order, at most MAX (WeCom's 9). Each is one of

    {"type": "image", "image": <CampaignImage id>}
    {"type": "link", "title": "...", "url": "https://...", "description": "", "picture_url": ""}
    {"type": "miniprogram", "title": "...", "appid": "wx0123456789abcdef", "page": "pages/index",
     "image": <CampaignImage id of the cover>}

`parse` checks the shape (unknown and missing fields, lengths; WeCom's limits, the strictest channel's)
and answers the normalised list stored on Campaign.attachments; every error names the attachment by
its position and what is wrong with it. Which kinds a channel carries is the channel's
(campaigns.channels.base.Channel.attachment_kinds and check_attachments); images are looked up and
scoped by campaigns.services.attachments."""

from __future__ import annotations

import re

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from campaigns.links.text import TARGET_MAX
from scrm.errors import InvalidInput

MAX = 9  # add_msg_template: at most 9 attachments
IMAGE, LINK, MINIPROGRAM = "image", "link", "miniprogram"
KINDS = (IMAGE, LINK, MINIPROGRAM)
KIND_LABELS = {IMAGE: gettext_lazy("image"), LINK: gettext_lazy("link"), MINIPROGRAM: gettext_lazy("mini-program card")}

# WeCom's limits (add_msg_template, path/92135), in UTF-8 bytes.
LINK_TITLE_BYTES = 128
LINK_DESCRIPTION_BYTES = 512
MINIPROGRAM_TITLE_BYTES = 64
PAGE_MAX = 1000
APPID = re.compile(r"^wx[0-9a-zA-Z]{16}$")
_URL = re.compile(r"^https?://[^\s/$.?#][^\s]*$", re.IGNORECASE)

# field -> required, per kind
FIELDS = {
    IMAGE: {"image": True},
    LINK: {"title": True, "url": True, "description": False, "picture_url": False},
    MINIPROGRAM: {"title": True, "appid": True, "page": True, "image": True},
}


def label(position: int, kind: str | None) -> str:
    """How an error names an attachment: "Attachment 2 (link)" (counted from 1)."""
    if kind in KIND_LABELS:
        return _("Attachment %(n)d (%(kind)s)") % {"n": position + 1, "kind": KIND_LABELS[kind]}
    return _("Attachment %(n)d") % {"n": position + 1}


def _text(value, *, required: bool, max_bytes: int | None = None, max_chars: int | None = None) -> tuple[str, str]:
    """(the cleaned text, what is wrong with it or '')."""
    if value is None:
        value = ""
    if not isinstance(value, str):
        return "", _("must be text")
    value = value.strip()
    if required and not value:
        return "", _("is empty")
    if max_bytes is not None and len(value.encode()) > max_bytes:
        return value, _("is %(size)d bytes; at most %(max)d") % {"size": len(value.encode()), "max": max_bytes}
    if max_chars is not None and len(value) > max_chars:
        return value, _("is %(size)d characters; at most %(max)d") % {"size": len(value), "max": max_chars}
    return value, ""


def _url(value, *, required: bool) -> tuple[str, str]:
    value, problem = _text(value, required=required, max_chars=TARGET_MAX)
    if problem or not value:
        return value, problem
    if not _URL.match(value):
        return value, _("is not an http(s) address")
    return value, ""


def _image_id(value) -> tuple[int | None, str]:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        return None, _("must be the id of an uploaded image")
    return value, ""


def parse(raw) -> list[dict]:
    """The normalised attachments of `raw` (a list of objects, as the API and the form give them);
    InvalidInput under "attachments" listing every problem, each naming its attachment."""
    if raw is None:
        return []
    if not isinstance(raw, list | tuple):
        raise InvalidInput(details={"attachments": [_("Attachments are a list.")]})
    problems: list[str] = []
    if len(raw) > MAX:
        problems.append(_("%(count)d attachments; at most %(max)d.") % {"count": len(raw), "max": MAX})
    cleaned: list[dict] = []
    for position, item in enumerate(raw):
        if not isinstance(item, dict):
            problems.append(_("%(which)s is not an object.") % {"which": label(position, None)})
            continue
        kind = item.get("type")
        if kind not in KINDS:
            problems.append(_("%(which)s: unknown type %(type)s; known: %(known)s.")
                            % {"which": label(position, None), "type": repr(kind) if kind is not None else "-",
                               "known": ", ".join(KINDS)})
            continue
        which = label(position, kind)
        unknown = sorted(set(item) - set(FIELDS[kind]) - {"type"})
        if unknown:
            problems.append(_("%(which)s: unknown field(s) %(fields)s; it takes %(known)s.")
                            % {"which": which, "fields": ", ".join(unknown), "known": ", ".join(FIELDS[kind])})
        out: dict = {"type": kind}
        for field, required in FIELDS[kind].items():
            value = item.get(field)
            if field == "image":
                value, problem = _image_id(value)
            elif field in ("url", "picture_url"):
                value, problem = _url(value, required=required)
            elif field == "title":
                value, problem = _text(value, required=True,
                                       max_bytes=LINK_TITLE_BYTES if kind == LINK else MINIPROGRAM_TITLE_BYTES)
            elif field == "description":
                value, problem = _text(value, required=False, max_bytes=LINK_DESCRIPTION_BYTES)
            elif field == "appid":
                value, problem = _text(value, required=True)
                if not problem and not APPID.match(value):
                    problem = _("is not a mini-program appid (wx and 16 letters or digits)")
            else:  # page
                value, problem = _text(value, required=True, max_chars=PAGE_MAX)
            if problem:
                problems.append(_("%(which)s: %(field)s %(problem)s.") % {"which": which, "field": field,
                                                                         "problem": problem})
            out[field] = value
        cleaned.append(out)
    if problems:
        raise InvalidInput(details={"attachments": problems})
    return cleaned


def image_ids(attachments: list[dict]) -> list[int]:
    """The images the attachments use (an image's own, a mini-program card's cover), in order."""
    return list(dict.fromkeys(a["image"] for a in attachments if a.get("image")))


def link_urls(attachments: list[dict]) -> list[str]:
    """The link attachments' targets, which are tracked as the text's links are."""
    return list(dict.fromkeys(a["url"] for a in attachments if a["type"] == LINK))
