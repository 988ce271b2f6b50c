"""SMS replies on the member timeline, beside the campaigns' messages (kind "campaigns"): what the
member answered, to which campaign, and whether it opted them out of SMS."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from campaigns.replies.models import Reply
from members.timeline import Entry, Window

MESSAGES = {
    "replied": _("Replied to campaign %(campaign)s by SMS: %(text)s"),
    "replied_direct": _("Sent an SMS to the brand: %(text)s"),
    "replied_stop": _("Replied %(text)s by SMS and was opted out of SMS"),
}


def replies_source(window: Window):
    replies = Reply.objects.visible_to(window.reader).filter(member=window.member).select_related("campaign")
    entries = []
    for r in window.page(replies, at="received_at", pk="id"):
        code = "replied_stop" if r.opted_out else ("replied" if r.campaign_id else "replied_direct")
        entries.append(Entry(at=r.received_at, pk=r.id, code=code,
                             params={"campaign": r.campaign.name if r.campaign_id else "", "text": r.text}))
    return entries


def register() -> None:
    from members import timeline

    timeline.register("campaigns", replies_source, name="sms_replies", label=_("Campaigns"), messages=MESSAGES,
                      order=71)
