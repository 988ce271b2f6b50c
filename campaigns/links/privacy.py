"""Clicks in a member's data-subject export and erasure. The export lists every click the member
made (campaign, link, when, browser). Erasure keeps the clicks as anonymous ones (no member, no
browser), so a campaign's click counts stay true while nothing in them points at the person."""

from __future__ import annotations

from campaigns.links.models import Click
from members.privacy_registry import ErasureSubject


def export_clicks(member, actor) -> dict:
    clicks = list(
        Click.objects.filter(member=member).order_by("clicked_at", "id")
        .values("campaign_id", "link__code", "link__target_url", "clicked_at", "user_agent")
    )
    return {"clicks": [
        {"campaign_id": c["campaign_id"], "link": c["link__code"], "target_url": c["link__target_url"],
         "clicked_at": c["clicked_at"], "user_agent": c["user_agent"]}
        for c in clicks
    ]}


def erase(subject: ErasureSubject) -> dict:
    """Inside the erasure's transaction; idempotent (a second run finds no click of the member)."""
    return {"clicks": Click.objects.filter(member_id__in=subject.member_ids).update(member=None, user_agent="")}


def register() -> None:
    from members import privacy_registry

    privacy_registry.register_export_part("campaign_clicks", export_clicks)
    privacy_registry.register_erasure_step("campaign_clicks", erase)
