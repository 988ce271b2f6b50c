"""Replies in a member's data-subject export and erasure. The export lists every reply (campaign,
text, when, whether it opted out). Erasure keeps each reply as an anonymous row (no member, number
or text): its provider id stays, so the provider repeating the callback is still a duplicate."""

from __future__ import annotations

from campaigns.replies.models import Reply
from members.privacy_registry import ErasureSubject


def export_replies(member, actor) -> dict:
    rows = Reply.objects.filter(member=member).order_by("received_at", "id").values(
        "campaign_id", "phone", "text", "opted_out", "received_at")
    return {"sms_replies": list(rows)}


def erase(subject: ErasureSubject) -> dict:
    """Inside the erasure's transaction; idempotent (a second run finds no reply of the member)."""
    return {"sms_replies": Reply.objects.filter(member_id__in=subject.member_ids).update(
        member=None, phone="", text="")}


def register() -> None:
    from members import privacy_registry

    privacy_registry.register_export_part("sms_replies", export_replies)
    privacy_registry.register_erasure_step("sms_replies", erase)
