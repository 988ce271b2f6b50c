"""Campaigns' entries on the member timeline: a campaign's message was sent to the member."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from campaigns.models import Delivery, DeliveryState
from members.timeline import Entry, Window

MESSAGES = {
    "sent": _("Campaign %(campaign)s sent a message (%(channel)s)"),
}


def sent_source(window: Window):
    from campaigns import channels

    deliveries = Delivery.objects.filter(
        member=window.member, state=DeliveryState.SENT, sent_at__isnull=False
    ).select_related("campaign")
    entries = []
    for d in window.page(deliveries, at="sent_at", pk="id"):
        try:
            channel = channels.get(d.campaign.channel).label
        except KeyError:
            channel = d.campaign.channel
        entries.append(Entry(at=d.sent_at, pk=d.id, code="sent",
                             params={"campaign": d.campaign.name, "channel": channel}))
    return entries


def register() -> None:
    from members import timeline

    timeline.register("campaigns", sent_source, label=_("Campaigns"), messages=MESSAGES, order=70)
