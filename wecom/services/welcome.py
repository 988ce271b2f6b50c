"""Welcome messages and a channel code's tags for contacts added through it.

An add_external_contact callback carrying the State of one of Siyu's channel codes: when the code
sends a welcome and the event carries a WelcomeCode, the message goes out at once with
send_welcome_msg, which WeCom accepts only within 20 seconds of the add and only once. The event is
judged by WeCom's CreateTime (else when Siyu received it): older than WINDOW_SECONDS when the worker
gets to it, the send is recorded `expired` without a call. One WelcomeSend per event (unique), written
before the call, so a retried event never sends twice; 41051 is recorded `used`. (Handlers run inside
the event's transaction, so a worker killed during the call rolls the row back too: the retry's send
then meets WeCom's own guard, the one-time welcome code, and is recorded `used`.)

The text may name the customer: {name} becomes their WeChat name as externalcontact/get gives it
(empty when WeCom gives none or cannot be asked in time); it is the one placeholder, and a code's text
naming any other is refused (`placeholder_errors`, used by the channel codes' one validation).

Then the code's linked tags are marked on the new follow relation in WeCom (mark_tag), and its tags
are given to the member in Siyu when the member exists already (source "wecom": WeCom has them, so
they are not pushed back). A member the contacts sync creates later gets the linked ones from WeCom.
"""

from __future__ import annotations

import logging
import re
from datetime import timedelta

from django.db import connection
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from members.models import TagSource
from members.services import tags as member_tags
from wecom.client import errors, get_client
from wecom.models import CallbackEvent, ChannelCode, CorpTagLink, WecomContact, WelcomeSend, WelcomeStatus
from wecom.services.tags import TAGS_ACTOR

logger = logging.getLogger(__name__)

WINDOW_SECONDS = 18  # WeCom's window is 20 s from the add; keep a margin for the call itself
MAX_BYTES = 4000  # send_welcome_msg's text.content
PLACEHOLDERS = {"name": gettext_lazy("the customer's WeChat name")}
_PLACEHOLDER = re.compile(r"\{([^{}]*)\}")


def placeholders_help() -> str:
    """The placeholders a welcome text may hold, in words, for the form and the API's errors."""
    return "; ".join(
        _("{%(placeholder)s} is replaced by %(meaning)s") % {"placeholder": key, "meaning": meaning}
        for key, meaning in PLACEHOLDERS.items()
    )


def placeholder_errors(text: str) -> list[str]:
    """What is wrong with the placeholders of a welcome text: one message naming the unknown ones and
    the ones there are, or none."""
    unknown = list(dict.fromkeys(m.group(0) for m in _PLACEHOLDER.finditer(text) if m.group(1) not in PLACEHOLDERS))
    if not unknown:
        return []
    return [_("Unknown placeholder %(unknown)s: the welcome text may use only %(known)s (%(help)s).") % {
        "unknown": ", ".join(unknown), "known": ", ".join(f"{{{key}}}" for key in PLACEHOLDERS),
        "help": placeholders_help(),
    }]


def render(text: str, *, name: str) -> str:
    """The welcome as sent: {name} replaced, within WeCom's byte limit."""
    out = text.replace("{name}", name or "")
    return out.encode()[:MAX_BYTES].decode(errors="ignore")


def _customer_name(external_userid: str, client) -> str:
    """The customer's WeChat name from externalcontact/get; empty when WeCom does not give it."""
    if not external_userid:
        return ""
    try:
        answer = client.get("externalcontact/get", params={"external_userid": external_userid})
    except errors.WecomError as exc:
        logger.info("welcome sent without the customer's name: errcode %s", getattr(exc, "errcode", None))
        return ""
    name = (answer.get("external_contact") or {}).get("name")
    return name if isinstance(name, str) else ""


