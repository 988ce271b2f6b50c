"""Post links: which platform a pasted link belongs to, and its normalised key, so the same post is
recognised however it is pasted (http or https, www. or m., a share link's tracking parameters).

Hosts per platform (a host matches itself and its subdomains; the most specific wins):

- Xiaohongshu: xiaohongshu.com, xhslink.com (its short share links)
- Douyin: douyin.com, iesdouyin.com (its share pages)
- WeChat Channels: channels.weixin.qq.com, and weixin.qq.com itself (its /sph/ share links)
- WeChat Moments: mp.weixin.qq.com. A Moments post has no link of its own; what a creator shares to
  Moments and we can track is an Official Account article, so that is what a Moments post records.
- Weibo: weibo.com, weibo.cn
- Bilibili: bilibili.com, b23.tv (its short links)

The key is the link without its scheme, with the host in lower case and without a `www.`, `m.` or
`mobile.` prefix, without a fragment or a trailing slash, and with only the query parameters that
name the content on that platform (sorted), never the tracking ones (xsec_token, share_source,
utm_*...). A few paths that name the same post differently are written one way (Xiaohongshu's
/discovery/item/<id> is /explore/<id>; Douyin's share page and ?modal_id= are /video/<id>; Weibo's
/detail/<id> is /status/<id>). Short links (xhslink.com, b23.tv, v.douyin.com) are not followed
(that would mean calling the platform): a short link and the full link of one post are two keys.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, urlencode, urlsplit

from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.utils.translation import gettext as _

from koc.models import Platform
from scrm.errors import InvalidInput

MAX_LENGTH = 500  # Post.url

HOSTS: dict[str, tuple[str, ...]] = {
    Platform.XIAOHONGSHU: ("xiaohongshu.com", "xhslink.com"),
    Platform.DOUYIN: ("douyin.com", "iesdouyin.com"),
    Platform.CHANNELS: ("channels.weixin.qq.com", "weixin.qq.com"),
    Platform.MOMENTS: ("mp.weixin.qq.com",),
    Platform.WEIBO: ("weibo.com", "weibo.cn"),
    Platform.BILIBILI: ("bilibili.com", "b23.tv"),
}

# The query parameters that say which content a link shows, per platform; every other one is
# tracking or display state and is dropped from the key.
IDENTIFYING: dict[str, frozenset[str]] = {
    Platform.XIAOHONGSHU: frozenset(),
    Platform.DOUYIN: frozenset({"modal_id"}),
    Platform.CHANNELS: frozenset({"feedid", "eid"}),
    Platform.MOMENTS: frozenset({"__biz", "mid", "idx", "sn"}),
    Platform.WEIBO: frozenset({"id", "mid"}),
    Platform.BILIBILI: frozenset({"p"}),
}

_PREFIXES = ("www.", "m.", "mobile.")
_BY_SPECIFICITY = sorted(
    ((domain, platform) for platform, domains in HOSTS.items() for domain in domains),
    key=lambda item: -len(item[0]),
)
_REWRITES = {
    Platform.XIAOHONGSHU: [(re.compile(r"^/discovery/item/([^/]+)$"), r"/explore/\1")],
    Platform.DOUYIN: [(re.compile(r"^/share/video/([^/]+)$"), r"/video/\1")],
    Platform.WEIBO: [(re.compile(r"^/detail/([^/]+)$"), r"/status/\1")],
}
_url_validator = URLValidator(schemes=["http", "https"])


def platform_of_host(host: str) -> str | None:
    host = host.lower().rstrip(".")
    for domain, platform in _BY_SPECIFICITY:
        if host == domain or host.endswith("." + domain):
            return str(platform)
    return None


def _strip_prefix(host: str) -> str:
    for prefix in _PREFIXES:
        if host.startswith(prefix) and host.count(".") >= 2:
            return host[len(prefix):]
    return host


def _refuse(message) -> InvalidInput:
    return InvalidInput(message, details={"url": [message]})


def classify(url: str, platform: str | None = None) -> tuple[str, str]:
    """(platform, url_key) of a post's link; InvalidInput naming `url` for a string that is not an
    http(s) link, a host on no known platform, or a link that is not on the `platform` given."""
    text = (url or "").strip() if isinstance(url, str) else ""
    if not text:
        raise _refuse(_("Paste the post's link (https://…)."))
    if len(text) > MAX_LENGTH:
        raise _refuse(_("A link is at most %(max)d characters.") % {"max": MAX_LENGTH})
    try:
        _url_validator(text)
        parts = urlsplit(text)
    except (ValidationError, ValueError):
        raise _refuse(_("“%(url)s” is not a web link (http:// or https://).") % {"url": text[:80]}) from None
    host = (parts.hostname or "").lower().rstrip(".")
    found = platform_of_host(host)
    if found is None:
        known = ", ".join(domain for domains in HOSTS.values() for domain in domains)
        raise _refuse(_("%(host)s is not on a platform the programme tracks (%(known)s).")
                      % {"host": host, "known": known})
    if platform and platform != found:
        if platform not in Platform.values:
            raise InvalidInput(details={"platform": [_("Unknown platform “%(platform)s”.") % {"platform": platform}]})
        raise _refuse(_("This is a %(found)s link, not %(given)s.") % {
            "found": Platform(found).label, "given": Platform(platform).label})
    path = re.sub(r"/{2,}", "/", parts.path or "").rstrip("/")
    query = dict(parse_qsl(parts.query, keep_blank_values=False))
    if found == Platform.DOUYIN and query.get("modal_id") and path in ("", "/discover", "/jingxuan", "/user"):
        path, query = f"/video/{query['modal_id']}", {}
    for pattern, replacement in _REWRITES.get(found, ()):
        path = pattern.sub(replacement, path)
    keep = IDENTIFYING[found]
    kept = sorted((name, value) for name, value in query.items() if name in keep)
    host = _strip_prefix(host)
    if host == "iesdouyin.com":  # Douyin's share pages show the same video as douyin.com
        host = "douyin.com"
    key = host + path + (f"?{urlencode(kept)}" if kept else "")
    return found, key[:MAX_LENGTH]
