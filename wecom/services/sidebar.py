"""The chat-sidebar card: which member a WeCom customer (external_userid) is for the staff member
looking, the JS-SDK's agentConfig signature the sidebar page needs to ask WeCom who that customer
is, and the blocks other apps add to the card.

The signature follows WeCom's "JS-SDK使用权限签名算法" (path/90506): SHA-1 of
`jsapi_ticket=…&noncestr=…&timestamp=…&url=…` with the raw values and the page's URL without its
fragment; agentConfig signs with the app's ticket from `ticket/get?type=agent_config` (path/90506,
"获取应用的jsapi_ticket"), cached for its lifetime and fetched by one worker at a time.

Other apps (campaigns' staff tasks) add a block to the card with `register_block(...)`, as they add
panels to the member page; with none registered the card shows none.
"""

from __future__ import annotations

import hashlib
import secrets
import time

from django.conf import settings
from django.core.cache import cache

from members.models import Member
from scrm.sections import SectionRegistry
from wecom.client import errors, get_client
from wecom.models import WecomContact

JS_API_LIST = ["getCurExternalContact"]
TICKET_MARGIN = 300  # seconds: a cached ticket is dropped this long before WeCom's expiry

# --- blocks other apps add to the card (the staff tasks of campaigns, when it provides them) ------

_BLOCKS = SectionRegistry()
register_block = _BLOCKS.register  # register_block("tasks", template=..., context=lambda member, user: {...})


def blocks_for(member: Member, user) -> list[dict]:
    return _BLOCKS.render_context(member, user)


# --- who the customer is -----------------------------------------------------------------------


def member_for(actor, external_userid: str) -> Member | None:
    """The live member behind `external_userid`, if `actor` may see them; None when the customer is
    not synced yet, is no member, or belongs to a store the actor does not reach."""
    if not isinstance(external_userid, str) or not external_userid or len(external_userid) > 64:
        return None
    member_id = (
        WecomContact.objects.visible_to(actor)
        .filter(external_userid=external_userid, member__isnull=False)
        .values_list("member_id", flat=True)
        .first()
    )
    if member_id is None:
        return None
    return Member.live.visible_to(actor).select_related("home_store", "owner").filter(pk=member_id).first()


# --- the agentConfig signature -----------------------------------------------------------------


def signature(*, ticket: str, noncestr: str, timestamp: int | str, url: str) -> str:
    """WeCom's JS-SDK signature (path/90506); `url` is cut at its fragment."""
    url = url.split("#", 1)[0]
    plain = f"jsapi_ticket={ticket}&noncestr={noncestr}&timestamp={timestamp}&url={url}"
    return hashlib.sha1(plain.encode("utf-8")).hexdigest()  # noqa: S324 (WeCom signs with SHA-1)


def _ticket_key() -> str:
    return f"wecom:agent-ticket:{settings.WECOM_API_BASE}:{settings.WECOM_CORP_ID}:{settings.WECOM_AGENT_ID}"


def agent_ticket(client=None) -> str:
    """The app's jsapi ticket for agentConfig, cached until shortly before it expires; one worker
    fetches it while the others wait for the cache (a lock, not a stampede)."""
    key = _ticket_key()
    ticket = cache.get(key)
    if ticket:
        return ticket
    lock = f"{key}:lock"
    deadline = time.monotonic() + 5
    while not cache.add(lock, "1", timeout=10):
        if time.monotonic() > deadline:
            break
        time.sleep(0.05)
        ticket = cache.get(key)
        if ticket:
            return ticket
    try:
        answer = (client or get_client()).get("ticket/get", params={"type": "agent_config"})
        ticket = answer["ticket"]
        cache.set(key, ticket, max(60, int(answer.get("expires_in") or 7200) - TICKET_MARGIN))
        return ticket
    finally:
        cache.delete(lock)


def demo_mode() -> bool:
    """No sidebar app configured (no WECOM_AGENT_ID): the page is opened outside WeCom, with
    ?external_userid= in its URL, and no ticket is asked for."""
    return not settings.WECOM_AGENT_ID


def agent_config(*, url: str, client=None) -> dict:
    """What the sidebar page passes to the JS-SDK's agentConfig (ww.register) for `url`."""
    if demo_mode():
        return {"mode": "demo"}
    try:
        ticket = agent_ticket(client)
    except (errors.WecomError, KeyError):
        return {"mode": "unavailable"}
    timestamp, noncestr = int(time.time()), secrets.token_urlsafe(12)
    return {
        "mode": "wecom",
        "corpid": settings.WECOM_CORP_ID,
        "agentid": settings.WECOM_AGENT_ID,
        "timestamp": timestamp,
        "nonceStr": noncestr,
        "signature": signature(ticket=ticket, noncestr=noncestr, timestamp=timestamp, url=url),
        "jsApiList": JS_API_LIST,
    }


def demo_link() -> str | None:
    """For the demo: the sidebar card's address for the first synced customer who is a member."""
    external_userid = (WecomContact.objects.filter(member__isnull=False, deleted_at__isnull=True)
                       .order_by("id").values_list("external_userid", flat=True).first())
    return f"/wecom/sidebar/?external_userid={external_userid}" if external_userid else None
