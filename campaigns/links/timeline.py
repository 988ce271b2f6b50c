"""Clicks on the member timeline, beside the campaigns' messages (kind "campaigns"): the member
followed a link of a campaign. Only campaigns the reader may see are shown."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from campaigns.links.models import Click
from members.timeline import Entry, Window

MESSAGES = {
    "clicked": _("Opened a link of campaign %(campaign)s (%(url)s)"),
}


def clicks_source(window: Window):
    clicks = Click.objects.visible_to(window.reader).filter(member=window.member).select_related("campaign", "link")
    return [
        Entry(at=c.clicked_at, pk=c.id, code="clicked", params={"campaign": c.campaign.name, "url": c.link.target_url})
        for c in window.page(clicks, at="clicked_at", pk="id")
    ]


def register() -> None:
    from members import timeline

    timeline.register("campaigns", clicks_source, name="campaign_clicks", label=_("Campaigns"), messages=MESSAGES,
                      order=70)