def handle_add_event(event: CallbackEvent, *, client=None) -> str:
    """The handler of change_external_contact / add_external_contact. Returns what it did."""
    payload = event.payload or {}
    state = (payload.get("State") or "")[:30]
    code = ChannelCode.objects.filter(state=state).first() if state else None
    if code is None:
        return "not_ours"
    client = client or get_client()
    outcome = "no_welcome"
    if code.is_active and code.welcome_enabled and code.welcome_text and payload.get("WelcomeCode"):
        outcome = send_welcome(event=event, code=code, client=client)
    apply_code_tags(code=code, userid=payload.get("UserID") or "",
                    external_userid=payload.get("ExternalUserID") or "", client=client)
    return outcome


def _claim(event: CallbackEvent, code: ChannelCode, status: str) -> bool:
    """The event's WelcomeSend, written once: False when another delivery wrote it already."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"""INSERT INTO {WelcomeSend._meta.db_table} (event_id, channel_code_id, status, errcode, sent_at)
            VALUES (%s, %s, %s, NULL, %s) ON CONFLICT (event_id) DO NOTHING""",
            [event.pk, code.pk, status, timezone.now()],
        )
        return cursor.rowcount == 1


def send_welcome(*, event: CallbackEvent, code: ChannelCode, client=None, now=None) -> str:
    """Send the code's welcome for this add event, at most once. Returns the WelcomeSend status, or
    "already" when this event's welcome was handled before."""
    now = now or timezone.now()
    added_at = event.created_at_wecom or event.received_at
    if now - added_at > timedelta(seconds=WINDOW_SECONDS):
        return WelcomeStatus.EXPIRED if _claim(event, code, WelcomeStatus.EXPIRED) else "already"
    # Written before the call as failed: a crash after the call must not lead to a second send.
    if not _claim(event, code, WelcomeStatus.FAILED):
        return "already"
    status, errcode = WelcomeStatus.SENT, None
    client = client or get_client()
    text = code.welcome_text
    if "{name}" in text:  # asked only when the text names the customer: the window is short
        text = render(text, name=_customer_name(event.payload.get("ExternalUserID") or "", client))
    try:
        client.post(
            "externalcontact/send_welcome_msg",
            {"welcome_code": event.payload["WelcomeCode"], "text": {"content": text}},
        )
    except errors.WelcomeCodeUsed as exc:
        status, errcode = WelcomeStatus.USED, exc.errcode
    except errors.WecomError as exc:
        status, errcode = WelcomeStatus.FAILED, exc.errcode
        logger.warning("welcome for event %s not sent: errcode %s", event.pk, exc.errcode)
    WelcomeSend.objects.filter(event=event).update(status=status, errcode=errcode, sent_at=timezone.now())
    return status


def apply_code_tags(*, code: ChannelCode, userid: str, external_userid: str, client=None) -> None:
    tags = list(code.tags.select_related("group").filter(rule__isnull=True))
    if not tags:
        return
    linked = sorted(
        CorpTagLink.objects.filter(tag__in=tags, unlinked_at__isnull=True).values_list("wecom_tag_id", flat=True)
    )
    if linked and userid and external_userid:
        try:
            (client or get_client()).post(
                "externalcontact/mark_tag", {"userid": userid, "external_userid": external_userid, "add_tag": linked}
            )
        except errors.NotAContact:
            pass  # the customer deleted the staff member meanwhile: nothing to mark
        except (errors.PermissionDenied, errors.InvalidRequest) as exc:
            logger.warning("code tags not marked for code %s: errcode %s", code.pk, exc.errcode)
    contact = WecomContact.objects.filter(external_userid=external_userid, member__isnull=False).first()
    if contact is not None:
        member_tags.apply_pairs([(contact.member_id, t) for t in _one_per_single_group(tags)],
                                actor=TAGS_ACTOR, source=TagSource.WECOM)


def _one_per_single_group(tags):
    seen, kept = set(), []
    for tag in tags:
        if not tag.group.multiple:
            if tag.group_id in seen:
                continue
            seen.add(tag.group_id)
        kept.append(tag)
    return kept
